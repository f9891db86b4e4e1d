# cmake -DIN=file -DOUT=file.c -P embed.cmake: writes the bytes of IN as a C array.
file(READ ${IN} _hex HEX)
string(LENGTH "${_hex}" _len)
math(EXPR _n "${_len} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," _bytes "${_hex}")
file(WRITE ${OUT} "/* Generated from config/kumisd.conf by config/embed.cmake. Do not edit. */\n"
  "#include <stddef.h>\n"
  "const char kumis_default_conf[] = {${_bytes} 0x00};\n"
  "const size_t kumis_default_conf_len = ${_n};\n")

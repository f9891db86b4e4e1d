/* kumis — H.264 payload inspection without decoding (RFC 6184): is this the start of a
 * keyframe? Pure function, bounds-checked against hostile input. */
#pragma once

#include <glib.h>

/* TRUE when @payload (an RFC 6184 payload) carries the start of an IDR picture or a sequence
 * parameter set: a single NAL unit of type 5 or 7, an STAP-A holding one, or the first FU-A
 * fragment of one. Malformed payloads are not keyframes. */
gboolean kumis_h264_is_keyframe(const guint8 *payload, gsize len);

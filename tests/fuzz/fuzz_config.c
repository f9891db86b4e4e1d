/* libFuzzer target: configuration file parsing (server/config.c). */
#include <stddef.h>
#include <stdint.h>

#include "server/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    GError *error = NULL;
    struct kumis_config *config = kumis_config_parse((const char *)data, size, "fuzz", &error);
    if (config != NULL)
        kumis_config_free(config);
    g_clear_error(&error);
    return 0;
}

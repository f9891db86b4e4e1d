/* libFuzzer target: signaling message parsing (signaling/protocol.c) and error building. */
#include <stddef.h>
#include <stdint.h>

#include "signaling/protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sig_message msg;
    struct sig_parse_error err;
    if (sig_message_parse((const char *)data, size, 65536, &msg, &err)) {
        (void)sig_message_string(&msg, "sdp");
        json_t *reply = sig_reply_new("ack", msg.id);
        g_free(sig_message_serialize(reply));
        json_decref(reply);
        sig_message_clear(&msg);
    } else {
        json_t *reply = sig_error_new(err.code, err.message, err.id);
        g_free(sig_message_serialize(reply));
        json_decref(reply);
        sig_parse_error_clear(&err);
    }
    return 0;
}

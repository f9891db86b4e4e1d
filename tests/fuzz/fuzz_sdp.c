/* libFuzzer target: SDP parsing (media/sdp.c), and for SDP that parses, kumis's answer to it,
 * which must itself parse (our writer and parser agree on anything the parser accepted). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media/sdp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sdp_session *offer = sdp_session_parse((const char *)data, size, NULL);
    if (offer == NULL) {
        /* The same bytes as a trickled candidate line (a short prefix, NUL-terminated). */
        char *line = g_strndup((const char *)data, MIN(size, 1100));
        struct sdp_candidate *c = sdp_candidate_parse(line, NULL);
        if (c) {
            char *text = sdp_candidate_format(c);
            struct sdp_candidate *again = sdp_candidate_parse(text, NULL);
            if (again == NULL)
                abort(); /* what we format, we parse */
            sdp_candidate_free(again);
            g_free(text);
            sdp_candidate_free(c);
        }
        g_free(line);
        return 0;
    }
    struct sdp_local local = {
        .ice_ufrag = "fuzz",
        .ice_pwd = "fuzzfuzzfuzzfuzzfuzzfuzz",
        .fingerprint_alg = "sha-256",
        .fingerprint = "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:"
                       "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF",
        .session_id = 1,
    };
    (void)sdp_down_answer_check(offer, offer, NULL);
    struct sdp_session *answer = sdp_up_answer_new(offer, &local, NULL, NULL);
    if (answer) {
        char *text = sdp_session_write(answer);
        GError *error = NULL;
        struct sdp_session *back = sdp_session_parse(text, strlen(text), &error);
        if (back == NULL) {
            fprintf(stderr, "our answer does not parse: %s\n%s", error->message, text);
            abort();
        }
        sdp_session_free(back);
        g_free(text);
        sdp_session_free(answer);
    }
    /* And the parsed offer written back out must parse again. */
    char *text = sdp_session_write(offer);
    struct sdp_session *back = sdp_session_parse(text, strlen(text), NULL);
    sdp_session_free(back);
    g_free(text);
    sdp_session_free(offer);
    return 0;
}

/* kumis — ICE candidate lines (RFC 8839 §5.1), for SDP and for trickle over signaling. */
#include "media/sdp.h"
#include "media/sdp_private.h"

#include <string.h>

#define MAX_CAND_TEXT 1024 /* one candidate line; signaling carries at most this much */

static gboolean candidate_fail(GError **error, const char *what)
{
    return sdp_fail(error, SDP_ERROR_SYNTAX, "malformed candidate: %s", what);
}

/* The part after "typ <type>": name/value pairs; raddr, rport and tcptype are kept. */
static gboolean candidate_parse_ext(struct sdp_candidate *c, GPtrArray *w, GError **error)
{
    guint64 v;
    if ((w->len - 8) % 2 != 0)
        return candidate_fail(error, "extension without a value");
    for (guint i = 8; i + 1 < w->len; i += 2) {
        const char *name = g_ptr_array_index(w, i), *value = g_ptr_array_index(w, i + 1);
        if (strcmp(name, "raddr") == 0) {
            if (c->raddr || !sdp_is_visible(value, 255))
                return candidate_fail(error, "bad raddr");
            c->raddr = g_strdup(value);
        } else if (strcmp(name, "rport") == 0) {
            if (c->rport >= 0 || !sdp_parse_uint(value, 65535, &v))
                return candidate_fail(error, "bad rport");
            c->rport = (int)v;
        } else if (strcmp(name, "tcptype") == 0) {
            if (c->tcptype ||
                (strcmp(value, "active") && strcmp(value, "passive") && strcmp(value, "so")))
                return candidate_fail(error, "bad tcptype");
            c->tcptype = g_strdup(value);
        } else if (!sdp_is_token(name, 64) || !sdp_is_visible(value, 255)) {
            return candidate_fail(error, "bad extension attribute");
        }
    }
    return TRUE;
}

struct sdp_candidate *sdp_candidate_parse(const char *text, GError **error)
{
    if (text == NULL || strlen(text) > MAX_CAND_TEXT)
        return candidate_fail(error, "empty or over 1024 bytes"), NULL;
    if (g_str_has_prefix(text, "a="))
        text += 2;
    if (g_ascii_strncasecmp(text, "candidate:", 10) == 0)
        text += 10;
    g_autofree char *raw = g_strstrip(g_strdup(text));
    g_autoptr(GPtrArray) w = sdp_split_words(raw, 64);
    if (w == NULL || w->len < 8)
        return candidate_fail(error, "too few or too many fields"), NULL;
    struct sdp_candidate *c = g_new0(struct sdp_candidate, 1);
    c->rport = -1;
    guint64 v;
#define W(i) ((const char *)g_ptr_array_index(w, i))
    if (!sdp_is_ice_chars(W(0), 1, 32)) {
        candidate_fail(error, "bad foundation");
        goto out_bad;
    }
    c->foundation = g_strdup(W(0));
    if (!sdp_parse_uint(W(1), 256, &v) || v == 0) {
        candidate_fail(error, "bad component");
        goto out_bad;
    }
    c->component = (guint)v;
    if (g_ascii_strcasecmp(W(2), "udp") && g_ascii_strcasecmp(W(2), "tcp")) {
        candidate_fail(error, "transport is neither udp nor tcp");
        goto out_bad;
    }
    c->transport = g_ascii_strdown(W(2), -1);
    if (!sdp_parse_uint(W(3), G_MAXUINT32, &v) || v == 0) {
        candidate_fail(error, "bad priority");
        goto out_bad;
    }
    c->priority = (guint32)v;
    if (!sdp_is_visible(W(4), 255)) {
        candidate_fail(error, "bad address");
        goto out_bad;
    }
    c->address = g_strdup(W(4));
    if (!sdp_parse_uint(W(5), 65535, &v)) {
        candidate_fail(error, "bad port");
        goto out_bad;
    }
    c->port = (guint16)v;
    if (strcmp(W(6), "typ") || (strcmp(W(7), "host") && strcmp(W(7), "srflx") &&
                                strcmp(W(7), "prflx") && strcmp(W(7), "relay"))) {
        candidate_fail(error, "bad type");
        goto out_bad;
    }
    c->type = g_strdup(W(7));
#undef W
    if (!candidate_parse_ext(c, w, error))
        goto out_bad;
    c->raw = g_steal_pointer(&raw);
    return c;
out_bad:
    sdp_candidate_free(c);
    return NULL;
}

char *sdp_candidate_format(const struct sdp_candidate *c)
{
    GString *s = g_string_new(NULL);
    g_string_printf(s, "candidate:%s %u %s %u %s %u typ %s", c->foundation, c->component,
                    c->transport, c->priority, c->address, c->port, c->type);
    if (c->raddr)
        g_string_append_printf(s, " raddr %s", c->raddr);
    if (c->rport >= 0)
        g_string_append_printf(s, " rport %d", c->rport);
    if (c->tcptype)
        g_string_append_printf(s, " tcptype %s", c->tcptype);
    return g_string_free(s, FALSE);
}

void sdp_candidate_free(struct sdp_candidate *c)
{
    if (c == NULL)
        return;
    g_free(c->foundation);
    g_free(c->transport);
    g_free(c->address);
    g_free(c->type);
    g_free(c->raddr);
    g_free(c->tcptype);
    g_free(c->raw);
    g_free(c);
}

struct sdp_candidate *sdp_candidate_copy(const struct sdp_candidate *c)
{
    struct sdp_candidate *n = g_new0(struct sdp_candidate, 1);
    *n = *c;
    n->foundation = g_strdup(c->foundation);
    n->transport = g_strdup(c->transport);
    n->address = g_strdup(c->address);
    n->type = g_strdup(c->type);
    n->raddr = g_strdup(c->raddr);
    n->tcptype = g_strdup(c->tcptype);
    n->raw = g_strdup(c->raw);
    return n;
}

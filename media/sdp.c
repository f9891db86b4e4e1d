/* kumis — SDP parsing for the SFU (see sdp.h): GstSDPMessage reads the text, this file turns
 * its session-level attributes into struct sdp_session and checks what WebRTC requires; also
 * the module's objects and lexical helpers. Each m-line is parsed in sdp_media.c, writing is in
 * sdp_write.c, candidates in sdp_candidate.c, negotiation rules in sdp_negotiate.c. */
#include "media/sdp.h"
#include "media/sdp_private.h"

#include <gst/sdp/gstsdpmessage.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

GQuark sdp_error_quark(void)
{
    return g_quark_from_static_string("kumis-sdp-error-quark");
}

const char *const sdp_video_codecs_default[] = {"VP8", "H264", "VP9", NULL};

const char *sdp_kind_name(enum sdp_kind kind)
{
    static const char *const names[] = {"audio", "video", "application", "other"};
    return (unsigned)kind < G_N_ELEMENTS(names) ? names[kind] : "other";
}

const char *sdp_direction_name(enum sdp_direction dir)
{
    static const char *const names[] = {"sendrecv", "sendonly", "recvonly", "inactive"};
    return (unsigned)dir < G_N_ELEMENTS(names) ? names[dir] : "inactive";
}

const char *sdp_setup_name(enum sdp_setup setup)
{
    static const char *const names[] = {"none", "actpass", "active", "passive"};
    return (unsigned)setup < G_N_ELEMENTS(names) ? names[setup] : "none";
}

/* ---- small lexical helpers ---------------------------------------------------------------- */

/* Strict unsigned decimal: digits only, value <= @max. */
gboolean sdp_parse_uint(const char *s, guint64 max, guint64 *out)
{
    guint64 v = 0;
    if (s == NULL || *s == '\0' || strlen(s) > 20)
        return FALSE;
    for (; *s; s++) {
        if (!g_ascii_isdigit(*s))
            return FALSE;
        if (v > (G_MAXUINT64 - 9) / 10)
            return FALSE;
        v = v * 10 + (guint64)(*s - '0');
    }
    if (v > max)
        return FALSE;
    *out = v;
    return TRUE;
}

/* RFC 4566 §9 token-char. */
gboolean sdp_is_token(const char *s, gsize max_len)
{
    gsize n = s ? strlen(s) : 0;
    if (n == 0 || n > max_len)
        return FALSE;
    for (; *s; s++) {
        guchar c = (guchar)*s;
        if (c < 0x21 || c > 0x7e || c == '"' || c == '(' || c == ')' || c == ',' || c == '/' ||
            c == ':' || c == ';' || c == '<' || c == '=' || c == '>' || c == '?' || c == '@' ||
            c == '[' || c == '\\' || c == ']' || c == '{' || c == '}')
            return FALSE;
    }
    return TRUE;
}

/* RFC 8839 §5.4 ice-char = ALPHA / DIGIT / "+" / "/". */
gboolean sdp_is_ice_chars(const char *s, gsize min_len, gsize max_len)
{
    gsize n = s ? strlen(s) : 0;
    if (n < min_len || n > max_len)
        return FALSE;
    for (; *s; s++)
        if (!g_ascii_isalnum(*s) && *s != '+' && *s != '/')
            return FALSE;
    return TRUE;
}

/* Printable ASCII without spaces (addresses, fingerprints). */
gboolean sdp_is_visible(const char *s, gsize max_len)
{
    gsize n = s ? strlen(s) : 0;
    if (n == 0 || n > max_len)
        return FALSE;
    for (; *s; s++)
        if ((guchar)*s <= 0x20 || (guchar)*s >= 0x7f)
            return FALSE;
    return TRUE;
}

/* Splits on runs of blanks. Returns: (transfer full) the tokens, or NULL if more than @max. */
GPtrArray *sdp_split_words(const char *s, guint max)
{
    GPtrArray *words = g_ptr_array_new_with_free_func(g_free);
    while (s && *s) {
        while (*s == ' ' || *s == '\t')
            s++;
        if (*s == '\0')
            break;
        const char *end = s;
        while (*end && *end != ' ' && *end != '\t')
            end++;
        if (words->len >= max) {
            g_ptr_array_unref(words);
            return NULL;
        }
        g_ptr_array_add(words, g_strndup(s, (gsize)(end - s)));
        s = end;
    }
    return words;
}

/* Returns: (transfer full) the value of @key in an fmtp "a=1;b=2" list, or NULL. */
char *sdp_fmtp_get(const char *fmtp, const char *key)
{
    if (fmtp == NULL)
        return NULL;
    g_auto(GStrv) params = g_strsplit(fmtp, ";", 64);
    for (char **p = params; *p; p++) {
        char *eq = strchr(*p, '=');
        if (eq == NULL)
            continue;
        g_autofree char *k = g_strstrip(g_strndup(*p, (gsize)(eq - *p)));
        if (g_ascii_strcasecmp(k, key) == 0)
            return g_strstrip(g_strdup(eq + 1));
    }
    return NULL;
}

gboolean sdp_fail(GError **error, enum sdp_error_code code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error_literal(error, SDP_ERROR, (gint)code, msg);
    return FALSE;
}

gboolean sdp_media_fail(GError **error, const struct sdp_media *m, enum sdp_error_code code,
                        const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(error, SDP_ERROR, (gint)code, "m-line %u (%s): %s", m->index,
                sdp_kind_name(m->kind), msg);
    return FALSE;
}

/* ---- object lifetimes --------------------------------------------------------------------- */

struct sdp_codec *sdp_codec_new(guint8 pt, const char *name, guint clock_rate, guint channels,
                                const char *fmtp)
{
    struct sdp_codec *c = g_new0(struct sdp_codec, 1);
    c->pt = pt;
    c->name = g_strdup(name ? name : "");
    c->clock_rate = clock_rate;
    c->channels = channels;
    c->fmtp = g_strdup(fmtp);
    c->rtcp_fb = g_ptr_array_new_with_free_func(g_free);
    c->apt = -1;
    c->rtx_pt = -1;
    return c;
}

struct sdp_codec *sdp_codec_copy(const struct sdp_codec *codec)
{
    struct sdp_codec *c =
        sdp_codec_new(codec->pt, codec->name, codec->clock_rate, codec->channels, codec->fmtp);
    for (guint i = 0; i < codec->rtcp_fb->len; i++)
        g_ptr_array_add(c->rtcp_fb, g_strdup(g_ptr_array_index(codec->rtcp_fb, i)));
    c->apt = codec->apt;
    c->rtx_pt = codec->rtx_pt;
    return c;
}

void sdp_codec_free(struct sdp_codec *codec)
{
    if (codec == NULL)
        return;
    g_free(codec->name);
    g_free(codec->fmtp);
    g_ptr_array_unref(codec->rtcp_fb);
    g_free(codec);
}

static void extmap_free(struct sdp_extmap *e)
{
    g_free(e->uri);
    g_free(e);
}

struct sdp_extmap *sdp_extmap_new(guint id, const char *uri)
{
    struct sdp_extmap *e = g_new0(struct sdp_extmap, 1);
    e->id = id;
    e->uri = g_strdup(uri);
    return e;
}

static void rid_free(struct sdp_rid *r)
{
    g_free(r->id);
    g_free(r);
}

static void ssrc_free(struct sdp_ssrc *s)
{
    g_free(s->cname);
    g_free(s);
}

static void ssrc_group_free(struct sdp_ssrc_group *g)
{
    g_free(g->semantics);
    g_array_unref(g->ssrcs);
    g_free(g);
}

struct sdp_media *sdp_media_new(guint index, enum sdp_kind kind)
{
    struct sdp_media *m = g_new0(struct sdp_media, 1);
    m->index = index;
    m->kind = kind;
    m->codecs = g_ptr_array_new_with_free_func((GDestroyNotify)sdp_codec_free);
    m->extmaps = g_ptr_array_new_with_free_func((GDestroyNotify)extmap_free);
    m->rids = g_ptr_array_new_with_free_func((GDestroyNotify)rid_free);
    m->ssrcs = g_ptr_array_new_with_free_func((GDestroyNotify)ssrc_free);
    m->ssrc_groups = g_ptr_array_new_with_free_func((GDestroyNotify)ssrc_group_free);
    m->candidates = g_ptr_array_new_with_free_func((GDestroyNotify)sdp_candidate_free);
    return m;
}

void sdp_media_free(struct sdp_media *m)
{
    g_free(m->proto);
    g_free(m->mid);
    g_free(m->msid_stream);
    g_free(m->msid_track);
    g_free(m->ice_ufrag);
    g_free(m->ice_pwd);
    g_free(m->fingerprint_alg);
    g_free(m->fingerprint);
    g_ptr_array_unref(m->codecs);
    g_ptr_array_unref(m->extmaps);
    g_ptr_array_unref(m->rids);
    g_ptr_array_unref(m->ssrcs);
    g_ptr_array_unref(m->ssrc_groups);
    g_ptr_array_unref(m->candidates);
    g_free(m);
}

struct sdp_session *sdp_session_new(void)
{
    struct sdp_session *s = g_new0(struct sdp_session, 1);
    s->bundle_mids = g_ptr_array_new_with_free_func(g_free);
    s->media = g_ptr_array_new_with_free_func((GDestroyNotify)sdp_media_free);
    return s;
}

void sdp_session_free(struct sdp_session *s)
{
    if (s == NULL)
        return;
    g_free(s->ice_ufrag);
    g_free(s->ice_pwd);
    g_free(s->fingerprint_alg);
    g_free(s->fingerprint);
    g_ptr_array_unref(s->bundle_mids);
    g_ptr_array_unref(s->media);
    g_free(s);
}

/* ---- parsing: transport attributes (session or media level) ------------------------------- */

void sdp_transport_attrs_clear(struct sdp_transport_attrs *t)
{
    g_free(t->ufrag);
    g_free(t->pwd);
    g_free(t->fp_alg);
    g_free(t->fp);
}

/* RFC 8122 §5: "sha-256 AB:CD:...", the length must match the hash. */
static gboolean fingerprint_parse(const char *value, char **alg, char **fp)
{
    static const struct {
        const char *name;
        guint bytes;
    } hashes[] = {
        {"sha-1", 20}, {"sha-224", 28}, {"sha-256", 32}, {"sha-384", 48}, {"sha-512", 64}};
    g_autoptr(GPtrArray) w = sdp_split_words(value, 2);
    if (w == NULL || w->len != 2)
        return FALSE;
    const char *hex = g_ptr_array_index(w, 1);
    guint bytes = 0;
    for (guint i = 0; i < G_N_ELEMENTS(hashes); i++)
        if (g_ascii_strcasecmp(g_ptr_array_index(w, 0), hashes[i].name) == 0)
            bytes = hashes[i].bytes;
    if (bytes == 0 || strlen(hex) != bytes * 3 - 1)
        return FALSE;
    for (guint i = 0; hex[i]; i++)
        if (i % 3 == 2 ? hex[i] != ':' : !g_ascii_isxdigit(hex[i]))
            return FALSE;
    *alg = g_ascii_strdown(g_ptr_array_index(w, 0), -1);
    *fp = g_ascii_strup(hex, -1);
    return TRUE;
}

/* Returns: 1 if @key was a transport attribute and valid, 0 if not one, -1 if malformed
 * (@what names it). */
int sdp_transport_attr_parse(struct sdp_transport_attrs *t, const char *key, const char *value,
                             const char **what)
{
    if (strcmp(key, "ice-ufrag") == 0) {
        *what = "a=ice-ufrag";
        if (t->ufrag || !sdp_is_ice_chars(value, 4, 256))
            return -1;
        t->ufrag = g_strdup(value);
    } else if (strcmp(key, "ice-pwd") == 0) {
        *what = "a=ice-pwd";
        if (t->pwd || !sdp_is_ice_chars(value, 22, 256))
            return -1;
        t->pwd = g_strdup(value);
    } else if (strcmp(key, "fingerprint") == 0) {
        *what = "a=fingerprint";
        char *alg = NULL, *fp = NULL;
        if (!fingerprint_parse(value, &alg, &fp))
            return -1;
        if (t->fp == NULL) { /* RFC 8122 §5 allows several; the first one is used */
            t->fp_alg = alg;
            t->fp = fp;
        } else {
            g_free(alg);
            g_free(fp);
        }
    } else if (strcmp(key, "setup") == 0) {
        *what = "a=setup";
        static const char *const roles[] = {"actpass", "active", "passive"};
        enum sdp_setup found = SDP_SETUP_NONE;
        for (guint i = 0; i < G_N_ELEMENTS(roles); i++)
            if (strcmp(value, roles[i]) == 0)
                found = (enum sdp_setup)(SDP_SETUP_ACTPASS + i);
        if (found == SDP_SETUP_NONE)
            return -1;
        t->setup = found;
    } else if (strcmp(key, "ice-options") == 0) {
        g_autoptr(GPtrArray) w = sdp_split_words(value, 16);
        for (guint i = 0; w && i < w->len; i++)
            if (strcmp(g_ptr_array_index(w, i), "trickle") == 0)
                t->trickle = TRUE;
    } else {
        return 0;
    }
    return 1;
}

/* ---- parsing: the session ----------------------------------------------------------------- */

static gboolean session_attrs_parse(const GstSDPMessage *msg, struct sdp_session *s,
                                    struct sdp_transport_attrs *t, GError **error)
{
    const char *what = NULL;
    for (guint i = 0; i < gst_sdp_message_attributes_len(msg); i++) {
        const GstSDPAttribute *a = gst_sdp_message_get_attribute(msg, i);
        const char *key = a->key ? a->key : "", *value = a->value ? a->value : "";
        if (sdp_transport_attr_parse(t, key, value, &what) < 0)
            return sdp_fail(error, SDP_ERROR_SYNTAX, "malformed session-level %s", what);
        if (strcmp(key, "ice-lite") == 0)
            s->ice_lite = TRUE;
        if (strcmp(key, "group") != 0 || !g_str_has_prefix(value, "BUNDLE"))
            continue;
        g_autoptr(GPtrArray) w = sdp_split_words(value, SDP_MAX_MEDIA + 1);
        if (w == NULL || strcmp(g_ptr_array_index(w, 0), "BUNDLE") != 0 || s->bundle_mids->len > 0)
            return sdp_fail(error, SDP_ERROR_SYNTAX, "malformed or repeated a=group:BUNDLE");
        for (guint j = 1; j < w->len; j++) {
            if (!sdp_is_token(g_ptr_array_index(w, j), 32))
                return sdp_fail(error, SDP_ERROR_SYNTAX, "malformed a=group:BUNDLE");
            g_ptr_array_add(s->bundle_mids, g_strdup(g_ptr_array_index(w, j)));
        }
    }
    return TRUE;
}

static gboolean str_in(GPtrArray *strings, const char *s)
{
    for (guint i = 0; s && i < strings->len; i++)
        if (strcmp(g_ptr_array_index(strings, i), s) == 0)
            return TRUE;
    return FALSE;
}

static struct sdp_media *media_by_mid(const struct sdp_session *s, const char *mid)
{
    for (guint i = 0; mid && i < s->media->len; i++) {
        struct sdp_media *m = g_ptr_array_index(s->media, i);
        if (m->mid && strcmp(m->mid, mid) == 0)
            return m;
    }
    return NULL;
}

const struct sdp_media *sdp_session_find_mid(const struct sdp_session *s, const char *mid)
{
    return media_by_mid(s, mid);
}

guint sdp_media_extmap_id(const struct sdp_media *m, const char *uri)
{
    for (guint i = 0; i < m->extmaps->len; i++) {
        const struct sdp_extmap *e = g_ptr_array_index(m->extmaps, i);
        if (strcmp(e->uri, uri) == 0)
            return e->id;
    }
    return 0;
}

/* WebRTC's requirements on every accepted m-line (RFC 8829 §5.8, RFC 8843, RFC 5761). */
static gboolean media_validate(const struct sdp_session *s, const struct sdp_media *m,
                               GError **error)
{
    if (m->mid == NULL)
        return sdp_media_fail(error, m, SDP_ERROR_MISSING, "missing a=mid");
    if (media_by_mid(s, m->mid) != m)
        return sdp_media_fail(error, m, SDP_ERROR_SYNTAX, "mid \"%s\" is repeated", m->mid);
    if (m->ice_ufrag == NULL || m->ice_pwd == NULL)
        return sdp_media_fail(error, m, SDP_ERROR_MISSING, "missing a=ice-ufrag or a=ice-pwd");
    if (m->fingerprint == NULL)
        return sdp_media_fail(error, m, SDP_ERROR_MISSING, "missing a=fingerprint");
    if (strstr(m->proto, "RTP") && !m->rtcp_mux)
        return sdp_media_fail(error, m, SDP_ERROR_MISSING, "missing a=rtcp-mux (required)");
    if (s->bundle_mids->len == 0)
        return sdp_fail(error, SDP_ERROR_MISSING, "BUNDLE required: no a=group:BUNDLE");
    if (!str_in(s->bundle_mids, m->mid))
        return sdp_media_fail(error, m, SDP_ERROR_MISSING, "BUNDLE required: mid %s is not bundled",
                              m->mid);
    return TRUE;
}

static gboolean session_validate(struct sdp_session *s, GError **error)
{
    struct sdp_media *tag = NULL;
    for (guint i = 0; i < s->media->len; i++) {
        struct sdp_media *m = g_ptr_array_index(s->media, i);
        if (m->rejected) {
            if (m->mid && media_by_mid(s, m->mid) != m)
                return sdp_media_fail(error, m, SDP_ERROR_SYNTAX, "mid \"%s\" is repeated", m->mid);
            continue;
        }
        if (!media_validate(s, m, error))
            return FALSE;
    }
    for (guint i = 0; i < s->bundle_mids->len; i++) {
        struct sdp_media *m = media_by_mid(s, g_ptr_array_index(s->bundle_mids, i));
        if (m == NULL)
            return sdp_fail(error, SDP_ERROR_SYNTAX, "a=group:BUNDLE names an unknown mid");
        if (tag == NULL && !m->rejected)
            tag = m; /* RFC 8843 §7.2.1: the first accepted mid is the BUNDLE tag */
    }
    if (tag == NULL)
        return sdp_fail(error, SDP_ERROR_UNSUPPORTED, "every m-line is rejected (port 0)");
    s->ice_ufrag = g_strdup(tag->ice_ufrag);
    s->ice_pwd = g_strdup(tag->ice_pwd);
    s->fingerprint_alg = g_strdup(tag->fingerprint_alg);
    s->fingerprint = g_strdup(tag->fingerprint);
    s->setup = tag->setup;
    s->ice_trickle = tag->ice_trickle;
    return TRUE;
}

static struct sdp_session *session_from_message(const GstSDPMessage *msg, GError **error)
{
    struct sdp_session *s = sdp_session_new();
    struct sdp_transport_attrs t = {0};
    guint n = gst_sdp_message_medias_len(msg);
    const GstSDPOrigin *o = gst_sdp_message_get_origin(msg);
    guint64 v;
    if (o && sdp_parse_uint(o->sess_id, G_MAXUINT64, &v))
        s->session_id = v;
    if (o && sdp_parse_uint(o->sess_version, G_MAXUINT64, &v))
        s->session_version = v;
    if (n > SDP_MAX_MEDIA) {
        sdp_fail(error, SDP_ERROR_TOO_LARGE, "SDP has %u m-lines, over the limit of %d", n,
                 SDP_MAX_MEDIA);
        goto out_bad_sdp;
    }
    if (n == 0) {
        sdp_fail(error, SDP_ERROR_MISSING, "SDP has no m-line");
        goto out_bad_sdp;
    }
    if (!session_attrs_parse(msg, s, &t, error))
        goto out_bad_sdp;
    for (guint i = 0; i < n; i++) {
        struct sdp_media *m = sdp_media_parse(gst_sdp_message_get_media(msg, i), i, &t, error);
        if (m == NULL)
            goto out_bad_sdp;
        g_ptr_array_add(s->media, m);
    }
    if (!session_validate(s, error))
        goto out_bad_sdp;
    sdp_transport_attrs_clear(&t);
    return s;
out_bad_sdp:
    sdp_transport_attrs_clear(&t);
    sdp_session_free(s);
    return NULL;
}

struct sdp_session *sdp_session_parse(const char *text, gsize len, GError **error)
{
    if (len > SDP_MAX_BYTES)
        return sdp_fail(error, SDP_ERROR_TOO_LARGE,
                        "SDP is %" G_GSIZE_FORMAT " bytes, over the limit of %d", len,
                        SDP_MAX_BYTES),
               NULL;
    if (text == NULL || len == 0 || memchr(text, '\0', len))
        return sdp_fail(error, SDP_ERROR_SYNTAX, "SDP is empty or contains a NUL byte"), NULL;
    GstSDPMessage *msg = NULL;
    gst_sdp_message_new(&msg);
    struct sdp_session *s = NULL;
    const char *version = NULL;
    if (gst_sdp_message_parse_buffer((const guint8 *)text, (guint)len, msg) != GST_SDP_OK ||
        (version = gst_sdp_message_get_version(msg)) == NULL || strcmp(version, "0") != 0)
        sdp_fail(error, SDP_ERROR_SYNTAX, "not SDP: no v=0 line");
    else
        s = session_from_message(msg, error);
    gst_sdp_message_free(msg);
    return s;
}

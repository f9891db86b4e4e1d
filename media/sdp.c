/* kumis — SDP parsing for the SFU (see sdp.h): GstSDPMessage reads the text, this file turns
 * its attribute lists into struct sdp_session and checks what WebRTC requires. Writing is in
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

#define MAX_FB         16 /* rtcp-fb per payload type */
#define MAX_GROUP_SSRC 8
#define MAX_GROUPS     16

const char *const sdp_video_codecs_default[] = {"VP8", "VP9", "H264", NULL};

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

struct transport_attrs {
    char *ufrag, *pwd, *fp_alg, *fp;
    enum sdp_setup setup;
    gboolean trickle;
};

static void transport_attrs_clear(struct transport_attrs *t)
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
static int transport_attr_parse(struct transport_attrs *t, const char *key, const char *value,
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

/* ---- parsing: one m-line ------------------------------------------------------------------ */

struct sdp_codec *sdp_codec_find(GPtrArray *codecs, guint pt)
{
    for (guint i = 0; i < codecs->len; i++) {
        struct sdp_codec *c = g_ptr_array_index(codecs, i);
        if (c->pt == pt)
            return c;
    }
    return NULL;
}

/* "<pt> <rest>": the codec named by a per-payload attribute, *@rest after the blank. NULL when
 * the payload type is not on the m-line (ignored, as RFC 4566 allows) or is "*". */
static gboolean pt_split(const char *value, GPtrArray *codecs, struct sdp_codec **codec,
                         const char **rest, gboolean *wildcard)
{
    const char *sp = strchr(value, ' ');
    if (sp == NULL || sp == value)
        return FALSE;
    g_autofree char *num = g_strndup(value, (gsize)(sp - value));
    while (*sp == ' ')
        sp++;
    *rest = sp;
    *codec = NULL;
    if (wildcard)
        *wildcard = strcmp(num, "*") == 0;
    if (wildcard && *wildcard)
        return TRUE;
    guint64 pt;
    if (!sdp_parse_uint(num, 127, &pt))
        return FALSE;
    *codec = sdp_codec_find(codecs, (guint)pt);
    return TRUE;
}

/* a=rtpmap:<pt> <name>/<clock>[/<channels>] */
static gboolean rtpmap_parse(struct sdp_media *m, const char *value)
{
    struct sdp_codec *c;
    const char *rest;
    if (!pt_split(value, m->codecs, &c, &rest, NULL))
        return FALSE;
    g_auto(GStrv) parts = g_strsplit(rest, "/", 4);
    guint n = g_strv_length(parts);
    guint64 clock, channels = 1;
    if (n < 2 || n > 3 || !sdp_is_token(parts[0], 32) ||
        !sdp_parse_uint(parts[1], 10000000, &clock) || clock == 0 ||
        (n == 3 && (!sdp_parse_uint(parts[2], 255, &channels) || channels == 0)))
        return FALSE;
    if (c == NULL)
        return TRUE;
    g_free(c->name);
    c->name = g_strdup(parts[0]);
    c->clock_rate = (guint)clock;
    c->channels = m->kind == SDP_KIND_AUDIO ? (guint)channels : 0;
    return TRUE;
}

static gboolean rtcp_fb_add(struct sdp_codec *c, const char *fb)
{
    if (c->rtcp_fb->len >= MAX_FB)
        return FALSE;
    g_ptr_array_add(c->rtcp_fb, g_strdup(fb));
    return TRUE;
}

/* a=rtcp-fb:<pt|*> <type> [<param>] (RFC 4585 §4.2); the text is kept with single spaces. */
static gboolean rtcp_fb_parse(struct sdp_media *m, const char *value)
{
    struct sdp_codec *c;
    const char *rest;
    gboolean all;
    if (!pt_split(value, m->codecs, &c, &rest, &all))
        return FALSE;
    g_autoptr(GPtrArray) w = sdp_split_words(rest, 4);
    if (w == NULL || w->len == 0)
        return FALSE;
    g_ptr_array_add(w, NULL);
    g_autofree char *fb = g_strjoinv(" ", (char **)w->pdata);
    if (!sdp_is_visible(g_ptr_array_index(w, 0), 64) || strlen(fb) > 128)
        return FALSE;
    for (guint i = 0; i < m->codecs->len; i++) {
        struct sdp_codec *each = g_ptr_array_index(m->codecs, i);
        if ((all || each == c) && !rtcp_fb_add(each, fb))
            return FALSE;
    }
    return TRUE;
}

/* a=extmap:<id>[/<direction>] <uri> [<attributes>] (RFC 8285 §5) */
static gboolean extmap_parse(struct sdp_media *m, const char *value)
{
    g_autoptr(GPtrArray) w = sdp_split_words(value, 8);
    if (w == NULL || w->len < 2 || !sdp_is_visible(g_ptr_array_index(w, 1), 256))
        return FALSE;
    g_auto(GStrv) idd = g_strsplit(g_ptr_array_index(w, 0), "/", 3);
    guint64 id;
    if (!sdp_parse_uint(idd[0], 255, &id) || id == 0 || id == 15 || g_strv_length(idd) > 2)
        return FALSE;
    struct sdp_extmap *e = sdp_extmap_new((guint)id, g_ptr_array_index(w, 1));
    g_ptr_array_add(m->extmaps, e);
    if (idd[1]) {
        int dir = -1;
        for (int d = SDP_DIR_SENDRECV; d <= SDP_DIR_INACTIVE; d++)
            if (strcmp(idd[1], sdp_direction_name((enum sdp_direction)d)) == 0)
                dir = d;
        if (dir < 0)
            return FALSE;
        e->has_direction = TRUE;
        e->direction = (enum sdp_direction)dir;
    }
    for (guint i = 0; i + 1 < m->extmaps->len; i++)
        if (((struct sdp_extmap *)g_ptr_array_index(m->extmaps, i))->id == id)
            return FALSE; /* RFC 8285 §5: an id maps one extension */
    return TRUE;
}

/* RFC 8851 rid-syntax: 1*(ALPHA / DIGIT / "-" / "_"), kept short. */
static gboolean is_rid_id(const char *s)
{
    gsize n = strlen(s);
    if (n == 0 || n > 16)
        return FALSE;
    for (; *s; s++)
        if (!g_ascii_isalnum(*s) && *s != '-' && *s != '_')
            return FALSE;
    return TRUE;
}

static struct sdp_rid *rid_find(GPtrArray *rids, const char *id)
{
    for (guint i = 0; i < rids->len; i++) {
        struct sdp_rid *r = g_ptr_array_index(rids, i);
        if (strcmp(r->id, id) == 0)
            return r;
    }
    return NULL;
}

/* a=rid:<id> <send|recv> [<restrictions>] (RFC 8851 §10) */
static gboolean rid_parse(struct sdp_media *m, const char *value)
{
    g_autoptr(GPtrArray) w = sdp_split_words(value, 3);
    if (w == NULL || w->len < 2 || !is_rid_id(g_ptr_array_index(w, 0)) ||
        rid_find(m->rids, g_ptr_array_index(w, 0)) || m->rids->len >= SDP_MAX_RIDS)
        return FALSE;
    const char *dir = g_ptr_array_index(w, 1);
    if (strcmp(dir, "send") && strcmp(dir, "recv"))
        return FALSE;
    struct sdp_rid *r = g_new0(struct sdp_rid, 1);
    r->id = g_strdup(g_ptr_array_index(w, 0));
    r->send = strcmp(dir, "send") == 0;
    g_ptr_array_add(m->rids, r);
    return TRUE;
}

/* a=simulcast:<send|recv> <stream>;<stream>... where a stream is "id[,alt...]" and "~" marks
 * a paused one (RFC 8853 §5.1). Only the first direction is kept; streams use their first
 * alternative. Reorders m->rids to the simulcast order, so must run after every a=rid. */
static gboolean simulcast_parse(struct sdp_media *m, const char *value)
{
    g_autoptr(GPtrArray) w = sdp_split_words(value, 4);
    if (m->simulcast || w == NULL || w->len < 2 || w->len % 2 != 0)
        return FALSE;
    const char *dir = g_ptr_array_index(w, 0);
    if (strcmp(dir, "send") && strcmp(dir, "recv"))
        return FALSE;
    m->simulcast = TRUE;
    m->simulcast_send = strcmp(dir, "send") == 0;
    g_auto(GStrv) streams = g_strsplit(g_ptr_array_index(w, 1), ";", SDP_MAX_RIDS + 1);
    if (g_strv_length(streams) > SDP_MAX_RIDS)
        return FALSE;
    /* Move the rids, in simulcast order, to the front of m->rids. */
    guint placed = 0;
    for (char **s = streams; *s; s++) {
        g_auto(GStrv) alts = g_strsplit(*s, ",", 2);
        const char *id = alts[0] ? alts[0] : "";
        gboolean paused = id[0] == '~';
        if (paused)
            id++;
        guint j;
        for (j = placed; j < m->rids->len; j++)
            if (strcmp(((struct sdp_rid *)g_ptr_array_index(m->rids, j))->id, id) == 0)
                break;
        /* RFC 8853 §5.1: every rid in a=simulcast has an a=rid line of the same direction,
         * and is listed once. */
        if (j == m->rids->len)
            return FALSE;
        struct sdp_rid *r = g_ptr_array_steal_index(m->rids, j);
        g_ptr_array_insert(m->rids, (gint)placed++, r);
        r->paused = paused;
        if (r->send != m->simulcast_send)
            return FALSE;
    }
    return TRUE;
}

static struct sdp_ssrc *ssrc_find(GPtrArray *ssrcs, guint32 ssrc)
{
    for (guint i = 0; i < ssrcs->len; i++) {
        struct sdp_ssrc *s = g_ptr_array_index(ssrcs, i);
        if (s->ssrc == ssrc)
            return s;
    }
    return NULL;
}

/* a=ssrc:<ssrc> <attribute>[:<value>] (RFC 5576 §4.1); only cname is kept. */
static gboolean ssrc_parse(struct sdp_media *m, const char *value)
{
    const char *sp = strchr(value, ' ');
    if (sp == NULL)
        return FALSE;
    g_autofree char *num = g_strndup(value, (gsize)(sp - value));
    guint64 v;
    if (!sdp_parse_uint(num, G_MAXUINT32, &v))
        return FALSE;
    struct sdp_ssrc *s = ssrc_find(m->ssrcs, (guint32)v);
    if (s == NULL) {
        if (m->ssrcs->len >= SDP_MAX_SSRCS)
            return FALSE;
        s = g_new0(struct sdp_ssrc, 1);
        s->ssrc = (guint32)v;
        g_ptr_array_add(m->ssrcs, s);
    }
    while (*sp == ' ')
        sp++;
    if (g_str_has_prefix(sp, "cname:")) {
        if (s->cname || !sdp_is_visible(sp + 6, 255))
            return FALSE;
        s->cname = g_strdup(sp + 6);
    }
    return TRUE;
}

/* a=ssrc-group:<semantics> <ssrc>... (RFC 5576 §4.2) */
static gboolean ssrc_group_parse(struct sdp_media *m, const char *value)
{
    g_autoptr(GPtrArray) w = sdp_split_words(value, MAX_GROUP_SSRC + 1);
    if (w == NULL || w->len < 2 || !sdp_is_token(g_ptr_array_index(w, 0), 16) ||
        m->ssrc_groups->len >= MAX_GROUPS)
        return FALSE;
    struct sdp_ssrc_group *g = g_new0(struct sdp_ssrc_group, 1);
    g->semantics = g_strdup(g_ptr_array_index(w, 0));
    g->ssrcs = g_array_new(FALSE, FALSE, sizeof(guint32));
    g_ptr_array_add(m->ssrc_groups, g);
    for (guint i = 1; i < w->len; i++) {
        guint64 v;
        if (!sdp_parse_uint(g_ptr_array_index(w, i), G_MAXUINT32, &v))
            return FALSE;
        guint32 ssrc = (guint32)v;
        g_array_append_val(g->ssrcs, ssrc);
    }
    return TRUE;
}

/* a=msid:<stream> [<track>] (RFC 8830 §2) */
static gboolean msid_parse(struct sdp_media *m, const char *value)
{
    g_autoptr(GPtrArray) w = sdp_split_words(value, 2);
    if (m->msid_stream || w == NULL || w->len == 0 || !sdp_is_token(g_ptr_array_index(w, 0), 64) ||
        (w->len == 2 && !sdp_is_token(g_ptr_array_index(w, 1), 64)))
        return FALSE;
    m->msid_stream = g_strdup(g_ptr_array_index(w, 0));
    m->msid_track = w->len == 2 ? g_strdup(g_ptr_array_index(w, 1)) : NULL;
    return TRUE;
}

static gboolean mid_parse(struct sdp_media *m, const char *value)
{
    /* RFC 5888 identification-tag is a token; 32 bytes is what signaling carries. */
    if (m->mid || !sdp_is_token(value, 32))
        return FALSE;
    m->mid = g_strdup(value);
    return TRUE;
}

static gboolean candidate_attr_parse(struct sdp_media *m, const char *value)
{
    if (m->candidates->len >= SDP_MAX_CANDIDATES)
        return FALSE;
    struct sdp_candidate *c = sdp_candidate_parse(value, NULL);
    if (c)
        g_ptr_array_add(m->candidates, c);
    return c != NULL;
}

static gboolean fmtp_parse(struct sdp_media *m, const char *value)
{
    struct sdp_codec *c;
    const char *rest;
    if (!pt_split(value, m->codecs, &c, &rest, NULL) || !*rest || strlen(rest) > 1024)
        return FALSE;
    if (c && !c->fmtp)
        c->fmtp = g_strdup(rest);
    return TRUE;
}

/* Attributes of an m-line that kumis reads, by name; the rest are ignored. */
static const struct {
    const char *key;
    gboolean (*parse)(struct sdp_media *m, const char *value);
} media_attrs[] = {
    {"mid", mid_parse},
    {"rtpmap", rtpmap_parse},
    {"fmtp", fmtp_parse},
    {"rtcp-fb", rtcp_fb_parse},
    {"extmap", extmap_parse},
    {"rid", rid_parse},
    {"msid", msid_parse},
    {"ssrc", ssrc_parse},
    {"ssrc-group", ssrc_group_parse},
    {"candidate", candidate_attr_parse},
};

/* Flag attributes; returns TRUE if @key was one. */
static gboolean media_flag_parse(struct sdp_media *m, const char *key)
{
    for (int d = SDP_DIR_SENDRECV; d <= SDP_DIR_INACTIVE; d++)
        if (strcmp(key, sdp_direction_name((enum sdp_direction)d)) == 0)
            return m->direction = (enum sdp_direction)d, TRUE;
    if (strcmp(key, "rtcp-mux") == 0)
        m->rtcp_mux = TRUE;
    else if (strcmp(key, "rtcp-rsize") == 0)
        m->rtcp_rsize = TRUE;
    else if (strcmp(key, "bundle-only") == 0)
        m->bundle_only = TRUE;
    else if (strcmp(key, "end-of-candidates") == 0)
        m->end_of_candidates = TRUE;
    else
        return FALSE;
    return TRUE;
}

/* The m= line itself: kind, port, protocol, payload types. */
static struct sdp_media *media_line_parse(const GstSDPMedia *gm, guint index, GError **error)
{
    static const char *const kinds[] = {"audio", "video", "application"};
    const char *kind = gst_sdp_media_get_media(gm);
    enum sdp_kind k = SDP_KIND_OTHER;
    for (guint i = 0; kind && i < G_N_ELEMENTS(kinds); i++)
        if (strcmp(kind, kinds[i]) == 0)
            k = (enum sdp_kind)i;
    struct sdp_media *m = sdp_media_new(index, k);
    const char *proto = gst_sdp_media_get_proto(gm);
    m->proto = g_strdup(proto ? proto : "");
    guint port = gst_sdp_media_get_port(gm);
    if (port > 65535) {
        sdp_media_fail(error, m, SDP_ERROR_SYNTAX, "bad port");
        goto out_bad;
    }
    m->port = (guint16)port;
    m->rejected = port == 0;
    if (strstr(m->proto, "RTP") == NULL)
        return m; /* SCTP and others: formats are not payload types */
    guint n = gst_sdp_media_formats_len(gm);
    if (n > SDP_MAX_CODECS) {
        sdp_media_fail(error, m, SDP_ERROR_TOO_LARGE, "%u payload types, over the limit of %d", n,
                       SDP_MAX_CODECS);
        goto out_bad;
    }
    for (guint i = 0; i < n; i++) {
        const char *fmt = gst_sdp_media_get_format(gm, i);
        guint64 pt;
        if (!sdp_parse_uint(fmt, 127, &pt) || sdp_codec_find(m->codecs, (guint)pt)) {
            sdp_media_fail(error, m, SDP_ERROR_SYNTAX, "bad or repeated payload type \"%.16s\"",
                           fmt ? fmt : "");
            goto out_bad;
        }
        /* RFC 3551 static payload types that appear without a=rtpmap. */
        static const char *const statics[] = {[0] = "PCMU", [8] = "PCMA", [9] = "G722"};
        const char *name = pt < G_N_ELEMENTS(statics) ? statics[pt] : NULL;
        g_ptr_array_add(m->codecs, sdp_codec_new((guint8)pt, name ? name : "", name ? 8000 : 0,
                                                 k == SDP_KIND_AUDIO, NULL));
    }
    return m;
out_bad:
    sdp_media_free(m);
    return NULL;
}

/* RFC 4588 §8.6: an rtx payload type names the one it repairs with fmtp apt=. */
static gboolean media_link_rtx(struct sdp_media *m, GError **error)
{
    for (guint i = 0; i < m->codecs->len; i++) {
        struct sdp_codec *c = g_ptr_array_index(m->codecs, i);
        if (g_ascii_strcasecmp(c->name, "rtx") != 0)
            continue;
        g_autofree char *apt = sdp_fmtp_get(c->fmtp, "apt");
        guint64 v;
        if (apt == NULL)
            continue;
        if (!sdp_parse_uint(apt, 127, &v))
            return sdp_media_fail(error, m, SDP_ERROR_SYNTAX, "malformed apt of rtx %u", c->pt);
        struct sdp_codec *primary = sdp_codec_find(m->codecs, (guint)v);
        if (primary && primary != c && g_ascii_strcasecmp(primary->name, "rtx") != 0) {
            c->apt = (int)v;
            primary->rtx_pt = c->pt;
        }
    }
    return TRUE;
}

static struct sdp_media *media_parse(const GstSDPMedia *gm, guint index,
                                     const struct transport_attrs *session_t, GError **error)
{
    struct sdp_media *m = media_line_parse(gm, index, error);
    if (m == NULL)
        return NULL;
    struct transport_attrs t = {0};
    const char *simulcast = NULL, *what = NULL;
    for (guint i = 0; i < gst_sdp_media_attributes_len(gm); i++) {
        const GstSDPAttribute *a = gst_sdp_media_get_attribute(gm, i);
        const char *key = a->key ? a->key : "", *value = a->value ? a->value : "";
        int tr = transport_attr_parse(&t, key, value, &what);
        if (tr < 0) {
            sdp_media_fail(error, m, SDP_ERROR_SYNTAX, "malformed %s", what);
            goto out_bad;
        }
        if (tr > 0 || media_flag_parse(m, key))
            continue;
        if (strcmp(key, "simulcast") == 0) {
            simulcast = value;
            continue;
        }
        for (guint j = 0; j < G_N_ELEMENTS(media_attrs); j++) {
            if (strcmp(key, media_attrs[j].key) == 0 && !media_attrs[j].parse(m, value)) {
                sdp_media_fail(error, m, SDP_ERROR_SYNTAX, "bad or too many a=%s: \"%.40s\"", key,
                               value);
                goto out_bad;
            }
        }
    }
    if (simulcast && !simulcast_parse(m, simulcast)) {
        sdp_media_fail(error, m, SDP_ERROR_SYNTAX, "a=simulcast does not match its a=rid lines");
        goto out_bad;
    }
    /* RFC 8843 §6: a bundle-only m-line has port 0 but is not rejected (webrtcbin's
     * max-bundle offers look like this). */
    if (m->port == 0 && m->bundle_only)
        m->rejected = FALSE;
    if (!media_link_rtx(m, error))
        goto out_bad;
    /* Media-level transport attributes override the session's (RFC 8839 §5.4, RFC 8122 §5). */
    m->ice_ufrag = g_strdup(t.ufrag ? t.ufrag : session_t->ufrag);
    m->ice_pwd = g_strdup(t.pwd ? t.pwd : session_t->pwd);
    m->fingerprint_alg = g_strdup(t.fp ? t.fp_alg : session_t->fp_alg);
    m->fingerprint = g_strdup(t.fp ? t.fp : session_t->fp);
    m->setup = t.setup != SDP_SETUP_NONE ? t.setup : session_t->setup;
    m->ice_trickle = t.trickle || session_t->trickle;
    transport_attrs_clear(&t);
    return m;
out_bad:
    transport_attrs_clear(&t);
    sdp_media_free(m);
    return NULL;
}

/* ---- parsing: the session ----------------------------------------------------------------- */

static gboolean session_attrs_parse(const GstSDPMessage *msg, struct sdp_session *s,
                                    struct transport_attrs *t, GError **error)
{
    const char *what = NULL;
    for (guint i = 0; i < gst_sdp_message_attributes_len(msg); i++) {
        const GstSDPAttribute *a = gst_sdp_message_get_attribute(msg, i);
        const char *key = a->key ? a->key : "", *value = a->value ? a->value : "";
        if (transport_attr_parse(t, key, value, &what) < 0)
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
    struct transport_attrs t = {0};
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
        struct sdp_media *m = media_parse(gst_sdp_message_get_media(msg, i), i, &t, error);
        if (m == NULL)
            goto out_bad_sdp;
        g_ptr_array_add(s->media, m);
    }
    if (!session_validate(s, error))
        goto out_bad_sdp;
    transport_attrs_clear(&t);
    return s;
out_bad_sdp:
    transport_attrs_clear(&t);
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

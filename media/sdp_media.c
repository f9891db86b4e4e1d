/* kumis — parsing one m-line (see sdp.h): the m= line, then the media-level attributes kumis
 * reads (rtpmap, fmtp, rtcp-fb, extmap, rid and simulcast, ssrc, msid, mid, candidates), into
 * struct sdp_media. sdp.c parses the session around it and checks what WebRTC requires. */
#include "media/sdp.h"
#include "media/sdp_private.h"

#include <gst/sdp/gstsdpmessage.h>
#include <string.h>

#define MAX_FB         16 /* rtcp-fb per payload type */
#define MAX_GROUP_SSRC 8
#define MAX_GROUPS     16

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

struct sdp_media *sdp_media_parse(const GstSDPMedia *gm, guint index,
                                  const struct sdp_transport_attrs *session_t, GError **error)
{
    struct sdp_media *m = media_line_parse(gm, index, error);
    if (m == NULL)
        return NULL;
    struct sdp_transport_attrs t = {0};
    const char *simulcast = NULL, *what = NULL;
    for (guint i = 0; i < gst_sdp_media_attributes_len(gm); i++) {
        const GstSDPAttribute *a = gst_sdp_media_get_attribute(gm, i);
        const char *key = a->key ? a->key : "", *value = a->value ? a->value : "";
        int tr = sdp_transport_attr_parse(&t, key, value, &what);
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
    sdp_transport_attrs_clear(&t);
    return m;
out_bad:
    sdp_transport_attrs_clear(&t);
    sdp_media_free(m);
    return NULL;
}

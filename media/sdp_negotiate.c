/* kumis — SDP negotiation rules (see sdp.h): the answer to a browser's up offer (codec choice,
 * header extensions, simulcast, DTLS role) and the down offers built from the persistent m-line
 * table, with the check of the browser's answer to them. */
#include "media/sdp.h"
#include "media/sdp_private.h"

#include <string.h>

/* RFC 8285 §6: the extensions we keep in answers; the others are refused by omission. */
static const char *const supported_extmaps[] = {
    SDP_EXT_MID, SDP_EXT_RID, SDP_EXT_RRID, SDP_EXT_ABS_SEND, SDP_EXT_TWCC, SDP_EXT_AUDIO_LEVEL};
static const char *const supported_rtcp_fb[] = {"nack", "nack pli", "ccm fir", "goog-remb",
                                                "transport-cc"};

/* ---- the answer to an up offer ------------------------------------------------------------ */

static gboolean str_in_list(const char *const *list, gsize n, const char *s)
{
    for (gsize i = 0; i < n; i++)
        if (g_ascii_strcasecmp(list[i], s) == 0)
            return TRUE;
    return FALSE;
}

/* How much kumis likes @c as a @name codec: 0 = not usable. H.264 needs
 * packetization-mode=1 (RFC 6184 §6.2, non-interleaved) and prefers constrained baseline
 * 3.1 (42e01f), which every browser decodes; VP9 prefers profile 0 (8-bit 4:2:0). */
static int video_codec_score(const struct sdp_codec *c, const char *name)
{
    if (g_ascii_strcasecmp(c->name, name) != 0 || c->clock_rate != 90000)
        return 0;
    if (g_ascii_strcasecmp(name, "H264") == 0) {
        g_autofree char *mode = sdp_fmtp_get(c->fmtp, "packetization-mode");
        g_autofree char *profile = sdp_fmtp_get(c->fmtp, "profile-level-id");
        if (mode == NULL || strcmp(mode, "1") != 0)
            return 0;
        return profile && g_ascii_strcasecmp(profile, "42e01f") == 0 ? 2 : 1;
    }
    if (g_ascii_strcasecmp(name, "VP9") == 0) {
        g_autofree char *profile = sdp_fmtp_get(c->fmtp, "profile-id");
        return profile == NULL || strcmp(profile, "0") == 0 ? 2 : 1;
    }
    return 1;
}

static const struct sdp_codec *codec_choose(const struct sdp_media *m,
                                            const char *const *video_prefs)
{
    if (m->kind == SDP_KIND_AUDIO) {
        for (guint i = 0; i < m->codecs->len; i++) {
            const struct sdp_codec *c = g_ptr_array_index(m->codecs, i);
            if (g_ascii_strcasecmp(c->name, "opus") == 0 && c->clock_rate == 48000 &&
                c->channels == 2)
                return c;
        }
        return NULL;
    }
    for (const char *const *name = video_prefs; *name; name++) {
        const struct sdp_codec *best = NULL;
        int best_score = 0;
        for (guint i = 0; i < m->codecs->len; i++) {
            const struct sdp_codec *c = g_ptr_array_index(m->codecs, i);
            int score = video_codec_score(c, *name);
            if (score > best_score)
                best = c, best_score = score;
        }
        if (best)
            return best;
    }
    return NULL;
}

/* A copy of @c with only the feedback kumis implements (DESIGN §4: NACK with RTX, PLI/FIR
 * relay, REMB and transport-cc for the publisher's bandwidth estimation). */
static struct sdp_codec *codec_copy_supported(const struct sdp_codec *c)
{
    struct sdp_codec *n = sdp_codec_new(c->pt, c->name, c->clock_rate, c->channels, c->fmtp);
    n->apt = c->apt;
    n->rtx_pt = c->rtx_pt;
    for (guint i = 0; i < c->rtcp_fb->len; i++) {
        const char *fb = g_ptr_array_index(c->rtcp_fb, i);
        if (str_in_list(supported_rtcp_fb, G_N_ELEMENTS(supported_rtcp_fb), fb))
            g_ptr_array_add(n->rtcp_fb, g_strdup(fb));
    }
    return n;
}

/* RFC 7587 §6.1: usedtx=1 in our answer asks the publisher's Opus encoder for discontinuous
 * transmission (while its microphone hears silence, a packet every 400 ms instead of every
 * 20 ms; decoders play comfort noise meanwhile). In a forum few speak at once, and the silent
 * ones' audio would otherwise be most of what every attendee receives and kumis sends. The
 * offer's own usedtx (what the offerer likes to receive) is not ours to echo. */
static void opus_ask_dtx(struct sdp_codec *c)
{
    g_auto(GStrv) params = g_strsplit(c->fmtp ? c->fmtp : "", ";", 64);
    GString *fmtp = g_string_new(NULL);
    for (char **p = params; *p; p++) {
        g_autofree char *param = g_strstrip(g_strdup(*p));
        g_autofree char *key = g_strstrip(g_strndup(param, strcspn(param, "=")));
        if (*param == '\0' || g_ascii_strcasecmp(key, "usedtx") == 0)
            continue;
        g_string_append_printf(fmtp, "%s%s", fmtp->len ? ";" : "", param);
    }
    g_string_append_printf(fmtp, "%susedtx=1", fmtp->len ? ";" : "");
    g_free(c->fmtp);
    c->fmtp = g_string_free(fmtp, FALSE);
}

/* RFC 8285 §6: the answer keeps the offerer's ids and mirrors a declared direction. */
static void extmaps_answer(struct sdp_media *a, const struct sdp_media *m)
{
    for (guint i = 0; i < m->extmaps->len; i++) {
        const struct sdp_extmap *e = g_ptr_array_index(m->extmaps, i);
        if (!str_in_list(supported_extmaps, G_N_ELEMENTS(supported_extmaps), e->uri))
            continue;
        struct sdp_extmap *n = sdp_extmap_new(e->id, e->uri);
        n->has_direction = e->has_direction;
        n->direction = e->direction == SDP_DIR_SENDONLY   ? SDP_DIR_RECVONLY
                       : e->direction == SDP_DIR_RECVONLY ? SDP_DIR_SENDONLY
                                                          : e->direction;
        g_ptr_array_add(a->extmaps, n);
    }
}

/* Fills the accepted answer m-line @a for offered @m; FALSE when no codec fits. */
static gboolean media_answer(struct sdp_media *a, const struct sdp_media *m,
                             const char *const *video_prefs)
{
    const struct sdp_codec *chosen = codec_choose(m, video_prefs);
    if (chosen == NULL)
        return FALSE;
    a->port = 9; /* RFC 8843 §7.1.3 / RFC 8839: ICE decides the address; 9 is "discard" */
    a->direction = SDP_DIR_RECVONLY;
    a->rtcp_mux = TRUE;
    a->rtcp_rsize = m->rtcp_rsize;
    g_ptr_array_add(a->codecs, codec_copy_supported(chosen));
    if (m->kind == SDP_KIND_AUDIO) /* Opus: codec_choose() */
        opus_ask_dtx(g_ptr_array_index(a->codecs, 0));
    const struct sdp_codec *rtx =
        chosen->rtx_pt >= 0 ? sdp_codec_find(m->codecs, (guint)chosen->rtx_pt) : NULL;
    if (rtx && m->kind == SDP_KIND_VIDEO)
        g_ptr_array_add(a->codecs, codec_copy_supported(rtx));
    else
        ((struct sdp_codec *)g_ptr_array_index(a->codecs, 0))->rtx_pt = -1;
    extmaps_answer(a, m);
    /* RFC 8853 §5.3: the answerer receives what the offerer sends, in the same order. */
    for (guint i = 0; m->simulcast && m->simulcast_send && i < m->rids->len; i++) {
        const struct sdp_rid *r = g_ptr_array_index(m->rids, i);
        if (!r->send)
            continue;
        struct sdp_rid *n = g_new0(struct sdp_rid, 1);
        n->id = g_strdup(r->id);
        n->paused = r->paused;
        g_ptr_array_add(a->rids, n);
    }
    a->simulcast = a->rids->len > 0;
    return TRUE;
}

static void session_set_local(struct sdp_session *s, const struct sdp_local *local)
{
    s->session_id = local->session_id;
    s->ice_ufrag = g_strdup(local->ice_ufrag);
    s->ice_pwd = g_strdup(local->ice_pwd);
    s->fingerprint_alg = g_strdup(local->fingerprint_alg);
    s->fingerprint = g_strdup(local->fingerprint);
    s->ice_trickle = TRUE;
}

/* Our candidates go on the BUNDLE tag m-line: under BUNDLE it carries the transport. */
static void session_add_candidates(struct sdp_session *s, const struct sdp_local *local)
{
    for (guint i = 0; i < s->media->len; i++) {
        struct sdp_media *m = g_ptr_array_index(s->media, i);
        if (m->rejected)
            continue;
        for (guint j = 0; local->candidates && j < local->candidates->len; j++)
            g_ptr_array_add(m->candidates,
                            sdp_candidate_copy(g_ptr_array_index(local->candidates, j)));
        m->end_of_candidates = local->end_of_candidates;
        return;
    }
}

static gboolean is_dtls_srtp(const char *proto)
{
    /* RFC 5764 §8 profiles; RFC 8829 §5.1.2 also accepts the legacy RTP/SAVPF. */
    return strcmp(proto, "UDP/TLS/RTP/SAVPF") == 0 || strcmp(proto, "TCP/TLS/RTP/SAVPF") == 0 ||
           strcmp(proto, "RTP/SAVPF") == 0;
}

struct sdp_session *sdp_up_answer_new(const struct sdp_session *offer,
                                      const struct sdp_local *local, const char *const *video_prefs,
                                      GError **error)
{
    if (offer->setup == SDP_SETUP_PASSIVE)
        return sdp_fail(error, SDP_ERROR_UNSUPPORTED,
                        "a=setup:passive: kumis is the DTLS server, offer actpass"),
               NULL;
    struct sdp_session *s = sdp_session_new();
    session_set_local(s, local);
    s->session_version = 2;
    s->setup = SDP_SETUP_PASSIVE; /* RFC 5763 §5: the answerer to actpass picks; we serve */
    guint accepted = 0, kept = 0;
    for (guint i = 0; i < offer->media->len; i++) {
        const struct sdp_media *m = g_ptr_array_index(offer->media, i);
        struct sdp_media *a = sdp_media_new(i, m->kind);
        g_ptr_array_add(s->media, a);
        a->proto = g_strdup(m->proto);
        a->mid = g_strdup(m->mid);
        a->direction = SDP_DIR_INACTIVE;
        a->rejected = TRUE;
        gboolean usable = !m->rejected && (m->kind == SDP_KIND_AUDIO || m->kind == SDP_KIND_VIDEO);
        gboolean wanted =
            usable && (m->direction == SDP_DIR_SENDONLY || m->direction == SDP_DIR_SENDRECV);
        /* A track the browser stopped sending (camera off: its m-line inactive) is answered
         * inactive, not rejected (RFC 3264 §6.1): a rejected m-line is stopped for good, and
         * rejecting the BUNDLE tag would move the browser onto a new transport (RFC 8843). */
        if (usable && m->direction == SDP_DIR_INACTIVE && is_dtls_srtp(m->proto) &&
            media_answer(a, m, video_prefs ? video_prefs : sdp_video_codecs_default)) {
            a->direction = SDP_DIR_INACTIVE;
            a->rejected = FALSE;
            kept++;
            continue;
        }
        if (wanted && !is_dtls_srtp(m->proto)) {
            sdp_media_fail(error, m, SDP_ERROR_UNSUPPORTED, "protocol %s is not DTLS-SRTP",
                           m->proto);
            goto out_refuse;
        }
        if (wanted && !media_answer(a, m, video_prefs ? video_prefs : sdp_video_codecs_default)) {
            sdp_media_fail(error, m, SDP_ERROR_UNSUPPORTED, "no codec kumis supports");
            goto out_refuse;
        }
        if (!wanted && m->codecs->len > 0) /* RFC 3264 §6: a rejected m-line keeps a format */
            g_ptr_array_add(a->codecs,
                            sdp_codec_new(((struct sdp_codec *)g_ptr_array_index(m->codecs, 0))->pt,
                                          "", 0, 0, NULL));
        a->rejected = !wanted;
        accepted += wanted;
    }
    if (accepted == 0 && kept == 0) {
        sdp_fail(error, SDP_ERROR_UNSUPPORTED,
                 "the offer sends no audio or video kumis can receive");
        goto out_refuse;
    }
    session_add_candidates(s, local);
    return s;
out_refuse:
    sdp_session_free(s);
    return NULL;
}

/* ---- down: tracks, the m-line table, offers and their answers ----------------------------- */

struct sdp_out_track *sdp_out_track_new(enum sdp_kind kind, const char *stream_id,
                                        const char *track_id, const char *cname, guint32 ssrc,
                                        guint32 rtx_ssrc)
{
    struct sdp_out_track *t = g_new0(struct sdp_out_track, 1);
    t->kind = kind;
    t->stream_id = g_strdup(stream_id);
    t->track_id = g_strdup(track_id);
    t->cname = g_strdup(cname);
    t->ssrc = ssrc;
    t->rtx_ssrc = rtx_ssrc;
    t->codecs = g_ptr_array_new_with_free_func((GDestroyNotify)sdp_codec_free);
    return t;
}

void sdp_out_track_free(struct sdp_out_track *t)
{
    if (t == NULL)
        return;
    g_free(t->stream_id);
    g_free(t->track_id);
    g_free(t->cname);
    g_ptr_array_unref(t->codecs);
    g_free(t);
}

static void add_video_codec(GPtrArray *codecs, guint8 pt, const char *name, const char *fmtp)
{
    struct sdp_codec *c = sdp_codec_new(pt, name, 90000, 0, fmtp);
    for (guint i = 0; i < G_N_ELEMENTS(supported_rtcp_fb); i++)
        g_ptr_array_add(c->rtcp_fb, g_strdup(supported_rtcp_fb[i]));
    c->rtx_pt = pt + 1;
    g_ptr_array_add(codecs, c);
    g_autofree char *apt = g_strdup_printf("apt=%u", pt);
    struct sdp_codec *rtx = sdp_codec_new(pt + 1, "rtx", 90000, 0, apt);
    rtx->apt = pt;
    g_ptr_array_add(codecs, rtx);
}

int sdp_out_video_pt(const char *video_codec)
{
    if (video_codec == NULL || g_ascii_strcasecmp(video_codec, "VP8") == 0)
        return 96;
    if (g_ascii_strcasecmp(video_codec, "VP9") == 0)
        return 98;
    if (g_ascii_strcasecmp(video_codec, "H264") == 0)
        return 102;
    return 0;
}

void sdp_out_track_add_default_codecs(struct sdp_out_track *t, const char *video_codec)
{
    if (t->kind == SDP_KIND_AUDIO) {
        struct sdp_codec *c = sdp_codec_new(111, "opus", 48000, 2, "minptime=10;useinbandfec=1");
        g_ptr_array_add(c->rtcp_fb, g_strdup("transport-cc"));
        g_ptr_array_add(t->codecs, c);
        return;
    }
    add_video_codec(t->codecs, 96, "VP8", NULL);
    int pt = sdp_out_video_pt(video_codec);
    if (pt == 98)
        add_video_codec(t->codecs, (guint8)pt, "VP9", "profile-id=0");
    if (pt == 102)
        add_video_codec(t->codecs, (guint8)pt, "H264",
                        "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f");
}

struct mline {
    char *mid;
    enum sdp_kind kind;
    struct sdp_out_track *track; /* NULL: inactive */
    GPtrArray *codecs; /* (element-type struct sdp_codec) last offered, kept when inactive */
};

struct sdp_mline_table {
    GPtrArray *lines; /* (element-type struct mline) in SDP order, never reordered */
    guint next_mid;
    guint64 version;
};

static void mline_free(struct mline *l)
{
    g_free(l->mid);
    sdp_out_track_free(l->track);
    g_ptr_array_unref(l->codecs);
    g_free(l);
}

struct sdp_mline_table *sdp_mline_table_new(void)
{
    struct sdp_mline_table *t = g_new0(struct sdp_mline_table, 1);
    t->lines = g_ptr_array_new_with_free_func((GDestroyNotify)mline_free);
    t->version = 1;
    return t;
}

void sdp_mline_table_free(struct sdp_mline_table *t)
{
    if (t == NULL)
        return;
    g_ptr_array_unref(t->lines);
    g_free(t);
}

guint sdp_mline_table_len(const struct sdp_mline_table *t)
{
    return t->lines->len;
}

const char *sdp_mline_table_add(struct sdp_mline_table *t, struct sdp_out_track *track,
                                GError **error)
{
    struct mline *line = NULL;
    if ((track->kind != SDP_KIND_AUDIO && track->kind != SDP_KIND_VIDEO) ||
        track->codecs->len == 0 || track->stream_id == NULL || track->track_id == NULL) {
        sdp_out_track_free(track);
        return sdp_fail(error, SDP_ERROR_UNSUPPORTED, "a track needs a kind, msid and a codec"),
               NULL;
    }
    for (guint i = 0; line == NULL && i < t->lines->len; i++) {
        struct mline *l = g_ptr_array_index(t->lines, i);
        if (l->track == NULL && l->kind == track->kind)
            line = l; /* RFC 8829 §5.2.2: recycle a free m-line before appending */
    }
    if (line == NULL) {
        if (t->lines->len >= SDP_MAX_MEDIA) {
            sdp_out_track_free(track);
            return sdp_fail(error, SDP_ERROR_TOO_LARGE, "down connection has %d m-lines in use",
                            SDP_MAX_MEDIA),
                   NULL;
        }
        line = g_new0(struct mline, 1);
        line->mid = g_strdup_printf("%u", t->next_mid++);
        line->kind = track->kind;
        g_ptr_array_add(t->lines, line);
    }
    if (line->codecs)
        g_ptr_array_unref(line->codecs);
    line->codecs = g_ptr_array_new_with_free_func((GDestroyNotify)sdp_codec_free);
    for (guint i = 0; i < track->codecs->len; i++)
        g_ptr_array_add(line->codecs, sdp_codec_copy(g_ptr_array_index(track->codecs, i)));
    line->track = track;
    return line->mid;
}

gboolean sdp_mline_table_remove(struct sdp_mline_table *t, const char *mid)
{
    for (guint i = 0; i < t->lines->len; i++) {
        struct mline *l = g_ptr_array_index(t->lines, i);
        if (l->track && strcmp(l->mid, mid) == 0) {
            g_clear_pointer(&l->track, sdp_out_track_free);
            return TRUE;
        }
    }
    return FALSE;
}

/* Extension ids kumis uses in its own offers: the same id for a URI across the BUNDLE group
 * (RFC 8843 §9.2), and the ids Chromium picks, which keeps rewriting cheap. */
static void extmaps_ours(struct sdp_media *m)
{
    if (m->kind == SDP_KIND_AUDIO)
        g_ptr_array_add(m->extmaps, sdp_extmap_new(1, SDP_EXT_AUDIO_LEVEL));
    g_ptr_array_add(m->extmaps, sdp_extmap_new(2, SDP_EXT_ABS_SEND));
    g_ptr_array_add(m->extmaps, sdp_extmap_new(3, SDP_EXT_TWCC));
    g_ptr_array_add(m->extmaps, sdp_extmap_new(4, SDP_EXT_MID));
}

static void media_add_track(struct sdp_media *m, const struct sdp_out_track *t)
{
    m->direction = SDP_DIR_SENDONLY;
    m->msid_stream = g_strdup(t->stream_id);
    m->msid_track = g_strdup(t->track_id);
    guint32 ssrcs[2] = {t->ssrc, t->rtx_ssrc};
    gboolean has_rtx = FALSE;
    for (guint i = 0; i < m->codecs->len; i++)
        has_rtx |= ((struct sdp_codec *)g_ptr_array_index(m->codecs, i))->apt >= 0;
    guint n = t->rtx_ssrc && has_rtx ? 2 : 1;
    for (guint i = 0; i < n; i++) {
        struct sdp_ssrc *s = g_new0(struct sdp_ssrc, 1);
        s->ssrc = ssrcs[i];
        s->cname = g_strdup(t->cname ? t->cname : "kumis");
        g_ptr_array_add(m->ssrcs, s);
    }
    if (n == 2) { /* RFC 4588 §8.7: FID ties the rtx SSRC to its primary */
        struct sdp_ssrc_group *g = g_new0(struct sdp_ssrc_group, 1);
        g->semantics = g_strdup("FID");
        g->ssrcs = g_array_new(FALSE, FALSE, sizeof(guint32));
        g_array_append_vals(g->ssrcs, ssrcs, 2);
        g_ptr_array_add(m->ssrc_groups, g);
    }
}

struct sdp_session *sdp_down_offer_new(struct sdp_mline_table *t, const struct sdp_local *local)
{
    struct sdp_session *s = sdp_session_new();
    session_set_local(s, local);
    s->session_version = ++t->version; /* RFC 3264 §8: each new offer raises the version */
    s->setup = SDP_SETUP_ACTPASS;      /* RFC 8842 §5.3: offers are actpass */
    for (guint i = 0; i < t->lines->len; i++) {
        const struct mline *l = g_ptr_array_index(t->lines, i);
        struct sdp_media *m = sdp_media_new(i, l->kind);
        g_ptr_array_add(s->media, m);
        m->proto = g_strdup("UDP/TLS/RTP/SAVPF");
        m->port = 9; /* an inactive m-line stays in the BUNDLE group with port 9 */
        m->mid = g_strdup(l->mid);
        m->rtcp_mux = m->rtcp_rsize = TRUE;
        m->direction = SDP_DIR_INACTIVE;
        for (guint j = 0; j < l->codecs->len; j++)
            g_ptr_array_add(m->codecs, sdp_codec_copy(g_ptr_array_index(l->codecs, j)));
        extmaps_ours(m);
        if (l->track)
            media_add_track(m, l->track);
        g_ptr_array_add(s->bundle_mids, g_strdup(l->mid));
    }
    session_add_candidates(s, local);
    return s;
}

static gboolean extmap_uri_offered(const struct sdp_media *o, const char *uri)
{
    for (guint i = 0; i < o->extmaps->len; i++)
        if (strcmp(((struct sdp_extmap *)g_ptr_array_index(o->extmaps, i))->uri, uri) == 0)
            return TRUE;
    return FALSE;
}

static gboolean down_media_check(const struct sdp_media *o, const struct sdp_media *a,
                                 GError **error)
{
    if (a->kind != o->kind || g_strcmp0(a->mid, o->mid) != 0)
        return sdp_media_fail(error, a, SDP_ERROR_MISMATCH, "kind or mid differs from the offer");
    if (a->rejected)
        return TRUE;
    /* RFC 3264 §6.1: answering sendonly with recvonly or inactive, inactive with inactive. */
    if (a->direction == SDP_DIR_SENDONLY || a->direction == SDP_DIR_SENDRECV ||
        (o->direction == SDP_DIR_INACTIVE && a->direction != SDP_DIR_INACTIVE))
        return sdp_media_fail(error, a, SDP_ERROR_MISMATCH, "direction %s answers %s",
                              sdp_direction_name(a->direction), sdp_direction_name(o->direction));
    for (guint i = 0; i < a->codecs->len; i++) {
        const struct sdp_codec *c = g_ptr_array_index(a->codecs, i);
        const struct sdp_codec *oc = sdp_codec_find(o->codecs, c->pt);
        if (oc == NULL || g_ascii_strcasecmp(oc->name, c->name) != 0)
            return sdp_media_fail(error, a, SDP_ERROR_MISMATCH,
                                  "payload type %u was not offered as %s", c->pt, c->name);
    }
    for (guint i = 0; i < a->extmaps->len; i++) {
        const struct sdp_extmap *e = g_ptr_array_index(a->extmaps, i);
        if (!extmap_uri_offered(o, e->uri))
            return sdp_media_fail(error, a, SDP_ERROR_MISMATCH, "extension %u was not offered",
                                  e->id);
    }
    return TRUE;
}

gboolean sdp_down_answer_check(const struct sdp_session *offer, const struct sdp_session *answer,
                               GError **error)
{
    if (answer->media->len != offer->media->len)
        return sdp_fail(error, SDP_ERROR_MISMATCH, "answer has %u m-lines, the offer had %u",
                        answer->media->len, offer->media->len);
    if (answer->setup != SDP_SETUP_ACTIVE)
        return sdp_fail(error, SDP_ERROR_UNSUPPORTED,
                        "a=setup:%s in the answer: kumis is the DTLS server, answer active",
                        sdp_setup_name(answer->setup));
    for (guint i = 0; i < answer->media->len; i++)
        if (!down_media_check(g_ptr_array_index(offer->media, i),
                              g_ptr_array_index(answer->media, i), error))
            return FALSE;
    return TRUE;
}

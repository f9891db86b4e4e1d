/* kumis — the SFU's control-thread side: peers, negotiation, subscriptions (see sfu.h).
 *
 * Each participant has up to two transports on one media worker: up (the browser offers, we
 * answer) and down (we offer, the browser answers; re-offered when speakers come and go,
 * keeping m-lines stable through sdp_mline_table). The packet path is router.c. */
#include "media/sfu.h"

#include <gio/gio.h>
#include <jansson.h>
#include <string.h>

#include "media/cert.h"
#include "media/router.h"
#include "media/sdp.h"
#include "media/speaker.h"
#include "media/transport.h"
#include "media/worker.h"

#define EXT_URI_TWCC    "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
#define EXT_URI_MID     "urn:ietf:params:rtp-hdrext:sdes:mid"
#define EXT_URI_RID     "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"
#define EXT_URI_RRID    "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id"
#define EXT_URI_LEVEL   "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
#define EXT_URI_ABS     "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
#define SPEAKER_TICK_MS 100

struct sfu {
    struct kumis_worker_pool *pool;
    struct router *router;
    struct kumis_cert *cert;
    char **addresses;
    guint16 port_min, port_max;
    struct sfu_listener listener;
    void *user;
    GPtrArray *peers; /* struct sfu_peer* (borrowed; the server owns them) */
    struct kumis_speaker_detector *speakers;
    guint speaker_timer;
    guint32 next_track_id;
    guint open_conns; /* transports not yet reported CLOSED */
};

/* What a transport's callbacks hold: it outlives the peer until the transport is CLOSED. */
struct sfu_conn {
    gint refs;
    struct sfu *sfu;
    struct sfu_peer *peer; /* NULL once the peer is gone */
    struct router_peer *rp;
    enum sfu_pc pc;
    struct kumis_transport *transport;
    char *bundle_mid;
};

/* A published track. */
struct sfu_track {
    struct sfu_peer *peer;
    char *mid;
    char *msid;      /* (nullable) the publisher's stream (a=msid) */
    char *stream_id; /* the stream subscribers see: the participant, or "<participant>-screen" */
    gboolean video;
    char *video_codec;  /* video: the encoding name the publisher sends ("VP8", "VP9", "H264") */
    guint32 speaker_id; /* audio: id in the speaker detector */
    struct router_source *source;
};

/* A track this peer is to receive that found its down connection full. */
struct sfu_wait {
    struct sfu_track *track; /* borrowed: track_free takes it off every wait list */
    gboolean told;           /* the participant was told (on_track_waiting) */
};

/* A track this peer receives. */
struct sfu_sub {
    struct sfu_track *track;
    struct router_sink *sink;
    char *mid;            /* of the down m-line */
    gboolean unsupported; /* the last answer left the codec out (the participant was told) */
};

struct sfu_peer {
    struct sfu *sfu;
    char *id;
    void *user;
    struct kumis_worker *worker;
    struct router_peer *rp;
    struct sfu_conn *up, *down;
    GPtrArray *tracks; /* struct sfu_track* (owned) */
    gboolean subscribed;
    struct sdp_mline_table *mlines;
    GPtrArray *subs;      /* struct sfu_sub* (owned) */
    GPtrArray *waiting;   /* struct sfu_wait* (owned): tracks with no m-line yet, oldest first */
    gboolean mline_freed; /* an m-line was freed since the last down offer went out */
    struct sdp_session *down_offer;
    gboolean down_offer_pending, down_dirty, down_remote_set, up_remote_set;
    int max_layer;
    guint64 session_id;
};

static void conn_unref(struct sfu_conn *c)
{
    if (--c->refs > 0)
        return;
    router_peer_unref(c->rp);
    kumis_transport_unref(c->transport);
    g_free(c->bundle_mid);
    g_free(c);
}

/* Transport events -------------------------------------------------------------------------- */

static void on_rtp(struct kumis_transport *t, guint8 *packet, gsize len, void *user)
{
    struct sfu_conn *c = user;
    router_peer_on_rtp(c->rp, t, packet, len);
}

static void on_rtcp(struct kumis_transport *t, guint8 *packet, gsize len, void *user)
{
    struct sfu_conn *c = user;
    router_peer_on_rtcp(c->rp, t, packet, len);
}

static void on_transport_state(struct kumis_transport *t, enum kumis_transport_state from,
                               enum kumis_transport_state to, void *user)
{
    (void)t;
    (void)from;
    struct sfu_conn *c = user;
    struct sfu_peer *peer = c->peer;
    if (peer != NULL) {
        const char *state = to == KUMIS_TRANSPORT_READY    ? "connected"
                            : to == KUMIS_TRANSPORT_FAILED ? "failed"
                            : to == KUMIS_TRANSPORT_CLOSED ? "closed"
                                                           : NULL;
        if (state != NULL && peer->sfu->listener.on_state)
            peer->sfu->listener.on_state(peer->user, c->pc, state);
    }
    if (to == KUMIS_TRANSPORT_CLOSED) {
        c->sfu->open_conns--;
        conn_unref(c);
    }
}

static void on_local_candidate(struct kumis_transport *t, const char *candidate, void *user)
{
    (void)t;
    struct sfu_conn *c = user;
    if (c->peer != NULL && c->peer->sfu->listener.on_candidate)
        c->peer->sfu->listener.on_candidate(c->peer->user, c->pc, candidate ? candidate : "",
                                            c->bundle_mid);
}

static const struct kumis_transport_listener transport_events = {
    on_rtp, on_rtcp, on_transport_state, on_local_candidate};

static struct sfu_conn *conn_new(struct sfu_peer *peer, enum sfu_pc pc, GError **error)
{
    struct sfu *sfu = peer->sfu;
    struct kumis_transport_config config = {
        .worker = peer->worker,
        .cert = sfu->cert,
        .local_addresses = (const char *const *)sfu->addresses,
        .port_min = sfu->port_min,
        .port_max = sfu->port_max,
        /* RFC 8445 §6.1.1: the offerer is controlling. Browsers offer the up connection; we
         * offer the down one, and answered as controlled too, both sides waited for the other
         * to nominate until a role conflict (RFC 8445 §7.3.1.1) settled it. */
        .ice_controlling = pc == SFU_PC_DOWN,
        .dtls_role = KUMIS_DTLS_ROLE_SERVER,
    };
    struct sfu_conn *c = g_new0(struct sfu_conn, 1);
    c->refs = 2; /* the peer's, and the transport's until CLOSED */
    c->peer = peer;
    c->pc = pc;
    c->sfu = sfu;
    c->transport = kumis_transport_new(&config, &transport_events, c, error);
    if (c->transport == NULL) {
        g_free(c);
        return NULL;
    }
    sfu->open_conns++;
    /* Packets may still arrive after the peer is gone, until CLOSED: hold the router_peer. */
    c->rp = router_peer_ref(peer->rp);
    return c;
}

/* SDP helpers --------------------------------------------------------------------------------- */

/* Towards subscribers kumis estimates bandwidth from REMB (receivers' estimates) and reads no
 * transport-wide congestion feedback: with transport-cc negotiated Chrome would send that
 * instead of REMB. So it is taken out of down offers (publishers get feedback: router_twcc.c). */
static void strip_transport_cc(struct sdp_session *session)
{
    for (guint i = 0; i < session->media->len; i++) {
        struct sdp_media *m = g_ptr_array_index(session->media, i);
        for (guint e = m->extmaps->len; e-- > 0;) {
            struct sdp_extmap *x = g_ptr_array_index(m->extmaps, e);
            if (strcmp(x->uri, EXT_URI_TWCC) == 0)
                g_ptr_array_remove_index(m->extmaps, e);
        }
        for (guint c = 0; c < m->codecs->len; c++) {
            struct sdp_codec *codec = g_ptr_array_index(m->codecs, c);
            for (guint f = codec->rtcp_fb->len; f-- > 0;)
                if (strcmp(g_ptr_array_index(codec->rtcp_fb, f), "transport-cc") == 0)
                    g_ptr_array_remove_index(codec->rtcp_fb, f);
        }
    }
}

/* Chrome starts a sender at ~300 kbit/s and, with REMB only, climbs slowly: the top simulcast
 * layer would take many seconds to appear. It honours a start bitrate in the answer's fmtp. */
static void video_start_bitrate(struct sdp_session *answer, guint kbps)
{
    for (guint i = 0; i < answer->media->len; i++) {
        struct sdp_media *m = g_ptr_array_index(answer->media, i);
        if (m->kind != SDP_KIND_VIDEO || m->rejected)
            continue;
        for (guint c = 0; c < m->codecs->len; c++) {
            struct sdp_codec *codec = g_ptr_array_index(m->codecs, c);
            if (g_ascii_strcasecmp(codec->name, "rtx") == 0)
                continue;
            char *fmtp = codec->fmtp && *codec->fmtp
                             ? g_strdup_printf("%s;x-google-start-bitrate=%u", codec->fmtp, kbps)
                             : g_strdup_printf("x-google-start-bitrate=%u", kbps);
            g_free(codec->fmtp);
            codec->fmtp = fmtp;
        }
    }
}

static guint8 extmap_id(const struct sdp_media *m, const char *uri)
{
    for (guint i = 0; i < m->extmaps->len; i++) {
        const struct sdp_extmap *x = g_ptr_array_index(m->extmaps, i);
        if (strcmp(x->uri, uri) == 0 && x->id <= 255)
            return (guint8)x->id;
    }
    return 0;
}

static const char *first_mid(const struct sdp_session *s)
{
    return s->bundle_mids && s->bundle_mids->len ? g_ptr_array_index(s->bundle_mids, 0) : "0";
}

/* Gives the transport the remote side's ICE credentials, fingerprint and candidates. */
static gboolean conn_set_remote(struct sfu_conn *c, const struct sdp_session *remote,
                                GError **error)
{
    if (!kumis_transport_set_remote_fingerprint(c->transport, remote->fingerprint_alg,
                                                remote->fingerprint, error))
        return FALSE;
    kumis_transport_set_remote_credentials(c->transport, remote->ice_ufrag, remote->ice_pwd);
    for (guint i = 0; i < remote->media->len; i++) {
        const struct sdp_media *m = g_ptr_array_index(remote->media, i);
        for (guint k = 0; k < m->candidates->len; k++) {
            const struct sdp_candidate *cand = g_ptr_array_index(m->candidates, k);
            kumis_transport_add_remote_candidate(c->transport, cand->raw, NULL);
        }
        if (m->end_of_candidates)
            kumis_transport_end_of_candidates(c->transport);
    }
    g_free(c->bundle_mid);
    c->bundle_mid = g_strdup(first_mid(remote));
    return TRUE;
}

static void local_of(const struct sfu_peer *peer, const struct sfu_conn *c, struct sdp_local *local)
{
    memset(local, 0, sizeof *local);
    local->ice_ufrag = kumis_transport_get_local_ufrag(c->transport);
    local->ice_pwd = kumis_transport_get_local_pwd(c->transport);
    local->fingerprint_alg = "sha-256";
    local->fingerprint = kumis_transport_get_local_fingerprint(c->transport);
    local->session_id = peer->session_id + (guint64)c->pc;
}

/* The down connection -------------------------------------------------------------------- */

static const char *track_kind(const struct sfu_track *track)
{
    return track->video ? "video" : "audio";
}

/* Creates the down connection for the first track the participant is to receive. */
static gboolean down_ensure(struct sfu_peer *peer)
{
    if (peer->down != NULL)
        return TRUE;
    g_autoptr(GError) error = NULL;
    peer->down = conn_new(peer, SFU_PC_DOWN, &error);
    if (peer->down == NULL) {
        g_warning("sfu: %s: no down connection: %s", peer->id, error->message);
        return FALSE;
    }
    router_peer_set_down(peer->rp, peer->down->transport);
    return TRUE;
}

/* Puts @track on an m-line of @peer's down connection and starts forwarding it there. Fails
 * (SDP_ERROR_TOO_LARGE) when no m-line of its kind is free and all SDP_MAX_MEDIA are in use.
 * Returns: (transfer none) the mid, or NULL with @error. */
static const char *sub_place(struct sfu_peer *peer, struct sfu_track *track, GError **error)
{
    guint32 ssrc = g_random_int() | 1, rtx = track->video ? g_random_int() | 1 : 0;
    g_autofree char *track_id = g_strdup_printf("%s-%s", track->peer->id, track->mid);
    struct sdp_out_track *out = sdp_out_track_new(track->video ? SDP_KIND_VIDEO : SDP_KIND_AUDIO,
                                                  track->stream_id, track_id, "kumis", ssrc, rtx);
    sdp_out_track_add_default_codecs(out, track->video_codec);
    const char *mid = sdp_mline_table_add(peer->mlines, out, error);
    if (mid == NULL)
        return NULL;
    struct router_sink_desc desc = {
        .ssrc = ssrc,
        .pt = track->video ? sdp_out_video_pt(track->video_codec) : 111,
        .ext_abs_send_time = 2, /* sdp.c's down offers: abs-send-time is extmap 2 */
        .rtx_ssrc = rtx,
        .rtx_pt = rtx ? sdp_out_video_pt(track->video_codec) + 1 : 0, /* sdp_negotiate.c */
    };
    struct sfu_sub *sub = g_new0(struct sfu_sub, 1);
    sub->track = track;
    sub->mid = g_strdup(mid);
    sub->sink = router_sink_new(peer->rp, track->source, &desc);
    router_sink_set_max_layer(sub->sink, peer->max_layer);
    g_ptr_array_add(peer->subs, sub);
    peer->down_dirty = TRUE;
    return sub->mid;
}

/* The m-line table refused waiting entry @i with @error. A full table: the track keeps its
 * place and the participant is told, once. Anything else cannot get better by waiting: the
 * entry is dropped. Returns: TRUE when the track still waits. */
static gboolean wait_refused(struct sfu_peer *peer, guint i, const GError *error)
{
    struct sfu_wait *w = g_ptr_array_index(peer->waiting, i);
    if (!g_error_matches(error, SDP_ERROR, SDP_ERROR_TOO_LARGE)) {
        g_warning("sfu: %s cannot receive %s's %s track %s: %s", peer->id, w->track->peer->id,
                  track_kind(w->track), w->track->mid, error->message);
        g_ptr_array_remove_index(peer->waiting, i);
        return FALSE;
    }
    if (!w->told) {
        w->told = TRUE;
        g_message("sfu: %s: %s; %s's %s track waits for one to free", peer->id, error->message,
                  w->track->peer->id, track_kind(w->track));
        if (peer->sfu->listener.on_track_waiting)
            peer->sfu->listener.on_track_waiting(peer->user, w->track->peer->id,
                                                 w->track->stream_id, track_kind(w->track));
    }
    return TRUE;
}

/* Places the waiting tracks, oldest first, on the free m-lines; one that does not fit (a free
 * audio m-line does not take video) keeps its place. Called only just after a down offer went
 * out, so every free m-line has been offered inactive at least once: Chromium fires ontrack
 * only when a transceiver starts receiving (W3C webrtc-pc §4.4.1.6, [[FiredDirection]]), so an
 * m-line that went from one track straight to another in one offer would bring the new track
 * without the client ever hearing of it. The tracks placed go into the next offer. */
static void waiting_place(struct sfu_peer *peer)
{
    for (guint i = 0; i < peer->waiting->len;) {
        struct sfu_wait *w = g_ptr_array_index(peer->waiting, i);
        g_autoptr(GError) error = NULL;
        const char *mid = sub_place(peer, w->track, &error);
        if (mid != NULL) {
            g_message("sfu: %s: %s's waiting %s track goes on mid %s", peer->id, w->track->peer->id,
                      track_kind(w->track), mid);
            g_ptr_array_remove_index(peer->waiting, i);
        } else if (wait_refused(peer, i, error)) {
            i++;
        }
    }
}

/* @peer is to receive @track: on a free m-line, else on the wait list. While an m-line freed
 * since the last offer is not reusable yet (waiting_place), the track waits for that offer.
 * Otherwise the last waiting_place left no free m-line that a waiting track fits, so a track
 * that finds one here overtakes nobody. */
static void sub_add(struct sfu_peer *peer, struct sfu_track *track)
{
    if (!down_ensure(peer))
        return;
    g_autoptr(GError) error = NULL;
    if (!peer->mline_freed && sub_place(peer, track, &error) != NULL)
        return;
    struct sfu_wait *w = g_new0(struct sfu_wait, 1);
    w->track = track;
    g_ptr_array_add(peer->waiting, w);
    if (error != NULL)
        wait_refused(peer, peer->waiting->len - 1, error);
}

static void sub_free(struct sfu_sub *sub)
{
    router_sink_close(sub->sink);
    g_free(sub->mid);
    g_free(sub);
}

/* @peer no longer receives @track: it leaves the wait list, or its m-line is freed. */
static void sub_remove_track(struct sfu_peer *peer, struct sfu_track *track)
{
    for (guint i = peer->waiting->len; i-- > 0;)
        if (((struct sfu_wait *)g_ptr_array_index(peer->waiting, i))->track == track)
            g_ptr_array_remove_index(peer->waiting, i);
    for (guint i = peer->subs->len; i-- > 0;) {
        struct sfu_sub *sub = g_ptr_array_index(peer->subs, i);
        if (sub->track != track)
            continue;
        sdp_mline_table_remove(peer->mlines, sub->mid);
        g_ptr_array_remove_index(peer->subs, i);
        peer->down_dirty = TRUE;
        peer->mline_freed = TRUE;
    }
}

/* Sends the next down offer when something changed and no offer is waiting for its answer
 * (JSEP: one offer at a time; changes made meanwhile go into the next one). Then the m-lines
 * that offer shows inactive may take waiting tracks. */
static void down_renegotiate(struct sfu_peer *peer)
{
    if (!peer->down_dirty || peer->down_offer_pending || peer->down == NULL ||
        sdp_mline_table_len(peer->mlines) == 0)
        return;
    struct sdp_local local;
    local_of(peer, peer->down, &local);
    struct sdp_session *offer = sdp_down_offer_new(peer->mlines, &local);
    strip_transport_cc(offer);
    g_autofree char *text = sdp_session_write(offer);
    if (peer->down_offer)
        sdp_session_free(peer->down_offer);
    peer->down_offer = offer;
    peer->down_offer_pending = TRUE;
    peer->down_dirty = FALSE;
    peer->mline_freed = FALSE;
    g_free(peer->down->bundle_mid);
    peer->down->bundle_mid = g_strdup(first_mid(offer));
    peer->sfu->listener.on_down_offer(peer->user, text);
    waiting_place(peer);
}

/* Every subscribed peer but the publisher gets @track. */
static void track_announce(struct sfu *sfu, struct sfu_track *track)
{
    for (guint i = 0; i < sfu->peers->len; i++) {
        struct sfu_peer *p = g_ptr_array_index(sfu->peers, i);
        if (p != track->peer && p->subscribed) {
            sub_add(p, track);
            down_renegotiate(p);
        }
    }
}

static void track_free(struct sfu_track *track)
{
    struct sfu *sfu = track->peer->sfu;
    for (guint i = 0; i < sfu->peers->len; i++) {
        struct sfu_peer *p = g_ptr_array_index(sfu->peers, i);
        sub_remove_track(p, track);
        down_renegotiate(p);
    }
    if (!track->video)
        kumis_speaker_detector_remove(sfu->speakers, track->speaker_id);
    router_source_close(track->source);
    g_free(track->mid);
    g_free(track->msid);
    g_free(track->video_codec);
    g_free(track->stream_id);
    g_free(track);
}

void sfu_peer_subscribe(struct sfu_peer *peer)
{
    if (peer->subscribed)
        return;
    peer->subscribed = TRUE;
    struct sfu *sfu = peer->sfu;
    for (guint i = 0; i < sfu->peers->len; i++) {
        struct sfu_peer *p = g_ptr_array_index(sfu->peers, i);
        for (guint t = 0; p != peer && t < p->tracks->len; t++)
            sub_add(peer, g_ptr_array_index(p->tracks, t));
    }
    down_renegotiate(peer);
}

/* What each subscriber track's m-line of @answer took. The codec: a browser that cannot decode
 * the publisher's (VP9 or H.264 from a publisher that offered nothing else) rejects the m-line
 * or leaves the payload type out; the track is then not sent at all (it would only use the
 * attendee's bandwidth) and the participant is told once. RFC 4588 retransmissions: only if
 * the m-line kept the rtx payload type that repairs the codec (Chromium does; a peer may drop
 * it). */
static void subs_take_answer(struct sfu_peer *peer, const struct sdp_session *answer)
{
    for (guint i = 0; i < peer->subs->len; i++) {
        struct sfu_sub *sub = g_ptr_array_index(peer->subs, i);
        const struct sdp_media *a = sdp_session_find_mid(answer, sub->mid);
        if (a == NULL)
            continue; /* subscribed after that offer went out: the next answer says */
        guint8 pt = router_sink_get_pt(sub->sink), rtx_pt = router_sink_get_rtx_pt(sub->sink);
        gboolean codec = FALSE, rtx = FALSE;
        for (guint c = 0; !a->rejected && c < a->codecs->len; c++) {
            const struct sdp_codec *k = g_ptr_array_index(a->codecs, c);
            codec |= k->pt == pt;
            rtx |= k->apt >= 0 && k->pt == rtx_pt && k->apt == pt;
        }
        router_sink_set_rtx(sub->sink, rtx);
        router_sink_set_accepted(sub->sink, codec);
        if (!codec && !sub->unsupported) {
            const char *name = sub->track->video ? sub->track->video_codec : "opus";
            g_message("sfu: %s cannot receive %s's %s track %s (%s): not sent", peer->id,
                      sub->track->peer->id, track_kind(sub->track), sub->mid, name);
            if (peer->sfu->listener.on_track_unsupported)
                peer->sfu->listener.on_track_unsupported(peer->user, sub->track->peer->id,
                                                         sub->track->stream_id, sub->mid,
                                                         track_kind(sub->track), name);
        }
        sub->unsupported = !codec;
    }
}

gboolean sfu_peer_down_answer(struct sfu_peer *peer, const char *sdp, GError **error)
{
    if (!peer->down_offer_pending) {
        g_set_error(error, SDP_ERROR, SDP_ERROR_MISMATCH, "no down offer is waiting for an answer");
        return FALSE;
    }
    struct sdp_session *answer = sdp_session_parse(sdp, strlen(sdp), error);
    gboolean ok = answer != NULL && sdp_down_answer_check(peer->down_offer, answer, error) &&
                  (peer->down_remote_set || conn_set_remote(peer->down, answer, error));
    if (ok)
        subs_take_answer(peer, answer);
    if (answer)
        sdp_session_free(answer);
    if (!ok)
        return FALSE;
    peer->down_remote_set = TRUE;
    peer->down_offer_pending = FALSE;
    down_renegotiate(peer);
    return TRUE;
}

/* The up connection ---------------------------------------------------------------------- */

static struct sfu_track *peer_track_by_mid(struct sfu_peer *peer, const char *mid)
{
    for (guint i = 0; i < peer->tracks->len; i++) {
        struct sfu_track *t = g_ptr_array_index(peer->tracks, i);
        if (strcmp(t->mid, mid) == 0)
            return t;
    }
    return NULL;
}

/* The primary SSRC the offer announces for @m: the first of an FID group (RFC 5576 §4), else
 * the first a=ssrc; 0 when none (simulcast with rid announces none). */
static guint32 offer_primary_ssrc(const struct sdp_media *m)
{
    for (guint i = 0; i < m->ssrc_groups->len; i++) {
        const struct sdp_ssrc_group *g = g_ptr_array_index(m->ssrc_groups, i);
        if (strcmp(g->semantics, "FID") == 0 && g->ssrcs->len > 0)
            return g_array_index(g->ssrcs, guint32, 0);
    }
    return m->ssrcs->len ? ((const struct sdp_ssrc *)g_ptr_array_index(m->ssrcs, 0))->ssrc : 0;
}

/* Which stream a new track of @peer belongs to for its subscribers (signaling/PROTOCOL.md):
 * the tracks of one publisher stream stay together; the first stream (camera and microphone)
 * is the participant's id, a second one (a screen share) "<participant>-screen". */
static char *track_stream_id(const struct sfu_peer *peer, const char *msid)
{
    gboolean main_taken = FALSE;
    for (guint i = 0; i < peer->tracks->len; i++) {
        const struct sfu_track *t = g_ptr_array_index(peer->tracks, i);
        if (msid != NULL && g_strcmp0(t->msid, msid) == 0)
            return g_strdup(t->stream_id);
        main_taken |= strcmp(t->stream_id, peer->id) == 0;
    }
    return main_taken ? g_strdup_printf("%s-screen", peer->id) : g_strdup(peer->id);
}

static struct sfu_track *track_new(struct sfu_peer *peer, const struct sdp_media *offered,
                                   const struct sdp_media *accepted)
{
    const struct sdp_codec *codec = g_ptr_array_index(accepted->codecs, 0);
    struct router_source_desc d = {
        .publisher_id = peer->id,
        .mid = accepted->mid,
        .video = accepted->kind == SDP_KIND_VIDEO,
        .pt = codec->pt,
        .rtx_pt = codec->rtx_pt,
        .clock_rate = codec->clock_rate,
        .vp8 = g_ascii_strcasecmp(codec->name, "VP8") == 0,
        .vp9 = g_ascii_strcasecmp(codec->name, "VP9") == 0,
        .h264 = g_ascii_strcasecmp(codec->name, "H264") == 0,
        .ext_mid = extmap_id(accepted, EXT_URI_MID),
        .ext_rid = extmap_id(accepted, EXT_URI_RID),
        .ext_audio_level = extmap_id(accepted, EXT_URI_LEVEL),
        .ext_rrid = extmap_id(accepted, EXT_URI_RRID),
        .ext_twcc = extmap_id(accepted, EXT_URI_TWCC),
    };
    /* Simulcast layers in the order the offer lists them: our client lists the lowest first. */
    for (guint i = 0; i < offered->rids->len && d.n_layers < ROUTER_MAX_LAYERS; i++) {
        const struct sdp_rid *rid = g_ptr_array_index(offered->rids, i);
        if (rid->send)
            g_strlcpy(d.rids[d.n_layers++], rid->id, sizeof d.rids[0]);
    }
    if (d.n_layers == 0) {
        d.n_layers = 1;
        d.ssrcs[0] = offer_primary_ssrc(offered);
    }
    struct sfu_track *track = g_new0(struct sfu_track, 1);
    track->peer = peer;
    track->mid = g_strdup(accepted->mid);
    track->msid = g_strdup(offered->msid_stream);
    track->stream_id = track_stream_id(peer, offered->msid_stream);
    track->video = d.video;
    if (d.video)
        track->video_codec = g_strdup(codec->name);
    track->source = router_source_new(peer->rp, &d);
    if (!track->video) {
        track->speaker_id = ++peer->sfu->next_track_id;
        kumis_speaker_detector_add(peer->sfu->speakers, track->speaker_id);
    }
    g_message("sfu: %s publishes %s mid %s (%s, %u layer%s) in stream %s", peer->id,
              d.video ? "video" : "audio", track->mid, codec->name, d.n_layers,
              d.n_layers > 1 ? "s" : "", track->stream_id);
    return track;
}

/* Brings the published tracks in line with an accepted up offer: new mids become tracks,
 * m-lines no longer sending end theirs. */
static void tracks_update(struct sfu_peer *peer, const struct sdp_session *offer,
                          const struct sdp_session *answer)
{
    GPtrArray *keep = g_ptr_array_new();
    for (guint i = 0; i < answer->media->len && i < offer->media->len; i++) {
        const struct sdp_media *a = g_ptr_array_index(answer->media, i);
        const struct sdp_media *o = g_ptr_array_index(offer->media, i);
        if (a->rejected || a->mid == NULL || a->codecs->len == 0 ||
            (o->direction != SDP_DIR_SENDONLY && o->direction != SDP_DIR_SENDRECV))
            continue;
        struct sfu_track *t = peer_track_by_mid(peer, a->mid);
        if (t == NULL) {
            t = track_new(peer, o, a);
            g_ptr_array_add(peer->tracks, t);
            track_announce(peer->sfu, t);
        }
        g_ptr_array_add(keep, t);
    }
    for (guint i = peer->tracks->len; i-- > 0;) {
        struct sfu_track *t = g_ptr_array_index(peer->tracks, i);
        if (!g_ptr_array_find(keep, t, NULL)) {
            g_ptr_array_remove_index(peer->tracks, i);
            track_free(t);
        }
    }
    g_ptr_array_unref(keep);
}

char *sfu_peer_up_offer(struct sfu_peer *peer, const char *sdp, GError **error)
{
    struct sdp_session *offer = sdp_session_parse(sdp, strlen(sdp), error);
    struct sdp_session *answer = NULL;
    char *text = NULL;
    if (offer == NULL)
        return NULL;
    if (peer->up == NULL) {
        peer->up = conn_new(peer, SFU_PC_UP, error);
        if (peer->up == NULL)
            goto out;
        router_peer_set_up(peer->rp, peer->up->transport);
    }
    struct sdp_local local;
    local_of(peer, peer->up, &local);
    answer = sdp_up_answer_new(offer, &local, NULL, error);
    if (answer == NULL)
        goto out;
    video_start_bitrate(answer, 1500);
    /* A re-offer keeps the ICE and DTLS session (no ICE restart: RFC 8445 §9). */
    if (!peer->up_remote_set && !conn_set_remote(peer->up, offer, error))
        goto out;
    peer->up_remote_set = TRUE;
    tracks_update(peer, offer, answer);
    text = sdp_session_write(answer);
out:
    if (answer)
        sdp_session_free(answer);
    sdp_session_free(offer);
    return text;
}

gboolean sfu_peer_add_candidate(struct sfu_peer *peer, enum sfu_pc pc, const char *candidate,
                                GError **error)
{
    struct sfu_conn *c = pc == SFU_PC_UP ? peer->up : peer->down;
    if (c == NULL) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED,
                    "no %s connection to add a candidate to", pc == SFU_PC_UP ? "up" : "down");
        return FALSE;
    }
    if (*candidate == '\0') {
        kumis_transport_end_of_candidates(c->transport);
        return TRUE;
    }
    return kumis_transport_add_remote_candidate(c->transport, candidate, error);
}

void sfu_peer_set_quality(struct sfu_peer *peer, const char *quality)
{
    peer->max_layer = strcmp(quality, "low") == 0    ? 0
                      : strcmp(quality, "high") == 0 ? ROUTER_MAX_LAYERS - 1
                                                     : -1;
    for (guint i = 0; i < peer->subs->len; i++)
        router_sink_set_max_layer(((struct sfu_sub *)g_ptr_array_index(peer->subs, i))->sink,
                                  peer->max_layer);
}

/* Peers ------------------------------------------------------------------------------------- */

struct sfu_peer *sfu_peer_new(struct sfu *sfu, const char *participant_id, void *peer_user)
{
    struct sfu_peer *peer = g_new0(struct sfu_peer, 1);
    peer->sfu = sfu;
    peer->id = g_strdup(participant_id);
    peer->user = peer_user;
    peer->worker = kumis_worker_pool_pick(sfu->pool);
    peer->rp = router_peer_new(sfu->router, peer->worker);
    peer->tracks = g_ptr_array_new();
    peer->subs = g_ptr_array_new_with_free_func((GDestroyNotify)sub_free);
    peer->waiting = g_ptr_array_new_with_free_func(g_free);
    peer->mlines = sdp_mline_table_new();
    peer->max_layer = -1;
    peer->session_id = ((guint64)g_random_int() << 20) | 1;
    g_ptr_array_add(sfu->peers, peer);
    return peer;
}

static void conn_close(struct sfu_conn *c)
{
    if (c == NULL)
        return;
    c->peer = NULL;
    kumis_transport_close(c->transport);
    conn_unref(c);
}

void sfu_peer_free(struct sfu_peer *peer)
{
    if (peer == NULL)
        return;
    struct sfu *sfu = peer->sfu;
    g_ptr_array_remove(sfu->peers, peer);
    g_ptr_array_set_size(peer->subs, 0); /* closes our sinks */
    g_ptr_array_set_size(peer->waiting, 0);
    while (peer->tracks->len > 0) {
        struct sfu_track *t = g_ptr_array_steal_index(peer->tracks, peer->tracks->len - 1);
        track_free(t);
    }
    conn_close(peer->up);
    conn_close(peer->down);
    router_peer_free(peer->rp);
    if (peer->down_offer)
        sdp_session_free(peer->down_offer);
    sdp_mline_table_free(peer->mlines);
    g_ptr_array_unref(peer->subs);
    g_ptr_array_unref(peer->waiting);
    g_ptr_array_unref(peer->tracks);
    g_free(peer->id);
    g_free(peer);
}

char *sfu_peer_stats_json(struct sfu_peer *peer)
{
    json_t *root = json_object();
    struct sfu_conn *conns[2] = {peer->up, peer->down};
    for (int i = 0; i < 2; i++) {
        if (conns[i] == NULL)
            continue;
        struct kumis_transport_stats st;
        kumis_transport_get_stats(conns[i]->transport, &st);
        json_object_set_new(
            root, i == 0 ? "up" : "down",
            json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s}", "state",
                      kumis_transport_state_name(kumis_transport_get_state(conns[i]->transport)),
                      "rtp_in", (json_int_t)st.rtp_in, "rtp_out", (json_int_t)st.rtp_out, "rtcp_in",
                      (json_int_t)st.rtcp_in, "rtcp_out", (json_int_t)st.rtcp_out,
                      "dropped_unknown", (json_int_t)st.dropped_unknown, "dropped_dtls",
                      (json_int_t)st.dropped_dtls, "dropped_not_ready",
                      (json_int_t)st.dropped_not_ready, "dropped_srtp", (json_int_t)st.dropped_srtp,
                      "dropped_short", (json_int_t)st.dropped_short, "dropped_overload",
                      (json_int_t)st.dropped_overload, "send_failed", (json_int_t)st.send_failed,
                      "srtp_profile", kumis_srtp_profile_name(st.profile)));
    }
    json_t *up = json_object_get(root, "up");
    if (up != NULL)
        json_object_set_new(
            up, "congestion_feedback",
            json_integer((json_int_t)router_peer_get_congestion_feedback(peer->rp)));
    json_t *subs = json_array();
    for (guint i = 0; i < peer->subs->len; i++) {
        struct sfu_sub *sub = g_ptr_array_index(peer->subs, i);
        struct router_sink_stats st;
        router_sink_get_stats(sub->sink, &st);
        json_array_append_new(
            subs, json_pack("{s:s, s:s, s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:i, s:I}", "mid",
                            sub->mid, "from", sub->track->peer->id, "kind", track_kind(sub->track),
                            "unsupported", sub->unsupported, "packets_out",
                            (json_int_t)st.packets_out, "nacks_in", (json_int_t)st.nacks_in,
                            "retransmitted", (json_int_t)st.retransmitted, "plis_in",
                            (json_int_t)st.plis_in, "layer_switches", (json_int_t)st.layer_switches,
                            "keyframe_joins", (json_int_t)st.keyframe_joins, "layer", st.layer,
                            "bwe_bps", (json_int_t)st.bwe_bps));
    }
    json_object_set_new(root, "receiving", subs);
    json_t *waiting = json_array();
    for (guint i = 0; i < peer->waiting->len; i++) {
        const struct sfu_track *t = ((struct sfu_wait *)g_ptr_array_index(peer->waiting, i))->track;
        json_array_append_new(waiting, json_pack("{s:s, s:s, s:s}", "from", t->peer->id, "stream",
                                                 t->stream_id, "kind", track_kind(t)));
    }
    json_object_set_new(root, "waiting", waiting);
    json_t *tracks = json_array();
    for (guint i = 0; i < peer->tracks->len; i++) {
        struct sfu_track *t = g_ptr_array_index(peer->tracks, i);
        struct router_source_stats st;
        router_source_get_stats(t->source, &st);
        json_array_append_new(
            tracks,
            json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:[i,i,i]}", "mid", t->mid, "kind",
                      t->video ? "video" : "audio", "packets_in", (json_int_t)st.packets_in,
                      "dropped_unknown", (json_int_t)st.dropped_unknown, "nacks_out",
                      (json_int_t)st.nacks_out, "repaired", (json_int_t)st.repaired, "lost",
                      (json_int_t)st.lost, "layer_bitrate", (int)st.layer_bitrate[0],
                      (int)st.layer_bitrate[1], (int)st.layer_bitrate[2]));
    }
    json_object_set_new(root, "publishing", tracks);
    char *text = json_dumps(root, JSON_COMPACT);
    char *out = g_strdup(text);
    free(text);
    json_decref(root);
    return out;
}

/* Active speaker -------------------------------------------------------------------------- */

/* Control thread, every SPEAKER_TICK_MS: audio levels (RFC 6464, read from the packet path's
 * counters) go to the detector; a change of dominant speaker is announced. */
static gboolean on_speaker_tick(gpointer data)
{
    struct sfu *sfu = data;
    gint64 now = g_get_monotonic_time();
    for (guint i = 0; i < sfu->peers->len; i++) {
        struct sfu_peer *p = g_ptr_array_index(sfu->peers, i);
        for (guint t = 0; t < p->tracks->len; t++) {
            struct sfu_track *track = g_ptr_array_index(p->tracks, t);
            if (track->video)
                continue;
            struct router_source_stats st;
            router_source_get_stats(track->source, &st);
            kumis_speaker_detector_level(sfu->speakers, track->speaker_id,
                                         (guint8)CLAMP(st.audio_level, 0, 127), TRUE, now);
        }
    }
    guint32 id = 0;
    gboolean has = FALSE;
    if (kumis_speaker_detector_tick(sfu->speakers, now, &id, &has) &&
        sfu->listener.on_active_speaker) {
        const char *who = NULL;
        for (guint i = 0; has && who == NULL && i < sfu->peers->len; i++) {
            struct sfu_peer *p = g_ptr_array_index(sfu->peers, i);
            for (guint t = 0; t < p->tracks->len; t++)
                if (((struct sfu_track *)g_ptr_array_index(p->tracks, t))->speaker_id == id)
                    who = p->id;
        }
        sfu->listener.on_active_speaker(sfu->user, who);
    }
    return G_SOURCE_CONTINUE;
}

/* The SFU -------------------------------------------------------------------------------- */

struct sfu *sfu_new(const struct sfu_options *options, const struct sfu_listener *listener,
                    void *user, GError **error)
{
    struct sfu *sfu = g_new0(struct sfu, 1);
    sfu->listener = *listener;
    sfu->user = user;
    sfu->addresses = g_strdupv((char **)options->addresses);
    sfu->port_min = options->port_min;
    sfu->port_max = options->port_max;
    sfu->peers = g_ptr_array_new();
    sfu->cert = kumis_cert_new_self_signed("kumis", NULL, 30, error);
    if (sfu->cert == NULL) {
        sfu_free(sfu);
        return NULL;
    }
    sfu->pool = kumis_worker_pool_new(options->workers, NULL, error);
    if (sfu->pool == NULL) {
        sfu_free(sfu);
        return NULL;
    }
    sfu->router = router_new(sfu->pool);
    sfu->speakers = kumis_speaker_detector_new(256, NULL);
    sfu->speaker_timer = g_timeout_add(SPEAKER_TICK_MS, on_speaker_tick, sfu);
    return sfu;
}

void sfu_free(struct sfu *sfu)
{
    if (sfu == NULL)
        return;
    while (sfu->peers->len > 0)
        sfu_peer_free(g_ptr_array_steal_index(sfu->peers, sfu->peers->len - 1));
    if (sfu->speaker_timer)
        g_source_remove(sfu->speaker_timer);
    /* Let the transports' closes run on the workers and their CLOSED events arrive here
     * (bounded: a worker that hangs must not keep the daemon from exiting). */
    gint64 deadline = g_get_monotonic_time() + 3 * G_USEC_PER_SEC;
    while (sfu->open_conns > 0 && g_get_monotonic_time() < deadline)
        g_main_context_iteration(NULL, FALSE) || (g_usleep(1000), TRUE);
    if (sfu->open_conns > 0)
        g_warning("sfu: %u transports did not close in time", sfu->open_conns);
    /* Workers first: what they still have queued may touch the router. */
    kumis_worker_pool_free(sfu->pool);
    router_free(sfu->router);
    kumis_speaker_detector_free(sfu->speakers);
    kumis_cert_unref(sfu->cert);
    g_strfreev(sfu->addresses);
    g_ptr_array_unref(sfu->peers);
    g_free(sfu);
}

/* kumis — the routing table and the packet path (see router.h for the threading rules). RTCP
 * (answers to subscribers' feedback, the reports sent every second) is in router_rtcp.c. */
#include "media/router.h"
#include "media/router_internal.h"

#include <stdatomic.h>
#include <string.h>

#include "media/codec_h264.h"
#include "media/codec_vp8.h"
#include "media/codec_vp9.h"
#include "media/layer.h"
#include "media/packet_cache.h"
#include "media/rewrite.h"
#include "media/rtcp.h"
#include "media/rtp.h"

#define SINK_CACHE_SLOTS 256 /* sent video packets kept per subscriber for NACKs */
/* The payload bytes a rewrite may change: VP8's descriptor ends by its 6th byte (RFC 7741
 * §4.2), VP9's picture ID and TL0PICIDX by its 5th (RFC 9628 §4.2). A subscriber's cache keeps
 * its header and these as its own; the rest of the packet is the publisher's, shared. */
#define SINK_PAYLOAD_EDITS      16
#define SINK_HEADER_MAX         20      /* sink_write_header: fixed header and abs-send-time */
#define KEYFRAME_REQUEST_GAP_US 300000  /* at most ~3 PLIs a second per layer (throttle) */
#define LAYER_ACTIVE_US         1500000 /* a layer with no packet for this long is paused */

struct router {
    struct kumis_worker_pool *pool;
    guint n_workers;
    struct router_worker *workers;
};

/* Reference counting ------------------------------------------------------------------- */

static struct router_peer *peer_ref(struct router_peer *p)
{
    atomic_fetch_add(&p->refs, 1);
    return p;
}

static void peer_unref(struct router_peer *p)
{
    if (atomic_fetch_sub(&p->refs, 1) != 1)
        return;
    if (p->up)
        kumis_transport_unref(p->up);
    if (p->down)
        kumis_transport_unref(p->down);
    if (p->sources)
        g_ptr_array_unref(p->sources);
    if (p->sinks)
        g_ptr_array_unref(p->sinks);
    g_ptr_array_unref(p->sources_ctl);
    g_ptr_array_unref(p->sinks_ctl);
    g_free(p);
}

static struct router_source *source_ref(struct router_source *s)
{
    atomic_fetch_add(&s->refs, 1);
    return s;
}

static void source_unref(struct router_source *s)
{
    if (atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    g_ptr_array_unref(s->sinks_ctl);
    router_set_unref(s->set);
    for (guint i = 0; i < s->n_runs; i++)
        kumis_keyframe_run_clear(&s->runs[i]);
    g_free(s->runs);
    peer_unref(s->peer);
    g_free(s);
}

static void source_unref_void(void *s)
{
    source_unref(s);
}

static void peer_unref_void(void *p)
{
    peer_unref(p);
}

static struct router_sink *sink_ref(struct router_sink *s)
{
    atomic_fetch_add(&s->refs, 1);
    return s;
}

static void sink_unref(struct router_sink *s)
{
    if (atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    kumis_packet_cache_free(s->cache);
    kumis_transport_unref(s->down);
    source_unref(s->source);
    peer_unref(s->peer);
    g_free(s);
}

struct sink_set *router_set_ref(struct sink_set *set)
{
    atomic_fetch_add(&set->refs, 1);
    return set;
}

void router_set_unref(struct sink_set *set)
{
    if (set == NULL || atomic_fetch_sub(&set->refs, 1) != 1)
        return;
    for (guint i = 0; i < set->n_groups; i++)
        g_ptr_array_unref(set->groups[i].sinks);
    g_free(set);
}

struct router *router_new(struct kumis_worker_pool *pool)
{
    struct router *r = g_new0(struct router, 1);
    r->pool = pool;
    r->n_workers = kumis_worker_pool_get_size(pool);
    r->workers = g_new0(struct router_worker, r->n_workers);
    for (guint i = 0; i < r->n_workers; i++) {
        struct router_worker *rw = &r->workers[i];
        rw->router = r;
        rw->index = i;
        rw->worker = kumis_worker_pool_get(pool, i);
        router_batch_init(rw, r->n_workers);
        /* One timer per worker: each source of a context costs every loop iteration of that
         * worker (GLib's prepare and check walk them all), and a per-peer timer was half of a
         * busy worker's sources. */
        rw->peers = g_ptr_array_new_with_free_func((GDestroyNotify)router_peer_unref);
        rw->tick = g_timeout_source_new_seconds(1);
        g_source_set_callback(rw->tick, router_worker_on_tick, rw, NULL);
        g_source_set_static_name(rw->tick, "kumis-rtcp-tick");
        g_source_attach(rw->tick, kumis_worker_get_context(rw->worker));
    }
    return r;
}

void router_free(struct router *r)
{
    if (r == NULL)
        return;
    for (guint i = 0; i < r->n_workers; i++) {
        struct router_worker *rw = &r->workers[i];
        g_source_destroy(rw->tick);
        g_source_unref(rw->tick);
        g_ptr_array_unref(rw->peers);
        router_batch_clear(rw);
    }
    g_free(r->workers);
    g_free(r);
}

struct router_worker *router_worker_at(struct router *r, guint index)
{
    g_return_val_if_fail(index < r->n_workers, NULL);
    return &r->workers[index];
}

static struct router_worker *router_worker_of(struct router *r, struct kumis_worker *w)
{
    return &r->workers[kumis_worker_get_index(w)];
}

/* Posting closures to a worker ------------------------------------------------------------ */

struct install {
    void **slot; /* where the worker keeps the snapshot */
    void *value; /* the new snapshot (reference moved in) */
    void (*unref)(void *old);
    void *owner; /* holds the slot: a reference, so that it outlives the install */
    void (*owner_unref)(void *owner);
};

static gboolean install_run(gpointer data)
{
    struct install *in = data;
    void *old = *in->slot;
    *in->slot = in->value;
    in->value = NULL;
    if (old)
        in->unref(old);
    return G_SOURCE_REMOVE;
}

static void install_free(gpointer data)
{
    struct install *in = data;
    if (in->value)
        in->unref(in->value);
    in->owner_unref(in->owner);
    g_free(in);
}

/* Has @w store @value (a reference) at @slot, a field of @owner (of which a reference is
 * taken: @owner may be dropped by the control thread before the worker gets to it). */
static void post_install(struct kumis_worker *w, void *owner, void (*owner_unref)(void *),
                         void **slot, void *value, void (*unref)(void *))
{
    struct install *in = g_new0(struct install, 1);
    in->slot = slot;
    in->value = value;
    in->unref = unref;
    in->owner = owner;
    in->owner_unref = owner_unref;
    kumis_worker_invoke(w, install_run, in, install_free);
}

static void source_unref_void(void *s);
static void peer_unref_void(void *p);

static void ptr_array_unref(void *a)
{
    g_ptr_array_unref(a);
}

static void set_unref_void(void *s)
{
    router_set_unref(s);
}

/* Builds the snapshot of @source's sinks, one group per worker, and installs it. */
static void source_publish_sinks(struct router_source *source)
{
    struct router *r = source->peer->router;
    struct sink_set *set = NULL;
    if (!atomic_load(&source->closed) && source->sinks_ctl->len > 0) {
        set = g_malloc0(sizeof *set + r->n_workers * sizeof(struct sink_group));
        atomic_init(&set->refs, 1);
        set->owner = source;
        set->video = source->d.video;
        for (guint i = 0; i < source->sinks_ctl->len; i++) {
            struct router_sink *sink = g_ptr_array_index(source->sinks_ctl, i);
            struct router_worker *rw = sink->peer->rw;
            guint g = 0;
            while (g < set->n_groups && set->groups[g].rw != rw)
                g++;
            if (g == set->n_groups) {
                set->groups[g].rw = rw;
                set->groups[g].sinks = g_ptr_array_new_with_free_func((GDestroyNotify)sink_unref);
                set->n_groups++;
            }
            g_ptr_array_add(set->groups[g].sinks, sink_ref(sink));
        }
    }
    post_install(source->peer->rw->worker, source_ref(source), source_unref_void,
                 (void **)&source->set, set, set_unref_void);
}

static GPtrArray *snapshot(GPtrArray *ctl, gpointer (*ref)(gpointer), GDestroyNotify unref)
{
    GPtrArray *a = g_ptr_array_new_full(ctl->len, unref);
    for (guint i = 0; i < ctl->len; i++)
        g_ptr_array_add(a, ref(g_ptr_array_index(ctl, i)));
    return a;
}

static void peer_publish_sources(struct router_peer *peer)
{
    post_install(peer->rw->worker, peer_ref(peer), peer_unref_void, (void **)&peer->sources,
                 snapshot(peer->sources_ctl, (gpointer(*)(gpointer))source_ref,
                          (GDestroyNotify)source_unref),
                 ptr_array_unref);
}

static void peer_publish_sinks(struct router_peer *peer)
{
    post_install(
        peer->rw->worker, peer_ref(peer), peer_unref_void, (void **)&peer->sinks,
        snapshot(peer->sinks_ctl, (gpointer(*)(gpointer))sink_ref, (GDestroyNotify)sink_unref),
        ptr_array_unref);
}

/* Keyframes ------------------------------------------------------------------------------- */

struct keyframe_request {
    struct router_source *source;
    int layer;
    gboolean deferred; /* the one held back to the end of the throttle gap */
};

static void keyframe_request_free(gpointer data)
{
    struct keyframe_request *kr = data;
    source_unref(kr->source);
    g_free(kr);
}

/* Source worker: sends a PLI (RFC 4585 §6.3.1) for @layer to the publisher, at most one per
 * KEYFRAME_REQUEST_GAP_US. A request inside the gap is not dropped but sent once at its end:
 * a subscriber whose connection came up just after a keyframe went by gets the next one
 * within the gap, not after its own next try (kumis_layer_selector_should_pli, 500 ms). */
static gboolean keyframe_request_run(gpointer data)
{
    struct keyframe_request *kr = data;
    struct router_source *s = kr->source;
    struct layer *l = &s->layers[CLAMP(kr->layer, 0, (int)s->d.n_layers - 1)];
    if (kr->deferred)
        l->keyframe_deferred = FALSE;
    guint32 ssrc = atomic_load(&l->ssrc);
    gint64 now = g_get_monotonic_time();
    struct kumis_transport *up = s->peer->up;
    if (ssrc == 0 || up == NULL || atomic_load(&s->closed))
        return G_SOURCE_REMOVE;
    gint64 wait = l->last_keyframe_request + KEYFRAME_REQUEST_GAP_US - now;
    if (l->last_keyframe_request != 0 && wait > 0) {
        if (!l->keyframe_deferred) {
            l->keyframe_deferred = TRUE;
            struct keyframe_request *later = g_new(struct keyframe_request, 1);
            later->source = source_ref(s);
            later->layer = kr->layer;
            later->deferred = TRUE;
            GSource *t = g_timeout_source_new((guint)((wait + 999) / 1000));
            g_source_set_callback(t, keyframe_request_run, later, keyframe_request_free);
            g_source_attach(t, kumis_worker_get_context(s->peer->rw->worker));
            g_source_unref(t);
        }
        return G_SOURCE_REMOVE;
    }
    l->last_keyframe_request = now;
    guint8 buf[64 + 32];
    gssize n = kumis_rtcp_build_pli(buf, 64, s->peer->rtcp_ssrc, ssrc);
    if (n > 0)
        kumis_transport_send_rtcp(up, buf, (gsize)n, sizeof buf);
    return G_SOURCE_REMOVE;
}

/* Any thread. */
void router_source_request_keyframe(struct router_source *s, int layer)
{
    if (!s->d.video)
        return;
    struct keyframe_request *kr = g_new(struct keyframe_request, 1);
    kr->source = source_ref(s);
    kr->layer = layer;
    kr->deferred = FALSE;
    kumis_worker_invoke(s->peer->rw->worker, keyframe_request_run, kr, keyframe_request_free);
}

/* Subscriber side ------------------------------------------------------------------------- */

static gboolean layer_active(struct router_source *s, int layer, gint64 now)
{
    gint64 last = atomic_load(&s->layers[layer].last_packet_us);
    return last != 0 && now - last < LAYER_ACTIVE_US;
}

#define LAYER_UPDATE_US 250000 /* re-evaluate a subscriber's layer at most this often */

/* Sink worker: re-evaluates which layer the subscriber should get (layer.c decides, with
 * hysteresis) from what it asked for, its bandwidth estimate (REMB, shared among its video
 * tracks) capped after reported loss, and the layers the publisher is sending now. */
static void sink_update_target(struct router_sink *sink, gint64 now)
{
    struct router_source *s = sink->source;
    struct kumis_layer_info info[ROUTER_MAX_LAYERS];
    for (guint l = 0; l < s->d.n_layers; l++) {
        info[l].rid = s->layers[l].rid;
        info[l].active = layer_active(s, (int)l, now);
        info[l].bitrate_bps = atomic_load(&s->layers[l].bitrate);
    }
    int max = atomic_load(&sink->max_layer);
    enum kumis_layer_want want = max < 0    ? KUMIS_LAYER_WANT_AUTO
                                 : max == 0 ? KUMIS_LAYER_WANT_LOW
                                            : KUMIS_LAYER_WANT_HIGH;
    /* Receivers' REMB (draft-alvestrand-rmcat-remb) grows only a little past what they receive
     * and we send no probes yet, so a flat or rising REMB says nothing about the next layer:
     * it limits the choice only after it fell, which is the receiver seeing queues grow
     * (overuse, draft-ietf-rmcat-gcc §5). Then leave a tenth for audio and retransmissions. */
    guint64 estimate =
        now < atomic_load(&sink->delay_until_us) ? atomic_load(&sink->bwe_bps) * 9 / 10 : 0;
    /* Loss-based (as in GCC, draft-ietf-rmcat-gcc §6): sustained loss above ~10 % at a layer
     * (over 2 s of receiver reports, see sink_on_report) means it does not fit, whatever the
     * delay-based estimate says. */
    int lossy = atomic_load(&sink->congested_layer);
    if (now < atomic_load(&sink->congested_until_us) && lossy > 0) {
        guint64 below = info[lossy - 1].bitrate_bps + 1;
        estimate = estimate ? MIN(estimate, below) : below;
    }
    kumis_layer_selector_update(&sink->layers, info, s->d.n_layers, estimate, want, now);
    sink->layers_updated_us = now;
}

/* Writes our RTP header for @sink (fixed header, then abs-send-time when negotiated) into
 * @buf for the payload of @h, and describes the packet it starts in @out as kumis_rtp_parse()
 * would (the packet is ours: no need to parse it back). Returns: the header length. */
static gsize sink_write_header(const struct router_sink *sink, guint8 *buf,
                               const struct kumis_rtp_header *h, gint64 now,
                               struct kumis_rtp_header *out)
{
    buf[0] = 0x80;
    buf[1] = (guint8)((h->marker ? 0x80 : 0) | (sink->d.pt & 0x7f));
    kumis_put_be16(buf + 2, h->seq);
    kumis_put_be32(buf + 4, h->timestamp);
    kumis_put_be32(buf + 8, h->ssrc);
    *out = (struct kumis_rtp_header){.version = 2,
                                     .marker = h->marker,
                                     .payload_type = sink->d.pt & 0x7f,
                                     .seq = h->seq,
                                     .timestamp = h->timestamp,
                                     .ssrc = h->ssrc,
                                     .payload_offset = 12,
                                     .payload_len = h->payload_len};
    if (sink->d.ext_abs_send_time == 0)
        return 12;
    /* RFC 8285 §4.2 one-byte header: 0xBEDE, one word of elements. abs-send-time is 6.18
     * fixed-point seconds (webrtc.org abs-send-time). */
    buf[0] |= 0x10;
    kumis_put_be16(buf + 12, 0xBEDE);
    kumis_put_be16(buf + 14, 1);
    buf[16] = (guint8)((sink->d.ext_abs_send_time << 4) | 2);
    kumis_put_be24(buf + 17, (guint32)(((guint64)now << 18) / G_USEC_PER_SEC) & 0xFFFFFF);
    out->extension = TRUE;
    out->ext_profile = 0xBEDE;
    out->ext_offset = 16;
    out->ext_len = 4;
    out->payload_offset = 20;
    return 20;
}

int router_sink_target_layer(struct router_sink *sink, gint64 now)
{
    if (now - sink->layers_updated_us > LAYER_UPDATE_US)
        sink_update_target(sink, now);
    return kumis_layer_selector_target(&sink->layers);
}

struct kumis_keyframe_run *router_source_run(struct router_source *s, guint worker, int layer)
{
    guint i = worker * ROUTER_MAX_LAYERS + (guint)layer;
    g_return_val_if_fail(i < s->n_runs, NULL);
    return &s->runs[i];
}

void router_sink_forward(struct router_sink *sink, int layer, gboolean keyframe,
                         struct kumis_packet_body *body, const guint8 *data,
                         const struct kumis_rtp_header *h, guint pad, gboolean flush, gint64 now)
{
    if (atomic_load_explicit(&sink->closed, memory_order_relaxed) ||
        atomic_load_explicit(&sink->refused, memory_order_relaxed))
        return;
    /* Nothing can reach a subscriber before its connection is up (ICE, DTLS): a keyframe that
     * went by meanwhile must not count as its first (the layer switch below), or it would wait
     * for its browser to ask for another. Once up, its pending switch asks for one at once. */
    if (kumis_transport_get_state(sink->down) != KUMIS_TRANSPORT_READY)
        return;
    if (sink->source->d.video) {
        router_sink_target_layer(sink, now);
        /* Layers switch on keyframes only (the decoder needs one to start). */
        if (keyframe && h->payload_len > 0 &&
            kumis_layer_selector_on_keyframe(&sink->layers, layer)) {
            if (sink->cur_layer >= 0)
                atomic_fetch_add(&sink->switches, 1);
            sink->cur_layer = layer;
            atomic_store(&sink->layer_now, layer);
        }
        if (kumis_layer_selector_should_pli(&sink->layers, now))
            router_source_request_keyframe(sink->source,
                                           kumis_layer_selector_target(&sink->layers));
        if (layer != sink->cur_layer) {
            if (flush)
                kumis_transport_flush_rtp(sink->down);
            return;
        }
    }

    /* Built straight in the worker's send queue when it can be (encrypted there, no copy),
     * else on the stack. */
    G_STATIC_ASSERT(PACKET_MAX + KUMIS_SRTP_MAX_OVERHEAD <= KUMIS_TRANSPORT_SLOT_SIZE &&
                    PACKET_MAX + KUMIS_SRTP_MAX_OVERHEAD <= BUF_ROOM);
    guint8 stack[BUF_ROOM];
    guint8 *slot = kumis_transport_reserve_rtp(sink->down);
    guint8 *buf = slot ? slot : stack;
    struct kumis_rtp_header out;
    gsize hl = sink_write_header(sink, buf, h, now, &out);
    gsize len = hl + h->payload_len;
    gboolean ok = len <= PACKET_MAX;
    if (ok) {
        memcpy(buf + hl, data + h->payload_offset, h->payload_len);
        ok = kumis_rewrite_packet(&sink->rw, buf, len, &out, now) == KUMIS_REWRITE_FORWARD;
    }
    if (!ok) {
        if (slot)
            kumis_transport_cancel_rtp(sink->down);
        return;
    }
    if (sink->cache && body) {
        G_STATIC_ASSERT(SINK_HEADER_MAX + SINK_PAYLOAD_EDITS <= KUMIS_PACKET_CACHE_PREFIX);
        gsize own = MIN(len, hl + SINK_PAYLOAD_EDITS);
        kumis_packet_cache_store(sink->cache, out.seq, buf, own, body,
                                 h->payload_offset + (own - hl), len - own);
    }
    /* RFC 3550 §5.1: P set, the last padding byte counts the padding (itself included). */
    if (pad > 0 && pad <= 255 && len + pad <= PACKET_MAX) {
        buf[0] |= 0x20;
        memset(buf + len, 0, pad - 1);
        buf[len + pad - 1] = (guint8)pad;
        len += pad;
    }
    /* Packets wait for the end of the video frame (its marker) and leave together (sender.h).
     * Audio leaves at once where that costs no system call of its own (io_uring: every peer
     * flushed in this iteration goes in one call): its arrival woke the worker anyway, while
     * holding it for the subscriber's next burst cost a wake-up of its own whenever the hold
     * ran out first (most audio packets at 30 frames a second). With sendmmsg it rides along
     * with that burst, at most KUMIS_SENDER_HOLD_US late. */
    gboolean end = flush || (sink->source->d.video ? out.marker
                                                   : kumis_transport_flush_is_batched(sink->down));
    if (slot ? kumis_transport_commit_rtp(sink->down, slot, len, end)
             : kumis_transport_queue_rtp(sink->down, buf, len, sizeof stack, end)) {
        /* One writer (this worker): a store, not a locked add, keeps each counter whole. */
        atomic_store_explicit(&sink->packets_out,
                              atomic_load_explicit(&sink->packets_out, memory_order_relaxed) + 1,
                              memory_order_relaxed);
        atomic_store_explicit(&sink->bytes_out,
                              atomic_load_explicit(&sink->bytes_out, memory_order_relaxed) + len,
                              memory_order_relaxed);
    }
}

/* Publisher side -------------------------------------------------------------------------- */

/* TRUE when exactly one source of the bundle uses @pt: the payload type then names the
 * m-line (RFC 8843 §9.2), for senders that announce neither a=ssrc nor the mid extension. */
static gboolean pt_unique(GPtrArray *sources, int pt)
{
    guint n = 0;
    for (guint i = 0; i < sources->len; i++) {
        const struct router_source *s = g_ptr_array_index(sources, i);
        n += s->d.pt == pt || s->d.rtx_pt == pt;
    }
    return n == 1;
}

struct router_source *router_peer_source_by_ssrc(struct router_peer *peer, guint32 ssrc, int *layer)
{
    for (guint i = 0; peer->sources && i < peer->sources->len; i++) {
        struct router_source *s = g_ptr_array_index(peer->sources, i);
        for (guint l = 0; l < s->d.n_layers; l++) {
            if (atomic_load_explicit(&s->layers[l].ssrc, memory_order_relaxed) == ssrc) {
                *layer = (int)l;
                return s;
            }
        }
    }
    return NULL;
}

/* The SSRC's entry in the ring of SSRCs matched by mid and rid, or NULL. */
static struct router_learned *peer_learned_find(struct router_peer *peer, guint32 ssrc)
{
    guint n = MIN(peer->n_learned, ROUTER_LEARNED_MAX);
    for (guint i = 0; i < n; i++)
        if (peer->learned[i].ssrc == ssrc)
            return &peer->learned[i];
    return NULL;
}

static void peer_learn(struct router_peer *peer, guint32 ssrc, const char *mid, const char *rid)
{
    struct router_learned *e = peer_learned_find(peer, ssrc);
    if (e == NULL)
        e = &peer->learned[peer->n_learned++ % ROUTER_LEARNED_MAX];
    e->ssrc = ssrc;
    g_strlcpy(e->mid, mid, sizeof e->mid);
    g_strlcpy(e->rid, rid, sizeof e->rid);
}

/* A packet with an SSRC matched by mid and rid before, of a source made since. */
static struct router_source *peer_match_learned(struct router_peer *peer,
                                                const struct kumis_rtp_header *h, int *layer)
{
    const struct router_learned *e = peer_learned_find(peer, h->ssrc);
    for (guint i = 0; e != NULL && peer->sources && i < peer->sources->len; i++) {
        struct router_source *s = g_ptr_array_index(peer->sources, i);
        if (strcmp(s->mid, e->mid) != 0 || h->payload_type != s->d.pt)
            continue;
        for (guint l = 0; l < s->d.n_layers; l++) {
            if (strcmp(s->layers[l].rid, e->rid) != 0 ||
                atomic_load_explicit(&s->layers[l].ssrc, memory_order_relaxed) != 0)
                continue;
            atomic_store(&s->layers[l].ssrc, h->ssrc);
            *layer = (int)l;
            return s;
        }
    }
    return NULL;
}

/* Finds the source and layer of a publisher's packet: by SSRC once learned, else by the mid
 * and rid header extensions (RFC 8843 §15, RFC 8852), else by the SSRCs of the SDP, else by a
 * payload type only one track uses. */
static struct router_source *peer_match_source(struct router_peer *peer, const guint8 *data,
                                               const struct kumis_rtp_header *h, int *layer)
{
    struct router_source *known = router_peer_source_by_ssrc(peer, h->ssrc, layer);
    if (known != NULL)
        return known;
    GPtrArray *sources = peer->sources;
    for (guint i = 0; sources && i < sources->len; i++) {
        struct router_source *s = g_ptr_array_index(sources, i);
        char mid[32], rid[16];
        if (s->d.rtx_pt >= 0 && h->payload_type == s->d.rtx_pt)
            continue;
        if (s->d.ext_mid && (kumis_rtp_ext_string(data, h, s->d.ext_mid, mid, sizeof mid) < 0 ||
                             strcmp(mid, s->mid) != 0))
            continue;
        if (!s->d.ext_mid && s->d.ssrcs[0] == 0 && !pt_unique(sources, h->payload_type))
            continue;
        gboolean has_rid =
            s->d.ext_rid && kumis_rtp_ext_string(data, h, s->d.ext_rid, rid, sizeof rid) > 0;
        for (guint l = 0; l < s->d.n_layers; l++) {
            gboolean match = s->d.ssrcs[l] ? s->d.ssrcs[l] == h->ssrc
                             : has_rid     ? strcmp(rid, s->layers[l].rid) == 0
                                           : s->d.n_layers == 1;
            if (match && h->payload_type == s->d.pt) {
                atomic_store(&s->layers[l].ssrc, h->ssrc);
                peer_learn(peer, h->ssrc, s->mid, s->layers[l].rid);
                *layer = (int)l;
                return s;
            }
        }
    }
    return peer_match_learned(peer, h, layer);
}

static gboolean packet_is_keyframe(const struct router_source *s, const guint8 *data,
                                   const struct kumis_rtp_header *h)
{
    const guint8 *payload = data + h->payload_offset;
    if (s->d.vp8) {
        struct kumis_vp8_descriptor d;
        return kumis_vp8_parse(payload, h->payload_len, &d) && d.keyframe;
    }
    if (s->d.vp9) {
        struct kumis_vp9_descriptor d;
        return kumis_vp9_parse(payload, h->payload_len, &d) && d.keyframe;
    }
    if (s->d.h264)
        return kumis_h264_is_keyframe(payload, h->payload_len);
    return FALSE;
}

/* Source worker: one packet from a publisher, to every subscriber of its track. */
static void source_fan_out(struct router_source *s, int layer, const guint8 *data, gsize len,
                           const struct kumis_rtp_header *h)
{
    struct sink_set *set = s->set;
    gint64 now = g_get_monotonic_time();
    struct layer *l = &s->layers[layer];
    atomic_fetch_add_explicit(&s->packets_in, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->bytes_in, len, memory_order_relaxed);
    l->window_bytes += len;
    atomic_store_explicit(&l->last_packet_us, now, memory_order_relaxed);
    if (s->d.ext_audio_level) {
        guint8 level;
        gboolean voice;
        if (kumis_rtp_ext_audio_level(data, h, s->d.ext_audio_level, &level, &voice))
            atomic_store_explicit(&s->audio_level, level, memory_order_relaxed);
    }
    if (set == NULL || len > PACKET_MAX)
        return;
    gboolean keyframe = s->d.video && packet_is_keyframe(s, data, h);
    struct router_worker *here = s->peer->rw;
    int local = -1;
    for (guint g = 0; g < set->n_groups; g++) {
        if (set->groups[g].rw == here) {
            local = (int)g;
            continue;
        }
        router_handover_packet(here, set, g, layer, keyframe, data, len, h, now);
    }
    if (local >= 0 && set->video) {
        /* Waits for the end of the frame, and stays in the subscribers' NACK caches. */
        struct kumis_packet_body *body = kumis_packet_body_new(data, len);
        router_batch_add(here, set, (guint)local, body, layer, keyframe, h);
        kumis_packet_body_unref(body);
    } else if (local >= 0) {
        GPtrArray *sinks = set->groups[local].sinks;
        for (guint i = 0; i < sinks->len; i++) {
            router_sinks_prefetch(sinks, i);
            router_sink_forward(g_ptr_array_index(sinks, i), layer, keyframe, NULL, data, h, 0,
                                FALSE, now);
        }
    }
}

void router_peer_on_rtp(struct router_peer *peer, struct kumis_transport *t, guint8 *data,
                        gsize len)
{
    struct kumis_rtp_header h;
    if (t != peer->up || !kumis_rtp_parse(data, len, &h))
        return;
    gint64 now = g_get_monotonic_time();
    router_twcc_on_packet(peer, data, &h, now);
    int layer = 0;
    struct router_source *s = NULL;
    int rtx = router_repair_unwrap_rtx(peer, data, &len, &h, &s, &layer);
    if (rtx < 0)
        return;
    if (rtx == 0)
        s = peer_match_source(peer, data, &h, &layer);
    if (s == NULL) {
        /* RTX and padding probes of layers we have not matched yet land here too. */
        GPtrArray *sources = peer->sources;
        if (sources && sources->len > 0) {
            struct router_source *first = g_ptr_array_index(sources, 0);
            atomic_fetch_add_explicit(&first->dropped_unknown, 1, memory_order_relaxed);
        }
        return;
    }
    if (h.payload_type != s->d.pt || atomic_load(&s->closed))
        return;
    /* What the network lost, before repair: a resend (or a browser's probe made of old packets
     * on RTX) counted again would hide the loss from the publisher's estimate. */
    if (rtx == 0)
        kumis_rx_stats_update(&s->layers[layer].rx, h.ssrc, h.seq, h.timestamp, now,
                              s->d.clock_rate);
    if (s->d.video)
        router_source_repair(s, layer, h.seq, now);
    source_fan_out(s, layer, data, len, &h);
}

/* Worker: drops the worker-side state of a peer that is going away. */
static gboolean peer_stop_on_worker(gpointer data)
{
    struct router_peer *peer = data;
    g_ptr_array_remove_fast(peer->rw->peers, peer);
    g_clear_pointer(&peer->sources, g_ptr_array_unref);
    g_clear_pointer(&peer->sinks, g_ptr_array_unref);
    return G_SOURCE_REMOVE;
}

/* Life of the objects (control thread) ---------------------------------------------------- */

struct router_peer *router_peer_new(struct router *router, struct kumis_worker *worker)
{
    struct router_peer *peer = g_new0(struct router_peer, 1);
    atomic_init(&peer->refs, 1);
    peer->router = router;
    peer->rw = router_worker_of(router, worker);
    peer->sources_ctl = g_ptr_array_new();
    peer->sinks_ctl = g_ptr_array_new();
    peer->rtcp_ssrc = g_random_int() | 1;
    kumis_worker_invoke(worker, router_peer_start_rtcp, peer_ref(peer), (GDestroyNotify)peer_unref);
    return peer;
}

guint64 router_peer_get_congestion_feedback(const struct router_peer *peer)
{
    return atomic_load_explicit(&peer->twcc_sent, memory_order_relaxed);
}

struct router_peer *router_peer_ref(struct router_peer *peer)
{
    return peer_ref(peer);
}

void router_peer_unref(struct router_peer *peer)
{
    peer_unref(peer);
}

void router_peer_free(struct router_peer *peer)
{
    kumis_worker_invoke(peer->rw->worker, peer_stop_on_worker, peer_ref(peer),
                        (GDestroyNotify)peer_unref);
    peer_unref(peer);
}

static void transport_swap(struct kumis_transport **slot, struct kumis_transport *t)
{
    if (t)
        kumis_transport_ref(t);
    if (*slot)
        kumis_transport_unref(*slot);
    *slot = t;
}

void router_peer_set_up(struct router_peer *peer, struct kumis_transport *up)
{
    transport_swap(&peer->up, up);
}

void router_peer_set_down(struct router_peer *peer, struct kumis_transport *down)
{
    transport_swap(&peer->down, down);
}

struct router_source *router_source_new(struct router_peer *peer,
                                        const struct router_source_desc *desc)
{
    struct router_source *s = g_new0(struct router_source, 1);
    atomic_init(&s->refs, 1);
    s->peer = peer_ref(peer);
    s->d = *desc;
    s->d.n_layers = CLAMP(desc->n_layers, 1, ROUTER_MAX_LAYERS);
    g_strlcpy(s->publisher_id, desc->publisher_id, sizeof s->publisher_id);
    g_strlcpy(s->mid, desc->mid, sizeof s->mid);
    s->d.publisher_id = s->publisher_id;
    s->d.mid = s->mid;
    for (guint l = 0; l < s->d.n_layers; l++) {
        g_strlcpy(s->layers[l].rid, desc->rids[l], sizeof s->layers[l].rid);
        atomic_init(&s->layers[l].ssrc, desc->ssrcs[l]);
    }
    atomic_init(&s->audio_level, 127);
    if (s->d.video) {
        s->n_runs = peer->router->n_workers * ROUTER_MAX_LAYERS;
        s->runs = g_new0(struct kumis_keyframe_run, s->n_runs);
    }
    s->sinks_ctl = g_ptr_array_new();
    g_ptr_array_add(peer->sources_ctl, s);
    peer_publish_sources(peer);
    return s;
}

void router_source_close(struct router_source *s)
{
    atomic_store(&s->closed, TRUE);
    g_ptr_array_remove(s->peer->sources_ctl, s);
    peer_publish_sources(s->peer);
    g_ptr_array_set_size(s->sinks_ctl, 0);
    source_publish_sinks(s);
    source_unref(s);
}

const char *router_source_get_publisher(const struct router_source *s)
{
    return s->publisher_id;
}

const char *router_source_get_mid(const struct router_source *s)
{
    return s->mid;
}

gboolean router_source_is_video(const struct router_source *s)
{
    return s->d.video;
}

void router_source_get_stats(const struct router_source *s, struct router_source_stats *st)
{
    memset(st, 0, sizeof *st);
    st->packets_in = atomic_load(&s->packets_in);
    st->bytes_in = atomic_load(&s->bytes_in);
    st->dropped_unknown = atomic_load(&s->dropped_unknown);
    st->nacks_out = atomic_load(&s->nacks_out);
    st->repaired = atomic_load(&s->repaired);
    for (guint l = 0; l < s->d.n_layers; l++) {
        st->layer_bitrate[l] = atomic_load(&s->layers[l].bitrate);
        st->lost += atomic_load(&s->layers[l].reported_lost);
    }
    st->audio_level = atomic_load(&s->audio_level);
}

struct router_sink *router_sink_new(struct router_peer *peer, struct router_source *source,
                                    const struct router_sink_desc *desc)
{
    g_return_val_if_fail(peer->down != NULL, NULL);
    struct router_sink *s = g_new0(struct router_sink, 1);
    atomic_init(&s->refs, 1);
    s->peer = peer_ref(peer);
    s->source = source_ref(source);
    s->down = kumis_transport_ref(peer->down);
    s->d = *desc;
    s->cur_layer = source->d.video ? -1 : 0;
    kumis_loss_estimator_init(&s->loss, NULL);
    s->loss_layer = s->cur_layer;
    /* Up one layer after 5 s without congestion (see sink_update_target). */
    static const struct kumis_layer_config layer_config = {1.1, 5000000, 500000};
    kumis_layer_selector_init(&s->layers, &layer_config);
    atomic_init(&s->max_layer, -1);
    atomic_init(&s->rtx_on, FALSE);
    atomic_init(&s->refused, FALSE);
    s->rtx_seq = (guint16)g_random_int(); /* RFC 4588 §4: random start, like any RTP stream */
    kumis_rewrite_init(&s->rw, desc->ssrc, source->d.clock_rate,
                       source->d.vp8   ? KUMIS_REWRITE_CODEC_VP8
                       : source->d.vp9 ? KUMIS_REWRITE_CODEC_VP9
                                       : KUMIS_REWRITE_CODEC_OTHER);
    if (source->d.video)
        s->cache = kumis_packet_cache_new(SINK_CACHE_SLOTS);
    g_ptr_array_add(peer->sinks_ctl, s);
    peer_publish_sinks(peer);
    g_ptr_array_add(source->sinks_ctl, s);
    source_publish_sinks(source);
    /* No keyframe request here: its first packet once the connection is up asks for one
     * (router_sink_forward), and one asked for now would reach the others only. */
    return s;
}

void router_sink_close(struct router_sink *s)
{
    atomic_store(&s->closed, TRUE);
    if (g_ptr_array_remove(s->source->sinks_ctl, s))
        source_publish_sinks(s->source);
    g_ptr_array_remove(s->peer->sinks_ctl, s);
    peer_publish_sinks(s->peer);
    sink_unref(s);
}

void router_sink_set_max_layer(struct router_sink *s, int layer)
{
    atomic_store(&s->max_layer, layer);
}

void router_sink_set_accepted(struct router_sink *s, gboolean accepted)
{
    atomic_store(&s->refused, !accepted);
}

void router_sink_set_rtx(struct router_sink *s, gboolean accepted)
{
    atomic_store(&s->rtx_on, accepted && s->d.rtx_pt != 0 && s->d.rtx_ssrc != 0);
}

guint8 router_sink_get_pt(const struct router_sink *s)
{
    return s->d.pt;
}

guint8 router_sink_get_rtx_pt(const struct router_sink *s)
{
    return s->d.rtx_pt;
}

void router_sink_get_stats(const struct router_sink *s, struct router_sink_stats *st)
{
    st->packets_out = atomic_load(&s->packets_out);
    st->bytes_out = atomic_load(&s->bytes_out);
    st->nacks_in = atomic_load(&s->nacks_in);
    st->retransmitted = atomic_load(&s->retransmitted);
    st->plis_in = atomic_load(&s->plis_in);
    st->layer_switches = atomic_load(&s->switches);
    st->keyframe_joins = atomic_load(&s->keyframe_joins);
    st->layer = atomic_load(&s->layer_now);
    st->bwe_bps = atomic_load(&s->bwe_bps);
}

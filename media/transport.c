/* kumis — per-participant transport: libnice ICE + DTLS-SRTP (libsrtp2; GCM: srtp_gcm); the
 * packet path out is in transport_send.c. */
#include "media/transport.h"

#include <gio/gio.h>
#include <gst/gst.h>
#include <nice/agent.h>
#include <string.h>
#include <sys/socket.h>

#include "media/poller.h"
#include "media/rx_backlog.h"
#include "media/sender.h"
#include "media/transport_internal.h"

GST_DEBUG_CATEGORY_STATIC(kumis_transport_debug);
#define GST_CAT_DEFAULT kumis_transport_debug

/* A DTLS server waits for the peer's ClientHello without any timer of its own: give the whole
 * handshake this long after ICE connected, then fail (the client's OpenSSL gives up in ~20 s). */
#define TRANSPORT_DTLS_DEADLINE_S 30
/* RFC 7675 §5.1: consent expires 30 s after the last proof that the peer still wants our
 * packets. libnice 0.1.21 declares it lost 10 s after the last answer to checks it sends every
 * 4-6 s without retransmission, so one check lost on a lossy link (an attendee at 5 % loss saw
 * this every few minutes) failed a working transport. When libnice gives up on a READY transport
 * we go on while the peer's authenticated SRTP, SRTCP or DTLS keeps arriving (a browser sends
 * RTCP at least every few seconds on a live connection), and fail 30 s after the last of it. */
#define TRANSPORT_CONSENT_TIMEOUT_US (30 * G_USEC_PER_SEC)

/* DTLS datagrams kept while ICE has no pair to send them through (a flight is a handful). */
#define TRANSPORT_DTLS_PENDING_MAX 8

/* At most one "overloaded" warning per transport this often. */
#define TRANSPORT_OVERLOAD_LOG_US (5 * G_USEC_PER_SEC)

const char *kumis_transport_state_name(enum kumis_transport_state state)
{
    static const char *const names[] = {"new",   "checking", "connected", "dtls",
                                        "ready", "failed",   "closed"};
    return (guint)state < G_N_ELEMENTS(names) ? names[state] : "invalid";
}

/* --- events to the control thread ------------------------------------------------------- */

enum transport_event_kind {
    TRANSPORT_EVENT_STATE,
    TRANSPORT_EVENT_CANDIDATE,
};

struct transport_event {
    enum transport_event_kind kind;
    struct kumis_transport *transport; /* a reference */
    enum kumis_transport_state from, to;
    char *candidate; /* NULL: end-of-candidates */
};

static gboolean transport_event_dispatch(gpointer data)
{
    struct transport_event *ev = data;
    struct kumis_transport *t = ev->transport;
    if (ev->kind == TRANSPORT_EVENT_STATE && t->listener->on_state)
        t->listener->on_state(t, ev->from, ev->to, t->user_data);
    else if (ev->kind == TRANSPORT_EVENT_CANDIDATE && t->listener->on_local_candidate)
        t->listener->on_local_candidate(t, ev->candidate, t->user_data);
    return G_SOURCE_REMOVE;
}

static void transport_event_free(gpointer data)
{
    struct transport_event *ev = data;
    kumis_transport_unref(ev->transport);
    g_free(ev->candidate);
    g_free(ev);
}

static void transport_event_post(struct kumis_transport *t, struct transport_event *ev)
{
    ev->transport = kumis_transport_ref(t);
    kumis_worker_post_control(t->worker, transport_event_dispatch, ev, transport_event_free);
}

/* --- the state machine ------------------------------------------------------------------ */

/* Legal moves: forward along new → checking → connected → dtls → ready, and from anywhere to
 * failed or closed (failed only to closed; closed is final). */
static gboolean transport_transition_legal(enum kumis_transport_state from,
                                           enum kumis_transport_state to)
{
    if (from == KUMIS_TRANSPORT_CLOSED)
        return FALSE;
    if (to == KUMIS_TRANSPORT_CLOSED)
        return TRUE;
    if (from == KUMIS_TRANSPORT_FAILED)
        return FALSE;
    if (to == KUMIS_TRANSPORT_FAILED)
        return TRUE;
    return to == from + 1;
}

/* Worker thread. Returns: FALSE (and logs) for an illegal move, which changes nothing. */
static gboolean transport_set_state(struct kumis_transport *t, enum kumis_transport_state to)
{
    enum kumis_transport_state from = g_atomic_int_get(&t->state);
    if (!transport_transition_legal(from, to)) {
        GST_DEBUG("transport %p: ignoring %s -> %s", (void *)t, kumis_transport_state_name(from),
                  kumis_transport_state_name(to));
        return FALSE;
    }
    GST_INFO("transport %p: %s -> %s", (void *)t, kumis_transport_state_name(from),
             kumis_transport_state_name(to));
    g_atomic_int_set(&t->state, to);
    struct transport_event *ev = g_new0(struct transport_event, 1);
    ev->kind = TRANSPORT_EVENT_STATE;
    ev->from = from;
    ev->to = to;
    transport_event_post(t, ev);
    return TRUE;
}

/* Moves forward through every intermediate state up to @to (CHECKING may be skipped by libnice,
 * and DTLS may finish before our own ICE reports connected). */
static void transport_advance(struct kumis_transport *t, enum kumis_transport_state to)
{
    enum kumis_transport_state s = g_atomic_int_get(&t->state);
    while (s < to && s < KUMIS_TRANSPORT_READY && transport_set_state(t, s + 1))
        s++;
}

static void transport_deadline_stop(struct kumis_transport *t)
{
    if (t->dtls_deadline == NULL)
        return;
    g_source_destroy(t->dtls_deadline);
    g_clear_pointer(&t->dtls_deadline, g_source_unref);
}

static gboolean transport_on_dtls_deadline(gpointer data)
{
    struct kumis_transport *t = data;
    g_clear_pointer(&t->dtls_deadline, g_source_unref);
    GST_WARNING("transport %p: no DTLS handshake within %d s", (void *)t,
                TRANSPORT_DTLS_DEADLINE_S);
    transport_set_state(t, KUMIS_TRANSPORT_FAILED);
    return G_SOURCE_REMOVE;
}

static void transport_target_update(struct kumis_transport *t);

/* ICE connected and keys in hand: READY; ICE connected only: DTLS under way. */
static void transport_update_progress(struct kumis_transport *t)
{
    if (!t->ice_connected)
        return;
    transport_advance(t, t->srtp ? KUMIS_TRANSPORT_READY : KUMIS_TRANSPORT_DTLS);
    if (g_atomic_int_get(&t->state) == KUMIS_TRANSPORT_READY && !t->target.set)
        transport_target_update(t);
    if (g_atomic_int_get(&t->state) != KUMIS_TRANSPORT_DTLS) {
        transport_deadline_stop(t);
    } else if (t->dtls_deadline == NULL) {
        t->dtls_deadline = g_timeout_source_new_seconds(TRANSPORT_DTLS_DEADLINE_S);
        g_source_set_callback(t->dtls_deadline, transport_on_dtls_deadline, t, NULL);
        g_source_attach(t->dtls_deadline, kumis_worker_get_context(t->worker));
    }
}

/* Worker thread: points the batched sender at the selected pair, or unsets it when there is
 * none we can address with a plain UDP send (libnice then sends). */
static void transport_target_update(struct kumis_transport *t)
{
    struct kumis_sender *sender = kumis_worker_get_sender(t->worker);
    kumis_sender_target_clear(sender, &t->target);
    g_clear_object(&t->selected_socket);
    if (t->agent == NULL || g_atomic_int_get(&t->state) != KUMIS_TRANSPORT_READY)
        return;
    NiceCandidate *local = NULL, *remote = NULL;
    if (!nice_agent_get_selected_pair(t->agent, t->stream_id, TRANSPORT_COMPONENT, &local,
                                      &remote) ||
        local->type == NICE_CANDIDATE_TYPE_RELAYED ||
        remote->transport != NICE_CANDIDATE_TRANSPORT_UDP)
        return;
    /* (transfer full); NULL for TCP and relayed pairs. */
    GSocket *socket = nice_agent_get_selected_socket(t->agent, t->stream_id, TRANSPORT_COMPONENT);
    if (socket == NULL)
        return;
    struct sockaddr_storage addr;
    memset(&addr, 0, sizeof addr);
    nice_address_copy_to_sockaddr(&remote->addr, (struct sockaddr *)&addr);
    socklen_t addr_len =
        addr.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    if (!kumis_sender_target_set(sender, &t->target, g_socket_get_fd(socket),
                                 (const struct sockaddr *)&addr, addr_len)) {
        g_object_unref(socket);
        return;
    }
    t->selected_socket = socket;
    GST_DEBUG("transport %p: batched sends on fd %d", (void *)t, t->target.fd);
}

static void transport_on_selected_pair(NiceAgent *agent, guint stream_id, guint component_id,
                                       NiceCandidate *local, NiceCandidate *remote,
                                       gpointer user_data)
{
    (void)agent;
    (void)stream_id;
    (void)component_id;
    (void)local;
    (void)remote;
    transport_target_update(user_data);
}

/* --- DTLS callbacks (worker thread) ------------------------------------------------------ */

static void transport_dtls_send(struct kumis_dtls *dtls, const guint8 *data, gsize len,
                                void *user_data)
{
    (void)dtls;
    struct kumis_transport *t = user_data;
    gint sent =
        nice_agent_send(t->agent, t->stream_id, TRANSPORT_COMPONENT, len, (const gchar *)data);
    if (sent == (gint)len) {
        STAT_ADD(t, packets_out, 1);
        STAT_ADD(t, bytes_out, len);
    } else if (!t->ice_connected && t->dtls_pending->len < TRANSPORT_DTLS_PENDING_MAX) {
        /* Before ICE selected a pair libnice refuses: kept for then (past the bound, DTLS
         * retransmits the flight later). */
        g_ptr_array_add(t->dtls_pending, g_bytes_new(data, len));
    }
}

/* ICE connected: what DTLS could not send before goes out now, in order. */
static void transport_dtls_pending_flush(struct kumis_transport *t)
{
    for (guint i = 0; i < t->dtls_pending->len; i++) {
        gsize len;
        const guint8 *data = g_bytes_get_data(g_ptr_array_index(t->dtls_pending, i), &len);
        transport_dtls_send(t->dtls, data, len, t);
    }
    g_ptr_array_set_size(t->dtls_pending, 0);
}

static void transport_dtls_connected(struct kumis_dtls *dtls, const struct kumis_srtp_keys *keys,
                                     void *user_data)
{
    (void)dtls;
    struct kumis_transport *t = user_data;
    g_autoptr(GError) error = NULL;
    t->srtp = kumis_srtp_session_new(keys, &error);
    if (t->srtp == NULL) {
        GST_WARNING("transport %p: %s", (void *)t, error->message);
        transport_set_state(t, KUMIS_TRANSPORT_FAILED);
        kumis_transport_close(t);
        return;
    }
    __atomic_store_n(&t->stats.profile, keys->profile, __ATOMIC_RELAXED);
    t->last_auth_rx_us = g_get_monotonic_time(); /* the handshake's last flight */
    transport_update_progress(t);
}

/* RFC 5764 §4.1.1: a close_notify or fatal alert ends the DTLS association, and with it the
 * transport's use. */
static void transport_dtls_closed(struct kumis_dtls *dtls, const GError *error, void *user_data)
{
    (void)dtls;
    struct kumis_transport *t = user_data;
    if (error) {
        GST_WARNING("transport %p: %s", (void *)t, error->message);
        transport_set_state(t, KUMIS_TRANSPORT_FAILED);
    }
    kumis_transport_close(t);
}

static const struct kumis_dtls_callbacks transport_dtls_callbacks = {
    .send = transport_dtls_send,
    .on_connected = transport_dtls_connected,
    .on_closed = transport_dtls_closed,
};

/* --- libnice callbacks (worker thread) --------------------------------------------------- */

static void transport_on_srtp(struct kumis_transport *t, guint8 *buf, gsize len)
{
    /* RFC 5761 §4: RTCP packet types 192..223 sit where RTP has marker + payload type. */
    gboolean rtcp = len >= 2 && buf[1] >= 192 && buf[1] <= 223;
    if (len < (rtcp ? 8u : 12u)) {
        STAT_ADD(t, dropped_short, 1);
        return;
    }
    if (t->srtp == NULL) {
        STAT_ADD(t, dropped_not_ready, 1);
        return;
    }
    gboolean ok = rtcp ? kumis_srtp_session_unprotect_rtcp(t->srtp, buf, &len)
                       : kumis_srtp_session_unprotect_rtp(t->srtp, buf, &len);
    if (!ok) {
        STAT_ADD(t, dropped_srtp, 1);
        return;
    }
    if (rtcp) {
        t->last_auth_rx_us = g_get_monotonic_time();
        STAT_ADD(t, rtcp_in, 1);
        if (t->listener->on_rtcp)
            t->listener->on_rtcp(t, buf, len, t->user_data);
    } else {
        t->last_auth_rx_us = g_get_monotonic_time();
        STAT_ADD(t, rtp_in, 1);
        if (t->listener->on_rtp)
            t->listener->on_rtp(t, buf, len, t->user_data);
    }
}

static void transport_on_dtls(struct kumis_transport *t, const guint8 *buf, gsize len)
{
    STAT_ADD(t, dtls_in, 1);
    struct kumis_dtls_stats before, after;
    kumis_dtls_get_stats(t->dtls, &before);
    kumis_dtls_handle_datagram(t->dtls, buf, len);
    kumis_dtls_get_stats(t->dtls, &after);
    guint64 dropped = (after.dropped_malformed - before.dropped_malformed) +
                      (after.dropped_late - before.dropped_late);
    if (dropped)
        STAT_ADD(t, dropped_dtls, dropped);
}

/* RFC 7983 §7 demultiplexing by the first byte; STUN (0..3) never reaches us, libnice eats it. */
static void transport_on_datagram(struct kumis_transport *t, guint8 *buf, gsize len)
{
    guint8 first = buf[0];
    if (first >= 20 && first <= 63)
        transport_on_dtls(t, buf, len);
    else if (first >= 128 && first <= 191)
        transport_on_srtp(t, buf, len);
    else
        STAT_ADD(t, dropped_unknown, 1);
}

/* Worker thread: a datagram that waited in the backlog. */
static void transport_on_backlog_datagram(guint8 *data, gsize len, void *user_data)
{
    struct kumis_transport *t = user_data;
    if (t->agent != NULL)
        transport_on_datagram(t, data, len);
}

/* Worker thread: keeps a copy of the datagram for later, or drops it when the backlog is full. */
static void transport_backlog_push(struct kumis_transport *t, const guint8 *buf, gsize len)
{
    if (t->rx_backlog == NULL)
        t->rx_backlog = kumis_rx_backlog_new(kumis_worker_get_context(t->worker),
                                             transport_on_backlog_datagram, t);
    guint dropped = kumis_rx_backlog_push(t->rx_backlog, buf, len);
    if (dropped == 0)
        return;
    STAT_ADD(t, dropped_overload, dropped);
    gint64 now = g_get_monotonic_time();
    if (now - t->overload_logged_us >= TRANSPORT_OVERLOAD_LOG_US) {
        t->overload_logged_us = now;
        GST_WARNING("transport %p: worker %u overloaded, %" G_GUINT64_FORMAT
                    " datagrams dropped so far",
                    (void *)t, kumis_worker_get_index(t->worker), t->stats.dropped_overload);
    }
}

/* libnice's receive callback, called for each datagram until the socket is empty. Handled at
 * once while the loop is within its slice and nothing waits before it, else queued. */
static void transport_on_recv(NiceAgent *agent, guint stream_id, guint component_id, guint len,
                              gchar *buf, gpointer user_data)
{
    (void)agent;
    (void)stream_id;
    (void)component_id;
    struct kumis_transport *t = user_data;
    STAT_ADD(t, packets_in, 1);
    STAT_ADD(t, bytes_in, len);
    if (len == 0 || t->agent == NULL) {
        STAT_ADD(t, dropped_unknown, 1);
        return;
    }
    if (kumis_rx_backlog_must_wait(t->rx_backlog))
        transport_backlog_push(t, (const guint8 *)buf, len);
    else
        transport_on_datagram(t, (guint8 *)buf, len);
}

static void transport_consent_watch_stop(struct kumis_transport *t)
{
    if (t->consent_watch == NULL)
        return;
    g_source_destroy(t->consent_watch);
    g_clear_pointer(&t->consent_watch, g_source_unref);
}

static gboolean transport_on_consent_watch(gpointer data)
{
    struct kumis_transport *t = data;
    gint64 silent = g_get_monotonic_time() - t->last_auth_rx_us;
    if (silent < TRANSPORT_CONSENT_TIMEOUT_US)
        return G_SOURCE_CONTINUE;
    GST_WARNING("transport %p: nothing from the peer for %.1f s: consent expired (RFC 7675)",
                (void *)t, silent / 1e6);
    g_clear_pointer(&t->consent_watch, g_source_unref);
    transport_set_state(t, KUMIS_TRANSPORT_FAILED);
    return G_SOURCE_REMOVE;
}

/* libnice reported FAILED: fatal before READY; on a READY transport, see
 * TRANSPORT_CONSENT_TIMEOUT_US. */
static void transport_on_ice_failed(struct kumis_transport *t)
{
    if (g_atomic_int_get(&t->state) != KUMIS_TRANSPORT_READY || !t->target.set) {
        transport_set_state(t, KUMIS_TRANSPORT_FAILED);
        return;
    }
    if (t->consent_watch != NULL)
        return;
    if (g_get_monotonic_time() - t->last_auth_rx_us >= TRANSPORT_CONSENT_TIMEOUT_US) {
        transport_set_state(t, KUMIS_TRANSPORT_FAILED);
        return;
    }
    GST_INFO("transport %p: libnice lost consent; the peer's own packets decide now", (void *)t);
    t->consent_watch = g_timeout_source_new_seconds(1);
    g_source_set_callback(t->consent_watch, transport_on_consent_watch, t, NULL);
    g_source_attach(t->consent_watch, kumis_worker_get_context(t->worker));
}

static void transport_on_component_state(NiceAgent *agent, guint stream_id, guint component_id,
                                         guint state, gpointer user_data)
{
    (void)agent;
    (void)stream_id;
    (void)component_id;
    struct kumis_transport *t = user_data;
    GST_DEBUG("transport %p: ICE component %s", (void *)t, nice_component_state_to_string(state));
    switch (state) {
    case NICE_COMPONENT_STATE_CONNECTING:
        transport_advance(t, KUMIS_TRANSPORT_CHECKING);
        break;
    case NICE_COMPONENT_STATE_CONNECTED:
    case NICE_COMPONENT_STATE_READY:
        transport_consent_watch_stop(t);
        if (t->ice_connected)
            break;
        t->ice_connected = TRUE;
        transport_advance(t, KUMIS_TRANSPORT_CONNECTED);
        transport_dtls_pending_flush(t);
        kumis_dtls_start(t->dtls);
        transport_update_progress(t);
        break;
    case NICE_COMPONENT_STATE_FAILED:
        /* All pairs failed after end-of-candidates, or consent expired (RFC 7675 §5.1; libnice
         * 0.1.21: no answer processed for 10 s). */
        transport_on_ice_failed(t);
        break;
    default:
        break;
    }
}

static void transport_on_new_candidate(NiceAgent *agent, NiceCandidate *candidate,
                                       gpointer user_data)
{
    struct kumis_transport *t = user_data;
    g_autofree char *sdp = nice_agent_generate_local_candidate_sdp(agent, candidate);
    if (sdp == NULL)
        return;
    struct transport_event *ev = g_new0(struct transport_event, 1);
    ev->kind = TRANSPORT_EVENT_CANDIDATE;
    /* libnice writes "a=candidate:..."; signaling wants the attribute value. */
    ev->candidate = g_strdup(g_str_has_prefix(sdp, "a=") ? sdp + 2 : sdp);
    transport_event_post(t, ev);
}

static void transport_on_gathering_done(NiceAgent *agent, guint stream_id, gpointer user_data)
{
    (void)agent;
    (void)stream_id;
    struct kumis_transport *t = user_data;
    struct transport_event *ev = g_new0(struct transport_event, 1);
    ev->kind = TRANSPORT_EVENT_CANDIDATE;
    transport_event_post(t, ev);
}

/* --- jobs posted to the worker ----------------------------------------------------------- */

/* A video keyframe arrives as a burst of 50-100 packets per publisher, and a worker may be
 * busy with other transports for a while: the default ~200 KB receive buffer (about 90 such
 * packets) overflows. Ask for more; the kernel caps it at net.core.rmem_max. */
#define TRANSPORT_SOCKET_BUFFER (1024 * 1024)

static void transport_sockets_tune(struct kumis_transport *t)
{
    GPtrArray *sockets = nice_agent_get_sockets(t->agent, t->stream_id, TRANSPORT_COMPONENT);
    for (guint i = 0; sockets && i < sockets->len; i++) {
        GSocket *socket = g_ptr_array_index(sockets, i);
        g_socket_set_option(socket, SOL_SOCKET, SO_RCVBUF, TRANSPORT_SOCKET_BUFFER, NULL);
        g_socket_set_option(socket, SOL_SOCKET, SO_SNDBUF, TRANSPORT_SOCKET_BUFFER, NULL);
    }
    if (sockets)
        g_ptr_array_unref(sockets);
}

static gboolean transport_job_gather(gpointer data)
{
    struct kumis_transport *t = data;
    if (t->agent == NULL)
        return G_SOURCE_REMOVE;
    t->rx_watch = kumis_poller_add(kumis_worker_get_poller(t->worker), t->rx_context);
    if (!nice_agent_gather_candidates(t->agent, t->stream_id)) {
        GST_WARNING("transport %p: gathering failed (no usable address or port)", (void *)t);
        transport_set_state(t, KUMIS_TRANSPORT_FAILED);
        return G_SOURCE_REMOVE;
    }
    transport_sockets_tune(t);
    kumis_poller_refresh(t->rx_watch); /* the socket and libnice's first timers */
    return G_SOURCE_REMOVE;
}

static void transport_log_stats(struct kumis_transport *t)
{
    const struct kumis_transport_stats *st = &t->stats;
    GST_INFO("transport %p: closing; in %" G_GUINT64_FORMAT " (rtp %" G_GUINT64_FORMAT
             ", rtcp %" G_GUINT64_FORMAT ", dtls %" G_GUINT64_FORMAT "), out %" G_GUINT64_FORMAT
             " (rtp %" G_GUINT64_FORMAT ", rtcp %" G_GUINT64_FORMAT ")",
             (void *)t, st->packets_in, st->rtp_in, st->rtcp_in, st->dtls_in, st->packets_out,
             st->rtp_out, st->rtcp_out);
    GST_INFO("transport %p: dropped: unknown %" G_GUINT64_FORMAT ", dtls %" G_GUINT64_FORMAT
             ", not ready %" G_GUINT64_FORMAT ", srtp %" G_GUINT64_FORMAT
             ", short %" G_GUINT64_FORMAT ", overload %" G_GUINT64_FORMAT
             "; send not ready %" G_GUINT64_FORMAT ", send failed %" G_GUINT64_FORMAT,
             (void *)t, st->dropped_unknown, st->dropped_dtls, st->dropped_not_ready,
             st->dropped_srtp, st->dropped_short, st->dropped_overload, st->send_not_ready,
             st->send_failed);
}

/* Worker thread: releases the agent, DTLS and SRTP; the memory goes with the last reference. */
static gboolean transport_job_teardown(gpointer data)
{
    struct kumis_transport *t = data;
    if (t->agent == NULL)
        return G_SOURCE_REMOVE;
    transport_deadline_stop(t);
    transport_consent_watch_stop(t);
    g_clear_pointer(&t->rx_backlog, kumis_rx_backlog_free);
    transport_log_stats(t);
    /* What is queued goes out before the close_notify and before libnice closes the socket. */
    kumis_sender_target_clear(kumis_worker_get_sender(t->worker), &t->target);
    g_clear_object(&t->selected_socket);
    kumis_dtls_close(t->dtls); /* close_notify goes out through the agent, so first */
    nice_agent_attach_recv(t->agent, t->stream_id, TRANSPORT_COMPONENT, t->rx_context, NULL, NULL);
    g_clear_pointer(&t->rx_watch, kumis_poller_remove); /* before libnice closes the socket */
    g_signal_handlers_disconnect_by_data(t->agent, t);
    nice_agent_remove_stream(t->agent, t->stream_id);
    g_clear_object(&t->agent);
    g_clear_pointer(&t->dtls, kumis_dtls_free);
    g_ptr_array_set_size(t->dtls_pending, 0);
    g_clear_pointer(&t->srtp, kumis_srtp_session_free);
    transport_set_state(t, KUMIS_TRANSPORT_CLOSED);
    kumis_worker_load_add(t->worker, -1);
    kumis_transport_unref(t); /* the reference the transport held on itself while open */
    return G_SOURCE_REMOVE;
}

static void transport_post(struct kumis_transport *t, GSourceFunc func, gpointer data,
                           GDestroyNotify notify)
{
    kumis_worker_post(t->worker, func, data, notify);
}

/* --- public API ------------------------------------------------------------------------- */

static NiceAgent *transport_agent_new(struct kumis_transport *t,
                                      const struct kumis_transport_config *config, GError **error)
{
    /* The agent's socket and timers live in the transport's own context (media/poller.h). */
    NiceAgent *agent =
        nice_agent_new_full(t->rx_context, NICE_COMPATIBILITY_RFC5245,
                            NICE_AGENT_OPTION_ICE_TRICKLE | NICE_AGENT_OPTION_CONSENT_FRESHNESS);
    /* UPnP would start discovery on every interface (TESTING.md); TCP candidates are not
     * offered by us: browsers reach us over UDP. */
    g_object_set(agent, "upnp", FALSE, "ice-tcp", FALSE, "ice-udp", TRUE, "controlling-mode",
                 config->ice_controlling, NULL);
    for (const char *const *a = config->local_addresses; a && *a; a++) {
        NiceAddress address;
        nice_address_init(&address);
        if (!nice_address_set_from_string(&address, *a) ||
            !nice_agent_add_local_address(agent, &address)) {
            g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                        "media address \"%s\" is not an IP address", *a);
            g_object_unref(agent);
            return NULL;
        }
    }
    t->stream_id = nice_agent_add_stream(agent, 1);
    if (t->stream_id == 0) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "libnice refused a new stream");
        g_object_unref(agent);
        return NULL;
    }
    if (config->port_min != 0 || config->port_max != 0)
        nice_agent_set_port_range(agent, t->stream_id, TRANSPORT_COMPONENT, config->port_min,
                                  config->port_max);
    nice_agent_get_local_credentials(agent, t->stream_id, &t->local_ufrag, &t->local_pwd);
    return agent;
}

static void transport_debug_init(void)
{
    static gsize done = 0;
    if (g_once_init_enter(&done)) {
        GST_DEBUG_CATEGORY_INIT(kumis_transport_debug, "kumis-transport", 0,
                                "kumis ICE/DTLS/SRTP transport");
        g_once_init_leave(&done, 1);
    }
}

struct kumis_transport *kumis_transport_new(const struct kumis_transport_config *config,
                                            const struct kumis_transport_listener *listener,
                                            void *user_data, GError **error)
{
    g_return_val_if_fail(config->worker && config->cert && listener, NULL);
    transport_debug_init();
    struct kumis_transport *t = g_new0(struct kumis_transport, 1);
    g_atomic_ref_count_init(&t->refs);
    t->worker = config->worker;
    t->cert = kumis_cert_ref(config->cert);
    t->listener = listener;
    t->user_data = user_data;
    t->rx_context = g_main_context_new();
    t->dtls_pending = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
    t->agent = transport_agent_new(t, config, error);
    if (t->agent)
        t->dtls = kumis_dtls_new(config->cert, config->dtls_role,
                                 kumis_worker_get_context(config->worker),
                                 &transport_dtls_callbacks, t, error);
    if (t->dtls == NULL) {
        g_clear_object(&t->agent);
        kumis_transport_unref(t);
        return NULL;
    }
    t->parse_agent = g_object_ref(t->agent);
    g_signal_connect(t->agent, "component-state-changed", G_CALLBACK(transport_on_component_state),
                     t);
    g_signal_connect(t->agent, "new-candidate-full", G_CALLBACK(transport_on_new_candidate), t);
    g_signal_connect(t->agent, "new-selected-pair-full", G_CALLBACK(transport_on_selected_pair), t);
    g_signal_connect(t->agent, "candidate-gathering-done", G_CALLBACK(transport_on_gathering_done),
                     t);
    nice_agent_attach_recv(t->agent, t->stream_id, TRANSPORT_COMPONENT, t->rx_context,
                           transport_on_recv, t);
    kumis_worker_load_add(t->worker, 1);
    kumis_transport_ref(t); /* held by the transport itself until its teardown */
    transport_post(t, transport_job_gather, kumis_transport_ref(t),
                   (GDestroyNotify)kumis_transport_unref);
    return t;
}

struct kumis_transport *kumis_transport_ref(struct kumis_transport *transport)
{
    g_atomic_ref_count_inc(&transport->refs);
    return transport;
}

void kumis_transport_unref(struct kumis_transport *transport)
{
    if (transport == NULL || !g_atomic_ref_count_dec(&transport->refs))
        return;
    /* The self reference is only dropped by the teardown, so the agent is gone here. */
    g_assert(transport->agent == NULL);
    kumis_dtls_free(transport->dtls); /* only set when kumis_transport_new failed late */
    g_clear_object(&transport->parse_agent);
    g_clear_pointer(&transport->rx_context, g_main_context_unref);
    g_ptr_array_unref(transport->dtls_pending);
    kumis_cert_unref(transport->cert);
    g_free(transport->local_ufrag);
    g_free(transport->local_pwd);
    g_free(transport);
}

void kumis_transport_close(struct kumis_transport *transport)
{
    if (!g_atomic_int_compare_and_exchange(&transport->close_requested, 0, 1))
        return;
    transport_post(transport, transport_job_teardown, transport, NULL);
}

const char *kumis_transport_get_local_ufrag(const struct kumis_transport *transport)
{
    return transport->local_ufrag;
}

const char *kumis_transport_get_local_pwd(const struct kumis_transport *transport)
{
    return transport->local_pwd;
}

const char *kumis_transport_get_local_fingerprint(const struct kumis_transport *transport)
{
    return kumis_cert_get_fingerprint(transport->cert);
}

struct transport_job {
    struct kumis_transport *transport; /* a reference */
    char *a, *b;
    NiceCandidate *candidate;
};

static struct transport_job *transport_job_new(struct kumis_transport *t, const char *a,
                                               const char *b)
{
    struct transport_job *job = g_new0(struct transport_job, 1);
    job->transport = kumis_transport_ref(t);
    job->a = g_strdup(a);
    job->b = g_strdup(b);
    return job;
}

static void transport_job_free(gpointer data)
{
    struct transport_job *job = data;
    kumis_transport_unref(job->transport);
    g_free(job->a);
    g_free(job->b);
    if (job->candidate)
        nice_candidate_free(job->candidate);
    g_free(job);
}

static gboolean transport_job_credentials(gpointer data)
{
    struct transport_job *job = data;
    struct kumis_transport *t = job->transport;
    if (t->agent)
        nice_agent_set_remote_credentials(t->agent, t->stream_id, job->a, job->b);
    kumis_poller_refresh(t->rx_watch); /* libnice may have started its checks' timer */
    return G_SOURCE_REMOVE;
}

void kumis_transport_set_remote_credentials(struct kumis_transport *transport, const char *ufrag,
                                            const char *pwd)
{
    transport_post(transport, transport_job_credentials, transport_job_new(transport, ufrag, pwd),
                   transport_job_free);
}

static gboolean transport_job_candidate(gpointer data)
{
    struct transport_job *job = data;
    struct kumis_transport *t = job->transport;
    if (t->agent == NULL)
        return G_SOURCE_REMOVE;
    GSList list = {.data = job->candidate, .next = NULL};
    if (nice_agent_set_remote_candidates(t->agent, t->stream_id, TRANSPORT_COMPONENT, &list) < 1)
        GST_DEBUG("transport %p: remote candidate not added", (void *)t);
    kumis_poller_refresh(t->rx_watch);
    return G_SOURCE_REMOVE;
}

static gboolean transport_number_check(const char *text, guint64 min, guint64 max)
{
    guint64 value;
    return g_ascii_string_to_unsigned(text, 10, min, max, &value, NULL);
}

/* RFC 8839 §5.1: "candidate:" foundation component transport priority address port "typ" type.
 * libnice's parser is lenient (it takes "x" as priority 0 and port 99999), so the numbers are
 * checked here; only component 1 exists with rtcp-mux. */
static gboolean transport_candidate_check(const char *line)
{
    g_auto(GStrv) f = g_strsplit(line, " ", 9);
    return g_strv_length(f) >= 8 && strlen(f[0]) > strlen("a=candidate:") &&
           strcmp(f[1], "1") == 0 &&
           (g_ascii_strcasecmp(f[2], "UDP") == 0 || g_ascii_strcasecmp(f[2], "TCP") == 0) &&
           transport_number_check(f[3], 0, G_MAXUINT32) && transport_number_check(f[5], 1, 65535) &&
           strcmp(f[6], "typ") == 0;
}

gboolean kumis_transport_add_remote_candidate(struct kumis_transport *transport,
                                              const char *candidate, GError **error)
{
    g_autofree char *line = g_str_has_prefix(candidate, "a=") ? g_strdup(candidate)
                                                              : g_strconcat("a=", candidate, NULL);
    /* libnice's parser only reads the text and the agent's fixed compatibility mode. */
    NiceCandidate *c = NULL;
    if (transport_candidate_check(line) && !g_atomic_int_get(&transport->close_requested))
        c = nice_agent_parse_remote_candidate_sdp(transport->parse_agent, transport->stream_id,
                                                  line);
    if (c == NULL || c->component_id != TRANSPORT_COMPONENT) {
        if (c)
            nice_candidate_free(c);
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                    "not a usable ICE candidate (component 1, UDP or TCP)");
        return FALSE;
    }
    struct transport_job *job = transport_job_new(transport, NULL, NULL);
    job->candidate = c;
    transport_post(transport, transport_job_candidate, job, transport_job_free);
    return TRUE;
}

static gboolean transport_job_end_of_candidates(gpointer data)
{
    struct transport_job *job = data;
    struct kumis_transport *t = job->transport;
    if (t->agent)
        nice_agent_peer_candidate_gathering_done(t->agent, t->stream_id);
    kumis_poller_refresh(t->rx_watch);
    return G_SOURCE_REMOVE;
}

void kumis_transport_end_of_candidates(struct kumis_transport *transport)
{
    transport_post(transport, transport_job_end_of_candidates,
                   transport_job_new(transport, NULL, NULL), transport_job_free);
}

static gboolean transport_job_fingerprint(gpointer data)
{
    struct transport_job *job = data;
    struct kumis_transport *t = job->transport;
    if (t->dtls && t->agent)
        kumis_dtls_set_remote_fingerprint(t->dtls, job->a, job->b, NULL); /* checked before */
    return G_SOURCE_REMOVE;
}

gboolean kumis_transport_set_remote_fingerprint(struct kumis_transport *transport,
                                                const char *hash_function, const char *fingerprint,
                                                GError **error)
{
    if (!kumis_dtls_fingerprint_check(hash_function, fingerprint, error))
        return FALSE;
    transport_post(transport, transport_job_fingerprint,
                   transport_job_new(transport, hash_function, fingerprint), transport_job_free);
    return TRUE;
}

enum kumis_transport_state kumis_transport_get_state(const struct kumis_transport *transport)
{
    return g_atomic_int_get(&transport->state);
}

void kumis_transport_get_stats(const struct kumis_transport *transport,
                               struct kumis_transport_stats *stats)
{
    const struct kumis_transport_stats *s = &transport->stats;
#define LOAD(field) stats->field = __atomic_load_n(&s->field, __ATOMIC_RELAXED)
    LOAD(packets_in);
    LOAD(bytes_in);
    LOAD(packets_out);
    LOAD(bytes_out);
    LOAD(rtp_in);
    LOAD(rtcp_in);
    LOAD(rtp_out);
    LOAD(rtcp_out);
    LOAD(dtls_in);
    LOAD(dropped_unknown);
    LOAD(dropped_dtls);
    LOAD(dropped_not_ready);
    LOAD(dropped_srtp);
    LOAD(dropped_short);
    LOAD(dropped_overload);
    LOAD(send_not_ready);
    LOAD(send_failed);
    stats->send_failed += __atomic_load_n(&transport->target.dropped, __ATOMIC_RELAXED);
    LOAD(profile);
#undef LOAD
}

struct kumis_worker *kumis_transport_get_worker(const struct kumis_transport *transport)
{
    return transport->worker;
}

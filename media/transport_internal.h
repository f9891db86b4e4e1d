/* kumis — the transport's object, shared by transport.c (ICE, DTLS, the state machine, what
 * comes in) and transport_send.c (the packet path out); not part of the module's API (use
 * transport.h). Which thread owns which field is noted beside it. */
#pragma once

#include <gio/gio.h>
#include <nice/agent.h>

#include "media/sender.h"
#include "media/transport.h"

/* BUNDLE + rtcp-mux: everything rides on component 1 of one stream (RFC 8843, RFC 5761). */
#define TRANSPORT_COMPONENT 1

struct kumis_transport {
    gatomicrefcount refs;
    struct kumis_worker *worker;
    struct kumis_cert *cert;
    const struct kumis_transport_listener *listener;
    void *user_data;
    char *local_ufrag;
    char *local_pwd;
    /* The same agent, referenced until the final free, so candidate parsing on the control
     * thread never races the teardown; used for nothing else. */
    NiceAgent *parse_agent;

    /* The agent's context (its socket's source and its timers): iterated by the worker's poller
     * when the socket is readable or a timer is due (media/poller.h), never walked with the
     * worker's other sources. */
    GMainContext *rx_context;

    /* Worker thread only (after kumis_transport_new returned). */
    struct kumis_poller_watch *rx_watch;
    NiceAgent *agent; /* NULL once torn down */
    guint stream_id;
    struct kumis_dtls *dtls;
    struct kumis_srtp_session *srtp; /* NULL until DTLS gave keys */
    gboolean ice_connected;
    GSource *dtls_deadline; /* armed while in DTLS */
    /* Our DTLS datagrams libnice refused before it selected a pair (GBytes), sent when ICE
     * connects: a ClientHello can beat the nomination, and the client would otherwise wait
     * for its retransmission timer (100 ms to 1 s) to try again. */
    GPtrArray *dtls_pending;
    /* The selected pair's socket and peer address while READY: SRTP and SRTCP go out through
     * the worker's batched sender (media/sender.h) instead of one nice_agent_send each. Unset
     * (libnice sends) before READY, for pairs we cannot address directly, and after the end. */
    GSocket *selected_socket;
    struct kumis_send_target target;
    /* Datagrams received once the worker's loop had been busy for a slice (media/rx_backlog.h),
     * made on first use. */
    struct kumis_rx_backlog *rx_backlog;
    gint64 overload_logged_us; /* when the last "overloaded" warning went out */
    gint64 last_auth_rx_us;    /* the peer's last authenticated SRTP/SRTCP or DTLS datagram */
    GSource *consent_watch;    /* armed once libnice gave up on a READY transport */

    gint state;           /* enum kumis_transport_state, atomic: written by the worker */
    gint close_requested; /* atomic flag: the teardown is queued */
    struct kumis_transport_stats stats; /* single writer: the worker (relaxed atomics) */
};

/* One writer (the worker), readers anywhere: relaxed atomic stores keep each counter whole. */
#define STAT_ADD(t, field, n)                                                                      \
    __atomic_store_n(&(t)->stats.field, (t)->stats.field + (n), __ATOMIC_RELAXED)

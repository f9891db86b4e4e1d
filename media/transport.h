/* kumis — one WebRTC transport of a participant (DESIGN §1–4): a libnice agent with one stream
 * and one component (BUNDLE + rtcp-mux, RFC 8843 / RFC 5761), full ICE (RFC 8445) with trickle
 * (RFC 8838) and consent freshness (RFC 7675), DTLS-SRTP (RFC 5764) and libsrtp2. It lives on
 * one media worker; its packets never leave that worker's thread. */
#pragma once

#include <glib.h>

#include "media/cert.h"
#include "media/dtls.h"
#include "media/sender.h"
#include "media/srtp_session.h"
#include "media/worker.h"

/* The transport's life (one transition function logs every "from -> to"). ICE states follow
 * RFC 8445 §6.1.3 as libnice reports them; DTLS follows RFC 6347. */
enum kumis_transport_state {
    KUMIS_TRANSPORT_NEW,       /* gathering; no connectivity checks yet */
    KUMIS_TRANSPORT_CHECKING,  /* ICE connectivity checks running */
    KUMIS_TRANSPORT_CONNECTED, /* ICE found a working pair */
    KUMIS_TRANSPORT_DTLS,      /* DTLS handshake in progress */
    KUMIS_TRANSPORT_READY,     /* SRTP keys in place: media flows */
    KUMIS_TRANSPORT_FAILED,    /* ICE failed, consent lost (RFC 7675 §5.1) or DTLS failed */
    KUMIS_TRANSPORT_CLOSED,    /* closed by us or by the peer's close_notify; final */
};

struct kumis_transport;

struct kumis_transport_config {
    struct kumis_worker *worker;        /* where the transport lives (see pool_pick) */
    struct kumis_cert *cert;            /* our DTLS certificate (a reference is taken) */
    const char *const *local_addresses; /* NULL-terminated IP addresses to gather on */
    guint16 port_min, port_max;         /* UDP port range; 0, 0 for any */
    gboolean ice_controlling;           /* FALSE towards browsers (they control) */
    enum kumis_dtls_role dtls_role;     /* KUMIS_DTLS_ROLE_SERVER towards browsers */
};

/* What the transport tells its owner. on_rtp/on_rtcp run on the worker thread (the packet path);
 * on_state/on_local_candidate run on the control context, as queued events, in order. */
struct kumis_transport_listener {
    /* A plaintext RTP packet (already SRTP-authenticated). @packet (transfer none) is the
     * transport's receive buffer, valid during the call; it may be modified in place. */
    void (*on_rtp)(struct kumis_transport *transport, guint8 *packet, gsize len, void *user_data);
    /* A plaintext RTCP compound packet, as on_rtp. */
    void (*on_rtcp)(struct kumis_transport *transport, guint8 *packet, gsize len, void *user_data);
    /* The state changed from @from to @to. CLOSED is the last event of a transport. */
    void (*on_state)(struct kumis_transport *transport, enum kumis_transport_state from,
                     enum kumis_transport_state to, void *user_data);
    /* A local candidate as an SDP attribute value ("candidate:1 1 UDP ..."), to trickle; NULL
     * means end-of-candidates (RFC 8838 §8.2). */
    void (*on_local_candidate)(struct kumis_transport *transport, const char *candidate,
                               void *user_data);
};

/* Counters, written by the worker and readable from any thread (kumis_transport_get_stats). */
struct kumis_transport_stats {
    guint64 packets_in, bytes_in;   /* every datagram libnice handed us (after STUN) */
    guint64 packets_out, bytes_out; /* datagrams sent: SRTP, SRTCP and DTLS */
    guint64 rtp_in, rtcp_in, rtp_out, rtcp_out;
    guint64 dtls_in;
    guint64 dropped_unknown;         /* first byte in no RFC 7983 range we take */
    guint64 dropped_dtls;            /* malformed DTLS, or DTLS after the association ended */
    guint64 dropped_not_ready;       /* SRTP/SRTCP before the keys (or after close) */
    guint64 dropped_srtp;            /* SRTP/SRTCP authentication or replay failure */
    guint64 dropped_short;           /* too short to be RTP or RTCP */
    guint64 dropped_overload;        /* the worker was too busy: its receive backlog was full */
    guint64 send_not_ready;          /* send before READY or after the end: nothing sent */
    guint64 send_failed;             /* protect refused the packet, or libnice did not send */
    enum kumis_srtp_profile profile; /* negotiated SRTP profile once READY */
};

/* Makes a transport on @config->worker and starts gathering there; candidates arrive through
 * on_local_candidate. Fails (NULL, @error set) on an unparsable local address or when libnice
 * refuses the stream. @listener and @user_data must stay valid until on_state reported CLOSED.
 * Any thread. The worker's load grows by one until the transport is torn down.
 * Returns: (transfer full) a reference; the transport stays alive at least until it is
 * closed (kumis_transport_close) even when every reference is dropped. */
struct kumis_transport *kumis_transport_new(const struct kumis_transport_config *config,
                                            const struct kumis_transport_listener *listener,
                                            void *user_data, GError **error);

struct kumis_transport *kumis_transport_ref(struct kumis_transport *transport);

/* Drops a reference; the memory goes with the last one after the transport was closed. */
void kumis_transport_unref(struct kumis_transport *transport);

/* Closes the transport: sends DTLS close_notify when keys were agreed, stops ICE, releases
 * the agent on the worker and reports CLOSED through on_state. Idempotent; any thread, also
 * from within a listener callback (the work is queued to the worker). */
void kumis_transport_close(struct kumis_transport *transport);

/* Returns: (transfer none) our ICE ufrag / password for `a=ice-ufrag` / `a=ice-pwd`, fixed for
 * the transport's life. Any thread. */
const char *kumis_transport_get_local_ufrag(const struct kumis_transport *transport);
const char *kumis_transport_get_local_pwd(const struct kumis_transport *transport);

/* Returns: (transfer none) the "AB:CD:..." sha-256 fingerprint of our certificate. */
const char *kumis_transport_get_local_fingerprint(const struct kumis_transport *transport);

/* The peer's `a=ice-ufrag`/`a=ice-pwd` (copied). Connectivity checks start once these and a
 * candidate are known. Any thread. */
void kumis_transport_set_remote_credentials(struct kumis_transport *transport, const char *ufrag,
                                            const char *pwd);

/* Adds a remote candidate given as "candidate:..." (with or without "a="), trickled or from SDP.
 * Checked on the calling thread: FALSE with @error for a malformed candidate (nothing changes).
 * Candidates of other components than 1 (no rtcp-mux) are refused too. Any thread. */
gboolean kumis_transport_add_remote_candidate(struct kumis_transport *transport,
                                              const char *candidate, GError **error);

/* The peer signaled end-of-candidates: ICE may now conclude FAILED (RFC 8838 §8.2). */
void kumis_transport_end_of_candidates(struct kumis_transport *transport);

/* The peer's `a=fingerprint` (RFC 8122 §5; only sha-256). Checked on the calling thread: FALSE
 * with @error when malformed or another hash; a certificate that does not match fails the
 * transport later. Any thread. */
gboolean kumis_transport_set_remote_fingerprint(struct kumis_transport *transport,
                                                const char *hash_function, const char *fingerprint,
                                                GError **error);

/* Protects the plaintext RTP packet in @buf (@len bytes, @capacity bytes of room, which must
 * leave KUMIS_SRTP_MAX_OVERHEAD) in place and sends it on the selected pair. Worker thread
 * only (the transport's worker). Returns: FALSE when not READY (counted in send_not_ready,
 * @buf untouched), or when the packet is malformed, too big for @capacity or the send fails
 * (counted in send_failed; @buf is then unspecified). */
gboolean kumis_transport_send_rtp(struct kumis_transport *transport, guint8 *buf, gsize len,
                                  gsize capacity);

/* As kumis_transport_send_rtp(), but the packet may wait a few milliseconds (media/sender.h)
 * to leave in one system call with the rest of its burst to this peer: pass @end_of_burst for
 * the last packet of a video frame (RTP marker). RTCP and retransmissions go at once. A
 * datagram the kernel refuses when the burst leaves counts in send_failed. */
gboolean kumis_transport_queue_rtp(struct kumis_transport *transport, guint8 *buf, gsize len,
                                   gsize capacity, gboolean end_of_burst);

/* Bytes of a reserved slot: the packet and KUMIS_SRTP_MAX_OVERHEAD for SRTP. */
#define KUMIS_TRANSPORT_SLOT_SIZE KUMIS_SENDER_MAX_DATAGRAM

/* The same without a copy: a slot of the worker's send queue (KUMIS_TRANSPORT_SLOT_SIZE bytes)
 * to build the plaintext packet in, or NULL when the transport cannot queue now (not READY, or
 * sending through libnice: use kumis_transport_queue_rtp()). Give it to
 * kumis_transport_commit_rtp() or kumis_transport_cancel_rtp() before anything else is sent
 * on the worker. */
guint8 *kumis_transport_reserve_rtp(struct kumis_transport *transport);

/* Protects the packet built in the reserved @slot (@len bytes) in place and queues it as
 * kumis_transport_queue_rtp() would. Returns: FALSE (the slot given back, counted in
 * send_failed) when protecting fails. */
gboolean kumis_transport_commit_rtp(struct kumis_transport *transport, guint8 *slot, gsize len,
                                    gboolean end_of_burst);

/* Gives the reserved slot back unsent. */
void kumis_transport_cancel_rtp(struct kumis_transport *transport);

/* Asks the processor for @transport's state a packet's send reads (a hint; no effect on
 * behaviour): the router calls it for the next subscriber of a loop, whose state was pushed
 * out of the caches by everyone else's since its last packet. Any thread. */
void kumis_transport_prefetch(const struct kumis_transport *transport);

/* The same for its SRTP session (@level 0), once kumis_transport_prefetch() fetched the
 * transport; then for the session's keys and per-SSRC table (1), once level 0 fetched the
 * session; then for the cipher context and SSRC states behind them (2). */
void kumis_transport_prefetch_srtp(const struct kumis_transport *transport, guint level);

/* TRUE when a burst that ends here costs no system call of its own: the worker's sender hands
 * every peer flushed in a main-loop iteration to the kernel in one (io_uring). FALSE with
 * sendmmsg, where each flush is a call. Worker thread. */
gboolean kumis_transport_flush_is_batched(struct kumis_transport *transport);

/* Sends now what kumis_transport_queue_rtp() and kumis_transport_commit_rtp() queued for this
 * peer (the burst ended without a marker, e.g. its last packet was lost upstream). */
void kumis_transport_flush_rtp(struct kumis_transport *transport);

/* As kumis_transport_send_rtp() for an RTCP compound packet. */
gboolean kumis_transport_send_rtcp(struct kumis_transport *transport, guint8 *buf, gsize len,
                                   gsize capacity);

/* Returns: the current state (any thread; the worker may move on right after). */
enum kumis_transport_state kumis_transport_get_state(const struct kumis_transport *transport);

/* Copies the counters (any thread; each counter is read atomically, not the set as a whole). */
void kumis_transport_get_stats(const struct kumis_transport *transport,
                               struct kumis_transport_stats *stats);

/* Returns: (transfer none) the worker the transport lives on. */
struct kumis_worker *kumis_transport_get_worker(const struct kumis_transport *transport);

const char *kumis_transport_state_name(enum kumis_transport_state state);

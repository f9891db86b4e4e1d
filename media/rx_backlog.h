/* kumis — received datagrams that wait because their worker is busy (DESIGN §3).
 *
 * libnice's receive callback (nice_agent_attach_recv) reads a socket until it is empty, all in
 * one dispatch: a publisher's datagram costs a fan-out to every subscriber on the worker, so
 * when the worker gets less CPU than that takes, the socket never empties and the dispatch
 * never ends. Nothing else on the worker ran then, for 3 to 17 s at N = 400-450 on a saturated
 * 2-core machine: not libnice's consent checks (RFC 7675; libnice 0.1.21 sends one every
 * 4-6 s without retransmission and fails the component 10 s after the last answer it
 * processed), not the other sockets with their answers, so every transport of the worker
 * failed at once. Past a slice of KUMIS_RX_SLICE_US, datagrams wait here instead (a copy),
 * libnice empties the socket at once, and the backlog is worked off one slice per dispatch. */
#pragma once

#include <glib.h>

/* How long the worker may spend on received datagrams before its loop must turn again. */
#define KUMIS_RX_SLICE_US 10000
/* At most this many datagrams wait (about 1 s of a 1.7 Mbit/s publisher); past it the worker
 * is overloaded for good and datagrams are dropped: media degrades, ICE, DTLS and consent go
 * on. What goes first is video: a datagram up to KUMIS_RX_SMALL_BYTES (an Opus packet, RTCP, a
 * DTLS record; VP8 packets are ~1 200 bytes) takes the place of the oldest bigger one waiting,
 * so that in a forum where the CPU runs out people still hear the speaker. */
#define KUMIS_RX_BACKLOG_MAX 256
#define KUMIS_RX_SMALL_BYTES 400

struct kumis_rx_backlog;

/* Handles one datagram taken from the backlog; @data (transfer none) may be modified. */
typedef void (*kumis_rx_handler)(guint8 *data, gsize len, void *user_data);

/* Makes an empty backlog whose datagrams go to @handler on @context (the worker's), one slice
 * per dispatch, in order. Worker thread only from then on.
 * Returns: (transfer full) free with kumis_rx_backlog_free(). */
struct kumis_rx_backlog *kumis_rx_backlog_new(GMainContext *context, kumis_rx_handler handler,
                                              void *user_data);

/* Drops what still waits and detaches the backlog's source. NULL is ignored. */
void kumis_rx_backlog_free(struct kumis_rx_backlog *backlog);

/* Returns: TRUE when a datagram received now must wait: something already waits in @backlog
 * (NULL: nothing), or the dispatch under way has held the loop for a slice or more. */
gboolean kumis_rx_backlog_must_wait(const struct kumis_rx_backlog *backlog);

/* Copies @len bytes of @data to the end of the backlog. When it is full (KUMIS_RX_BACKLOG_MAX),
 * a small datagram evicts the oldest big one instead (see above).
 * Returns: the number of datagrams dropped (0 or 1; the caller counts them): the new one when
 * nothing could make room for it, or the evicted one. */
guint kumis_rx_backlog_push(struct kumis_rx_backlog *backlog, const guint8 *data, gsize len);

/* Returns: the number of datagrams waiting. */
guint kumis_rx_backlog_length(const struct kumis_rx_backlog *backlog);

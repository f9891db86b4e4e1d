/* kumis — batched UDP sending for one media worker (DESIGN §3).
 *
 * Why: one sendmsg per forwarded packet per subscriber was a third of kumisd's CPU at 100
 * subscribers (syscall, UDP and loopback stack, receiver wake-up once per packet). Packets to
 * one peer therefore wait in a queue until a video frame is complete (the caller flushes the
 * peer after the packet with the marker bit: the receiver cannot decode the frame before it
 * anyway), or until KUMIS_SENDER_HOLD_US after the first of them was queued (audio between
 * frames; a keyframe paced over 100 ms leaves in bursts of that length, not all at once), or
 * until the slots are full. Then runs of equal-sized datagrams in the peer's queue (a frame's
 * packets) become one UDP GSO message (UDP_SEGMENT, Linux ≥ 4.18), which the kernel splits into
 * ordinary datagrams. Order per peer is kept. What must not wait (RTCP, retransmissions) goes at
 * once (kumis_sender_send).
 *
 * The messages of every peer flushed during one main-loop iteration (a video frame's burst to
 * all its subscribers) reach the kernel in one io_uring_enter(2) before the worker waits again:
 * a system call costs ~1 µs on this machine's virtualised kernel, and a sendmmsg per peer
 * (3.1 µs a peer for one audio datagram, 7.3 µs for a 6-packet frame, measured against 1.2 and
 * 4.0 µs through the ring) was most of what kumis itself spends in the kernel. Where io_uring is
 * missing or refused (kernel.io_uring_disabled, seccomp) or KUMIS_IO_URING=0 is set, each peer's
 * queue leaves at once in one sendmmsg. */
#pragma once

#include <glib.h>
#include <sys/socket.h>

/* The longest a queued datagram waits for the end of its burst. A WebRTC sender paces a frame
 * at 2.5 times the bitrate, so a 1.8 Mbit/s 30 fps frame arrives over ~13 ms and leaves here in
 * one or two bursts; audio waits at most this long, far below what a listener notices (ITU-T
 * G.114 budgets 150 ms one way) and what a jitter buffer holds anyway. */
#define KUMIS_SENDER_HOLD_US 10000

/* Largest datagram that can be queued; bigger ones are refused (the caller sends them itself). */
#define KUMIS_SENDER_MAX_DATAGRAM 1600

struct kumis_sender;

/* Where datagrams go: a UDP socket and the peer's address. Owned by the caller (a transport
 * embeds one), set with kumis_sender_target_set() and cleared with
 * kumis_sender_target_clear(); zero-initialised memory is a valid, unset target. The
 * `queue_*` fields belong to the sender. */
struct kumis_send_target {
    gboolean set; /* FALSE: nothing may be queued */
    int fd;
    struct sockaddr_storage addr;
    socklen_t addr_len;
    guint64 sent;    /* datagrams the kernel took (worker thread; atomic loads elsewhere) */
    guint64 dropped; /* datagrams the kernel refused (buffer full, error) */
    /* The sender's: this target's queued datagrams (first/last slot), when they must leave,
     * and its place in the list of targets with something queued (oldest first). */
    gint queue_head, queue_tail;
    guint ring_file; /* the sender's: its socket's index + 1 among the ring's files; 0: none */
    gboolean queued;
    gint64 deadline_us;
    struct kumis_send_target *prev_dirty, *next_dirty;
};

/* Makes a sender whose held datagrams leave, at their deadline, through a GSource on @context
 * (the worker's; priority G_PRIORITY_DEFAULT). @slots datagrams may wait at once (0: a default
 * of 1024, ~1.6 MB; at most 1024); when they are all in use, queueing flushes everything
 * first. Worker thread only from then on.
 * Returns: (transfer full) free with kumis_sender_free(). */
struct kumis_sender *kumis_sender_new(GMainContext *context, guint slots);

/* Sends what is queued, detaches the source and frees the sender. */
void kumis_sender_free(struct kumis_sender *sender);

/* Points @target at @fd and @addr (copied). Flushes what was queued for the old address first.
 * Fails (FALSE) for an address longer than sockaddr_storage. */
gboolean kumis_sender_target_set(struct kumis_sender *sender, struct kumis_send_target *target,
                                 int fd, const struct sockaddr *addr, socklen_t addr_len);

/* Sends what is queued for @target now and unsets it: call before its socket closes or the
 * memory of @target goes. Idempotent. */
void kumis_sender_target_clear(struct kumis_sender *sender, struct kumis_send_target *target);

/* Copies @len bytes of @data into the queue of @target (which must be set); it leaves with
 * the rest of the burst (see above). Returns: FALSE when @len is 0 or over
 * KUMIS_SENDER_MAX_DATAGRAM (nothing queued: send it yourself). */
gboolean kumis_sender_queue(struct kumis_sender *sender, struct kumis_send_target *target,
                            const guint8 *data, gsize len);

/* The same without the copy: hands out a free slot of KUMIS_SENDER_MAX_DATAGRAM bytes to
 * write a datagram into (the packet path builds and encrypts it there), which
 * kumis_sender_commit() appends to @target's queue or kumis_sender_cancel() gives back. One
 * slot at a time; nothing else may be queued in between. Returns: the slot, never NULL. */
guint8 *kumis_sender_reserve(struct kumis_sender *sender);

/* Queues the reserved slot's first @len bytes for @target (which must be set). Returns: FALSE,
 * the slot given back, when @len is 0 or over KUMIS_SENDER_MAX_DATAGRAM or @target is unset. */
gboolean kumis_sender_commit(struct kumis_sender *sender, struct kumis_send_target *target,
                             gsize len);

/* Gives the reserved slot back unsent. Does nothing when none is reserved. */
void kumis_sender_cancel(struct kumis_sender *sender);

/* Sends @target's queue: its burst is complete. Through io_uring it reaches the kernel with
 * every other queue flushed in the same main-loop iteration, at the latest when the sender's
 * source is next prepared (before the context waits) or at kumis_sender_submit(). */
void kumis_sender_flush_target(struct kumis_sender *sender, struct kumis_send_target *target);

/* Hands what kumis_sender_flush_target() prepared to the kernel now and takes the results (sent
 * and dropped counters, slots back). Nothing to do without io_uring. */
void kumis_sender_submit(struct kumis_sender *sender);

/* Sends @len bytes of @data to @target now, ahead of what is queued for it (a datagram of
 * another stream: order per stream is what matters). Returns: FALSE when the kernel refused it
 * (counted in the target's dropped). */
gboolean kumis_sender_send(struct kumis_sender *sender, struct kumis_send_target *target,
                           const guint8 *data, gsize len);

/* Sends everything queued, to every target, now (io_uring: submitted and completed). */
void kumis_sender_flush(struct kumis_sender *sender);

/* Counters since the sender was made (worker thread). */
struct kumis_sender_stats {
    guint64 datagrams;  /* queued and handed to the kernel */
    guint64 syscalls;   /* io_uring_enter/sendmmsg/sendmsg calls */
    guint64 gso_groups; /* messages carrying more than one datagram (UDP GSO) */
    guint64 dropped;    /* refused by the kernel */
    guint64 flushes;
    gboolean io_uring; /* sending through io_uring (else sendmmsg) */
    guint ring_files;  /* targets whose socket is registered with the ring */
};
/* TRUE when the sender goes through io_uring: what is flushed during a main-loop iteration
 * reaches the kernel in one call, so flushing a peer early costs no call of its own. */
gboolean kumis_sender_flush_is_batched(const struct kumis_sender *sender);

void kumis_sender_get_stats(const struct kumis_sender *sender, struct kumis_sender_stats *stats);

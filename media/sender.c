/* kumis — batched UDP sending for one media worker: UDP GSO for runs, io_uring (or sendmmsg
 * per peer) for the peers. */
#include "media/sender.h"

#include <errno.h>
#include <gst/gst.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <string.h>
#include <sys/resource.h>

GST_DEBUG_CATEGORY_STATIC(kumis_sender_debug);
#define GST_CAT_DEFAULT kumis_sender_debug

#define SENDER_DEFAULT_SLOTS 1024
/* Linux takes up to UDP_MAX_SEGMENTS (64 before 5.x, 128 since) segments and 64 KiB less the
 * IP and UDP headers per GSO message; stay under both everywhere. */
#define GSO_MAX_SEGMENTS 64
#define GSO_MAX_BYTES    60000
/* sendmmsg takes at most UIO_MAXIOV (1024) messages per call. */
#define MMSG_MAX 1024
/* Sockets registered with a worker's ring (a target each); more targets use plain fds. */
#define RING_FILES 4096

/* One writer (the worker), readers anywhere: relaxed atomic stores keep each counter whole. */
#define COUNT(field, n) __atomic_store_n(&(field), (field) + (n), __ATOMIC_RELAXED)

struct sender_cmsg {
    union {
        char buf[CMSG_SPACE(sizeof(guint16))];
        struct cmsghdr align;
    };
};

struct kumis_sender {
    GSource *source;
    guint n_slots;
    gint free_head;                        /* free slots, linked through next[] */
    gint reserved;                         /* the slot kumis_sender_reserve() handed out, or -1 */
    guint8 *data;                          /* n_slots × KUMIS_SENDER_MAX_DATAGRAM */
    guint16 *len;                          /* per slot */
    gint *next;                            /* per slot: the same target's next slot, or -1 */
    struct mmsghdr *msgs;                  /* per slot at most one message */
    struct iovec *iov;                     /* per slot one iovec */
    struct sender_cmsg *cmsg;              /* per message */
    struct kumis_send_target **msg_target; /* per message prepared for the ring: its target */
    struct kumis_send_target *dirty;       /* targets with something queued, oldest first... */
    struct kumis_send_target *dirty_tail;  /* ...and the newest */
    gboolean gso;                          /* FALSE once the kernel refused a GSO message */
    /* io_uring: flushed queues become one send operation per message, handed to the kernel
     * together before the worker waits again (kumis_sender_submit). Their slots stay out of the
     * free list, chained from inflight_head, until the kernel has completed them. */
    struct io_uring ring;
    gboolean ring_up; /* the ring exists (exited in kumis_sender_free) */
    gboolean uring;   /* ...and sends go through it */
    /* The targets' sockets registered with the ring (IOSQE_FIXED_FILE: no file lookup and
     * reference per send); free table slots linked through file_next[]. */
    gboolean files;
    gint *file_next;
    gint file_free;
    guint n_prepared, n_prepared_iov; /* messages and iovecs in use in msgs[] / iov[] */
    gint inflight_head, inflight_tail;
    struct kumis_sender_stats stats;
};

struct sender_source {
    GSource base;
    struct kumis_sender *sender;
};

static void sender_flush_expired(struct kumis_sender *s);
static void sender_uring_init(struct kumis_sender *s);

/* The source's timing is computed here, on the worker's thread, every iteration, instead of
 * with g_source_set_ready_time(): that one writes the context's eventfd on every call, a system
 * call and an extra wake-up per flush (4 700 a second at 100 subscribers). */
static gboolean sender_source_prepare(GSource *source, gint *timeout)
{
    struct kumis_sender *s = ((struct sender_source *)source)->sender;
    kumis_sender_submit(s); /* what this iteration flushed leaves before the worker waits */
    *timeout = -1;
    if (s->dirty == NULL)
        return FALSE;
    gint64 left = s->dirty->deadline_us - g_source_get_time(source);
    if (left <= 0)
        return TRUE;
    *timeout = (gint)((left + 999) / 1000);
    return FALSE;
}

static gboolean sender_source_check(GSource *source)
{
    struct kumis_sender *s = ((struct sender_source *)source)->sender;
    return s->dirty && s->dirty->deadline_us <= g_source_get_time(source);
}

static gboolean sender_source_dispatch(GSource *source, GSourceFunc cb, gpointer data)
{
    (void)cb;
    (void)data;
    sender_flush_expired(((struct sender_source *)source)->sender);
    return G_SOURCE_CONTINUE;
}

static GSourceFuncs sender_source_funcs = {
    sender_source_prepare, sender_source_check, sender_source_dispatch, NULL, NULL, NULL,
};

struct kumis_sender *kumis_sender_new(GMainContext *context, guint slots)
{
    static gsize debug_once = 0;
    if (g_once_init_enter(&debug_once)) {
        GST_DEBUG_CATEGORY_INIT(kumis_sender_debug, "kumis-sender", 0, "batched UDP sending");
        g_once_init_leave(&debug_once, 1);
    }
    struct kumis_sender *s = g_new0(struct kumis_sender, 1);
    s->n_slots = MIN(slots ? slots : SENDER_DEFAULT_SLOTS, MMSG_MAX);
    s->data = g_malloc((gsize)s->n_slots * KUMIS_SENDER_MAX_DATAGRAM);
    s->len = g_new0(guint16, s->n_slots);
    s->next = g_new0(gint, s->n_slots);
    s->msgs = g_new0(struct mmsghdr, s->n_slots);
    s->iov = g_new0(struct iovec, s->n_slots);
    s->cmsg = g_new0(struct sender_cmsg, s->n_slots);
    s->msg_target = g_new0(struct kumis_send_target *, s->n_slots);
    s->inflight_head = s->inflight_tail = -1;
    sender_uring_init(s);
    for (guint i = 0; i < s->n_slots; i++)
        s->next[i] = i + 1 < s->n_slots ? (gint)i + 1 : -1;
    s->free_head = 0;
    s->reserved = -1;
    s->gso = TRUE;
    s->source = g_source_new(&sender_source_funcs, sizeof(struct sender_source));
    ((struct sender_source *)s->source)->sender = s;
    g_source_set_static_name(s->source, "kumis-sender");
    g_source_attach(s->source, context);
    return s;
}

void kumis_sender_free(struct kumis_sender *sender)
{
    if (sender == NULL)
        return;
    kumis_sender_flush(sender);
    g_source_destroy(sender->source);
    g_source_unref(sender->source);
    g_free(sender->data);
    g_free(sender->len);
    g_free(sender->next);
    g_free(sender->msgs);
    g_free(sender->iov);
    g_free(sender->cmsg);
    g_free(sender->msg_target);
    if (sender->ring_up)
        io_uring_queue_exit(&sender->ring); /* releases the registered sockets too */
    g_free(sender->file_next);
    g_free(sender);
}

/* Registers @t's socket with the ring when there is room: the ring then holds its own
 * reference to the socket, which sender_file_unregister() (kumis_sender_target_clear()) gives
 * back, so the socket closes when its owner closes it. */
static void sender_file_register(struct kumis_sender *s, struct kumis_send_target *t)
{
    if (!s->files || s->file_free < 0)
        return;
    gint i = s->file_free;
    int fd = t->fd;
    if (io_uring_register_files_update(&s->ring, (unsigned)i, &fd, 1) != 1)
        return; /* plain fd for this one */
    s->file_free = s->file_next[i];
    t->ring_file = (guint)i + 1;
    s->stats.ring_files++;
}

static void sender_file_unregister(struct kumis_sender *s, struct kumis_send_target *t)
{
    if (t->ring_file == 0)
        return;
    gint i = (gint)t->ring_file - 1;
    t->ring_file = 0;
    if (!s->files)
        return; /* the whole table went with the ring's use (kumis_sender_submit) */
    int none = -1;
    int r = io_uring_register_files_update(&s->ring, (unsigned)i, &none, 1);
    if (r != 1) {
        /* Cannot happen for a valid slot; leave the slot taken rather than reuse it. */
        GST_ERROR("io_uring kept socket %d registered: %s", t->fd,
                  r < 0 ? g_strerror(-r) : "not updated");
        return;
    }
    s->file_next[i] = s->file_free;
    s->file_free = i;
    s->stats.ring_files--;
}

gboolean kumis_sender_target_set(struct kumis_sender *sender, struct kumis_send_target *target,
                                 int fd, const struct sockaddr *addr, socklen_t addr_len)
{
    if (addr_len == 0 || addr_len > sizeof target->addr)
        return FALSE;
    kumis_sender_target_clear(sender, target);
    target->fd = fd;
    memcpy(&target->addr, addr, addr_len);
    target->addr_len = addr_len;
    target->set = TRUE;
    sender_file_register(sender, target);
    return TRUE;
}

void kumis_sender_target_clear(struct kumis_sender *sender, struct kumis_send_target *target)
{
    kumis_sender_flush_target(sender, target);
    kumis_sender_submit(sender); /* the ring must be done with @target and its socket */
    sender_file_unregister(sender, target);
    target->set = FALSE;
    target->fd = -1;
}

static void sender_dirty_remove(struct kumis_sender *s, struct kumis_send_target *t)
{
    if (t->prev_dirty)
        t->prev_dirty->next_dirty = t->next_dirty;
    else
        s->dirty = t->next_dirty;
    if (t->next_dirty)
        t->next_dirty->prev_dirty = t->prev_dirty;
    else
        s->dirty_tail = t->prev_dirty;
    t->prev_dirty = t->next_dirty = NULL;
}

guint8 *kumis_sender_reserve(struct kumis_sender *sender)
{
    g_return_val_if_fail(sender->reserved < 0, NULL);
    if (sender->free_head < 0)
        kumis_sender_flush(sender);
    gint slot = sender->free_head;
    sender->free_head = sender->next[slot];
    sender->reserved = slot;
    return sender->data + (gsize)slot * KUMIS_SENDER_MAX_DATAGRAM;
}

void kumis_sender_cancel(struct kumis_sender *sender)
{
    gint slot = sender->reserved;
    if (slot < 0)
        return;
    sender->next[slot] = sender->free_head;
    sender->free_head = slot;
    sender->reserved = -1;
}

gboolean kumis_sender_commit(struct kumis_sender *sender, struct kumis_send_target *target,
                             gsize len)
{
    gint slot = sender->reserved;
    g_return_val_if_fail(slot >= 0, FALSE);
    if (!target->set || len == 0 || len > KUMIS_SENDER_MAX_DATAGRAM) {
        kumis_sender_cancel(sender);
        return FALSE;
    }
    sender->reserved = -1;
    sender->len[slot] = (guint16)len;
    sender->next[slot] = -1;
    if (!target->queued) {
        /* Appended: deadlines grow along the list, the head's is the next to come. */
        target->queued = TRUE;
        target->queue_head = slot;
        target->deadline_us = g_get_monotonic_time() + KUMIS_SENDER_HOLD_US;
        target->prev_dirty = sender->dirty_tail;
        target->next_dirty = NULL;
        if (sender->dirty_tail)
            sender->dirty_tail->next_dirty = target;
        else
            sender->dirty = target;
        sender->dirty_tail = target;
    } else {
        sender->next[target->queue_tail] = slot;
    }
    target->queue_tail = slot;
    return TRUE;
}

gboolean kumis_sender_queue(struct kumis_sender *sender, struct kumis_send_target *target,
                            const guint8 *data, gsize len)
{
    g_return_val_if_fail(target->set, FALSE);
    if (len == 0 || len > KUMIS_SENDER_MAX_DATAGRAM)
        return FALSE;
    memcpy(kumis_sender_reserve(sender), data, len);
    return kumis_sender_commit(sender, target, len);
}

/* Groups @target's queue into messages from msgs[@first] and iov[*@n_iov] on: a run of
 * datagrams of one size, optionally ended by one shorter datagram, is one GSO message (the
 * kernel cuts it every `size` bytes); anything else is a message of its own.
 * Returns: the number of messages built. */
static guint sender_build(struct kumis_sender *s, struct kumis_send_target *t, guint first,
                          guint *n_iov)
{
    guint n_msgs = 0;
    gint i = t->queue_head;
    while (i >= 0) {
        struct msghdr *h = &s->msgs[first + n_msgs].msg_hdr;
        memset(h, 0, sizeof *h);
        h->msg_name = &t->addr;
        h->msg_namelen = t->addr_len;
        h->msg_iov = &s->iov[*n_iov];
        guint16 size = s->len[i];
        gsize count = 0, total = 0;
        while (i >= 0 && count < (s->gso ? GSO_MAX_SEGMENTS : 1) &&
               total + s->len[i] <= GSO_MAX_BYTES) {
            guint16 l = s->len[i];
            if (count > 0 && l > size)
                break;
            s->iov[*n_iov].iov_base = s->data + (gsize)i * KUMIS_SENDER_MAX_DATAGRAM;
            s->iov[*n_iov].iov_len = l;
            (*n_iov)++;
            count++;
            total += l;
            i = s->next[i];
            if (l < size)
                break; /* only the last segment may be shorter */
        }
        h->msg_iovlen = count;
        s->stats.datagrams += count;
        if (count > 1) {
            h->msg_control = s->cmsg[first + n_msgs].buf;
            h->msg_controllen = sizeof s->cmsg[first + n_msgs].buf;
            struct cmsghdr *c = CMSG_FIRSTHDR(h);
            c->cmsg_level = SOL_UDP;
            c->cmsg_type = UDP_SEGMENT;
            c->cmsg_len = CMSG_LEN(sizeof(guint16));
            memcpy(CMSG_DATA(c), &size, sizeof size);
            s->stats.gso_groups++;
        }
        n_msgs++;
    }
    return n_msgs;
}

/* The kernel refused a GSO message for a reason that says it cannot do GSO on this path (no
 * checksum offload: EIO; too old: EINVAL/ENOPROTOOPT): send its datagrams one by one, and no
 * GSO from now on. */
static gboolean sender_gso_refused(int err)
{
    return err == EIO || err == EINVAL || err == ENOPROTOOPT || err == EOPNOTSUPP;
}

static void sender_send_singly(struct kumis_sender *s, struct kumis_send_target *t,
                               const struct msghdr *h)
{
    for (gsize k = 0; k < h->msg_iovlen; k++) {
        struct msghdr one = {
            .msg_name = &t->addr,
            .msg_namelen = t->addr_len,
            .msg_iov = &h->msg_iov[k],
            .msg_iovlen = 1,
        };
        s->stats.syscalls++;
        if (sendmsg(t->fd, &one, MSG_DONTWAIT) < 0) {
            COUNT(t->dropped, 1);
            s->stats.dropped++;
        } else {
            COUNT(t->sent, 1);
        }
    }
}

/* What became of one message: sent, or refused with @err. */
static void sender_message_done(struct kumis_sender *s, struct kumis_send_target *t,
                                const struct msghdr *h, int err)
{
    if (err == 0) {
        COUNT(t->sent, h->msg_iovlen);
    } else if (h->msg_iovlen > 1 && sender_gso_refused(err)) {
        if (s->gso)
            GST_WARNING("UDP GSO refused (%s): sending datagrams one by one from now on",
                        g_strerror(err));
        s->gso = FALSE;
        sender_send_singly(s, t, h);
    } else {
        COUNT(t->dropped, h->msg_iovlen);
        s->stats.dropped += h->msg_iovlen;
        GST_LOG("send to fd %d failed: %s", t->fd, g_strerror(err));
    }
}

/* sendmmsg: @t's queue in as few calls as the kernel takes, right now. */
static void sender_send_target(struct kumis_sender *s, struct kumis_send_target *t)
{
    guint n_iov = 0;
    guint n_msgs = sender_build(s, t, 0, &n_iov);
    guint done = 0;
    while (done < n_msgs) {
        s->stats.syscalls++;
        int r = sendmmsg(t->fd, s->msgs + done, n_msgs - done, MSG_DONTWAIT);
        if (r > 0) {
            for (int k = 0; k < r; k++)
                sender_message_done(s, t, &s->msgs[done + k].msg_hdr, 0);
            done += (guint)r;
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        /* The first message not sent failed: retry it without GSO, or count it lost. */
        sender_message_done(s, t, &s->msgs[done].msg_hdr, r < 0 ? errno : EAGAIN);
        done++;
    }
}

/* The ring, unless the kernel or its policy refuses one (ENOSYS, EPERM with
 * kernel.io_uring_disabled, seccomp) or KUMIS_IO_URING=0 asks for sendmmsg. */
static void sender_uring_init(struct kumis_sender *s)
{
    static gint said = 0; /* the operator hears it once, not once per worker */
    const char *env = g_getenv("KUMIS_IO_URING");
    if (env && strcmp(env, "0") == 0) {
        if (g_atomic_int_compare_and_exchange(&said, 0, 1))
            g_message("media: KUMIS_IO_URING=0: sending with sendmmsg");
        return;
    }
    /* One operation per message and at most one message per slot: the ring never fills. */
    guint entries = 1;
    while (entries < s->n_slots)
        entries <<= 1;
    /* SUBMIT_ALL (Linux 5.18): one failing operation (a closed socket) does not hold back the
     * others of the call. */
    int r = io_uring_queue_init(entries, &s->ring, IORING_SETUP_SUBMIT_ALL);
    if (r == -EINVAL)
        r = io_uring_queue_init(entries, &s->ring, 0);
    if (r < 0) {
        if (g_atomic_int_compare_and_exchange(&said, 0, 1))
            g_message("media: no io_uring here (%s): sending with sendmmsg, one system call per "
                      "peer and burst",
                      g_strerror(-r));
        return;
    }
    s->ring_up = s->uring = TRUE;
    /* A sparse table (Linux 5.19); without it, sends name plain fds. The kernel refuses a
     * table larger than the open-files limit, and no more sockets can be open anyway. */
    struct rlimit nofile;
    gint n = RING_FILES;
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < (rlim_t)n)
        n = (gint)nofile.rlim_cur;
    if (n > 0 && io_uring_register_files_sparse(&s->ring, (unsigned)n) == 0) {
        s->files = TRUE;
        s->file_next = g_new(gint, n);
        for (gint i = 0; i < n; i++)
            s->file_next[i] = i + 1 < n ? i + 1 : -1;
        s->file_free = 0;
    }
}

/* io_uring: @t's queue becomes send operations, submitted with everything else flushed in this
 * main-loop iteration; its slots wait on the in-flight chain. */
static void sender_prepare_target(struct kumis_sender *s, struct kumis_send_target *t)
{
    guint first = s->n_prepared;
    guint n_msgs = sender_build(s, t, first, &s->n_prepared_iov);
    for (guint k = first; k < first + n_msgs; k++) {
        struct io_uring_sqe *sqe = io_uring_get_sqe(&s->ring);
        g_assert(sqe != NULL); /* entries >= slots >= messages prepared (sender_uring_init) */
        if (t->ring_file) {
            io_uring_prep_sendmsg(sqe, (int)t->ring_file - 1, &s->msgs[k].msg_hdr, MSG_DONTWAIT);
            sqe->flags |= IOSQE_FIXED_FILE;
        } else {
            io_uring_prep_sendmsg(sqe, t->fd, &s->msgs[k].msg_hdr, MSG_DONTWAIT);
        }
        io_uring_sqe_set_data64(sqe, k);
        s->msg_target[k] = t;
    }
    s->n_prepared += n_msgs;
    if (s->inflight_tail >= 0)
        s->next[s->inflight_tail] = t->queue_head;
    else
        s->inflight_head = t->queue_head;
    s->inflight_tail = t->queue_tail;
}

void kumis_sender_submit(struct kumis_sender *sender)
{
    struct kumis_sender *s = sender;
    if (!s->uring || s->n_prepared == 0)
        return;
    /* MSG_DONTWAIT: the kernel does each send during the call and completes it (a full socket
     * buffer fails with EAGAIN instead of waiting for room), so the completions are all there
     * when it returns. */
    guint submitted = 0;
    while (submitted < s->n_prepared) {
        s->stats.syscalls++;
        int r = io_uring_submit(&s->ring);
        if (r == -EINTR)
            continue;
        if (r <= 0) {
            GST_ERROR("io_uring refused %u sends (%s): sending with sendmmsg from now on",
                      s->n_prepared - submitted, r < 0 ? g_strerror(-r) : "none taken");
            s->uring = FALSE;
            if (s->files) {
                /* The ring is no longer used: its references to the sockets go now, so
                 * that each closes when its owner closes it. */
                io_uring_unregister_files(&s->ring);
                s->files = FALSE;
                s->stats.ring_files = 0;
            }
            break;
        }
        submitted += (guint)r;
    }
    for (guint done = 0; done < submitted;) {
        struct io_uring_cqe *cqe;
        int r = io_uring_wait_cqe(&s->ring, &cqe);
        if (r == -EINTR)
            continue;
        g_assert(r == 0); /* only fails for a ring that was not set up */
        guint64 k = io_uring_cqe_get_data64(cqe);
        int res = cqe->res;
        io_uring_cqe_seen(&s->ring, cqe);
        g_assert(k < s->n_prepared);
        sender_message_done(s, s->msg_target[k], &s->msgs[k].msg_hdr, res < 0 ? -res : 0);
        done++;
    }
    /* What the ring did not take (operations are taken in order) goes the old way. */
    for (guint k = submitted; k < s->n_prepared; k++) {
        struct kumis_send_target *t = s->msg_target[k];
        s->stats.syscalls++;
        int r = (int)sendmsg(t->fd, &s->msgs[k].msg_hdr, MSG_DONTWAIT);
        sender_message_done(s, t, &s->msgs[k].msg_hdr, r < 0 ? errno : 0);
    }
    s->n_prepared = s->n_prepared_iov = 0;
    if (s->inflight_head >= 0) {
        s->next[s->inflight_tail] = s->free_head;
        s->free_head = s->inflight_head;
        s->inflight_head = s->inflight_tail = -1;
    }
}

/* Sends @t's queue (or prepares it for the ring), returns its slots and takes it off the dirty
 * list. */
static void sender_flush_one(struct kumis_sender *s, struct kumis_send_target *t)
{
    s->stats.flushes++;
    if (s->uring && t->set) {
        sender_prepare_target(s, t);
    } else {
        if (t->set)
            sender_send_target(s, t);
        for (gint i = t->queue_head; i >= 0;) {
            gint next = s->next[i];
            s->next[i] = s->free_head;
            s->free_head = i;
            i = next;
        }
    }
    t->queued = FALSE;
    t->queue_head = t->queue_tail = -1;
    sender_dirty_remove(s, t);
    if (s->stats.flushes % 20000 == 0)
        GST_DEBUG("%" G_GUINT64_FORMAT " datagrams in %" G_GUINT64_FORMAT
                  " flushes, %" G_GUINT64_FORMAT " syscalls, %" G_GUINT64_FORMAT
                  " GSO messages, %" G_GUINT64_FORMAT " dropped",
                  s->stats.datagrams, s->stats.flushes, s->stats.syscalls, s->stats.gso_groups,
                  s->stats.dropped);
}

void kumis_sender_flush_target(struct kumis_sender *sender, struct kumis_send_target *target)
{
    if (target->queued)
        sender_flush_one(sender, target);
}

static void sender_flush_expired(struct kumis_sender *s)
{
    gint64 now = g_get_monotonic_time();
    while (s->dirty && s->dirty->deadline_us <= now)
        sender_flush_one(s, s->dirty);
    kumis_sender_submit(s);
}

void kumis_sender_flush(struct kumis_sender *sender)
{
    while (sender->dirty)
        sender_flush_one(sender, sender->dirty);
    kumis_sender_submit(sender);
}

gboolean kumis_sender_send(struct kumis_sender *sender, struct kumis_send_target *target,
                           const guint8 *data, gsize len)
{
    g_return_val_if_fail(target->set, FALSE);
    sender->stats.syscalls++;
    if (sendto(target->fd, data, len, MSG_DONTWAIT, (const struct sockaddr *)&target->addr,
               target->addr_len) < 0) {
        COUNT(target->dropped, 1);
        sender->stats.dropped++;
        return FALSE;
    }
    COUNT(target->sent, 1);
    sender->stats.datagrams++;
    return TRUE;
}

gboolean kumis_sender_flush_is_batched(const struct kumis_sender *sender)
{
    return sender->uring;
}

void kumis_sender_get_stats(const struct kumis_sender *sender, struct kumis_sender_stats *stats)
{
    *stats = sender->stats;
    stats->io_uring = sender->uring;
}

/* Unit tests for media/sender.c over real UDP sockets on 127.0.0.1: datagrams arrive whole and
 * in order per peer, runs of equal sizes go out as one GSO message, a full queue flushes, the
 * main-loop iteration flushes, and a refused send is counted, not fatal. Each test runs twice:
 * through io_uring (every peer flushed in an iteration in one system call) and through
 * sendmmsg (KUMIS_IO_URING=0, what a kernel without io_uring gets). */
#include <errno.h>
#include <glib.h>
#include <liburing.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "media/sender.h"

struct udp {
    int fd;
    struct sockaddr_in addr;
};

static void udp_open(struct udp *u)
{
    u->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    g_assert_cmpint(u->fd, >=, 0);
    int big = 4 * 1024 * 1024;
    setsockopt(u->fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    memset(&u->addr, 0, sizeof u->addr);
    u->addr.sin_family = AF_INET;
    u->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    g_assert_cmpint(bind(u->fd, (struct sockaddr *)&u->addr, sizeof u->addr), ==, 0);
    socklen_t len = sizeof u->addr;
    g_assert_cmpint(getsockname(u->fd, (struct sockaddr *)&u->addr, &len), ==, 0);
}

/* A datagram whose bytes say who it is: [peer, index hi, index lo, fill...]. */
static gsize datagram_make(guint8 *buf, guint peer, guint index, gsize len)
{
    buf[0] = (guint8)peer;
    buf[1] = (guint8)(index >> 8);
    buf[2] = (guint8)index;
    for (gsize i = 3; i < len; i++)
        buf[i] = (guint8)(index + i);
    return len;
}

/* Receives everything waiting on @u and checks it is exactly @n datagrams from @peer with
 * indexes 0..n-1 in order and sizes @sizes. */
static void expect_received(const struct udp *u, guint peer, const gsize *sizes, guint n)
{
    guint8 buf[2048], want[2048];
    for (guint i = 0; i < n; i++) {
        ssize_t r = -1;
        for (int tries = 0; tries < 200 && r < 0; tries++) {
            r = recv(u->fd, buf, sizeof buf, 0);
            if (r < 0)
                g_usleep(1000);
        }
        g_assert_cmpint((int)r, ==, (int)sizes[i]);
        datagram_make(want, peer, i, sizes[i]);
        g_assert_cmpmem(buf, (gsize)r, want, sizes[i]);
    }
    g_assert_cmpint((int)recv(u->fd, buf, sizeof buf, 0), ==, -1);
}

/* The mode under test; TRUE when the test must be skipped (no io_uring here). */
static gboolean mode_set(gconstpointer uring)
{
    if (!GPOINTER_TO_INT(uring)) {
        g_setenv("KUMIS_IO_URING", "0", TRUE);
        return FALSE;
    }
    g_unsetenv("KUMIS_IO_URING");
    struct io_uring ring;
    int r = io_uring_queue_init(8, &ring, 0);
    if (r < 0) {
        g_autofree char *why = g_strdup_printf("this kernel refuses io_uring: %s", g_strerror(-r));
        g_test_skip(why);
        return TRUE;
    }
    io_uring_queue_exit(&ring);
    return FALSE;
}

static struct kumis_sender *sender_new(gconstpointer uring, GMainContext *ctx, guint slots)
{
    struct kumis_sender *sender = kumis_sender_new(ctx, slots);
    struct kumis_sender_stats st;
    kumis_sender_get_stats(sender, &st);
    g_assert_cmpint(st.io_uring, ==, GPOINTER_TO_INT(uring));
    return sender;
}

static void test_order_and_gso(gconstpointer uring)
{
    if (mode_set(uring))
        return;
    GMainContext *ctx = g_main_context_new();
    struct kumis_sender *sender = sender_new(uring, ctx, 0);
    struct udp out, a, b;
    udp_open(&out);
    udp_open(&a);
    udp_open(&b);
    struct kumis_send_target ta, tb;
    memset(&ta, 0, sizeof ta);
    memset(&tb, 0, sizeof tb);
    g_assert_true(
        kumis_sender_target_set(sender, &ta, out.fd, (struct sockaddr *)&a.addr, sizeof a.addr));
    g_assert_true(
        kumis_sender_target_set(sender, &tb, out.fd, (struct sockaddr *)&b.addr, sizeof b.addr));
    /* A frame of equal packets with a short last one, a bigger one (a new run), singles, and
     * more than one GSO message can carry; interleaved between two peers. */
    gsize sizes[100];
    guint n = 0;
    for (guint i = 0; i < 5; i++)
        sizes[n++] = 1200;
    sizes[n++] = 300;
    sizes[n++] = 1300;
    sizes[n++] = 100;
    sizes[n++] = 1250;
    for (guint i = 0; i < 80; i++)
        sizes[n++] = 500;
    sizes[n++] = 12;
    guint8 buf[2048];
    for (guint i = 0; i < n; i++) {
        g_assert_true(kumis_sender_queue(sender, &ta, buf, datagram_make(buf, 1, i, sizes[i])));
        g_assert_true(kumis_sender_queue(sender, &tb, buf, datagram_make(buf, 2, i, sizes[i])));
    }
    /* Nothing leaves at once: the datagrams wait for a burst to complete... */
    g_main_context_iteration(ctx, FALSE);
    g_assert_cmpint((int)recv(a.fd, buf, sizeof buf, 0), ==, -1);
    /* ...or for the hold time: a blocking iteration wakes up for it and sends it all. */
    gint64 t0 = g_get_monotonic_time();
    g_main_context_iteration(ctx, TRUE);
    g_assert_cmpint(g_get_monotonic_time() - t0, <, G_USEC_PER_SEC);
    expect_received(&a, 1, sizes, n);
    expect_received(&b, 2, sizes, n);
    struct kumis_sender_stats st;
    kumis_sender_get_stats(sender, &st);
    g_assert_cmpuint(st.datagrams, ==, 2 * n);
    g_assert_cmpuint(st.dropped, ==, 0);
    g_assert_cmpuint(ta.sent, ==, n);
    g_assert_cmpuint(tb.sent, ==, n);
    /* Far fewer messages than datagrams: the runs went out as GSO messages, in one system call
     * for both peers through the ring, one per peer through sendmmsg. */
    g_assert_cmpuint(st.gso_groups, >=, 2 * 3);
    g_assert_cmpuint(st.syscalls, ==, GPOINTER_TO_INT(uring) ? 1 : 2);
    g_test_message("%u datagrams to 2 peers: %" G_GUINT64_FORMAT " syscalls, %" G_GUINT64_FORMAT
                   " GSO messages",
                   2 * n, st.syscalls, st.gso_groups);

    kumis_sender_target_clear(sender, &ta);
    kumis_sender_target_clear(sender, &tb);
    kumis_sender_free(sender);
    g_main_context_unref(ctx);
    close(out.fd);
    close(a.fd);
    close(b.fd);
}

/* The end of a burst (a video frame's marker packet) sends that peer's queue at once, and
 * only that peer's; a datagram sent now overtakes the queue. */
static void test_flush_target_and_send(gconstpointer uring)
{
    if (mode_set(uring))
        return;
    GMainContext *ctx = g_main_context_new();
    struct kumis_sender *sender = sender_new(uring, ctx, 0);
    struct udp out, a, b;
    udp_open(&out);
    udp_open(&a);
    udp_open(&b);
    struct kumis_send_target ta, tb;
    memset(&ta, 0, sizeof ta);
    memset(&tb, 0, sizeof tb);
    g_assert_true(
        kumis_sender_target_set(sender, &ta, out.fd, (struct sockaddr *)&a.addr, sizeof a.addr));
    g_assert_true(
        kumis_sender_target_set(sender, &tb, out.fd, (struct sockaddr *)&b.addr, sizeof b.addr));
    guint8 buf[2048];
    gsize sizes[3] = {1100, 1100, 640};
    for (guint round = 0; round < 3; round++) {
        for (guint i = 0; i < 3; i++) {
            g_assert_true(kumis_sender_queue(sender, &ta, buf, datagram_make(buf, 3, i, sizes[i])));
            g_assert_true(kumis_sender_queue(sender, &tb, buf, datagram_make(buf, 4, i, sizes[i])));
        }
        kumis_sender_flush_target(sender, &ta);
        kumis_sender_submit(sender);
        expect_received(&a, 3, sizes, 3);
        g_assert_cmpint((int)recv(b.fd, buf, sizeof buf, 0), ==, -1);
        kumis_sender_flush_target(sender, &tb);
        /* Or by the context itself, before it waits. */
        g_main_context_iteration(ctx, FALSE);
        expect_received(&b, 4, sizes, 3);
    }
    /* Sent now, ahead of what waits in the queue. */
    g_assert_true(kumis_sender_queue(sender, &ta, buf, datagram_make(buf, 5, 1, 900)));
    g_assert_true(kumis_sender_send(sender, &ta, buf, datagram_make(buf, 5, 0, 80)));
    gsize now_sizes[1] = {80};
    expect_received(&a, 5, now_sizes, 1);
    kumis_sender_target_clear(sender, &ta); /* sends the rest */
    g_assert_cmpint((int)recv(a.fd, buf, sizeof buf, 0), ==, 900);
    g_assert_cmpuint(ta.sent, ==, 11);
    kumis_sender_target_clear(sender, &tb);
    kumis_sender_free(sender);
    g_main_context_unref(ctx);
    close(out.fd);
    close(a.fd);
    close(b.fd);
}

static void test_full_queue_flushes(gconstpointer uring)
{
    if (mode_set(uring))
        return;
    GMainContext *ctx = g_main_context_new();
    struct kumis_sender *sender = sender_new(uring, ctx, 8);
    struct udp out, a;
    udp_open(&out);
    udp_open(&a);
    struct kumis_send_target ta;
    memset(&ta, 0, sizeof ta);
    g_assert_true(
        kumis_sender_target_set(sender, &ta, out.fd, (struct sockaddr *)&a.addr, sizeof a.addr));
    gsize sizes[20];
    guint8 buf[2048];
    for (guint i = 0; i < 20; i++) {
        sizes[i] = 200 + (i % 3) * 100;
        g_assert_true(kumis_sender_queue(sender, &ta, buf, datagram_make(buf, 7, i, sizes[i])));
    }
    /* 8 slots: two flushes happened while queueing; clearing the target sends the rest. */
    kumis_sender_target_clear(sender, &ta);
    expect_received(&a, 7, sizes, 20);
    g_assert_false(ta.set);
    /* Too big or empty: refused, the caller sends it itself. */
    g_assert_true(
        kumis_sender_target_set(sender, &ta, out.fd, (struct sockaddr *)&a.addr, sizeof a.addr));
    g_assert_false(kumis_sender_queue(sender, &ta, buf, 0));
    g_assert_false(kumis_sender_queue(sender, &ta, buf, KUMIS_SENDER_MAX_DATAGRAM + 1));
    kumis_sender_free(sender);
    g_main_context_unref(ctx);
    close(out.fd);
    close(a.fd);
}

static void test_refused_is_counted(gconstpointer uring)
{
    if (mode_set(uring))
        return;
    GMainContext *ctx = g_main_context_new();
    struct kumis_sender *sender = sender_new(uring, ctx, 0);
    struct udp a;
    udp_open(&a);
    /* A socket shut for writing by the time of the flush: EPIPE for every message. */
    int shut = socket(AF_INET, SOCK_DGRAM, 0);
    struct kumis_send_target t;
    memset(&t, 0, sizeof t);
    g_assert_true(
        kumis_sender_target_set(sender, &t, shut, (struct sockaddr *)&a.addr, sizeof a.addr));
    g_assert_cmpint(connect(shut, (struct sockaddr *)&a.addr, sizeof a.addr), ==, 0);
    g_assert_cmpint(shutdown(shut, SHUT_WR), ==, 0);
    guint8 buf[2048];
    for (guint i = 0; i < 5; i++)
        g_assert_true(kumis_sender_queue(sender, &t, buf, datagram_make(buf, 1, i, 700)));
    g_assert_true(kumis_sender_queue(sender, &t, buf, datagram_make(buf, 1, 5, 900)));
    kumis_sender_flush(sender);
    g_assert_cmpuint(t.sent, ==, 0);
    g_assert_cmpuint(t.dropped, ==, 6);
    struct kumis_sender_stats st;
    kumis_sender_get_stats(sender, &st);
    g_assert_cmpuint(st.dropped, ==, 6);
    kumis_sender_target_clear(sender, &t);
    close(shut);
    kumis_sender_free(sender);
    g_main_context_unref(ctx);
    close(a.fd);
}

/* Built in place: a reserved slot committed is queued like a copy; one cancelled (a packet the
 * router dropped after reserving) goes back unsent, and slots reserved and cancelled over and
 * over never run the queue dry (8 slots, 30 rounds). */
static void test_reserve_commit_cancel(gconstpointer uring)
{
    if (mode_set(uring))
        return;
    GMainContext *ctx = g_main_context_new();
    struct kumis_sender *sender = sender_new(uring, ctx, 8);
    struct udp out, a;
    udp_open(&out);
    udp_open(&a);
    struct kumis_send_target ta;
    memset(&ta, 0, sizeof ta);
    g_assert_true(
        kumis_sender_target_set(sender, &ta, out.fd, (struct sockaddr *)&a.addr, sizeof a.addr));
    gsize sizes[4] = {1200, 1200, 1200, 300};
    guint sent = 0;
    for (guint round = 0; round < 30; round++) {
        guint8 *slot = kumis_sender_reserve(sender);
        g_assert_nonnull(slot);
        if (round % 7 == 3 && sent < 4) {
            datagram_make(slot, 9, sent, sizes[sent]);
            g_assert_true(kumis_sender_commit(sender, &ta, sizes[sent]));
            sent++;
        } else {
            datagram_make(slot, 8, round, 500); /* never sent */
            kumis_sender_cancel(sender);
        }
    }
    kumis_sender_cancel(sender); /* nothing reserved: nothing happens */
    /* A commit that is refused gives its slot back too. */
    kumis_sender_reserve(sender);
    g_assert_false(kumis_sender_commit(sender, &ta, KUMIS_SENDER_MAX_DATAGRAM + 1));
    g_assert_nonnull(kumis_sender_reserve(sender));
    kumis_sender_cancel(sender);
    kumis_sender_flush_target(sender, &ta);
    kumis_sender_submit(sender);
    expect_received(&a, 9, sizes, sent);
    g_assert_cmpuint(sent, ==, 4);
    kumis_sender_free(sender);
    g_main_context_unref(ctx);
    close(out.fd);
    close(a.fd);
}

/* A video frame's burst to many peers: each peer's queue flushed in turn (the router does this at
 * the frame's marker), all of it reaches the kernel in one system call through the ring, and
 * every peer gets its own packets in order. The slots come back: the same again fits in a
 * queue of 64 slots (three times). */
static void test_many_peers_one_call(gconstpointer uring)
{
    if (mode_set(uring))
        return;
    enum { PEERS = 20, FRAME = 3 };
    GMainContext *ctx = g_main_context_new();
    struct kumis_sender *sender = sender_new(uring, ctx, 64);
    struct udp out, peer[PEERS];
    struct kumis_send_target t[PEERS];
    udp_open(&out);
    for (guint p = 0; p < PEERS; p++) {
        udp_open(&peer[p]);
        memset(&t[p], 0, sizeof t[p]);
        g_assert_true(kumis_sender_target_set(
            sender, &t[p], out.fd, (struct sockaddr *)&peer[p].addr, sizeof peer[p].addr));
    }
    gsize sizes[FRAME] = {1000, 1000, 400};
    guint8 buf[2048];
    for (guint round = 0; round < 3; round++) {
        struct kumis_sender_stats before, after;
        kumis_sender_get_stats(sender, &before);
        for (guint p = 0; p < PEERS; p++) {
            for (guint i = 0; i < FRAME; i++)
                g_assert_true(
                    kumis_sender_queue(sender, &t[p], buf, datagram_make(buf, p, i, sizes[i])));
            kumis_sender_flush_target(sender, &t[p]);
        }
        g_main_context_iteration(ctx, FALSE);
        kumis_sender_get_stats(sender, &after);
        g_assert_cmpuint(after.syscalls - before.syscalls, ==, GPOINTER_TO_INT(uring) ? 1 : PEERS);
        for (guint p = 0; p < PEERS; p++)
            expect_received(&peer[p], p, sizes, FRAME);
    }
    for (guint p = 0; p < PEERS; p++) {
        g_assert_cmpuint(t[p].sent, ==, 3 * FRAME);
        kumis_sender_target_clear(sender, &t[p]);
        close(peer[p].fd);
    }
    kumis_sender_free(sender);
    g_main_context_unref(ctx);
    close(out.fd);
}

/* Through the ring, a target's socket is registered with it (no file lookup per send), and the
 * ring's reference must not outlive the target: once the target is cleared and its owner closes
 * the socket, its port is free again. Re-pointing a target keeps one registration. */
static void test_socket_closes(gconstpointer uring)
{
    if (mode_set(uring))
        return;
    GMainContext *ctx = g_main_context_new();
    struct kumis_sender *sender = sender_new(uring, ctx, 16);
    struct udp out, peer;
    struct kumis_send_target t;
    memset(&t, 0, sizeof t);
    udp_open(&out);
    udp_open(&peer);
    guint want = GPOINTER_TO_INT(uring) ? 1 : 0;
    struct kumis_sender_stats st;
    for (int again = 0; again < 2; again++) {
        g_assert_true(kumis_sender_target_set(sender, &t, out.fd, (struct sockaddr *)&peer.addr,
                                              sizeof peer.addr));
        kumis_sender_get_stats(sender, &st);
        g_assert_cmpuint(st.ring_files, ==, want);
    }
    guint8 buf[2048];
    gsize sizes[2] = {300, 300};
    for (guint i = 0; i < 2; i++)
        g_assert_true(kumis_sender_queue(sender, &t, buf, datagram_make(buf, 7, i, sizes[i])));
    kumis_sender_flush_target(sender, &t);
    g_main_context_iteration(ctx, FALSE);
    expect_received(&peer, 7, sizes, 2);
    kumis_sender_target_clear(sender, &t);
    kumis_sender_get_stats(sender, &st);
    g_assert_cmpuint(st.ring_files, ==, 0);
    close(out.fd);
    int again = socket(AF_INET, SOCK_DGRAM, 0);
    g_assert_cmpint(again, >=, 0);
    if (bind(again, (struct sockaddr *)&out.addr, sizeof out.addr) != 0)
        g_error("the cleared target's port is still taken: %s", g_strerror(errno));
    close(again);
    close(peer.fd);
    kumis_sender_free(sender);
    g_main_context_unref(ctx);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    static const struct {
        const char *name;
        GTestDataFunc func;
    } tests[] = {
        {"order-and-gso", test_order_and_gso},
        {"flush-target-and-send", test_flush_target_and_send},
        {"full-queue-flushes", test_full_queue_flushes},
        {"refused-is-counted", test_refused_is_counted},
        {"reserve-commit-cancel", test_reserve_commit_cancel},
        {"many-peers-one-call", test_many_peers_one_call},
        {"socket-closes", test_socket_closes},
    };
    for (guint i = 0; i < G_N_ELEMENTS(tests); i++) {
        for (int uring = 1; uring >= 0; uring--) {
            g_autofree char *path =
                g_strdup_printf("/sender/%s/%s", uring ? "io_uring" : "sendmmsg", tests[i].name);
            g_test_add_data_func(path, GINT_TO_POINTER(uring), tests[i].func);
        }
    }
    return g_test_run();
}

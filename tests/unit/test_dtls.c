/* Unit tests for media/cert.c, media/dtls.c and media/srtp_session.c: two DTLS endpoints pump
 * datagrams to each other in memory, agree on keys and protect SRTP with them. */
#include <glib.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <openssl/pem.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "media/cert.h"
#include "media/dtls.h"
#include "media/srtp_session.h"

struct endpoint {
    struct kumis_dtls *dtls;
    GQueue *outbox; /* GBytes the endpoint sent, for the peer */
    gboolean connected;
    int closed;
    gboolean closed_with_error;
    struct kumis_srtp_keys keys;
    guint drop_next; /* datagrams to lose on purpose */
};

static void ep_send(struct kumis_dtls *dtls, const guint8 *data, gsize len, void *user_data)
{
    (void)dtls;
    struct endpoint *ep = user_data;
    if (ep->drop_next > 0) {
        ep->drop_next--;
        return;
    }
    g_queue_push_tail(ep->outbox, g_bytes_new(data, len));
}

static void ep_connected(struct kumis_dtls *dtls, const struct kumis_srtp_keys *keys,
                         void *user_data)
{
    (void)dtls;
    struct endpoint *ep = user_data;
    g_assert_false(ep->connected);
    ep->connected = TRUE;
    ep->keys = *keys;
}

static void ep_closed(struct kumis_dtls *dtls, const GError *error, void *user_data)
{
    (void)dtls;
    struct endpoint *ep = user_data;
    ep->closed++;
    ep->closed_with_error = error != NULL;
}

static const struct kumis_dtls_callbacks ep_callbacks = {ep_send, ep_connected, ep_closed};

struct pair {
    struct kumis_cert *client_cert, *server_cert;
    struct endpoint client, server;
};

static void pair_init(struct pair *p, gboolean set_fingerprints)
{
    memset(p, 0, sizeof *p);
    p->client_cert = kumis_cert_new_self_signed("client", NULL, 30, NULL);
    p->server_cert = kumis_cert_new_self_signed("server", NULL, 30, NULL);
    g_assert_nonnull(p->client_cert);
    g_assert_nonnull(p->server_cert);
    p->client.outbox = g_queue_new();
    p->server.outbox = g_queue_new();
    g_autoptr(GError) error = NULL;
    p->client.dtls = kumis_dtls_new(p->client_cert, KUMIS_DTLS_ROLE_CLIENT, NULL, &ep_callbacks,
                                    &p->client, &error);
    g_assert_no_error(error);
    p->server.dtls = kumis_dtls_new(p->server_cert, KUMIS_DTLS_ROLE_SERVER, NULL, &ep_callbacks,
                                    &p->server, &error);
    g_assert_no_error(error);
    if (set_fingerprints) {
        g_assert_true(kumis_dtls_set_remote_fingerprint(
            p->client.dtls, "sha-256", kumis_cert_get_fingerprint(p->server_cert), &error));
        g_assert_true(kumis_dtls_set_remote_fingerprint(
            p->server.dtls, "SHA-256", kumis_cert_get_fingerprint(p->client_cert), &error));
    }
}

static void pair_clear(struct pair *p)
{
    kumis_dtls_free(p->client.dtls);
    kumis_dtls_free(p->server.dtls);
    g_queue_free_full(p->client.outbox, (GDestroyNotify)g_bytes_unref);
    g_queue_free_full(p->server.outbox, (GDestroyNotify)g_bytes_unref);
    kumis_cert_unref(p->client_cert);
    kumis_cert_unref(p->server_cert);
}

/* Delivers queued datagrams both ways until both queues are empty. Returns: datagrams moved. */
static guint pair_pump(struct pair *p)
{
    guint moved = 0;
    for (;;) {
        GBytes *b = g_queue_pop_head(p->client.outbox);
        struct endpoint *to = &p->server;
        if (b == NULL) {
            b = g_queue_pop_head(p->server.outbox);
            to = &p->client;
        }
        if (b == NULL)
            return moved;
        gsize len;
        const guint8 *data = g_bytes_get_data(b, &len);
        kumis_dtls_handle_datagram(to->dtls, data, len);
        g_bytes_unref(b);
        moved++;
    }
}

static void pair_handshake(struct pair *p)
{
    kumis_dtls_start(p->server.dtls);
    kumis_dtls_start(p->client.dtls);
    pair_pump(p);
}

static void test_cert_fingerprint_and_pem(void)
{
    g_autoptr(GError) error = NULL;
    struct kumis_cert *cert =
        kumis_cert_new_self_signed("kumis", "DNS:localhost,IP:127.0.0.1", 3650, &error);
    g_assert_no_error(error);
    const char *fp = kumis_cert_get_fingerprint(cert);
    g_assert_cmpuint(strlen(fp), ==, KUMIS_CERT_FINGERPRINT_LEN);
    g_assert_true(g_regex_match_simple("^([0-9A-F]{2}:){31}[0-9A-F]{2}$", fp, 0, 0));
    g_assert_true(kumis_dtls_fingerprint_check("sha-256", fp, NULL));

    g_autofree char *dir = g_dir_make_tmp("kumis-cert-XXXXXX", &error);
    g_assert_no_error(error);
    g_autofree char *cert_path = g_build_filename(dir, "cert.pem", NULL);
    g_autofree char *key_path = g_build_filename(dir, "key.pem", NULL);
    g_assert_true(kumis_cert_write_pem(cert, cert_path, key_path, &error));
    g_assert_no_error(error);
    struct stat st;
    g_assert_cmpint(stat(key_path, &st), ==, 0);
    g_assert_cmpint(st.st_mode & 0777, ==, 0600);
    /* The file holds the very certificate: same fingerprint after reading it back. */
    FILE *f = fopen(cert_path, "r");
    g_assert_nonnull(f);
    X509 *x509 = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    g_assert_nonnull(x509);
    char again[KUMIS_CERT_FINGERPRINT_LEN + 1];
    g_assert_true(kumis_cert_fingerprint_of(x509, again));
    g_assert_cmpstr(again, ==, fp);
    X509_free(x509);
    f = fopen(key_path, "r");
    EVP_PKEY *key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    g_assert_nonnull(key);
    g_assert_cmpint(EVP_PKEY_eq(key, kumis_cert_get_key(cert)), ==, 1);
    EVP_PKEY_free(key);
    /* An unwritable place fails with an error, not a crash. */
    g_assert_false(kumis_cert_write_pem(cert, "/nonexistent/c.pem", "/nonexistent/k.pem", &error));
    g_assert_nonnull(error);
    g_unlink(cert_path);
    g_unlink(key_path);
    g_rmdir(dir);
    kumis_cert_unref(cert);
}

static void test_fingerprint_check(void)
{
    const char *ok = "AB:CD:EF:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:"
                     "AB:CD:EF:01:23:45:67:89";
    g_assert_true(kumis_dtls_fingerprint_check("sha-256", ok, NULL));
    const char *bad[] = {"", "AB:CD",
                         "AB-CD-EF-01-23-45-67-89-AB-CD-EF-01-23-45-67-89-AB-CD-EF-01-23-45-67-89-"
                         "AB-CD-EF-01-23-45-67-89",
                         "GB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:"
                         "AB:CD:EF:01:23:45:67:89"};
    for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) error = NULL;
        g_assert_false(kumis_dtls_fingerprint_check("sha-256", bad[i], &error));
        g_assert_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
    }
    g_autoptr(GError) error = NULL;
    g_assert_false(kumis_dtls_fingerprint_check("sha-1", ok, &error));
    g_assert_error(error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
}

/* SRTP with the keys of a connected pair: client protects, server unprotects, and back. */
static void check_srtp(const struct pair *pp)
{
    const struct pair p = *pp;
    g_autoptr(GError) error = NULL;
    struct kumis_srtp_session *cs = kumis_srtp_session_new(&p.client.keys, &error);
    g_assert_no_error(error);
    struct kumis_srtp_session *ss = kumis_srtp_session_new(&p.server.keys, &error);
    g_assert_no_error(error);
    guint8 plain[1200], buf[1200 + KUMIS_SRTP_MAX_OVERHEAD];
    for (gsize i = 0; i < sizeof plain; i++)
        plain[i] = (guint8)(i * 7);
    plain[0] = 0x80;
    plain[1] = 96;
    memcpy(buf, plain, sizeof plain);
    gsize len = sizeof plain;
    g_assert_true(kumis_srtp_session_protect_rtp(cs, buf, &len, sizeof buf));
    g_assert_cmpuint(len, ==, sizeof plain + 16); /* GCM tag */
    g_assert_true(memcmp(buf + 12, plain + 12, 100) != 0);
    guint8 copy[sizeof buf];
    memcpy(copy, buf, len);
    gsize copy_len = len;
    g_assert_true(kumis_srtp_session_unprotect_rtp(ss, buf, &len));
    g_assert_cmpmem(buf, len, plain, sizeof plain);
    /* A replay and a tampered packet are refused and counted. */
    g_assert_false(kumis_srtp_session_unprotect_rtp(ss, copy, &copy_len));
    plain[3] = 1; /* next sequence number */
    memcpy(buf, plain, sizeof plain);
    len = sizeof plain;
    g_assert_true(kumis_srtp_session_protect_rtp(cs, buf, &len, sizeof buf));
    buf[100] ^= 1;
    g_assert_false(kumis_srtp_session_unprotect_rtp(ss, buf, &len));
    /* No room for the tag: refused before libsrtp writes past the buffer. */
    len = sizeof plain;
    memcpy(buf, plain, sizeof plain);
    g_assert_false(kumis_srtp_session_protect_rtp(cs, buf, &len, sizeof plain + 4));
    /* RTCP the other way round. */
    guint8 rtcp[64] = {0x80, 200, 0, 6, 1, 2, 3, 4};
    len = 28;
    g_assert_true(kumis_srtp_session_protect_rtcp(ss, rtcp, &len, sizeof rtcp));
    g_assert_true(kumis_srtp_session_unprotect_rtcp(cs, rtcp, &len));
    g_assert_cmpuint(len, ==, 28);
    g_assert_cmpuint(rtcp[1], ==, 200);
    struct kumis_srtp_stats stats;
    kumis_srtp_session_get_stats(ss, &stats);
    g_assert_cmpuint(stats.unprotect_failures, ==, 2);
    kumis_srtp_session_get_stats(cs, &stats);
    g_assert_cmpuint(stats.protect_failures, ==, 1);
    /* Cost of protect alone for a 1200-byte packet with the negotiated profile. */
    struct timespec c0, c1;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
    for (guint i = 0; i < 20000; i++) {
        guint16 seq = (guint16)(0x0f00 + i); /* after the 0x0e15 used above */
        plain[2] = (guint8)(seq >> 8);
        plain[3] = (guint8)seq;
        memcpy(buf, plain, sizeof plain);
        len = sizeof plain;
        if (!kumis_srtp_session_protect_rtp(cs, buf, &len, sizeof buf))
            g_error("protect failed at %u", i);
    }
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
    g_test_message("srtp protect, 1200 bytes, %s: %.2f us CPU per packet",
                   kumis_srtp_profile_name(p.client.keys.profile),
                   ((c1.tv_sec - c0.tv_sec) * 1e6 + (c1.tv_nsec - c0.tv_nsec) / 1e3) / 20000.0);
    kumis_srtp_session_free(cs);
    kumis_srtp_session_free(ss);
}

/* Both ends derive mirrored keys; the server's order makes AEAD_AES_128_GCM win. */
static void test_handshake_keys(void)
{
    struct pair p;
    pair_init(&p, TRUE);
    pair_handshake(&p);
    g_assert_true(p.client.connected);
    g_assert_true(p.server.connected);
    g_assert_cmpint(kumis_dtls_get_state(p.client.dtls), ==, KUMIS_DTLS_STATE_CONNECTED);
    g_assert_cmpint(p.client.keys.profile, ==, KUMIS_SRTP_PROFILE_AEAD_AES_128_GCM);
    g_assert_cmpint(kumis_dtls_get_profile(p.server.dtls), ==, KUMIS_SRTP_PROFILE_AEAD_AES_128_GCM);
    g_assert_cmpuint(p.client.keys.key_len, ==, 16);
    g_assert_cmpuint(p.client.keys.salt_len, ==, 12);
    g_assert_cmpmem(p.client.keys.local_key, 16, p.server.keys.remote_key, 16);
    g_assert_cmpmem(p.client.keys.remote_key, 16, p.server.keys.local_key, 16);
    g_assert_cmpmem(p.client.keys.local_salt, 12, p.server.keys.remote_salt, 12);
    g_assert_cmpmem(p.client.keys.remote_salt, 12, p.server.keys.local_salt, 12);
    g_assert_true(memcmp(p.client.keys.local_key, p.client.keys.remote_key, 16) != 0);
    g_assert_cmpint(p.client.closed + p.server.closed, ==, 0);

    check_srtp(&p);

    /* close_notify: the client closes, the server sees a clean end. */
    kumis_dtls_close(p.client.dtls);
    pair_pump(&p);
    g_assert_cmpint(p.server.closed, ==, 1);
    g_assert_false(p.server.closed_with_error);
    g_assert_cmpint(kumis_dtls_get_state(p.server.dtls), ==, KUMIS_DTLS_STATE_CLOSED);
    g_assert_cmpint(p.client.closed, ==, 0); /* no callback for our own close */
    pair_clear(&p);
}

/* A certificate that does not match the signaled fingerprint fails the association. */
static void test_wrong_fingerprint(void)
{
    struct pair p;
    pair_init(&p, FALSE);
    struct kumis_cert *other = kumis_cert_new_self_signed("mallory", NULL, 1, NULL);
    g_assert_true(kumis_dtls_set_remote_fingerprint(p.server.dtls, "sha-256",
                                                    kumis_cert_get_fingerprint(other), NULL));
    g_assert_true(kumis_dtls_set_remote_fingerprint(
        p.client.dtls, "sha-256", kumis_cert_get_fingerprint(p.server_cert), NULL));
    pair_handshake(&p);
    g_assert_false(p.server.connected);
    g_assert_cmpint(p.server.closed, ==, 1);
    g_assert_true(p.server.closed_with_error);
    g_assert_cmpint(kumis_dtls_get_state(p.server.dtls), ==, KUMIS_DTLS_STATE_FAILED);
    g_assert_cmpint(kumis_dtls_get_profile(p.server.dtls), ==, KUMIS_SRTP_PROFILE_NONE);
    kumis_cert_unref(other);
    pair_clear(&p);
}

/* The fingerprint may come after the handshake (an SDP answer racing the ClientHello). */
static void test_late_fingerprint(void)
{
    struct pair p;
    pair_init(&p, FALSE);
    g_assert_true(kumis_dtls_set_remote_fingerprint(
        p.client.dtls, "sha-256", kumis_cert_get_fingerprint(p.server_cert), NULL));
    pair_handshake(&p);
    g_assert_true(p.client.connected);
    g_assert_false(p.server.connected);
    g_assert_cmpint(p.server.closed, ==, 0);
    g_autofree char *lower = g_ascii_strdown(kumis_cert_get_fingerprint(p.client_cert), -1);
    g_assert_true(kumis_dtls_set_remote_fingerprint(p.server.dtls, "sha-256", lower, NULL));
    g_assert_true(p.server.connected);
    g_assert_cmpmem(p.client.keys.local_key, 16, p.server.keys.remote_key, 16);
    pair_clear(&p);
}

/* Hostile input: every kind of garbage is counted and dropped, and the handshake still works. */
static void test_garbage(void)
{
    struct pair p;
    pair_init(&p, TRUE);
    struct kumis_dtls *d = p.server.dtls;
    guint8 junk[512];
    GRand *rand = g_rand_new_with_seed(7);
    guint expected = 0;
    for (int i = 0; i < 2000; i++) {
        gsize len = g_rand_int_range(rand, 0, sizeof junk);
        for (gsize j = 0; j < len; j++)
            junk[j] = (guint8)g_rand_int(rand);
        if (len > 0 && i % 2 == 0)
            junk[0] = 22; /* handshake type, so some get past the first check */
        kumis_dtls_handle_datagram(d, junk, len);
        expected++;
    }
    /* A header claiming more bytes than the datagram holds. */
    guint8 truncated[] = {22, 0xFE, 0xFD, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00, 1, 2, 3};
    kumis_dtls_handle_datagram(d, truncated, sizeof truncated);
    /* Well-formed records with a nonsense handshake body: OpenSSL must shrug them off. */
    guint8 bogus[40] = {22, 0xFE, 0xFD, 0, 0, 0, 0, 0, 0, 0, 9, 0, 27, 1, 0, 0, 15, 0, 0};
    for (int i = 0; i < 20; i++)
        kumis_dtls_handle_datagram(d, bogus, sizeof bogus);
    struct kumis_dtls_stats stats;
    kumis_dtls_get_stats(d, &stats);
    g_assert_cmpuint(stats.datagrams_in, ==, expected + 21);
    g_assert_cmpuint(stats.dropped_malformed, >=, expected - 30);
    g_assert_cmpuint(stats.dropped_malformed, >=, 1000);
    g_rand_free(rand);

    /* The garbage above may have failed this server (a bogus ClientHello is a fatal alert):
     * what matters is no crash. A fresh pair shows garbage in the middle does no harm. */
    pair_clear(&p);
    pair_init(&p, TRUE);
    kumis_dtls_start(p.server.dtls);
    kumis_dtls_start(p.client.dtls);
    guint8 noise[] = {23, 0xFE, 0xFD, 0, 1, 0, 0, 0, 0, 0, 5, 0, 4, 9, 9, 9, 9};
    kumis_dtls_handle_datagram(p.server.dtls, noise, sizeof noise);
    kumis_dtls_handle_datagram(p.client.dtls, (const guint8 *)"\x30", 1);
    pair_pump(&p);
    g_assert_true(p.client.connected);
    g_assert_true(p.server.connected);
    kumis_dtls_get_stats(p.client.dtls, &stats);
    g_assert_cmpuint(stats.dropped_malformed, ==, 1);
    /* After the end, datagrams are counted as late. */
    kumis_dtls_close(p.server.dtls);
    pair_pump(&p);
    g_assert_cmpint(p.client.closed, ==, 1);
    guint8 hs[13] = {22, 0xFE, 0xFD};
    kumis_dtls_handle_datagram(p.client.dtls, hs, sizeof hs);
    kumis_dtls_get_stats(p.client.dtls, &stats);
    g_assert_cmpuint(stats.dropped_late, ==, 1);
    pair_clear(&p);
}

static gboolean on_timeout(gpointer data)
{
    *(gboolean *)data = TRUE;
    return G_SOURCE_REMOVE;
}

/* A lost flight is sent again by the retransmission timer on the GLib context. */
static void test_retransmission(void)
{
    struct pair p;
    pair_init(&p, TRUE);
    p.client.drop_next = 1; /* lose the ClientHello */
    pair_handshake(&p);
    g_assert_false(p.server.connected);
    gboolean timed_out = FALSE;
    guint timer = g_timeout_add(5000, on_timeout, &timed_out);
    while (!(p.client.connected && p.server.connected) && !timed_out) {
        g_main_context_iteration(NULL, TRUE);
        pair_pump(&p);
    }
    g_assert_false(timed_out);
    g_source_remove(timer);
    g_assert_true(p.client.connected && p.server.connected);
    pair_clear(&p);
}

/* A client whose server never answers gives up with an error (after ~20 s of retries would be
 * too slow here: we only check the timer keeps re-sending the ClientHello). */
static void test_client_retries(void)
{
    struct pair p;
    pair_init(&p, TRUE);
    kumis_dtls_start(p.client.dtls);
    g_assert_cmpuint(g_queue_get_length(p.client.outbox), ==, 1);
    gboolean timed_out = FALSE;
    g_timeout_add(700, on_timeout, &timed_out);
    while (!timed_out)
        g_main_context_iteration(NULL, TRUE);
    /* 200 ms then 400 ms: two retransmissions within 700 ms. */
    g_assert_cmpuint(g_queue_get_length(p.client.outbox), >=, 3);
    pair_clear(&p);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/cert/fingerprint-and-pem", test_cert_fingerprint_and_pem);
    g_test_add_func("/dtls/fingerprint-check", test_fingerprint_check);
    g_test_add_func("/dtls/handshake-keys-srtp", test_handshake_keys);
    g_test_add_func("/dtls/wrong-fingerprint", test_wrong_fingerprint);
    g_test_add_func("/dtls/late-fingerprint", test_late_fingerprint);
    g_test_add_func("/dtls/garbage", test_garbage);
    g_test_add_func("/dtls/retransmission", test_retransmission);
    g_test_add_func("/dtls/client-retries", test_client_retries);
    return g_test_run();
}

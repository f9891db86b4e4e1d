/* kumis — DTLS 1.2 for DTLS-SRTP over memory (RFC 5764, RFC 6347, RFC 5763 fingerprints). */
#include "media/dtls.h"

#include <gio/gio.h>
#include <gst/gst.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <string.h>

GST_DEBUG_CATEGORY_STATIC(kumis_dtls_debug);
#define GST_CAT_DEFAULT kumis_dtls_debug

/* Path MTU we assume: browsers use 1200 (RFC 8261 §5), and it survives tunnels. */
#define DTLS_LINK_MTU 1200
/* RFC 6347 §4.2.4.1 recommends 1 s initial; we start faster and cap low, so a lost flight
 * costs little and OpenSSL's 12 retries still span about 20 s before the handshake fails. */
#define DTLS_TIMER_INITIAL_US 200000
#define DTLS_TIMER_MAX_US     2000000
/* RFC 5764 §4.2 */
#define DTLS_SRTP_EXPORTER_LABEL "EXTRACTOR-dtls_srtp"
/* Server order wins in OpenSSL: GCM first, it costs a quarter of AES-CM here (TESTING.md). */
#define DTLS_SRTP_PROFILES "SRTP_AEAD_AES_128_GCM:SRTP_AEAD_AES_256_GCM:SRTP_AES128_CM_SHA1_80"

struct kumis_dtls {
    enum kumis_dtls_role role;
    enum kumis_dtls_state state;
    GMainContext *context;
    const struct kumis_dtls_callbacks *callbacks;
    void *user_data;
    SSL_CTX *ssl_ctx;
    SSL *ssl;
    BIO *rbio; /* memory BIO we write received datagrams into */
    GSource *timer;
    gboolean handshake_done;   /* OpenSSL finished; fingerprint maybe not verified yet */
    gboolean have_fingerprint; /* remote_fingerprint is set */
    char remote_fingerprint[KUMIS_CERT_FINGERPRINT_LEN + 1];
    char peer_fingerprint[KUMIS_CERT_FINGERPRINT_LEN + 1]; /* of the certificate presented */
    struct kumis_srtp_keys keys;
    struct kumis_dtls_stats stats;
};

const char *kumis_dtls_state_name(enum kumis_dtls_state state)
{
    static const char *const names[] = {"new", "handshaking", "connected", "failed", "closed"};
    return (guint)state < G_N_ELEMENTS(names) ? names[state] : "invalid";
}

/* --- the write BIO: one BIO_write is one datagram handed to the transport ---------------- */

static int dtls_bio_write(BIO *bio, const char *data, int len)
{
    struct kumis_dtls *dtls = BIO_get_data(bio);
    if (len <= 0)
        return 0;
    dtls->stats.datagrams_out++;
    dtls->callbacks->send(dtls, (const guint8 *)data, (gsize)len, dtls->user_data);
    return len;
}

static long dtls_bio_ctrl(BIO *bio, int cmd, long num, void *ptr)
{
    (void)bio;
    (void)num;
    (void)ptr;
    switch (cmd) {
    case BIO_CTRL_FLUSH:
        return 1;
    case BIO_CTRL_DGRAM_QUERY_MTU:
    case BIO_CTRL_DGRAM_GET_FALLBACK_MTU:
        return DTLS_LINK_MTU;
    default:
        return 0; /* pending bytes, MTU overhead, peer address: none */
    }
}

static int dtls_bio_create(BIO *bio)
{
    BIO_set_init(bio, 1);
    return 1;
}

static gpointer dtls_bio_method_make(gpointer unused)
{
    (void)unused;
    BIO_METHOD *method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "kumis-dtls");
    if (method == NULL || !BIO_meth_set_write(method, dtls_bio_write) ||
        !BIO_meth_set_ctrl(method, dtls_bio_ctrl) || !BIO_meth_set_create(method, dtls_bio_create))
        return NULL;
    GST_DEBUG_CATEGORY_INIT(kumis_dtls_debug, "kumis-dtls", 0, "kumis DTLS-SRTP");
    return method;
}

/* Made once per process and never changed afterwards, so it is shared state, not mutable. */
static const BIO_METHOD *dtls_bio_method(void)
{
    static GOnce once = G_ONCE_INIT;
    return g_once(&once, dtls_bio_method_make, NULL);
}

/* --- OpenSSL context -------------------------------------------------------------------- */

/* Self-signed certificates never chain: trust is the fingerprint from the signaled SDP
 * (RFC 5763 §5), checked when the handshake completes. Requesting the certificate still
 * matters: it makes the server send CertificateRequest. */
static int dtls_verify_accept(int preverify_ok, X509_STORE_CTX *store)
{
    (void)preverify_ok;
    (void)store;
    return 1;
}

static unsigned int dtls_timer_cb(SSL *ssl, unsigned int timer_us)
{
    (void)ssl;
    if (timer_us == 0)
        return DTLS_TIMER_INITIAL_US;
    return MIN(timer_us * 2, DTLS_TIMER_MAX_US);
}

static SSL_CTX *dtls_ctx_new(struct kumis_cert *cert)
{
    SSL_CTX *ctx = SSL_CTX_new(DTLS_method());
    if (ctx == NULL)
        return NULL;
    if (SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION) != 1 ||
        SSL_CTX_use_certificate(ctx, kumis_cert_get_x509(cert)) != 1 ||
        SSL_CTX_use_PrivateKey(ctx, kumis_cert_get_key(cert)) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1 ||
        /* Note: this OpenSSL call returns 0 on success. */
        SSL_CTX_set_tlsext_use_srtp(ctx, DTLS_SRTP_PROFILES) != 0) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, dtls_verify_accept);
    SSL_CTX_set_options(ctx, SSL_OP_NO_QUERY_MTU | SSL_OP_NO_TICKET);
    SSL_CTX_set_read_ahead(ctx, 1);
    return ctx;
}

struct kumis_dtls *kumis_dtls_new(struct kumis_cert *cert, enum kumis_dtls_role role,
                                  GMainContext *context,
                                  const struct kumis_dtls_callbacks *callbacks, void *user_data,
                                  GError **error)
{
    const BIO_METHOD *method = dtls_bio_method();
    struct kumis_dtls *dtls = g_new0(struct kumis_dtls, 1);
    dtls->role = role;
    dtls->context = context ? g_main_context_ref(context) : g_main_context_ref_thread_default();
    dtls->callbacks = callbacks;
    dtls->user_data = user_data;
    dtls->ssl_ctx = method ? dtls_ctx_new(cert) : NULL;
    dtls->ssl = dtls->ssl_ctx ? SSL_new(dtls->ssl_ctx) : NULL;
    BIO *wbio = dtls->ssl ? BIO_new(method) : NULL;
    dtls->rbio = wbio ? BIO_new(BIO_s_mem()) : NULL;
    if (dtls->rbio == NULL) {
        BIO_free(wbio);
        kumis_dtls_free(dtls);
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot set up DTLS: OpenSSL failed");
        return NULL;
    }
    BIO_set_data(wbio, dtls);
    /* An empty memory BIO must read as "retry later", not as end of file. */
    BIO_set_mem_eof_return(dtls->rbio, -1);
    SSL_set_bio(dtls->ssl, dtls->rbio, wbio); /* the SSL owns both BIOs now */
    DTLS_set_link_mtu(dtls->ssl, DTLS_LINK_MTU);
    DTLS_set_timer_cb(dtls->ssl, dtls_timer_cb);
    if (role == KUMIS_DTLS_ROLE_SERVER)
        SSL_set_accept_state(dtls->ssl);
    else
        SSL_set_connect_state(dtls->ssl);
    return dtls;
}

void kumis_dtls_free(struct kumis_dtls *dtls)
{
    if (dtls == NULL)
        return;
    if (dtls->timer) {
        g_source_destroy(dtls->timer);
        g_source_unref(dtls->timer);
    }
    SSL_free(dtls->ssl);
    SSL_CTX_free(dtls->ssl_ctx);
    g_main_context_unref(dtls->context);
    memset(&dtls->keys, 0, sizeof dtls->keys);
    g_free(dtls);
}

/* --- state changes ---------------------------------------------------------------------- */

static void dtls_set_state(struct kumis_dtls *dtls, enum kumis_dtls_state state)
{
    GST_INFO("dtls %p: %s -> %s", (void *)dtls, kumis_dtls_state_name(dtls->state),
             kumis_dtls_state_name(state));
    dtls->state = state;
}

static void dtls_timer_stop(struct kumis_dtls *dtls)
{
    if (dtls->timer == NULL)
        return;
    g_source_destroy(dtls->timer);
    g_source_unref(dtls->timer);
    dtls->timer = NULL;
}

/* Ends the association in @state and tells the owner once; @message NULL means a clean
 * close_notify, else why it failed. */
static void dtls_fail(struct kumis_dtls *dtls, enum kumis_dtls_state state, const char *message)
{
    if (dtls->state == KUMIS_DTLS_STATE_FAILED || dtls->state == KUMIS_DTLS_STATE_CLOSED)
        return;
    dtls_timer_stop(dtls);
    dtls_set_state(dtls, state);
    g_autoptr(GError) error = NULL;
    if (message) {
        error = g_error_new_literal(G_IO_ERROR, G_IO_ERROR_FAILED, message);
        GST_WARNING("dtls %p: %s", (void *)dtls, message);
    }
    dtls->callbacks->on_closed(dtls, error, dtls->user_data);
}

/* RFC 5764 §4.2: client_write_key | server_write_key | client_salt | server_salt. */
static gboolean dtls_export_keys(struct kumis_dtls *dtls)
{
    const SRTP_PROTECTION_PROFILE *p = SSL_get_selected_srtp_profile(dtls->ssl);
    struct kumis_srtp_keys *k = &dtls->keys;
    if (p == NULL ||
        !kumis_srtp_profile_lengths((enum kumis_srtp_profile)p->id, &k->key_len, &k->salt_len))
        return FALSE;
    k->profile = (enum kumis_srtp_profile)p->id;
    guint8 material[2 * (KUMIS_SRTP_MAX_KEY_LEN + KUMIS_SRTP_MAX_SALT_LEN)];
    gsize kl = k->key_len, sl = k->salt_len;
    if (SSL_export_keying_material(dtls->ssl, material, 2 * (kl + sl), DTLS_SRTP_EXPORTER_LABEL,
                                   strlen(DTLS_SRTP_EXPORTER_LABEL), NULL, 0, 0) != 1)
        return FALSE;
    const guint8 *client_key = material, *server_key = material + kl;
    const guint8 *client_salt = material + 2 * kl, *server_salt = material + 2 * kl + sl;
    gboolean client = dtls->role == KUMIS_DTLS_ROLE_CLIENT;
    memcpy(k->local_key, client ? client_key : server_key, kl);
    memcpy(k->local_salt, client ? client_salt : server_salt, sl);
    memcpy(k->remote_key, client ? server_key : client_key, kl);
    memcpy(k->remote_salt, client ? server_salt : client_salt, sl);
    memset(material, 0, sizeof material);
    return TRUE;
}

/* The handshake is done and the fingerprint known: accept or refuse the peer. */
static void dtls_verify_and_connect(struct kumis_dtls *dtls)
{
    if (!dtls->handshake_done || !dtls->have_fingerprint ||
        dtls->state != KUMIS_DTLS_STATE_HANDSHAKING)
        return;
    if (g_ascii_strcasecmp(dtls->peer_fingerprint, dtls->remote_fingerprint) != 0) {
        dtls_fail(dtls, KUMIS_DTLS_STATE_FAILED,
                  "the peer's certificate does not match the fingerprint from its SDP");
        return;
    }
    if (!dtls_export_keys(dtls)) {
        dtls_fail(dtls, KUMIS_DTLS_STATE_FAILED, "no DTLS-SRTP profile or key export failed");
        return;
    }
    dtls_set_state(dtls, KUMIS_DTLS_STATE_CONNECTED);
    GST_INFO("dtls %p: SRTP profile %s", (void *)dtls, kumis_srtp_profile_name(dtls->keys.profile));
    dtls->callbacks->on_connected(dtls, &dtls->keys, dtls->user_data);
}

static void dtls_handshake_finished(struct kumis_dtls *dtls)
{
    X509 *peer = SSL_get0_peer_certificate(dtls->ssl);
    if (peer == NULL || !kumis_cert_fingerprint_of(peer, dtls->peer_fingerprint)) {
        dtls_fail(dtls, KUMIS_DTLS_STATE_FAILED, "the peer sent no usable certificate");
        return;
    }
    dtls->handshake_done = TRUE;
    dtls_verify_and_connect(dtls);
}

/* --- driving OpenSSL -------------------------------------------------------------------- */

static gboolean dtls_on_timer(gpointer data);

/* Re-arms the retransmission timer from OpenSSL's deadline (RFC 6347 §4.2.4). */
static void dtls_timer_update(struct kumis_dtls *dtls)
{
    dtls_timer_stop(dtls);
    struct timeval tv;
    if (dtls->state >= KUMIS_DTLS_STATE_FAILED || DTLSv1_get_timeout(dtls->ssl, &tv) <= 0)
        return;
    guint ms = (guint)tv.tv_sec * 1000 + (guint)(tv.tv_usec + 999) / 1000;
    dtls->timer = g_timeout_source_new(ms);
    g_source_set_callback(dtls->timer, dtls_on_timer, dtls, NULL);
    g_source_attach(dtls->timer, dtls->context);
}

static void dtls_fail_openssl(struct kumis_dtls *dtls, const char *what)
{
    char buf[256];
    unsigned long code = ERR_peek_last_error();
    ERR_error_string_n(code, buf, sizeof buf);
    ERR_clear_error();
    g_autofree char *message = g_strdup_printf("DTLS %s failed: %s", what, buf);
    dtls_fail(dtls, KUMIS_DTLS_STATE_FAILED, message);
}

/* Runs the handshake or reads records (alerts, close_notify) after it. */
static void dtls_pump(struct kumis_dtls *dtls)
{
    ERR_clear_error(); /* the error queue is per thread and may hold others' leftovers */
    if (!SSL_is_init_finished(dtls->ssl)) {
        int ret = SSL_do_handshake(dtls->ssl);
        if (ret == 1) {
            dtls_handshake_finished(dtls);
        } else {
            int err = SSL_get_error(dtls->ssl, ret);
            if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
                dtls_fail_openssl(dtls, "handshake");
                return;
            }
        }
    }
    while (SSL_is_init_finished(dtls->ssl) && dtls->state < KUMIS_DTLS_STATE_FAILED &&
           BIO_ctrl_pending(dtls->rbio) > 0) {
        guint8 buf[2048];
        int n = SSL_read(dtls->ssl, buf, sizeof buf);
        if (n > 0) {
            dtls->stats.app_data_ignored++;
            continue;
        }
        int err = SSL_get_error(dtls->ssl, n);
        if (err == SSL_ERROR_ZERO_RETURN) {
            dtls_fail(dtls, KUMIS_DTLS_STATE_CLOSED, NULL); /* close_notify: a clean end */
            return;
        }
        if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
            dtls_fail_openssl(dtls, "read");
            return;
        }
        break;
    }
    dtls_timer_update(dtls);
}

static gboolean dtls_on_timer(gpointer data)
{
    struct kumis_dtls *dtls = data;
    g_source_unref(dtls->timer);
    dtls->timer = NULL;
    ERR_clear_error();
    if (DTLSv1_handle_timeout(dtls->ssl) < 0) {
        dtls_fail_openssl(dtls, "handshake (timeout)");
        return G_SOURCE_REMOVE;
    }
    dtls_timer_update(dtls);
    return G_SOURCE_REMOVE;
}

void kumis_dtls_start(struct kumis_dtls *dtls)
{
    if (dtls->state != KUMIS_DTLS_STATE_NEW)
        return;
    dtls_set_state(dtls, KUMIS_DTLS_STATE_HANDSHAKING);
    if (dtls->role == KUMIS_DTLS_ROLE_CLIENT)
        dtls_pump(dtls); /* sends ClientHello */
}

/* RFC 6347 §4.1: every record is type(1) version(2) epoch(2) sequence(6) length(2) fragment.
 * Content types 20..25; DTLS versions have 0xFE as first byte. */
static gboolean dtls_records_well_formed(const guint8 *data, gsize len)
{
    if (len == 0)
        return FALSE;
    while (len > 0) {
        if (len < 13 || data[0] < 20 || data[0] > 25 || data[1] != 0xFE)
            return FALSE;
        gsize fragment = (gsize)data[11] << 8 | data[12];
        if (fragment > len - 13)
            return FALSE;
        data += 13 + fragment;
        len -= 13 + fragment;
    }
    return TRUE;
}

void kumis_dtls_handle_datagram(struct kumis_dtls *dtls, const guint8 *data, gsize len)
{
    dtls->stats.datagrams_in++;
    if (!dtls_records_well_formed(data, len) || len > G_MAXINT) {
        dtls->stats.dropped_malformed++;
        return;
    }
    if (dtls->state >= KUMIS_DTLS_STATE_FAILED) {
        dtls->stats.dropped_late++;
        return;
    }
    /* A server answers a ClientHello even before the transport called start (the browser's
     * ClientHello may beat our own ICE "connected"). */
    if (dtls->state == KUMIS_DTLS_STATE_NEW) {
        if (dtls->role == KUMIS_DTLS_ROLE_CLIENT) {
            dtls->stats.dropped_late++;
            return;
        }
        dtls_set_state(dtls, KUMIS_DTLS_STATE_HANDSHAKING);
    }
    BIO_write(dtls->rbio, data, (int)len);
    dtls_pump(dtls);
    /* OpenSSL leaves records it refused in the BIO; never let them pile up. */
    (void)BIO_reset(dtls->rbio);
}

/* Parses "AB:CD:..." (32 hex pairs) into canonical upper case. */
static gboolean dtls_fingerprint_parse(const char *text, char out[KUMIS_CERT_FINGERPRINT_LEN + 1])
{
    if (strlen(text) != KUMIS_CERT_FINGERPRINT_LEN)
        return FALSE;
    for (gsize i = 0; i < KUMIS_CERT_FINGERPRINT_LEN; i++) {
        gboolean colon = i % 3 == 2;
        if (colon ? text[i] != ':' : !g_ascii_isxdigit(text[i]))
            return FALSE;
        out[i] = g_ascii_toupper(text[i]);
    }
    out[KUMIS_CERT_FINGERPRINT_LEN] = '\0';
    return TRUE;
}

gboolean kumis_dtls_fingerprint_check(const char *hash_function, const char *fingerprint,
                                      GError **error)
{
    char canonical[KUMIS_CERT_FINGERPRINT_LEN + 1];
    if (g_ascii_strcasecmp(hash_function, "sha-256") != 0) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                    "fingerprint hash function \"%s\" is not supported (only sha-256)",
                    hash_function);
        return FALSE;
    }
    if (!dtls_fingerprint_parse(fingerprint, canonical)) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                    "malformed sha-256 fingerprint");
        return FALSE;
    }
    return TRUE;
}

gboolean kumis_dtls_set_remote_fingerprint(struct kumis_dtls *dtls, const char *hash_function,
                                           const char *fingerprint, GError **error)
{
    if (!kumis_dtls_fingerprint_check(hash_function, fingerprint, error))
        return FALSE;
    dtls_fingerprint_parse(fingerprint, dtls->remote_fingerprint);
    dtls->have_fingerprint = TRUE;
    dtls_verify_and_connect(dtls);
    return TRUE;
}

void kumis_dtls_close(struct kumis_dtls *dtls)
{
    dtls_timer_stop(dtls);
    enum kumis_dtls_state was = dtls->state;
    if (was == KUMIS_DTLS_STATE_CLOSED)
        return;
    dtls_set_state(dtls, KUMIS_DTLS_STATE_CLOSED);
    /* close_notify only makes sense once both sides share keys; before that, silence. */
    if (was == KUMIS_DTLS_STATE_CONNECTED) {
        ERR_clear_error();
        SSL_shutdown(dtls->ssl);
        ERR_clear_error();
    }
}

enum kumis_dtls_state kumis_dtls_get_state(const struct kumis_dtls *dtls)
{
    return dtls->state;
}

enum kumis_srtp_profile kumis_dtls_get_profile(const struct kumis_dtls *dtls)
{
    return dtls->state == KUMIS_DTLS_STATE_CONNECTED ? dtls->keys.profile : KUMIS_SRTP_PROFILE_NONE;
}

void kumis_dtls_get_stats(const struct kumis_dtls *dtls, struct kumis_dtls_stats *stats)
{
    *stats = dtls->stats;
}

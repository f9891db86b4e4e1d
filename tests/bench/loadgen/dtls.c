/* DTLS-SRTP endpoint over memory BIOs (RFC 5764, RFC 7714 for AES-GCM). */
#include "dtls.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <string.h>

#define DTLS_MTU          1200
#define RECORD_HEADER_LEN 13

static int on_verify(int ok, X509_STORE_CTX *store)
{
    (void)ok;
    (void)store;
    /* The remote certificate is self-signed by design (RFC 8827 §6.5): accept it. A benchmark
     * does not compare it with the SDP fingerprint (README: known gaps). */
    return 1;
}

static X509 *certificate_make(EVP_PKEY *key)
{
    X509 *cert = X509_new();
    if (cert == NULL)
        return NULL;
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert), 30L * 24 * 3600);
    X509_set_pubkey(cert, key);
    X509_NAME *name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"kumis-loadgen", -1,
                               -1, 0);
    X509_set_issuer_name(cert, name);
    if (X509_sign(cert, key, EVP_sha256()) == 0) {
        X509_free(cert);
        return NULL;
    }
    return cert;
}

static void fingerprint_format(X509 *cert, char *out, size_t cap)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    X509_digest(cert, EVP_sha256(), md, &len);
    size_t off = (size_t)snprintf(out, cap, "sha-256 ");
    for (unsigned int i = 0; i < len && off + 4 < cap; i++)
        off += (size_t)snprintf(out + off, cap - off, i ? ":%02X" : "%02X", md[i]);
}

int dtls_context_init(struct dtls_context *dc)
{
    memset(dc, 0, sizeof *dc);
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *cert = key ? certificate_make(key) : NULL;
    dc->ctx = SSL_CTX_new(DTLS_method());
    if (cert == NULL || dc->ctx == NULL)
        goto out_openssl;
    if (SSL_CTX_use_certificate(dc->ctx, cert) != 1 || SSL_CTX_use_PrivateKey(dc->ctx, key) != 1)
        goto out_openssl;
    SSL_CTX_set_verify(dc->ctx, SSL_VERIFY_PEER | SSL_VERIFY_CLIENT_ONCE, on_verify);
    /* RFC 7714 GCM first: ~4x cheaper than AES-CM + HMAC-SHA1 with Debian's libsrtp2. */
    if (SSL_CTX_set_tlsext_use_srtp(dc->ctx, "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80") != 0)
        goto out_openssl;
    SSL_CTX_set_read_ahead(dc->ctx, 1);
    fingerprint_format(cert, dc->fingerprint, sizeof dc->fingerprint);
    X509_free(cert);
    EVP_PKEY_free(key);
    return srtp_init() == srtp_err_status_ok ? 0 : -1;
out_openssl:
    X509_free(cert);
    EVP_PKEY_free(key);
    SSL_CTX_free(dc->ctx);
    dc->ctx = NULL;
    return -1;
}

void dtls_context_clear(struct dtls_context *dc)
{
    SSL_CTX_free(dc->ctx);
    dc->ctx = NULL;
    srtp_shutdown();
}

/* OpenSSL's default first retransmission waits 1 s (RFC 6347 §4.2.4.1). A flight sent before
 * the server's ICE agent accepted the pair is dropped, and the 1 s wait would then dominate the
 * measured join time: start at 100 ms, double up to 2 s. */
static unsigned int on_dtls_timer(SSL *ssl, unsigned int previous_us)
{
    (void)ssl;
    if (previous_us == 0)
        return 100000;
    return previous_us >= 1000000 ? 2000000 : previous_us * 2;
}

int dtls_session_init(struct dtls_session *ds, struct dtls_context *dc, int is_client)
{
    memset(ds, 0, sizeof *ds);
    ds->ssl = SSL_new(dc->ctx);
    ds->rbio = BIO_new(BIO_s_mem());
    ds->wbio = BIO_new(BIO_s_mem());
    if (ds->ssl == NULL || ds->rbio == NULL || ds->wbio == NULL) {
        SSL_free(ds->ssl);
        BIO_free(ds->rbio);
        BIO_free(ds->wbio);
        memset(ds, 0, sizeof *ds);
        return -1;
    }
    BIO_set_mem_eof_return(ds->rbio, -1);
    BIO_set_mem_eof_return(ds->wbio, -1);
    SSL_set_bio(ds->ssl, ds->rbio, ds->wbio);
    SSL_set_options(ds->ssl, SSL_OP_NO_QUERY_MTU);
    SSL_set_mtu(ds->ssl, DTLS_MTU);
    DTLS_set_link_mtu(ds->ssl, DTLS_MTU);
    DTLS_set_timer_cb(ds->ssl, on_dtls_timer);
    ds->is_client = is_client;
    if (is_client)
        SSL_set_connect_state(ds->ssl);
    else
        SSL_set_accept_state(ds->ssl);
    return 0;
}

void dtls_session_clear(struct dtls_session *ds)
{
    if (ds->ssl)
        SSL_free(ds->ssl); /* frees both BIOs */
    if (ds->tx)
        srtp_dealloc(ds->tx);
    if (ds->rx)
        srtp_dealloc(ds->rx);
    memset(ds, 0, sizeof *ds);
}

/* RFC 5764 §4.2: client_write_key | server_write_key | client_salt | server_salt. */
static int srtp_sessions_create(struct dtls_session *ds)
{
    const SRTP_PROTECTION_PROFILE *p = SSL_get_selected_srtp_profile(ds->ssl);
    if (p == NULL)
        return -1;
    srtp_policy_t tx_policy, rx_policy;
    memset(&tx_policy, 0, sizeof tx_policy);
    size_t key_len = 16, salt_len;
    if (p->id == SRTP_AEAD_AES_128_GCM) {
        salt_len = 12;
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&tx_policy.rtp);
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&tx_policy.rtcp);
    } else if (p->id == SRTP_AES128_CM_SHA1_80) {
        salt_len = 14;
        srtp_crypto_policy_set_rtp_default(&tx_policy.rtp);
        srtp_crypto_policy_set_rtcp_default(&tx_policy.rtcp);
    } else {
        return -1;
    }
    ds->profile = p->name;
    uint8_t m[2 * (16 + 14)];
    if (SSL_export_keying_material(ds->ssl, m, 2 * (key_len + salt_len), "EXTRACTOR-dtls_srtp", 19,
                                   NULL, 0, 0) != 1)
        return -1;
    uint8_t client[16 + 14], server[16 + 14];
    memcpy(client, m, key_len);
    memcpy(server, m + key_len, key_len);
    memcpy(client + key_len, m + 2 * key_len, salt_len);
    memcpy(server + key_len, m + 2 * key_len + salt_len, salt_len);
    rx_policy = tx_policy;
    tx_policy.ssrc.type = ssrc_any_outbound;
    tx_policy.key = ds->is_client ? client : server;
    tx_policy.window_size = 1024;
    rx_policy.ssrc.type = ssrc_any_inbound;
    rx_policy.key = ds->is_client ? server : client;
    rx_policy.window_size = 1024;
    if (srtp_create(&ds->tx, &tx_policy) != srtp_err_status_ok ||
        srtp_create(&ds->rx, &rx_policy) != srtp_err_status_ok)
        return -1;
    return 0;
}

int dtls_session_advance(struct dtls_session *ds, const uint8_t *buf, size_t len)
{
    if (ds->failed)
        return -1;
    if (buf != NULL && len > 0)
        BIO_write(ds->rbio, buf, (int)len);
    if (ds->done) {
        /* Late records (alerts, retransmitted Finished): let OpenSSL consume them. */
        uint8_t sink[512];
        while (SSL_read(ds->ssl, sink, sizeof sink) > 0)
            ;
        ERR_clear_error();
        return 0;
    }
    if (buf == NULL)
        DTLSv1_handle_timeout(ds->ssl);
    int r = SSL_do_handshake(ds->ssl);
    if (r == 1) {
        if (srtp_sessions_create(ds) != 0) {
            ds->failed = 1;
            return -1;
        }
        ds->done = 1;
        return 0;
    }
    int err = SSL_get_error(ds->ssl, r);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
        return 0;
    ERR_clear_error();
    ds->failed = 1;
    return -1;
}

size_t dtls_session_take_datagram(struct dtls_session *ds, uint8_t *out, size_t cap)
{
    char *data = NULL;
    long pending = BIO_get_mem_data(ds->wbio, &data);
    if (pending <= 0)
        return 0;
    /* The memory BIO keeps no datagram boundaries: cut whole records (RFC 6347 §4.1: several
     * records may share a datagram) into datagrams of at most @cap bytes. */
    size_t len = 0;
    while (len + RECORD_HEADER_LEN <= (size_t)pending) {
        const uint8_t *rec = (const uint8_t *)data + len;
        size_t rec_len = RECORD_HEADER_LEN + (size_t)(rec[11] << 8 | rec[12]);
        if (len > 0 && len + rec_len > cap)
            break;
        len += rec_len;
    }
    if (len == 0 || len > (size_t)pending || len > cap)
        len = (size_t)pending < cap ? (size_t)pending : cap;
    return (size_t)BIO_read(ds->wbio, out, (int)len);
}

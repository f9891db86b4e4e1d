/* DTLS-SRTP for one load-generator peer: an OpenSSL DTLS endpoint over memory BIOs (the
 * peer's UDP socket carries the records) whose exported keys set up two libsrtp2 sessions
 * (RFC 5764 §4.2). */
#pragma once

#include <openssl/ssl.h>
#include <srtp2/srtp.h>
#include <stddef.h>
#include <stdint.h>

/* One certificate and SSL_CTX shared by every peer of the generator. */
struct dtls_context {
    SSL_CTX *ctx;
    char fingerprint[128]; /* "sha-256 AB:CD:..." as in the SDP a=fingerprint line */
};

struct dtls_session {
    SSL *ssl;
    BIO *rbio, *wbio;
    int is_client;
    int done;   /* handshake finished and SRTP sessions ready */
    int failed; /* handshake failed: the peer is dead */
    srtp_t tx, rx;
    const char *profile; /* negotiated SRTP protection profile name */
};

/* Makes a self-signed ECDSA P-256 certificate and the DTLS context offering
 * SRTP_AEAD_AES_128_GCM then SRTP_AES128_CM_SHA1_80. Returns 0, or -1 on an OpenSSL error. */
int dtls_context_init(struct dtls_context *dc);

/* Frees what dtls_context_init() made. */
void dtls_context_clear(struct dtls_context *dc);

/* Starts a DTLS endpoint, client (it will send the ClientHello on dtls_session_start()) or
 * server. Returns 0, or -1 on allocation failure. */
int dtls_session_init(struct dtls_session *ds, struct dtls_context *dc, int is_client);

/* Frees the SSL object and the SRTP sessions. Idempotent. */
void dtls_session_clear(struct dtls_session *ds);

/* Drives the handshake: feeds one received datagram (NULL for none: start or timer) and
 * advances. Outgoing records are read with dtls_session_take_datagram(). When the handshake
 * completes, exports the keys and creates the SRTP sessions (ds->done). Returns 0, or -1
 * when the handshake failed. */
int dtls_session_advance(struct dtls_session *ds, const uint8_t *buf, size_t len);

/* Moves the next datagram to send (whole DTLS records, at most @cap bytes, at least one
 * record) into @out. Returns its length, 0 when nothing is pending. */
size_t dtls_session_take_datagram(struct dtls_session *ds, uint8_t *out, size_t cap);

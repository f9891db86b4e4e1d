/* kumis — the daemon's DTLS certificate: one self-signed ECDSA P-256 certificate per process,
 * its SHA-256 fingerprint for SDP (RFC 8122 §5, `a=fingerprint:sha-256 AB:CD:...`), and PEM
 * output for the HTTPS certificate made on first start (DESIGN §7). */
#pragma once

#include <glib.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

/* Length of "AB:CD:...:EF" for a SHA-256 digest, without the terminating NUL. */
#define KUMIS_CERT_FINGERPRINT_LEN (32 * 3 - 1)

struct kumis_cert;

/* Makes a new ECDSA P-256 key and a self-signed X.509v3 certificate for it, valid from a day ago
 * for @valid_days days, subject CN=@common_name, with the subjectAltName list @alt_names in
 * OpenSSL syntax ("DNS:localhost,IP:127.0.0.1") or none when NULL. Fails (NULL, @error set) only
 * when OpenSSL fails. Thread-safe: the result is immutable and reference counted.
 * Returns: (transfer full) a certificate; release with kumis_cert_unref(). */
struct kumis_cert *kumis_cert_new_self_signed(const char *common_name, const char *alt_names,
                                              guint valid_days, GError **error);

/* Returns: (transfer full) another reference to @cert. */
struct kumis_cert *kumis_cert_ref(struct kumis_cert *cert);

/* Drops one reference; the last one frees the key and certificate. NULL is ignored. */
void kumis_cert_unref(struct kumis_cert *cert);

/* Returns: (transfer none) the SHA-256 fingerprint as upper-case hex pairs joined by ':',
 * valid as long as @cert. Never fails. */
const char *kumis_cert_get_fingerprint(const struct kumis_cert *cert);

/* Returns: (transfer none) the OpenSSL certificate and key, for SSL_CTX_use_certificate(). */
X509 *kumis_cert_get_x509(const struct kumis_cert *cert);
EVP_PKEY *kumis_cert_get_key(const struct kumis_cert *cert);

/* Writes the SHA-256 fingerprint of @x509 into @out (KUMIS_CERT_FINGERPRINT_LEN + 1 bytes) as
 * "AB:CD:...". Touches no global state. Returns: FALSE when the digest cannot be computed. */
gboolean kumis_cert_fingerprint_of(X509 *x509, char out[KUMIS_CERT_FINGERPRINT_LEN + 1]);

/* Writes the certificate to @cert_path (mode 0644) and the private key to @key_path (mode 0600),
 * each through a temporary file, fsync and rename so a crash never leaves half a key.
 * Fails with a G_IO_ERROR naming the path. Returns: TRUE when both files are written. */
gboolean kumis_cert_write_pem(const struct kumis_cert *cert, const char *cert_path,
                              const char *key_path, GError **error);

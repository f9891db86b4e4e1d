/* kumis — one AES-GCM key for one direction, used packet after packet with a fresh IV.
 *
 * Why not EVP alone: OpenSSL 3.0's EVP layer around a provider's cipher costs as much per
 * packet as the AES-GCM of a 160-byte packet itself (perf at 100 subscribers:
 * EVP_CipherInit_ex 5 % of a worker's time, 3.3 % of it EVP_CIPHER_CTX_get_iv_length asking
 * the provider for the IV length through OSSL_PARAM on every call; 3.0 does not cache it). So
 * a key calls the AES-GCM functions of the provider that EVP itself would use, found once
 * through OSSL_PROVIDER_query_operation() (the provider interface, provider-cipher(7)) and
 * checked against EVP on a known input at start; where they cannot be had, EVP it is.
 *
 * The struct is public so that its owner holds it by value (one cache line less to fetch per
 * packet); its fields are private to gcm_key.c. A key is used by one thread at a time. */
#pragma once

#include <glib.h>
#include <openssl/evp.h>

#define KUMIS_GCM_IV_LEN  12 /* the only IV length used (RFC 7714 §8.1) */
#define KUMIS_GCM_TAG_LEN 16

struct kumis_gcm_functions;

struct kumis_gcm_key {
    const struct kumis_gcm_functions *fn; /* NULL: through @evp */
    void *algctx;                         /* the provider's own context, with @fn */
    EVP_CIPHER_CTX *evp;
    gboolean encrypt;
};

/* Keys @key with @raw (@key_len 16 for AES-128, 32 for AES-256) for encryption when @encrypt,
 * else decryption. @raw is not kept. Returns: FALSE (nothing to clear) on another length or when
 * OpenSSL fails. */
gboolean kumis_gcm_key_init(struct kumis_gcm_key *key, gboolean encrypt, const guint8 *raw,
                            gsize key_len);

/* Frees what @key holds and wipes its key schedule; a zeroed key is fine. */
void kumis_gcm_key_clear(struct kumis_gcm_key *key);

/* One AEAD pass under @iv: @aad (then @aad2, may be NULL) authenticated, the @len bytes at
 * @data en- or decrypted in place, the tag written to (encryption) or checked against
 * (decryption) @tag. Returns: FALSE on a decryption whose tag does not match, or when OpenSSL
 * fails. */
gboolean kumis_gcm_key_crypt(struct kumis_gcm_key *key, const guint8 *iv, const guint8 *aad,
                             gsize aad_len, const guint8 *aad2, gsize aad2_len, guint8 *data,
                             gsize len, guint8 *tag);

/* Asks the processor for the first lines of @key's cipher context (the provider's: IV, GHASH
 * table, key schedule); a hint, no effect on behaviour. */
void kumis_gcm_key_prefetch(const struct kumis_gcm_key *key);

/* Whether @key calls the provider's functions (TRUE) or goes through EVP. */
gboolean kumis_gcm_key_is_direct(const struct kumis_gcm_key *key);

/* Tests: keys initialised from now on go through EVP when @evp, else the provider's functions
 * when they could be found (the default). */
void kumis_gcm_key_force_evp(gboolean evp);

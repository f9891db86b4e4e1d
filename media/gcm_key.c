/* kumis — one AES-GCM key for one direction (see gcm_key.h for why not EVP alone). */
#include "media/gcm_key.h"

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>
#include <openssl/provider.h>
#include <string.h>

/* The provider's AES-GCM of one key size (provider-cipher(7)). */
struct kumis_gcm_functions {
    EVP_CIPHER *cipher; /* fetched like EVP would; holds its provider loaded */
    void *provctx;
    OSSL_FUNC_cipher_newctx_fn *newctx;
    OSSL_FUNC_cipher_freectx_fn *freectx;
    OSSL_FUNC_cipher_encrypt_init_fn *einit;
    OSSL_FUNC_cipher_decrypt_init_fn *dinit;
    OSSL_FUNC_cipher_update_fn *update;
    OSSL_FUNC_cipher_final_fn *final;
    OSSL_FUNC_cipher_get_ctx_params_fn *get_params;
    OSSL_FUNC_cipher_set_ctx_params_fn *set_params;
};

static gint gcm_force_evp;

void kumis_gcm_key_force_evp(gboolean evp)
{
    g_atomic_int_set(&gcm_force_evp, evp ? 1 : 0);
}

static const EVP_CIPHER *gcm_evp_cipher(gsize key_len)
{
    return key_len == 16 ? EVP_aes_128_gcm() : key_len == 32 ? EVP_aes_256_gcm() : NULL;
}

/* Whether the colon-separated @names (an OSSL_ALGORITHM's) hold @name. */
static gboolean gcm_names_hold(const char *names, const char *name)
{
    gsize len = strlen(name);
    for (const char *p = names; p != NULL;) {
        const char *end = strchr(p, ':');
        gsize n = end != NULL ? (gsize)(end - p) : strlen(p);
        if (n == len && g_ascii_strncasecmp(p, name, len) == 0)
            return TRUE;
        p = end != NULL ? end + 1 : NULL;
    }
    return FALSE;
}

static void gcm_functions_take(struct kumis_gcm_functions *f, const OSSL_DISPATCH *d)
{
    for (; d->function_id != 0; d++) {
        switch (d->function_id) {
        case OSSL_FUNC_CIPHER_NEWCTX:
            f->newctx = OSSL_FUNC_cipher_newctx(d);
            break;
        case OSSL_FUNC_CIPHER_FREECTX:
            f->freectx = OSSL_FUNC_cipher_freectx(d);
            break;
        case OSSL_FUNC_CIPHER_ENCRYPT_INIT:
            f->einit = OSSL_FUNC_cipher_encrypt_init(d);
            break;
        case OSSL_FUNC_CIPHER_DECRYPT_INIT:
            f->dinit = OSSL_FUNC_cipher_decrypt_init(d);
            break;
        case OSSL_FUNC_CIPHER_UPDATE:
            f->update = OSSL_FUNC_cipher_update(d);
            break;
        case OSSL_FUNC_CIPHER_FINAL:
            f->final = OSSL_FUNC_cipher_final(d);
            break;
        case OSSL_FUNC_CIPHER_GET_CTX_PARAMS:
            f->get_params = OSSL_FUNC_cipher_get_ctx_params(d);
            break;
        case OSSL_FUNC_CIPHER_SET_CTX_PARAMS:
            f->set_params = OSSL_FUNC_cipher_set_ctx_params(d);
            break;
        default:
            break;
        }
    }
}

/* Fills @f with the functions of the provider that implements @name for EVP. */
static gboolean gcm_functions_find(struct kumis_gcm_functions *f, const char *name)
{
    f->cipher = EVP_CIPHER_fetch(NULL, name, NULL);
    const OSSL_PROVIDER *prov = f->cipher != NULL ? EVP_CIPHER_get0_provider(f->cipher) : NULL;
    if (prov == NULL)
        return FALSE;
    int no_store = 0;
    const OSSL_ALGORITHM *algs = OSSL_PROVIDER_query_operation(prov, OSSL_OP_CIPHER, &no_store);
    for (const OSSL_ALGORITHM *a = algs; a != NULL && a->algorithm_names != NULL; a++) {
        if (gcm_names_hold(a->algorithm_names, name)) {
            gcm_functions_take(f, a->implementation);
            break;
        }
    }
    if (algs != NULL)
        OSSL_PROVIDER_unquery_operation(prov, OSSL_OP_CIPHER, algs);
    f->provctx = OSSL_PROVIDER_get0_provider_ctx(prov);
    return f->newctx != NULL && f->freectx != NULL && f->einit != NULL && f->dinit != NULL &&
           f->update != NULL && f->final != NULL && f->get_params != NULL && f->set_params != NULL;
}

static gboolean gcm_key_init_with(struct kumis_gcm_key *key, const struct kumis_gcm_functions *fn,
                                  gboolean encrypt, const guint8 *raw, gsize key_len)
{
    memset(key, 0, sizeof *key);
    const EVP_CIPHER *cipher = gcm_evp_cipher(key_len);
    if (cipher == NULL)
        return FALSE;
    key->encrypt = encrypt;
    gboolean ok;
    if (fn != NULL) {
        key->fn = fn;
        key->algctx = fn->newctx(fn->provctx);
        ok = key->algctx != NULL &&
             (encrypt ? fn->einit : fn->dinit)(key->algctx, raw, key_len, NULL, 0, NULL) == 1;
    } else {
        /* GCM's default IV length is the 12 bytes of RFC 7714 §8.1. */
        key->evp = EVP_CIPHER_CTX_new();
        ok = key->evp != NULL && EVP_CipherInit_ex(key->evp, cipher, NULL, raw, NULL, encrypt) == 1;
    }
    if (!ok)
        kumis_gcm_key_clear(key);
    return ok;
}

/* The provider's functions pass one known encryption and decryption exactly as EVP does. */
static gboolean gcm_functions_check(const struct kumis_gcm_functions *fn, gsize key_len)
{
    guint8 raw[32], iv[KUMIS_GCM_IV_LEN], aad[20];
    guint8 data[2][45], tag[2][KUMIS_GCM_TAG_LEN];
    for (guint i = 0; i < sizeof raw; i++)
        raw[i] = (guint8)(i * 7 + 1);
    for (guint i = 0; i < sizeof iv; i++)
        iv[i] = (guint8)(i * 13 + 5);
    for (guint i = 0; i < sizeof aad; i++)
        aad[i] = (guint8)(i * 3);
    for (guint i = 0; i < sizeof data[0]; i++)
        data[0][i] = data[1][i] = (guint8)(i * 11 + 2);
    struct kumis_gcm_key keys[2] = {{0}};
    gboolean ok = TRUE;
    for (guint k = 0; k < 2; k++) {
        ok = ok && gcm_key_init_with(&keys[k], k == 0 ? fn : NULL, TRUE, raw, key_len) &&
             kumis_gcm_key_crypt(&keys[k], iv, aad, 12, aad + 12, 8, data[k], sizeof data[k],
                                 tag[k]);
        kumis_gcm_key_clear(&keys[k]);
    }
    ok = ok && memcmp(data[0], data[1], sizeof data[0]) == 0 &&
         memcmp(tag[0], tag[1], sizeof tag[0]) == 0;
    /* Back through the provider: the plain text again, and a flipped bit refused. */
    struct kumis_gcm_key rx = {0};
    ok = ok && gcm_key_init_with(&rx, fn, FALSE, raw, key_len) &&
         kumis_gcm_key_crypt(&rx, iv, aad, 12, aad + 12, 8, data[0], sizeof data[0], tag[0]) &&
         data[0][0] == 2;
    if (ok) {
        data[1][3] ^= 1;
        ok = !kumis_gcm_key_crypt(&rx, iv, aad, 12, aad + 12, 8, data[1], sizeof data[1], tag[1]);
    }
    kumis_gcm_key_clear(&rx);
    return ok;
}

/* The provider's functions for @key_len, or NULL: looked up and checked once per size. */
static const struct kumis_gcm_functions *gcm_functions_get(gsize key_len)
{
    static struct kumis_gcm_functions table[2];
    static gboolean found[2];
    static gsize done = 0;
    if (g_once_init_enter(&done)) {
        const char *names[2] = {"AES-128-GCM", "AES-256-GCM"};
        for (guint i = 0; i < 2; i++) {
            found[i] = gcm_functions_find(&table[i], names[i]) &&
                       gcm_functions_check(&table[i], i == 0 ? 16 : 32);
            if (!found[i])
                g_message("%s: OpenSSL's provider functions not usable; through EVP (slower)",
                          names[i]);
        }
        g_once_init_leave(&done, 1);
    }
    guint i = key_len == 16 ? 0 : 1;
    return found[i] ? &table[i] : NULL;
}

gboolean kumis_gcm_key_init(struct kumis_gcm_key *key, gboolean encrypt, const guint8 *raw,
                            gsize key_len)
{
    if (key_len != 16 && key_len != 32) {
        memset(key, 0, sizeof *key);
        return FALSE;
    }
    const struct kumis_gcm_functions *fn =
        g_atomic_int_get(&gcm_force_evp) ? NULL : gcm_functions_get(key_len);
    return gcm_key_init_with(key, fn, encrypt, raw, key_len);
}

void kumis_gcm_key_clear(struct kumis_gcm_key *key)
{
    /* Both free functions cleanse the key schedule. */
    if (key->fn != NULL && key->algctx != NULL)
        key->fn->freectx(key->algctx);
    EVP_CIPHER_CTX_free(key->evp);
    memset(key, 0, sizeof *key);
}

/* OpenSSL 3.0's AES-GCM context is ~900 bytes; a packet reads most of its first 14 lines. */
#define GCM_CTX_PREFETCH 896

void kumis_gcm_key_prefetch(const struct kumis_gcm_key *key)
{
    const char *ctx = key->algctx;
    if (ctx == NULL)
        return;
    for (gsize at = 0; at < GCM_CTX_PREFETCH; at += 64)
        __builtin_prefetch(ctx + at);
}

gboolean kumis_gcm_key_is_direct(const struct kumis_gcm_key *key)
{
    return key->fn != NULL;
}

static gboolean gcm_key_crypt_evp(EVP_CIPHER_CTX *ctx, gboolean encrypt, const guint8 *iv,
                                  const guint8 *aad, int aad_len, const guint8 *aad2, int aad2_len,
                                  guint8 *data, int len, guint8 *tag)
{
    int n = 0;
    if (encrypt) {
        return EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, iv) == 1 &&
               EVP_EncryptUpdate(ctx, NULL, &n, aad, aad_len) == 1 &&
               (aad2 == NULL || EVP_EncryptUpdate(ctx, NULL, &n, aad2, aad2_len) == 1) &&
               (len == 0 || EVP_EncryptUpdate(ctx, data, &n, data, len) == 1) &&
               EVP_EncryptFinal_ex(ctx, data + len, &n) == 1 &&
               EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, KUMIS_GCM_TAG_LEN, tag) == 1;
    }
    return EVP_DecryptInit_ex(ctx, NULL, NULL, NULL, iv) == 1 &&
           EVP_DecryptUpdate(ctx, NULL, &n, aad, aad_len) == 1 &&
           (aad2 == NULL || EVP_DecryptUpdate(ctx, NULL, &n, aad2, aad2_len) == 1) &&
           (len == 0 || EVP_DecryptUpdate(ctx, data, &n, data, len) == 1) &&
           EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, KUMIS_GCM_TAG_LEN, tag) == 1 &&
           EVP_DecryptFinal_ex(ctx, data + len, &n) == 1;
}

gboolean kumis_gcm_key_crypt(struct kumis_gcm_key *key, const guint8 *iv, const guint8 *aad,
                             gsize aad_len, const guint8 *aad2, gsize aad2_len, guint8 *data,
                             gsize len, guint8 *tag)
{
    if (aad_len > G_MAXINT || aad2_len > G_MAXINT || len > G_MAXINT)
        return FALSE;
    if (key->fn == NULL)
        return gcm_key_crypt_evp(key->evp, key->encrypt, iv, aad, (int)aad_len, aad2, (int)aad2_len,
                                 data, (int)len, tag);
    /* What EVP_{En,De}crypt{Init_ex,Update,Final_ex} and the tag ctrl do, without their
     * look-ups: the provider's init with an IV alone keeps the key. */
    const struct kumis_gcm_functions *fn = key->fn;
    void *c = key->algctx;
    size_t n = 0;
    OSSL_PARAM params[2] = {
        OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag, KUMIS_GCM_TAG_LEN),
        OSSL_PARAM_construct_end()};
    if ((key->encrypt ? fn->einit : fn->dinit)(c, NULL, 0, iv, KUMIS_GCM_IV_LEN, NULL) != 1 ||
        fn->update(c, NULL, &n, aad_len, aad, aad_len) != 1 ||
        (aad2 != NULL && fn->update(c, NULL, &n, aad2_len, aad2, aad2_len) != 1) ||
        (len > 0 && fn->update(c, data, &n, len, data, len) != 1))
        return FALSE;
    if (key->encrypt)
        return fn->final(c, data + len, &n, 0) == 1 && fn->get_params(c, params) == 1;
    return fn->set_params(c, params) == 1 && fn->final(c, data + len, &n, 0) == 1;
}

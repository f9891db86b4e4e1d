/* kumis — self-signed ECDSA P-256 certificate and its SHA-256 fingerprint (RFC 8122 §5). */
#include "media/cert.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

struct kumis_cert {
    gatomicrefcount refs;
    EVP_PKEY *key;
    X509 *x509;
    char fingerprint[KUMIS_CERT_FINGERPRINT_LEN + 1];
};

gboolean kumis_cert_fingerprint_of(X509 *x509, char out[KUMIS_CERT_FINGERPRINT_LEN + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    if (x509 == NULL || X509_digest(x509, EVP_sha256(), md, &md_len) != 1 || md_len != 32)
        return FALSE;
    static const char hex[] = "0123456789ABCDEF";
    for (unsigned int i = 0; i < md_len; i++) {
        out[i * 3] = hex[md[i] >> 4];
        out[i * 3 + 1] = hex[md[i] & 0xf];
        out[i * 3 + 2] = i + 1 < md_len ? ':' : '\0';
    }
    return TRUE;
}

static gboolean cert_add_extension(X509 *x509, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x509, x509, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (ext == NULL)
        return FALSE;
    gboolean ok = X509_add_ext(x509, ext, -1) == 1;
    X509_EXTENSION_free(ext);
    return ok;
}

static X509 *cert_build(EVP_PKEY *key, const char *common_name, const char *alt_names,
                        guint valid_days)
{
    X509 *x509 = X509_new();
    if (x509 == NULL)
        return NULL;
    /* RFC 5280 §4.1.2.2: a positive serial of at most 20 octets; 63 random bits suffice. */
    guint64 serial = ((guint64)g_random_int() << 32 | g_random_int()) >> 1;
    X509_NAME *name = X509_get_subject_name(x509);
    if (X509_set_version(x509, 2) != 1 ||
        ASN1_INTEGER_set_uint64(X509_get_serialNumber(x509), serial) != 1 ||
        X509_gmtime_adj(X509_getm_notBefore(x509), -24L * 3600) == NULL ||
        X509_gmtime_adj(X509_getm_notAfter(x509), (long)valid_days * 24 * 3600) == NULL ||
        X509_set_pubkey(x509, key) != 1 ||
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)common_name,
                                   -1, -1, 0) != 1 ||
        X509_set_issuer_name(x509, name) != 1 ||
        !cert_add_extension(x509, NID_basic_constraints, "critical,CA:FALSE") ||
        (alt_names != NULL && !cert_add_extension(x509, NID_subject_alt_name, alt_names)) ||
        X509_sign(x509, key, EVP_sha256()) == 0)
        goto out_openssl_failed;
    return x509;

out_openssl_failed:
    X509_free(x509);
    return NULL;
}

struct kumis_cert *kumis_cert_new_self_signed(const char *common_name, const char *alt_names,
                                              guint valid_days, GError **error)
{
    g_return_val_if_fail(common_name != NULL && valid_days > 0, NULL);
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x509 = key ? cert_build(key, common_name, alt_names, valid_days) : NULL;
    if (x509 == NULL) {
        EVP_PKEY_free(key);
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                    "cannot make a self-signed certificate: OpenSSL failed");
        return NULL;
    }
    struct kumis_cert *cert = g_new0(struct kumis_cert, 1);
    g_atomic_ref_count_init(&cert->refs);
    cert->key = key;
    cert->x509 = x509;
    /* Cannot fail for a certificate we just signed with SHA-256 available. */
    gboolean ok = kumis_cert_fingerprint_of(x509, cert->fingerprint);
    g_assert(ok);
    return cert;
}

struct kumis_cert *kumis_cert_ref(struct kumis_cert *cert)
{
    g_atomic_ref_count_inc(&cert->refs);
    return cert;
}

void kumis_cert_unref(struct kumis_cert *cert)
{
    if (cert == NULL || !g_atomic_ref_count_dec(&cert->refs))
        return;
    X509_free(cert->x509);
    EVP_PKEY_free(cert->key);
    g_free(cert);
}

const char *kumis_cert_get_fingerprint(const struct kumis_cert *cert)
{
    return cert->fingerprint;
}

X509 *kumis_cert_get_x509(const struct kumis_cert *cert)
{
    return cert->x509;
}

EVP_PKEY *kumis_cert_get_key(const struct kumis_cert *cert)
{
    return cert->key;
}

/* Writes @key or @x509 to @path through "@path.tmp", fsync and rename. */
static gboolean cert_pem_write(const char *path, mode_t mode, EVP_PKEY *key, X509 *x509,
                               GError **error)
{
    g_autofree char *tmp = g_strconcat(path, ".tmp", NULL);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) {
        int err = errno;
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(err), "cannot write %s: %s", tmp,
                    g_strerror(err));
        return FALSE;
    }
    /* open() applies the umask; the key must be 0600 whatever the umask says. */
    gboolean ok = fchmod(fd, mode) == 0;
    FILE *f = fdopen(fd, "w");
    if (f == NULL) {
        close(fd);
        ok = FALSE;
    } else {
        ok = ok && (key ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL)
                        : PEM_write_X509(f, x509)) == 1;
        ok = fflush(f) == 0 && fsync(fd) == 0 && ok;
        ok = fclose(f) == 0 && ok;
    }
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot write %s", path);
        return FALSE;
    }
    return TRUE;
}

gboolean kumis_cert_write_pem(const struct kumis_cert *cert, const char *cert_path,
                              const char *key_path, GError **error)
{
    return cert_pem_write(key_path, 0600, cert->key, NULL, error) &&
           cert_pem_write(cert_path, 0644, NULL, cert->x509, error);
}

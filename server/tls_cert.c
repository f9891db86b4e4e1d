/* kumis — self-signed HTTPS certificate made on first start (DESIGN §7). */
#include "server/tls_cert.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <unistd.h>

static gboolean ssl_fail(GError **error, const char *what)
{
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot make certificate: %s failed", what);
    return FALSE;
}

static gboolean cert_add_ext(X509 *cert, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (ext == NULL)
        return FALSE;
    int ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok == 1;
}

static X509 *cert_build(EVP_PKEY *key)
{
    X509 *cert = X509_new();
    guint64 serial = g_random_int() | (guint64)g_random_int() << 32;
    X509_set_version(cert, 2);
    ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert), serial >> 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), -24 * 3600);
    X509_gmtime_adj(X509_getm_notAfter(cert), 10L * 365 * 24 * 3600);
    X509_set_pubkey(cert, key);
    X509_NAME *name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"kumis localhost",
                               -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"kumis", -1, -1, 0);
    X509_set_issuer_name(cert, name);
    if (!cert_add_ext(cert, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1") ||
        !cert_add_ext(cert, NID_basic_constraints, "critical,CA:FALSE") ||
        !cert_add_ext(cert, NID_ext_key_usage, "serverAuth") ||
        X509_sign(cert, key, EVP_sha256()) == 0) {
        X509_free(cert);
        return NULL;
    }
    return cert;
}

/* Writes through a temporary file and a rename, so a crash never leaves half a key. */
static gboolean pem_write(const char *path, mode_t mode, EVP_PKEY *key, X509 *cert, GError **error)
{
    g_autofree char *tmp = g_strconcat(path, ".tmp", NULL);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) {
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "cannot write %s: %s", tmp,
                    g_strerror(errno));
        return FALSE;
    }
    FILE *f = fdopen(fd, "w");
    int ok =
        key ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) : PEM_write_X509(f, cert);
    ok = fflush(f) == 0 && fsync(fd) == 0 && ok;
    fclose(f);
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot write %s", path);
        return FALSE;
    }
    return TRUE;
}

gboolean kumis_tls_cert_ensure(const char *cert_path, const char *key_path, gboolean *created,
                               GError **error)
{
    gboolean have_cert = g_file_test(cert_path, G_FILE_TEST_EXISTS);
    gboolean have_key = g_file_test(key_path, G_FILE_TEST_EXISTS);
    *created = FALSE;
    if (have_cert && have_key)
        return TRUE;
    if (have_cert != have_key) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                    "%s exists but %s does not: remove the other one or restore it",
                    have_cert ? cert_path : key_path, have_cert ? key_path : cert_path);
        return FALSE;
    }
    EVP_PKEY *key = EVP_EC_gen("P-256");
    if (key == NULL)
        return ssl_fail(error, "EC key generation");
    X509 *cert = cert_build(key);
    if (cert == NULL) {
        EVP_PKEY_free(key);
        return ssl_fail(error, "X509 signing");
    }
    gboolean ok = pem_write(key_path, 0600, key, NULL, error) &&
                  pem_write(cert_path, 0644, NULL, cert, error);
    X509_free(cert);
    EVP_PKEY_free(key);
    *created = ok;
    return ok;
}

/* kumis — the HTTPS certificate: a configured one, or a self-signed one made on first start. */
#pragma once

#include <glib.h>

/* Makes sure @cert_path and @key_path exist: when both are missing, writes a new self-signed
 * ECDSA P-256 certificate for "localhost" and 127.0.0.1 (valid 10 years) and its key (mode 0600).
 * Fails when only one exists, or on any I/O error. Returns: TRUE when created or already there;
 * *@created tells which. */
gboolean kumis_tls_cert_ensure(const char *cert_path, const char *key_path, gboolean *created,
                               GError **error);

/* kumis — SRTP sessions keyed by DTLS-SRTP (RFC 3711, RFC 5764, RFC 7714): srtp_gcm (OpenSSL)
 * both ways with a GCM profile, libsrtp2 with AES-CM. Debian's libsrtp2 runs AES-GCM on NSS at
 * 2-4 times the cost (unit/test_srtp_gcm's benchmark: 0.92 against 0.38 µs to protect a
 * 1200-byte packet, 0.96 against 0.43 to unprotect one); what we send is protected once per
 * packet and subscriber, and unprotecting the publishers' packets and the subscribers' RTCP
 * through NSS was 2.9 % of a worker's time at 100 subscribers (perf: PK11_Decrypt). */
#include "media/srtp_session.h"

#include "media/srtp_gcm.h"

#include <gio/gio.h>
#include <srtp2/srtp.h>
#include <string.h>

/* Replay window (RFC 3711 §3.3.2 asks for at least 64); video bursts reorder more than that. */
#define SRTP_REPLAY_WINDOW 1024
/* Largest packet handed to libsrtp, whose length argument is an int. */
#define SRTP_MAX_PACKET 65536

struct kumis_srtp_session {
    srtp_t inbound;                      /* AES-CM profile only */
    srtp_t outbound;                     /* AES-CM profile only */
    struct kumis_srtp_gcm *gcm_inbound;  /* GCM profiles only */
    struct kumis_srtp_gcm *gcm_outbound; /* GCM profiles only */
    struct kumis_srtp_stats stats;
};

const char *kumis_srtp_profile_name(enum kumis_srtp_profile profile)
{
    switch (profile) {
    case KUMIS_SRTP_PROFILE_AES128_CM_SHA1_80:
        return "SRTP_AES128_CM_SHA1_80";
    case KUMIS_SRTP_PROFILE_AEAD_AES_128_GCM:
        return "SRTP_AEAD_AES_128_GCM";
    case KUMIS_SRTP_PROFILE_AEAD_AES_256_GCM:
        return "SRTP_AEAD_AES_256_GCM";
    case KUMIS_SRTP_PROFILE_NONE:
        break;
    }
    return "none";
}

gboolean kumis_srtp_profile_lengths(enum kumis_srtp_profile profile, guint *key_len,
                                    guint *salt_len)
{
    switch (profile) {
    case KUMIS_SRTP_PROFILE_AES128_CM_SHA1_80: /* RFC 5764 §4.1.2 */
        *key_len = 16;
        *salt_len = 14;
        return TRUE;
    case KUMIS_SRTP_PROFILE_AEAD_AES_128_GCM: /* RFC 7714 §12 */
        *key_len = 16;
        *salt_len = 12;
        return TRUE;
    case KUMIS_SRTP_PROFILE_AEAD_AES_256_GCM:
        *key_len = 32;
        *salt_len = 12;
        return TRUE;
    case KUMIS_SRTP_PROFILE_NONE:
        break;
    }
    return FALSE;
}

static gpointer srtp_init_once(gpointer unused)
{
    (void)unused;
    return GINT_TO_POINTER(srtp_init() == srtp_err_status_ok ? 1 : 2);
}

static gboolean srtp_policy_set(srtp_policy_t *policy, enum kumis_srtp_profile profile)
{
    switch (profile) {
    case KUMIS_SRTP_PROFILE_AES128_CM_SHA1_80:
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy->rtp);
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy->rtcp);
        return TRUE;
    case KUMIS_SRTP_PROFILE_AEAD_AES_128_GCM: /* srtp_gcm */
    case KUMIS_SRTP_PROFILE_AEAD_AES_256_GCM:
    case KUMIS_SRTP_PROFILE_NONE:
        break;
    }
    return FALSE;
}

/* libsrtp wants key || salt in one buffer (srtp_policy_t.key). */
static srtp_err_status_t srtp_session_create(srtp_t *out, enum kumis_srtp_profile profile,
                                             srtp_ssrc_type_t type, const guint8 *key,
                                             guint key_len, const guint8 *salt, guint salt_len)
{
    guint8 master[KUMIS_SRTP_MAX_KEY_LEN + KUMIS_SRTP_MAX_SALT_LEN];
    memcpy(master, key, key_len);
    memcpy(master + key_len, salt, salt_len);
    srtp_policy_t policy;
    memset(&policy, 0, sizeof policy);
    srtp_policy_set(&policy, profile);
    policy.ssrc.type = type;
    policy.key = master;
    policy.window_size = SRTP_REPLAY_WINDOW;
    /* An SFU resends cached packets on NACK (RFC 4585 §6.2.1) with the same sequence number. */
    policy.allow_repeat_tx = 1;
    srtp_err_status_t status = srtp_create(out, &policy);
    memset(master, 0, sizeof master);
    return status;
}

struct kumis_srtp_session *kumis_srtp_session_new(const struct kumis_srtp_keys *keys,
                                                  GError **error)
{
    static GOnce once = G_ONCE_INIT;
    if (GPOINTER_TO_INT(g_once(&once, srtp_init_once, NULL)) != 1) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "srtp_init() failed");
        return NULL;
    }
    guint key_len, salt_len;
    if (!kumis_srtp_profile_lengths(keys->profile, &key_len, &salt_len) ||
        keys->key_len != key_len || keys->salt_len != salt_len) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                    "SRTP profile %d with %u-byte keys and %u-byte salts is not supported",
                    (int)keys->profile, keys->key_len, keys->salt_len);
        return NULL;
    }
    struct kumis_srtp_session *session = g_new0(struct kumis_srtp_session, 1);
    if (keys->profile != KUMIS_SRTP_PROFILE_AES128_CM_SHA1_80) {
        session->gcm_inbound = kumis_srtp_gcm_new(KUMIS_SRTP_GCM_UNPROTECT, keys->remote_key,
                                                  key_len, keys->remote_salt, salt_len, error);
        session->gcm_outbound =
            session->gcm_inbound == NULL
                ? NULL
                : kumis_srtp_gcm_new(KUMIS_SRTP_GCM_PROTECT, keys->local_key, key_len,
                                     keys->local_salt, salt_len, error);
        if (session->gcm_outbound == NULL) {
            kumis_srtp_session_free(session);
            return NULL;
        }
        return session;
    }
    srtp_err_status_t status =
        srtp_session_create(&session->inbound, keys->profile, ssrc_any_inbound, keys->remote_key,
                            key_len, keys->remote_salt, salt_len);
    if (status == srtp_err_status_ok)
        status = srtp_session_create(&session->outbound, keys->profile, ssrc_any_outbound,
                                     keys->local_key, key_len, keys->local_salt, salt_len);
    if (status != srtp_err_status_ok) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "srtp_create() failed: error %d",
                    (int)status);
        kumis_srtp_session_free(session);
        return NULL;
    }
    return session;
}

void kumis_srtp_session_free(struct kumis_srtp_session *session)
{
    if (session == NULL)
        return;
    if (session->inbound)
        srtp_dealloc(session->inbound);
    if (session->outbound)
        srtp_dealloc(session->outbound);
    kumis_srtp_gcm_free(session->gcm_inbound);
    kumis_srtp_gcm_free(session->gcm_outbound);
    g_free(session);
}

/* Smallest RTP header (RFC 3550 §5.1) and RTCP header (RFC 3550 §6.4.1). */
#define RTP_MIN_LEN  12
#define RTCP_MIN_LEN 8

void kumis_srtp_session_prefetch(const struct kumis_srtp_session *session)
{
    __builtin_prefetch(session);
}

void kumis_srtp_session_prefetch_keys(const struct kumis_srtp_session *session, gboolean deep)
{
    if (session->gcm_outbound == NULL)
        return;
    if (deep)
        kumis_srtp_gcm_prefetch_deep(session->gcm_outbound);
    else
        kumis_srtp_gcm_prefetch(session->gcm_outbound);
}

gboolean kumis_srtp_session_protect_rtp(struct kumis_srtp_session *session, guint8 *buf, gsize *len,
                                        gsize capacity)
{
    gboolean ok = *len >= RTP_MIN_LEN && *len <= SRTP_MAX_PACKET &&
                  capacity >= *len + KUMIS_SRTP_MAX_OVERHEAD;
    if (ok && session->gcm_outbound != NULL) {
        ok = kumis_srtp_gcm_protect_rtp(session->gcm_outbound, buf, len, capacity);
    } else if (ok) {
        int n = (int)*len;
        ok = srtp_protect(session->outbound, buf, &n) == srtp_err_status_ok;
        if (ok)
            *len = (gsize)n;
    }
    if (!ok)
        session->stats.protect_failures++;
    return ok;
}

gboolean kumis_srtp_session_protect_rtcp(struct kumis_srtp_session *session, guint8 *buf,
                                         gsize *len, gsize capacity)
{
    gboolean ok = *len >= RTCP_MIN_LEN && *len <= SRTP_MAX_PACKET &&
                  capacity >= *len + KUMIS_SRTP_MAX_OVERHEAD;
    if (ok && session->gcm_outbound != NULL) {
        ok = kumis_srtp_gcm_protect_rtcp(session->gcm_outbound, buf, len, capacity);
    } else if (ok) {
        int n = (int)*len;
        ok = srtp_protect_rtcp(session->outbound, buf, &n) == srtp_err_status_ok;
        if (ok)
            *len = (gsize)n;
    }
    if (!ok)
        session->stats.protect_failures++;
    return ok;
}

gboolean kumis_srtp_session_unprotect_rtp(struct kumis_srtp_session *session, guint8 *buf,
                                          gsize *len)
{
    gboolean ok = *len >= RTP_MIN_LEN && *len <= SRTP_MAX_PACKET;
    if (ok && session->gcm_inbound != NULL) {
        ok = kumis_srtp_gcm_unprotect_rtp(session->gcm_inbound, buf, len);
    } else if (ok) {
        int n = (int)*len;
        ok = srtp_unprotect(session->inbound, buf, &n) == srtp_err_status_ok;
        if (ok)
            *len = (gsize)n;
    }
    if (!ok)
        session->stats.unprotect_failures++;
    return ok;
}

gboolean kumis_srtp_session_unprotect_rtcp(struct kumis_srtp_session *session, guint8 *buf,
                                           gsize *len)
{
    gboolean ok = *len >= RTCP_MIN_LEN && *len <= SRTP_MAX_PACKET;
    if (ok && session->gcm_inbound != NULL) {
        ok = kumis_srtp_gcm_unprotect_rtcp(session->gcm_inbound, buf, len);
    } else if (ok) {
        int n = (int)*len;
        ok = srtp_unprotect_rtcp(session->inbound, buf, &n) == srtp_err_status_ok;
        if (ok)
            *len = (gsize)n;
    }
    if (!ok)
        session->stats.unprotect_failures++;
    return ok;
}

void kumis_srtp_session_get_stats(const struct kumis_srtp_session *session,
                                  struct kumis_srtp_stats *stats)
{
    *stats = session->stats;
}

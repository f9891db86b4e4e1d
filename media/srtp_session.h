/* kumis — SRTP/SRTCP protection of one transport (RFC 3711, RFC 7714 for GCM), keyed from
 * DTLS-SRTP (RFC 5764): media/srtp_gcm.h with a GCM profile, libsrtp2 with AES-CM. One inbound
 * and one outbound side, any SSRC. */
#pragma once

#include <glib.h>

/* The SRTP protection profiles we negotiate (RFC 5764 §4.1.2, RFC 7714 §14.2). */
enum kumis_srtp_profile {
    KUMIS_SRTP_PROFILE_NONE = 0,
    KUMIS_SRTP_PROFILE_AES128_CM_SHA1_80 = 0x0001,
    KUMIS_SRTP_PROFILE_AEAD_AES_128_GCM = 0x0007,
    KUMIS_SRTP_PROFILE_AEAD_AES_256_GCM = 0x0008,
};

/* Longest master key and salt of the profiles above (AES-256 key; AES-CM 112-bit salt). */
#define KUMIS_SRTP_MAX_KEY_LEN  32
#define KUMIS_SRTP_MAX_SALT_LEN 14

/* Bytes a caller buffer needs after the packet for protect: the 16-byte GCM tag (AES-CM: 10)
 * plus the 4-byte SRTCP index (RFC 3711 §3.4). We never use an MKI. */
#define KUMIS_SRTP_MAX_OVERHEAD 20

/* Keys of one DTLS-SRTP association, already split by direction: "local" protects what we send,
 * "remote" unprotects what we receive (RFC 5764 §4.2: the client writes with the client key). */
struct kumis_srtp_keys {
    enum kumis_srtp_profile profile;
    guint key_len;  /* bytes of each master key */
    guint salt_len; /* bytes of each master salt */
    guint8 local_key[KUMIS_SRTP_MAX_KEY_LEN];
    guint8 local_salt[KUMIS_SRTP_MAX_SALT_LEN];
    guint8 remote_key[KUMIS_SRTP_MAX_KEY_LEN];
    guint8 remote_salt[KUMIS_SRTP_MAX_SALT_LEN];
};

/* Failure counters; read them on the thread that uses the session. */
struct kumis_srtp_stats {
    guint64 protect_failures;
    guint64 unprotect_failures; /* authentication, replay or malformed packets */
};

struct kumis_srtp_session;

/* Returns: the name of @profile as in RFC 5764/7714 ("SRTP_AEAD_AES_128_GCM"), or "none". */
const char *kumis_srtp_profile_name(enum kumis_srtp_profile profile);

/* Master key and salt lengths of @profile; FALSE for an unknown profile. */
gboolean kumis_srtp_profile_lengths(enum kumis_srtp_profile profile, guint *key_len,
                                    guint *salt_len);

/* Makes the inbound and outbound sides for @keys: with a GCM profile two media/srtp_gcm.h
 * contexts, else libsrtp2 sessions (ssrc_any_inbound, ssrc_any_outbound; srtp_init() is called
 * once per process first, thread-safe). Fails with @error set on an
 * unknown profile, wrong key lengths or a libsrtp error. A session is used by one thread at a
 * time (libsrtp is not thread-safe per session).
 * Returns: (transfer full) free with kumis_srtp_session_free(). */
struct kumis_srtp_session *kumis_srtp_session_new(const struct kumis_srtp_keys *keys,
                                                  GError **error);

void kumis_srtp_session_free(struct kumis_srtp_session *session);

/* Asks the processor for @session's own struct (a hint, no effect on behaviour). */
void kumis_srtp_session_prefetch(const struct kumis_srtp_session *session);

/* The same for the state its packets are protected with, once @session was fetched; with @deep,
 * for what lies behind that state (kumis_srtp_gcm_prefetch_deep), once it was fetched. */
void kumis_srtp_session_prefetch_keys(const struct kumis_srtp_session *session, gboolean deep);

/* Protects the RTP packet of *@len bytes in @buf in place; @capacity is the size of @buf and must
 * leave KUMIS_SRTP_MAX_OVERHEAD bytes after the packet. On success *@len is the SRTP length.
 * Returns: FALSE (counted, @buf unspecified) when the packet is malformed or too big. */
gboolean kumis_srtp_session_protect_rtp(struct kumis_srtp_session *session, guint8 *buf, gsize *len,
                                        gsize capacity);

/* As kumis_srtp_session_protect_rtp() for an RTCP compound packet (SRTCP, RFC 3711 §3.4). */
gboolean kumis_srtp_session_protect_rtcp(struct kumis_srtp_session *session, guint8 *buf,
                                         gsize *len, gsize capacity);

/* Authenticates and decrypts the SRTP packet of *@len bytes in @buf in place; *@len becomes the
 * plaintext length. Returns: FALSE (counted) on an authentication failure, a replay or a
 * malformed packet; @buf is then unspecified. */
gboolean kumis_srtp_session_unprotect_rtp(struct kumis_srtp_session *session, guint8 *buf,
                                          gsize *len);

/* As kumis_srtp_session_unprotect_rtp() for SRTCP. */
gboolean kumis_srtp_session_unprotect_rtcp(struct kumis_srtp_session *session, guint8 *buf,
                                           gsize *len);

/* Copies the failure counters of @session into @stats. */
void kumis_srtp_session_get_stats(const struct kumis_srtp_session *session,
                                  struct kumis_srtp_stats *stats);

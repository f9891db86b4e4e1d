/* kumis — SRTP and SRTCP with AEAD AES-GCM (RFC 7714) on OpenSSL (gcm_key.h), both ways.
 *
 * Why: Debian's libsrtp2 is built on NSS, whose AES-GCM costs a lock and hash look-ups per
 * packet; the SFU protects every forwarded packet once per subscriber, so that was ~17 % of
 * kumisd's CPU at 100 subscribers, and unprotecting what came in another 2.9 % of a worker's.
 * OpenSSL's AES-GCM (AES-NI, no locks) is several times cheaper. Output is byte-identical to
 * libsrtp2's (tests/unit/test_srtp_gcm.c checks it).
 *
 * Scope: profiles AEAD_AES_128_GCM and AEAD_AES_256_GCM (RFC 7714 §14.2), 16-byte tag, no MKI,
 * key derivation rate 0, SRTCP always encrypted (E = 1) when protecting. One context protects
 * or unprotects (never both); it keeps per-SSRC state for at most KUMIS_SRTP_GCM_MAX_SSRCS
 * SSRCs. A context is used by one thread at a time; after kumis_srtp_gcm_new() it allocates
 * only for an SSRC's first packet. */
#pragma once

#include <glib.h>

#define KUMIS_SRTP_GCM_TAG_LEN  16 /* RFC 7714 §14.2: 16-octet authentication tag */
#define KUMIS_SRTP_GCM_SALT_LEN 12 /* RFC 7714 §12: 96-bit master and session salt */
/* Bytes protect appends: the tag, and for SRTCP the 4-byte E flag and index (RFC 7714 §9). */
#define KUMIS_SRTP_GCM_RTP_OVERHEAD  KUMIS_SRTP_GCM_TAG_LEN
#define KUMIS_SRTP_GCM_RTCP_OVERHEAD (KUMIS_SRTP_GCM_TAG_LEN + 4)
/* SSRCs one context tracks (rollover counter, SRTCP index, replay window); a packet of one
 * SSRC more is refused. A state is never forgotten: an SSRC coming back with its rollover
 * counter reset would reuse GCM nonces. A transport sends a handful at a time, but every
 * subscription gets fresh ones (media/sfu.c), so a down transport collects them as speakers
 * come and go over an edition; 1024 is ~100 KB at worst (~230 KB unprotecting: the RTP
 * replay windows). */
#define KUMIS_SRTP_GCM_MAX_SSRCS 1024
/* Largest packet accepted, protected or not (a UDP datagram is smaller). */
#define KUMIS_SRTP_GCM_MAX_PACKET 65536

enum kumis_srtp_gcm_direction {
    KUMIS_SRTP_GCM_PROTECT,   /* we send: encrypt and tag */
    KUMIS_SRTP_GCM_UNPROTECT, /* we receive: authenticate, check replay, decrypt */
};

struct kumis_srtp_gcm;

/* Derives the RTP and RTCP session keys and salts from @master_key (@key_len 16 for
 * AEAD_AES_128_GCM, 32 for AEAD_AES_256_GCM) and @master_salt (@salt_len 12) with the AES-CM
 * KDF (RFC 3711 §4.3, RFC 7714 §11) and sets up the ciphers for @direction. The master key and
 * salt are not kept. Fails with @error set on other lengths or when OpenSSL fails.
 * Returns: (transfer full) free with kumis_srtp_gcm_free(). */
struct kumis_srtp_gcm *kumis_srtp_gcm_new(enum kumis_srtp_gcm_direction direction,
                                          const guint8 *master_key, gsize key_len,
                                          const guint8 *master_salt, gsize salt_len,
                                          GError **error);

/* Asks the processor for @gcm's own struct (a hint, no effect on behaviour). */
void kumis_srtp_gcm_prefetch(const struct kumis_srtp_gcm *gcm);

/* Once @gcm's struct is in (kumis_srtp_gcm_prefetch), asks for what a protect reads behind it:
 * the RTP key's cipher context and the two most recent SSRCs' states. A hint. */
void kumis_srtp_gcm_prefetch_deep(const struct kumis_srtp_gcm *gcm);

/* Whether @gcm's ciphers call OpenSSL's provider directly, not through EVP (media/gcm_key.h;
 * for tests). */
gboolean kumis_srtp_gcm_is_direct(const struct kumis_srtp_gcm *gcm);

/* Frees @gcm and wipes its keys. NULL is ignored. */
void kumis_srtp_gcm_free(struct kumis_srtp_gcm *gcm);

/* Protects the RTP packet of *@len bytes in @buf in place (RFC 7714 §8): the payload after the
 * header (CSRCs and header extension included, all authenticated) is encrypted and the tag
 * appended; *@len grows by KUMIS_SRTP_GCM_RTP_OVERHEAD. The packet index comes from the SSRC's
 * highest index sent (RFC 3711 §3.3.1), so an older sequence number resent for a NACK gets the
 * rollover counter it was first sent with, and 65535 -> 0 advances it.
 * Returns: FALSE, the context unchanged (and @buf, unless OpenSSL itself failed), when the
 * packet is shorter than its header,
 * longer than KUMIS_SRTP_GCM_MAX_PACKET, @capacity has no room for the tag, the SSRC table is
 * full or its rollover counter is exhausted (2^48 packets). @gcm must be a protect context. */
gboolean kumis_srtp_gcm_protect_rtp(struct kumis_srtp_gcm *gcm, guint8 *buf, gsize *len,
                                    gsize capacity);

/* Protects the RTCP compound packet of *@len bytes in @buf in place (RFC 7714 §9): the first 8
 * bytes stay clear, the rest is encrypted, then come the tag and the E flag with the 31-bit
 * SRTCP index of the first packet's sender SSRC (1 for its first packet, as libsrtp2);
 * *@len grows by KUMIS_SRTP_GCM_RTCP_OVERHEAD.
 * Returns: FALSE, context unchanged, as kumis_srtp_gcm_protect_rtp() (shorter than 8 bytes, no
 * room for tag and index), or when the SSRC's index is exhausted (2^31 - 1 packets). */
gboolean kumis_srtp_gcm_protect_rtcp(struct kumis_srtp_gcm *gcm, guint8 *buf, gsize *len,
                                     gsize capacity);

/* Authenticates and decrypts the SRTP packet of *@len bytes in @buf in place; *@len shrinks by
 * the tag. The SSRC's rollover counter and 1024-packet replay window advance only for a packet
 * that authenticates.
 * Returns: FALSE (@buf unspecified, context unchanged) when the packet is malformed, fails
 * authentication, is a replay or older than the window, or the SSRC table is full. */
gboolean kumis_srtp_gcm_unprotect_rtp(struct kumis_srtp_gcm *gcm, guint8 *buf, gsize *len);

/* As kumis_srtp_gcm_unprotect_rtp() for SRTCP; encrypted (E = 1) and authenticated-only
 * (E = 0, RFC 7714 §9.3) packets are both accepted; the replay window is 64 packets. *@len shrinks
 * by KUMIS_SRTP_GCM_RTCP_OVERHEAD. */
gboolean kumis_srtp_gcm_unprotect_rtcp(struct kumis_srtp_gcm *gcm, guint8 *buf, gsize *len);

/* kumis — SRTP/SRTCP AEAD AES-GCM (RFC 7714) with OpenSSL; see srtp_gcm.h for why. */
#include "media/srtp_gcm.h"

#include <gio/gio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <string.h>

#include "media/gcm_key.h"

/* RTP header (RFC 3550 §5.1), header extension (§5.3.1), RTCP header (§6.4.1). */
#define RTP_HEADER_LEN    12
#define RTP_EXTENSION_LEN 4
#define RTCP_HEADER_LEN   8
#define SRTCP_TRAILER_LEN 4
#define SRTCP_E_FLAG      0x80000000u
#define SRTCP_INDEX_MAX   0x7FFFFFFFu /* RFC 3711 §3.4: 31 bits */
#define SRTP_INDEX_LIMIT  (G_GUINT64_CONSTANT(1) << 48)
#define SRTP_SEQ_HALF     0x8000u /* 2^15, RFC 3711 §3.3.1 */
/* RFC 3711 §3.3.2 asks for at least 64. SRTCP gets 64; SRTP 1024 (what srtp_session.c gave
 * libsrtp2: a video frame's burst reorders more than 64 on a busy path). */
#define SRTCP_REPLAY_WORDS 1
#define SRTP_REPLAY_WORDS  16
#define SRTP_GCM_RECENT    4

/* RFC 3711 §4.3.1 labels (RFC 7714 §11 uses the same KDF). */
enum srtp_gcm_label {
    LABEL_RTP_ENCRYPTION = 0x00,
    LABEL_RTP_SALT = 0x02,
    LABEL_RTCP_ENCRYPTION = 0x03,
    LABEL_RTCP_SALT = 0x05,
};

/* What one context knows of one SSRC (RFC 3711 §3.2.3: a cryptographic context per SSRC).
 * Protect: the highest RTP index sent and the last SRTCP index used. Unprotect: the highest
 * index received of each and the replay window below it (bit i % 64 of word i / 64: index
 * highest - i seen). */
struct srtp_gcm_ssrc {
    guint32 ssrc;
    gboolean rtp_seen, rtcp_seen;
    guint64 rtp_index;   /* ROC << 16 | SEQ */
    guint64 *rtp_window; /* unprotect: SRTP_REPLAY_WORDS, allocated with the entry; else NULL */
    guint64 rtcp_index;  /* 31 bits */
    guint64 rtcp_window;
};

struct kumis_srtp_gcm {
    enum kumis_srtp_gcm_direction direction;
    struct kumis_gcm_key rtp;  /* keyed with the RTP session key once; only the IV changes */
    struct kumis_gcm_key rtcp; /* the same with the RTCP session key */
    guint8 rtp_salt[KUMIS_SRTP_GCM_SALT_LEN];
    guint8 rtcp_salt[KUMIS_SRTP_GCM_SALT_LEN];
    GHashTable *ssrcs; /* SSRC -> struct srtp_gcm_ssrc (owned), never forgotten */
    /* The last look-ups', newest first: a subscriber's audio, video, their RTX and the RTCP
     * interleave, and a hash look-up for most packets cost ~4 % of a busy worker (perf). */
    struct srtp_gcm_ssrc *recent[SRTP_GCM_RECENT];
    guint32 recent_ssrc[SRTP_GCM_RECENT]; /* their SSRCs: compared without loading each state */
};

/* --- key derivation ------------------------------------------------------------------- */

/* RFC 3711 §4.3.1 with r = 0 (key derivation rate 0): the keystream of AES-CM keyed with the
 * master key, counter block x * 2^16 with x = master salt XOR (label << 48). The 96-bit GCM
 * master salt takes the place of the 112-bit one padded with two zero bytes at the end, as
 * libsrtp2 does (so the label lands in octet 7 either way), and AES-256-CM serves AES-256
 * keys (RFC 6188 §7, RFC 7714 §11). */
static gboolean srtp_gcm_kdf(const EVP_CIPHER *ctr, const guint8 *master_key,
                             const guint8 *master_salt, enum srtp_gcm_label label, guint8 *out,
                             int out_len)
{
    guint8 block[16] = {0};
    memcpy(block, master_salt, KUMIS_SRTP_GCM_SALT_LEN);
    block[7] ^= (guint8)label;
    guint8 zeros[32] = {0};
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n = 0, tail = 0;
    gboolean ok = ctx != NULL && out_len <= (int)sizeof zeros &&
                  EVP_EncryptInit_ex(ctx, ctr, NULL, master_key, block) == 1 &&
                  EVP_EncryptUpdate(ctx, out, &n, zeros, out_len) == 1 &&
                  EVP_EncryptFinal_ex(ctx, out + n, &tail) == 1 && n + tail == out_len;
    EVP_CIPHER_CTX_free(ctx);
    OPENSSL_cleanse(block, sizeof block);
    return ok;
}

/* Keys @key with the session key of @label for @direction. */
static gboolean srtp_gcm_key_init(struct kumis_gcm_key *key,
                                  enum kumis_srtp_gcm_direction direction, const EVP_CIPHER *ctr,
                                  const guint8 *master_key, int key_len, const guint8 *master_salt,
                                  enum srtp_gcm_label label)
{
    guint8 raw[32];
    gboolean ok = srtp_gcm_kdf(ctr, master_key, master_salt, label, raw, key_len) &&
                  kumis_gcm_key_init(key, direction == KUMIS_SRTP_GCM_PROTECT, raw, (gsize)key_len);
    OPENSSL_cleanse(raw, sizeof raw);
    return ok;
}

struct kumis_srtp_gcm *kumis_srtp_gcm_new(enum kumis_srtp_gcm_direction direction,
                                          const guint8 *master_key, gsize key_len,
                                          const guint8 *master_salt, gsize salt_len, GError **error)
{
    const EVP_CIPHER *ctr;
    if (key_len == 16 && salt_len == KUMIS_SRTP_GCM_SALT_LEN) {
        ctr = EVP_aes_128_ctr();
    } else if (key_len == 32 && salt_len == KUMIS_SRTP_GCM_SALT_LEN) {
        ctr = EVP_aes_256_ctr();
    } else {
        g_set_error(
            error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
            "AES-GCM SRTP takes a 16- or 32-byte key and a 12-byte salt, not %" G_GSIZE_FORMAT
            " and %" G_GSIZE_FORMAT,
            key_len, salt_len);
        return NULL;
    }
    struct kumis_srtp_gcm *gcm = g_new0(struct kumis_srtp_gcm, 1);
    gcm->direction = direction;
    gcm->ssrcs = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
    if (!srtp_gcm_key_init(&gcm->rtp, direction, ctr, master_key, (int)key_len, master_salt,
                           LABEL_RTP_ENCRYPTION) ||
        !srtp_gcm_key_init(&gcm->rtcp, direction, ctr, master_key, (int)key_len, master_salt,
                           LABEL_RTCP_ENCRYPTION) ||
        !srtp_gcm_kdf(ctr, master_key, master_salt, LABEL_RTP_SALT, gcm->rtp_salt,
                      KUMIS_SRTP_GCM_SALT_LEN) ||
        !srtp_gcm_kdf(ctr, master_key, master_salt, LABEL_RTCP_SALT, gcm->rtcp_salt,
                      KUMIS_SRTP_GCM_SALT_LEN)) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                    "OpenSSL could not set up AES-GCM for SRTP");
        kumis_srtp_gcm_free(gcm);
        return NULL;
    }
    return gcm;
}

void kumis_srtp_gcm_prefetch(const struct kumis_srtp_gcm *gcm)
{
    __builtin_prefetch(gcm);
    __builtin_prefetch((const char *)gcm + 64);
}

void kumis_srtp_gcm_prefetch_deep(const struct kumis_srtp_gcm *gcm)
{
    kumis_gcm_key_prefetch(&gcm->rtp);
    for (guint i = 0; i < 2 && gcm->recent[i] != NULL; i++)
        __builtin_prefetch(gcm->recent[i]);
}

gboolean kumis_srtp_gcm_is_direct(const struct kumis_srtp_gcm *gcm)
{
    return kumis_gcm_key_is_direct(&gcm->rtp) && kumis_gcm_key_is_direct(&gcm->rtcp);
}

void kumis_srtp_gcm_free(struct kumis_srtp_gcm *gcm)
{
    if (gcm == NULL)
        return;
    kumis_gcm_key_clear(&gcm->rtp); /* cleanses the key schedules */
    kumis_gcm_key_clear(&gcm->rtcp);
    g_hash_table_destroy(gcm->ssrcs);
    OPENSSL_cleanse(gcm, sizeof *gcm);
    g_free(gcm);
}

/* --- per-SSRC state ------------------------------------------------------------------- */

static void srtp_gcm_recent_push(struct kumis_srtp_gcm *gcm, struct srtp_gcm_ssrc *state)
{
    for (guint i = SRTP_GCM_RECENT - 1; i > 0; i--) {
        gcm->recent[i] = gcm->recent[i - 1];
        gcm->recent_ssrc[i] = gcm->recent_ssrc[i - 1];
    }
    gcm->recent[0] = state;
    gcm->recent_ssrc[0] = state->ssrc;
}

/* Returns: the state of @ssrc, or NULL when it has none yet. */
static struct srtp_gcm_ssrc *srtp_gcm_ssrc_find(struct kumis_srtp_gcm *gcm, guint32 ssrc)
{
    for (guint i = 0; i < SRTP_GCM_RECENT && gcm->recent[i] != NULL; i++)
        if (gcm->recent_ssrc[i] == ssrc)
            return gcm->recent[i];
    struct srtp_gcm_ssrc *found = g_hash_table_lookup(gcm->ssrcs, GUINT_TO_POINTER(ssrc));
    if (found != NULL)
        srtp_gcm_recent_push(gcm, found);
    return found;
}

/* Copies the state of @ssrc into @state, zeroed for an SSRC never seen, and points @slot at
 * where it lives (NULL for a new SSRC).
 * Returns: FALSE when @ssrc is new and the table is full. */
static gboolean srtp_gcm_ssrc_load(struct kumis_srtp_gcm *gcm, guint32 ssrc,
                                   struct srtp_gcm_ssrc *state, struct srtp_gcm_ssrc **slot)
{
    *slot = srtp_gcm_ssrc_find(gcm, ssrc);
    if (*slot != NULL) {
        *state = **slot;
        return TRUE;
    }
    memset(state, 0, sizeof *state);
    state->ssrc = ssrc;
    return g_hash_table_size(gcm->ssrcs) < KUMIS_SRTP_GCM_MAX_SSRCS;
}

/* Writes @state back to @slot once the packet went through; a new SSRC (@slot NULL) gets its
 * entry now (with its RTP replay window when unprotecting, in the same block), the only
 * allocation after kumis_srtp_gcm_new(). Nothing changes before, so a failed packet leaves no
 * trace (and unauthenticated packets cannot fill the table). Returns: the entry. */
static struct srtp_gcm_ssrc *srtp_gcm_ssrc_store(struct kumis_srtp_gcm *gcm,
                                                 struct srtp_gcm_ssrc *slot,
                                                 const struct srtp_gcm_ssrc *state)
{
    guint64 *window = slot != NULL ? slot->rtp_window : NULL;
    if (slot == NULL) {
        gboolean rx = gcm->direction == KUMIS_SRTP_GCM_UNPROTECT;
        slot = g_malloc0(sizeof *slot + (rx ? SRTP_REPLAY_WORDS * sizeof(guint64) : 0));
        window = rx ? (guint64 *)(slot + 1) : NULL;
        g_hash_table_insert(gcm->ssrcs, GUINT_TO_POINTER(state->ssrc), slot);
        srtp_gcm_recent_push(gcm, slot);
    }
    *slot = *state;
    slot->rtp_window = window;
    return slot;
}

/* RFC 3711 §3.3.1: the index of @seq nearest to the highest index so far (ROC - 1, ROC or
 * ROC + 1), never below ROC 0. The first packet of an SSRC starts at ROC 0, as libsrtp2. */
static guint64 srtp_gcm_index_estimate(guint64 highest, guint16 seq)
{
    guint64 roc = highest >> 16;
    guint32 s_l = (guint16)highest;
    if (s_l < SRTP_SEQ_HALF) {
        if (seq > s_l + SRTP_SEQ_HALF && roc > 0)
            roc--;
    } else if (s_l - SRTP_SEQ_HALF > seq) {
        roc++;
    }
    return (roc << 16) | seq;
}

/* RFC 3711 §3.3.2 replay check against @highest and its @window of @words words (read only
 * once @seen). Returns: TRUE when @index was not received yet and is not older than
 * the window. */
static gboolean srtp_gcm_replay_check(gboolean seen, guint64 highest, const guint64 *window,
                                      guint words, guint64 index)
{
    if (!seen || index > highest)
        return TRUE;
    guint64 age = highest - index;
    return age < 64 * (guint64)words &&
           (window[age / 64] & (G_GUINT64_CONSTANT(1) << (age % 64))) == 0;
}

static void srtp_gcm_replay_add(gboolean *seen, guint64 *highest, guint64 *window, guint words,
                                guint64 index)
{
    if (*seen && index <= *highest) {
        guint64 age = *highest - index;
        window[age / 64] |= G_GUINT64_CONSTANT(1) << (age % 64);
        return;
    }
    /* The window slides by @shift toward older ages: a multi-word left shift, word 0 lowest. */
    guint64 shift = *seen ? index - *highest : 64 * (guint64)words;
    guint skip = (guint)MIN(shift / 64, words), bits = (guint)(shift % 64);
    for (guint i = words; i-- > 0;) {
        guint64 v = 0;
        if (i >= skip) {
            v = window[i - skip] << bits;
            if (bits != 0 && i > skip)
                v |= window[i - skip - 1] >> (64 - bits);
        }
        window[i] = v;
    }
    window[0] |= 1;
    *highest = index;
    *seen = TRUE;
}

/* --- packets -------------------------------------------------------------------------- */

static void srtp_gcm_put32(guint8 *p, guint32 v)
{
    p[0] = (guint8)(v >> 24);
    p[1] = (guint8)(v >> 16);
    p[2] = (guint8)(v >> 8);
    p[3] = (guint8)v;
}

static guint32 srtp_gcm_get32(const guint8 *p)
{
    return (guint32)p[0] << 24 | (guint32)p[1] << 16 | (guint32)p[2] << 8 | p[3];
}

/* RFC 7714 §8.1: IV = (00 00 || SSRC || ROC || SEQ) XOR the 12-byte session salt. */
static void srtp_gcm_rtp_iv(guint8 iv[KUMIS_GCM_IV_LEN], const guint8 *salt, guint32 ssrc,
                            guint32 roc, guint16 seq)
{
    iv[0] = 0;
    iv[1] = 0;
    srtp_gcm_put32(iv + 2, ssrc);
    srtp_gcm_put32(iv + 6, roc);
    iv[10] = (guint8)(seq >> 8);
    iv[11] = (guint8)seq;
    for (guint i = 0; i < KUMIS_GCM_IV_LEN; i++)
        iv[i] ^= salt[i];
}

/* RFC 7714 §9.1: IV = (00 00 || SSRC || 00 00 || 0 || 31-bit SRTCP index) XOR the salt. */
static void srtp_gcm_rtcp_iv(guint8 iv[KUMIS_GCM_IV_LEN], const guint8 *salt, guint32 ssrc,
                             guint32 index)
{
    iv[0] = 0;
    iv[1] = 0;
    srtp_gcm_put32(iv + 2, ssrc);
    iv[6] = 0;
    iv[7] = 0;
    srtp_gcm_put32(iv + 8, index & SRTCP_INDEX_MAX);
    for (guint i = 0; i < KUMIS_GCM_IV_LEN; i++)
        iv[i] ^= salt[i];
}

/* RFC 3550 §5.1, §5.3.1: the length of the header of the RTP packet of @len bytes at @buf,
 * CSRCs and header extension included; 0 when it does not fit in @len. */
static gsize srtp_gcm_rtp_header_len(const guint8 *buf, gsize len)
{
    if (len < RTP_HEADER_LEN)
        return 0;
    gsize header = RTP_HEADER_LEN + 4 * (gsize)(buf[0] & 0x0F);
    if (buf[0] & 0x10) {
        if (len < header + RTP_EXTENSION_LEN)
            return 0;
        header += RTP_EXTENSION_LEN + 4 * (gsize)(buf[header + 2] << 8 | buf[header + 3]);
    }
    return header <= len ? header : 0;
}

gboolean kumis_srtp_gcm_protect_rtp(struct kumis_srtp_gcm *gcm, guint8 *buf, gsize *len,
                                    gsize capacity)
{
    g_return_val_if_fail(gcm->direction == KUMIS_SRTP_GCM_PROTECT, FALSE);
    gsize header = srtp_gcm_rtp_header_len(buf, *len);
    if (header == 0 || *len > KUMIS_SRTP_GCM_MAX_PACKET ||
        capacity < *len + KUMIS_SRTP_GCM_RTP_OVERHEAD)
        return FALSE;
    struct srtp_gcm_ssrc state, *slot;
    if (!srtp_gcm_ssrc_load(gcm, srtp_gcm_get32(buf + 8), &state, &slot))
        return FALSE;
    guint16 seq = (guint16)(buf[2] << 8 | buf[3]);
    guint64 index = srtp_gcm_index_estimate(state.rtp_index, seq);
    if (index >= SRTP_INDEX_LIMIT)
        return FALSE; /* RFC 3711 §3.3.1: the index has 48 bits; rekey first */
    guint8 iv[KUMIS_GCM_IV_LEN];
    srtp_gcm_rtp_iv(iv, gcm->rtp_salt, state.ssrc, (guint32)(index >> 16), seq);
    if (!kumis_gcm_key_crypt(&gcm->rtp, iv, buf, header, NULL, 0, buf + header, *len - header,
                             buf + *len))
        return FALSE;
    /* No replay check on send: resending a cached packet (NACK) reuses its index on purpose,
     * with the same IV and the same bytes, so nothing new is revealed. */
    if (index > state.rtp_index)
        state.rtp_index = index;
    srtp_gcm_ssrc_store(gcm, slot, &state);
    *len += KUMIS_SRTP_GCM_RTP_OVERHEAD;
    return TRUE;
}

gboolean kumis_srtp_gcm_protect_rtcp(struct kumis_srtp_gcm *gcm, guint8 *buf, gsize *len,
                                     gsize capacity)
{
    g_return_val_if_fail(gcm->direction == KUMIS_SRTP_GCM_PROTECT, FALSE);
    if (*len < RTCP_HEADER_LEN || *len > KUMIS_SRTP_GCM_MAX_PACKET ||
        capacity < *len + KUMIS_SRTP_GCM_RTCP_OVERHEAD)
        return FALSE;
    struct srtp_gcm_ssrc state, *slot;
    if (!srtp_gcm_ssrc_load(gcm, srtp_gcm_get32(buf + 4), &state, &slot) ||
        state.rtcp_index >= SRTCP_INDEX_MAX)
        return FALSE;
    /* RFC 3711 §3.4 starts at 0; libsrtp2 increments first, so its first index is 1. Either is
     * fine for a receiver; 1 keeps our bytes equal to libsrtp2's. */
    guint32 index = (guint32)state.rtcp_index + 1;
    guint8 *tag = buf + *len;
    guint8 *trailer = tag + KUMIS_SRTP_GCM_TAG_LEN;
    srtp_gcm_put32(trailer, SRTCP_E_FLAG | index);
    guint8 iv[KUMIS_GCM_IV_LEN];
    srtp_gcm_rtcp_iv(iv, gcm->rtcp_salt, state.ssrc, index);
    /* RFC 7714 §9.2: AAD = the first 8 octets || E flag and index; the rest is encrypted. */
    if (!kumis_gcm_key_crypt(&gcm->rtcp, iv, buf, RTCP_HEADER_LEN, trailer, SRTCP_TRAILER_LEN,
                             buf + RTCP_HEADER_LEN, *len - RTCP_HEADER_LEN, tag))
        return FALSE;
    state.rtcp_index = index;
    srtp_gcm_ssrc_store(gcm, slot, &state);
    *len += KUMIS_SRTP_GCM_RTCP_OVERHEAD;
    return TRUE;
}

gboolean kumis_srtp_gcm_unprotect_rtp(struct kumis_srtp_gcm *gcm, guint8 *buf, gsize *len)
{
    g_return_val_if_fail(gcm->direction == KUMIS_SRTP_GCM_UNPROTECT, FALSE);
    if (*len < RTP_HEADER_LEN + KUMIS_SRTP_GCM_RTP_OVERHEAD || *len > KUMIS_SRTP_GCM_MAX_PACKET)
        return FALSE;
    gsize body = *len - KUMIS_SRTP_GCM_RTP_OVERHEAD;
    gsize header = srtp_gcm_rtp_header_len(buf, body);
    struct srtp_gcm_ssrc state, *slot;
    if (header == 0 || !srtp_gcm_ssrc_load(gcm, srtp_gcm_get32(buf + 8), &state, &slot))
        return FALSE;
    guint16 seq = (guint16)(buf[2] << 8 | buf[3]);
    guint64 index = srtp_gcm_index_estimate(state.rtp_index, seq);
    if (index >= SRTP_INDEX_LIMIT ||
        !srtp_gcm_replay_check(state.rtp_seen, state.rtp_index, state.rtp_window, SRTP_REPLAY_WORDS,
                               index))
        return FALSE;
    guint8 iv[KUMIS_GCM_IV_LEN];
    srtp_gcm_rtp_iv(iv, gcm->rtp_salt, state.ssrc, (guint32)(index >> 16), seq);
    if (!kumis_gcm_key_crypt(&gcm->rtp, iv, buf, header, NULL, 0, buf + header, body - header,
                             buf + body))
        return FALSE;
    /* RFC 3711 §3.3: ROC, s_l and the replay list change only for authenticated packets. */
    slot = srtp_gcm_ssrc_store(gcm, slot, &state);
    srtp_gcm_replay_add(&slot->rtp_seen, &slot->rtp_index, slot->rtp_window, SRTP_REPLAY_WORDS,
                        index);
    *len = body;
    return TRUE;
}

gboolean kumis_srtp_gcm_unprotect_rtcp(struct kumis_srtp_gcm *gcm, guint8 *buf, gsize *len)
{
    g_return_val_if_fail(gcm->direction == KUMIS_SRTP_GCM_UNPROTECT, FALSE);
    if (*len < RTCP_HEADER_LEN + KUMIS_SRTP_GCM_RTCP_OVERHEAD || *len > KUMIS_SRTP_GCM_MAX_PACKET)
        return FALSE;
    gsize body = *len - KUMIS_SRTP_GCM_RTCP_OVERHEAD;
    guint8 *tag = buf + body;
    guint8 *trailer = tag + KUMIS_SRTP_GCM_TAG_LEN;
    guint32 word = srtp_gcm_get32(trailer);
    guint32 index = word & SRTCP_INDEX_MAX;
    struct srtp_gcm_ssrc state, *slot;
    if (!srtp_gcm_ssrc_load(gcm, srtp_gcm_get32(buf + 4), &state, &slot) ||
        !srtp_gcm_replay_check(state.rtcp_seen, state.rtcp_index, &state.rtcp_window,
                               SRTCP_REPLAY_WORDS, index))
        return FALSE;
    guint8 iv[KUMIS_GCM_IV_LEN];
    srtp_gcm_rtcp_iv(iv, gcm->rtcp_salt, state.ssrc, index);
    /* RFC 7714 §9.3: with E = 0 the whole packet is authenticated and nothing encrypted. */
    gsize clear = (word & SRTCP_E_FLAG) ? RTCP_HEADER_LEN : body;
    if (!kumis_gcm_key_crypt(&gcm->rtcp, iv, buf, clear, trailer, SRTCP_TRAILER_LEN, buf + clear,
                             body - clear, tag))
        return FALSE;
    srtp_gcm_replay_add(&state.rtcp_seen, &state.rtcp_index, &state.rtcp_window, SRTCP_REPLAY_WORDS,
                        index);
    srtp_gcm_ssrc_store(gcm, slot, &state);
    *len = body;
    return TRUE;
}

/* libFuzzer target: SRTP and SRTCP with AES-GCM (media/srtp_gcm.c), which unprotects what every
 * peer sends before anything else reads it. The first input byte picks the key size and
 * whether the rest is RTP or RTCP and where to tamper; the rest is tried twice:
 * - as it came, on a fresh unprotect context: refused, or handed back shorter (never a read or
 *   write outside it);
 * - as plaintext: once protected, one byte changed anywhere must be refused without changing the
 *   context, the packet itself must then come back byte for byte, and a second time be refused
 *   as a replay. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "media/srtp_gcm.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

static const guint8 master_key[32] = {
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
};
static const guint8 master_salt[KUMIS_SRTP_GCM_SALT_LEN] = {
    0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab,
};

static struct kumis_srtp_gcm *context_new(enum kumis_srtp_gcm_direction direction, gsize key_len)
{
    struct kumis_srtp_gcm *gcm =
        kumis_srtp_gcm_new(direction, master_key, key_len, master_salt, sizeof master_salt, NULL);
    CHECK(gcm != NULL);
    return gcm;
}

static gboolean unprotect(struct kumis_srtp_gcm *gcm, gboolean rtcp, guint8 *buf, gsize *len)
{
    return rtcp ? kumis_srtp_gcm_unprotect_rtcp(gcm, buf, len)
                : kumis_srtp_gcm_unprotect_rtp(gcm, buf, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 2048)
        return 0;
    guint8 mode = data[0];
    gsize key_len = (mode & 1) ? 32 : 16;
    gboolean rtcp = (mode & 2) != 0;
    data++;
    size--;

    static guint8 buf[2048 + KUMIS_SRTP_GCM_RTCP_OVERHEAD], sealed[sizeof buf], copy[sizeof buf];
    struct kumis_srtp_gcm *in = context_new(KUMIS_SRTP_GCM_UNPROTECT, key_len);

    /* As it came. */
    memcpy(buf, data, size);
    gsize len = size;
    if (unprotect(in, rtcp, buf, &len))
        CHECK(len < size);
    kumis_srtp_gcm_free(in);

    /* As plaintext. */
    struct kumis_srtp_gcm *out = context_new(KUMIS_SRTP_GCM_PROTECT, key_len);
    in = context_new(KUMIS_SRTP_GCM_UNPROTECT, key_len);
    memcpy(sealed, data, size);
    gsize sealed_len = size;
    gboolean ok = rtcp ? kumis_srtp_gcm_protect_rtcp(out, sealed, &sealed_len, sizeof sealed)
                       : kumis_srtp_gcm_protect_rtp(out, sealed, &sealed_len, sizeof sealed);
    if (ok) {
        CHECK(sealed_len ==
              size + (rtcp ? KUMIS_SRTP_GCM_RTCP_OVERHEAD : KUMIS_SRTP_GCM_RTP_OVERHEAD));
        /* One byte changed, wherever: refused, and the context as it was. */
        memcpy(copy, sealed, sealed_len);
        copy[(mode >> 2) * sealed_len / 64] ^= (guint8)(1u << (mode & 7));
        len = sealed_len;
        CHECK(!unprotect(in, rtcp, copy, &len));
        /* The packet itself, byte for byte. */
        memcpy(copy, sealed, sealed_len);
        len = sealed_len;
        CHECK(unprotect(in, rtcp, copy, &len));
        CHECK(len == size && memcmp(copy, data, size) == 0);
        /* Once only. */
        memcpy(copy, sealed, sealed_len);
        len = sealed_len;
        CHECK(!unprotect(in, rtcp, copy, &len));
    }
    kumis_srtp_gcm_free(out);
    kumis_srtp_gcm_free(in);
    return 0;
}

/* kumis — RTP header parsing, RFC 8285 extensions and demultiplexing (see rtp.h). */
#include "media/rtp.h"

#include <string.h>

#define RTP_EXT_PROFILE_ONE_BYTE 0xBEDE
#define RTP_EXT_PROFILE_TWO_BYTE 0x1000 /* RFC 8285 §4.3: 0x100 then 4 "appbits" */

gboolean kumis_rtp_parse(const guint8 *data, gsize len, struct kumis_rtp_header *out)
{
    if (data == NULL || len < KUMIS_RTP_HEADER_MIN)
        return FALSE;
    if ((data[0] >> 6) != 2)
        return FALSE;
    memset(out, 0, sizeof(*out));
    out->version = 2;
    out->padding = (data[0] & 0x20) != 0;
    out->extension = (data[0] & 0x10) != 0;
    out->csrc_count = data[0] & 0x0F;
    out->marker = (data[1] & 0x80) != 0;
    out->payload_type = data[1] & 0x7F;
    out->seq = kumis_be16(data + 2);
    out->timestamp = kumis_be32(data + 4);
    out->ssrc = kumis_be32(data + 8);

    gsize offset = KUMIS_RTP_HEADER_MIN + 4 * (gsize)out->csrc_count;
    if (offset > len)
        return FALSE;
    if (out->extension) {
        /* RFC 3550 §5.3.1: 16-bit profile, 16-bit length in 32-bit words, then the data. */
        if (len - offset < 4)
            return FALSE;
        out->ext_profile = kumis_be16(data + offset);
        out->ext_len = 4 * (gsize)kumis_be16(data + offset + 2);
        out->ext_offset = offset + 4;
        if (len - out->ext_offset < out->ext_len)
            return FALSE;
        offset = out->ext_offset + out->ext_len;
    }
    out->payload_offset = offset;
    gsize rest = len - offset;
    if (out->padding) {
        /* RFC 3550 §5.1: the last octet counts the padding, itself included, so never 0. */
        guint8 pad = data[len - 1];
        if (pad == 0 || pad > rest)
            return FALSE;
        out->padding_len = pad;
        rest -= pad;
    }
    out->payload_len = rest;
    return TRUE;
}

/* Walks the element list of @h looking for @id. RFC 8285 §4.2 (one-byte) and §4.3 (two-byte):
 * zero bytes between elements are padding; in the one-byte form ID 15 ends processing. */
static gboolean ext_locate(const guint8 *data, const struct kumis_rtp_header *h, guint8 id,
                           gsize *value_offset, gsize *value_len)
{
    if (!h->extension || id == 0)
        return FALSE;
    const guint8 *e = data + h->ext_offset;
    gsize n = h->ext_len, i = 0;

    if (h->ext_profile == RTP_EXT_PROFILE_ONE_BYTE) {
        if (id > 14)
            return FALSE;
        while (i < n) {
            guint8 b = e[i];
            if (b == 0) {
                i++;
                continue;
            }
            guint8 el_id = b >> 4;
            gsize el_len = (gsize)(b & 0x0F) + 1;
            if (el_id == 15)
                return FALSE;
            if (el_len > n - i - 1)
                return FALSE;
            if (el_id == id) {
                *value_offset = h->ext_offset + i + 1;
                *value_len = el_len;
                return TRUE;
            }
            i += 1 + el_len;
        }
        return FALSE;
    }
    if ((h->ext_profile & 0xFFF0) == RTP_EXT_PROFILE_TWO_BYTE) {
        while (i < n) {
            guint8 el_id = e[i];
            if (el_id == 0) {
                i++;
                continue;
            }
            if (n - i < 2)
                return FALSE;
            gsize el_len = e[i + 1];
            if (el_len > n - i - 2)
                return FALSE;
            if (el_id == id) {
                *value_offset = h->ext_offset + i + 2;
                *value_len = el_len;
                return TRUE;
            }
            i += 2 + el_len;
        }
    }
    return FALSE;
}

gboolean kumis_rtp_ext_find(const guint8 *data, const struct kumis_rtp_header *h, guint8 id,
                            const guint8 **value, gsize *value_len)
{
    gsize off, n;
    if (!ext_locate(data, h, id, &off, &n))
        return FALSE;
    *value = data + off;
    *value_len = n;
    return TRUE;
}

gboolean kumis_rtp_ext_audio_level(const guint8 *data, const struct kumis_rtp_header *h, guint8 id,
                                   guint8 *level, gboolean *voice)
{
    const guint8 *v;
    gsize n;
    if (!kumis_rtp_ext_find(data, h, id, &v, &n) || n != 1)
        return FALSE;
    *voice = (v[0] & 0x80) != 0;
    *level = v[0] & 0x7F;
    return TRUE;
}

gboolean kumis_rtp_ext_abs_send_time(const guint8 *data, const struct kumis_rtp_header *h,
                                     guint8 id, guint32 *abs_send_time)
{
    const guint8 *v;
    gsize n;
    if (!kumis_rtp_ext_find(data, h, id, &v, &n) || n != 3)
        return FALSE;
    *abs_send_time = kumis_be24(v);
    return TRUE;
}

gboolean kumis_rtp_ext_twcc_seq(const guint8 *data, const struct kumis_rtp_header *h, guint8 id,
                                guint16 *seq)
{
    const guint8 *v;
    gsize n;
    if (!kumis_rtp_ext_find(data, h, id, &v, &n) || n != 2)
        return FALSE;
    *seq = kumis_be16(v);
    return TRUE;
}

gssize kumis_rtp_ext_string(const guint8 *data, const struct kumis_rtp_header *h, guint8 id,
                            char *buf, gsize buf_size)
{
    const guint8 *v;
    gsize n;
    if (buf_size == 0 || !kumis_rtp_ext_find(data, h, id, &v, &n))
        return -1;
    if (n == 0 || n > buf_size - 1)
        return -1;
    /* RFC 8852 §3.1: RtpStreamId is alphanumeric ('-' and '_' tolerated); mid is a token.
     * Refuse control bytes so the value is safe to log and compare as a C string. */
    for (gsize i = 0; i < n; i++) {
        if (v[i] < 0x21 || v[i] > 0x7E)
            return -1;
    }
    memcpy(buf, v, n);
    buf[n] = '\0';
    return (gssize)n;
}

void kumis_rtp_set_seq(guint8 *data, struct kumis_rtp_header *h, guint16 seq)
{
    kumis_put_be16(data + 2, seq);
    h->seq = seq;
}

void kumis_rtp_set_timestamp(guint8 *data, struct kumis_rtp_header *h, guint32 ts)
{
    kumis_put_be32(data + 4, ts);
    h->timestamp = ts;
}

void kumis_rtp_set_ssrc(guint8 *data, struct kumis_rtp_header *h, guint32 ssrc)
{
    kumis_put_be32(data + 8, ssrc);
    h->ssrc = ssrc;
}

gsize kumis_rtp_to_rtx(guint8 *data, gsize len, gsize capacity, struct kumis_rtp_header *h,
                       guint8 rtx_pt, guint32 rtx_ssrc, guint16 rtx_seq)
{
    if (capacity < len + 2 || h->payload_offset > len)
        return 0;
    guint16 osn = h->seq;
    memmove(data + h->payload_offset + 2, data + h->payload_offset, len - h->payload_offset);
    kumis_put_be16(data + h->payload_offset, osn);
    kumis_rtp_set_payload_type(data, h, rtx_pt);
    kumis_rtp_set_ssrc(data, h, rtx_ssrc);
    kumis_rtp_set_seq(data, h, rtx_seq);
    h->payload_len += 2;
    return len + 2;
}

gboolean kumis_rtp_from_rtx(guint8 *data, gsize *len, struct kumis_rtp_header *h, guint8 pt,
                            guint32 ssrc)
{
    if (h->payload_len < 2)
        return FALSE;
    guint16 osn = kumis_be16(data + h->payload_offset);
    memmove(data + h->payload_offset, data + h->payload_offset + 2, *len - h->payload_offset - 2);
    *len -= 2;
    h->payload_len -= 2;
    kumis_rtp_set_payload_type(data, h, pt);
    kumis_rtp_set_ssrc(data, h, ssrc);
    kumis_rtp_set_seq(data, h, osn);
    return TRUE;
}

void kumis_rtp_set_payload_type(guint8 *data, struct kumis_rtp_header *h, guint8 pt)
{
    pt &= 0x7F;
    data[1] = (guint8)((data[1] & 0x80) | pt);
    h->payload_type = pt;
}

void kumis_rtp_set_marker(guint8 *data, struct kumis_rtp_header *h, gboolean marker)
{
    data[1] = (guint8)((data[1] & 0x7F) | (marker ? 0x80 : 0));
    h->marker = marker != FALSE;
}

gboolean kumis_rtp_ext_write(guint8 *data, const struct kumis_rtp_header *h, guint8 id,
                             const guint8 *value, gsize value_len)
{
    gsize off, n;
    if (!ext_locate(data, h, id, &off, &n) || n != value_len)
        return FALSE;
    memcpy(data + off, value, n);
    return TRUE;
}

gboolean kumis_rtp_is_rtcp(const guint8 *data, gsize len)
{
    if (data == NULL || len < 4 || (data[0] >> 6) != 2)
        return FALSE;
    return data[1] >= 192 && data[1] <= 223;
}

enum kumis_demux kumis_demux_classify(const guint8 *data, gsize len)
{
    if (data == NULL || len == 0)
        return KUMIS_DEMUX_OTHER;
    guint8 b = data[0];
    if (b <= 3)
        return KUMIS_DEMUX_STUN;
    if (b >= 16 && b <= 19)
        return KUMIS_DEMUX_ZRTP;
    if (b >= 20 && b <= 63)
        return KUMIS_DEMUX_DTLS;
    if (b >= 64 && b <= 79)
        return KUMIS_DEMUX_TURN_CHANNEL;
    if (b >= 128 && b <= 191)
        return KUMIS_DEMUX_RTP_RTCP;
    return KUMIS_DEMUX_OTHER;
}

/* kumis — RTP packets in place: header parsing (RFC 3550 §5.1), header extensions (RFC 8285),
 * in-place writers, and first-byte demultiplexing (RFC 7983, RFC 5761 §4).
 *
 * Pure functions: no allocation, no logging, no globals. Every function bounds-checks the
 * packet, which is hostile network input. Offsets in struct kumis_rtp_header are relative to
 * the start of the packet the header was parsed from; the writers take that same packet. */
#pragma once

#include <glib.h>

#define KUMIS_RTP_HEADER_MIN 12

/* Network byte order helpers shared by the packet modules; callers check bounds first. */
static inline guint16 kumis_be16(const guint8 *p)
{
    return (guint16)((p[0] << 8) | p[1]);
}
static inline guint32 kumis_be24(const guint8 *p)
{
    return ((guint32)p[0] << 16) | ((guint32)p[1] << 8) | p[2];
}
static inline guint32 kumis_be32(const guint8 *p)
{
    return ((guint32)p[0] << 24) | ((guint32)p[1] << 16) | ((guint32)p[2] << 8) | p[3];
}
static inline void kumis_put_be16(guint8 *p, guint16 v)
{
    p[0] = (guint8)(v >> 8);
    p[1] = (guint8)v;
}
static inline void kumis_put_be24(guint8 *p, guint32 v)
{
    p[0] = (guint8)(v >> 16);
    p[1] = (guint8)(v >> 8);
    p[2] = (guint8)v;
}
static inline void kumis_put_be32(guint8 *p, guint32 v)
{
    p[0] = (guint8)(v >> 24);
    p[1] = (guint8)(v >> 16);
    p[2] = (guint8)(v >> 8);
    p[3] = (guint8)v;
}

/* The fixed header and where the rest lies, RFC 3550 §5.1. */
struct kumis_rtp_header {
    guint8 version; /* always 2 after a successful parse */
    gboolean padding;
    gboolean extension;
    gboolean marker;
    guint8 csrc_count;
    guint8 payload_type;
    guint16 seq;
    guint32 timestamp;
    guint32 ssrc;
    guint16 ext_profile; /* 0xBEDE (one-byte) or 0x100X (two-byte), 0 without extension */
    gsize ext_offset;    /* first byte of the extension elements (after profile and length) */
    gsize ext_len;       /* bytes of extension elements (a multiple of 4) */
    gsize payload_offset;
    gsize payload_len; /* padding removed */
    guint8 padding_len;
};

/* Parses the RTP header of @data (@len bytes) into @out.
 * Fails (FALSE, @out undefined) when the packet is shorter than its header says, the version
 * is not 2, the CSRC list or extension runs past the end, or the padding count is 0 or larger
 * than what remains after the header. Never reads outside @data[0..len). */
gboolean kumis_rtp_parse(const guint8 *data, gsize len, struct kumis_rtp_header *out);

/* Finds header extension element @id (RFC 8285 §4.2 one-byte form: 1..14; §4.3 two-byte
 * form: 1..255) in a packet parsed into @h. On success points @value into @data and sets
 * @value_len (may be 0 in the two-byte form). Returns FALSE when absent, when @h has no
 * extension of a known form, or when the element list is malformed before @id is found. */
gboolean kumis_rtp_ext_find(const guint8 *data, const struct kumis_rtp_header *h, guint8 id,
                            const guint8 **value, gsize *value_len);

/* RFC 6464 §3 ssrc-audio-level: @level is the level in -dBov (0 = loudest, 127 = silence),
 * @voice the V flag. FALSE when the element is absent or not 1 byte long. */
gboolean kumis_rtp_ext_audio_level(const guint8 *data, const struct kumis_rtp_header *h, guint8 id,
                                   guint8 *level, gboolean *voice);

/* abs-send-time (webrtc.org): 24-bit 6.18 fixed-point seconds. FALSE unless 3 bytes. */
gboolean kumis_rtp_ext_abs_send_time(const guint8 *data, const struct kumis_rtp_header *h,
                                     guint8 id, guint32 *abs_send_time);

/* transport-wide-cc (draft-holmer-rmcat-transport-wide-cc-extensions-01 §2): 16-bit
 * transport sequence number. FALSE unless 2 bytes. */
gboolean kumis_rtp_ext_twcc_seq(const guint8 *data, const struct kumis_rtp_header *h, guint8 id,
                                guint16 *seq);

/* A string-valued element (RFC 8843 §15 mid, RFC 8852 §3 rid / repaired-rid) copied into @buf
 * and NUL-terminated. Returns: its length, or -1 when absent, empty, longer than @buf_size - 1,
 * or holding a NUL or non-printable byte. */
gssize kumis_rtp_ext_string(const guint8 *data, const struct kumis_rtp_header *h, guint8 id,
                            char *buf, gsize buf_size);

/* In-place writers on a packet parsed into @h (which they keep up to date). Cannot fail. */
void kumis_rtp_set_seq(guint8 *data, struct kumis_rtp_header *h, guint16 seq);
void kumis_rtp_set_timestamp(guint8 *data, struct kumis_rtp_header *h, guint32 ts);
void kumis_rtp_set_ssrc(guint8 *data, struct kumis_rtp_header *h, guint32 ssrc);
/* Keeps the marker bit; @pt is masked to 7 bits. */
void kumis_rtp_set_payload_type(guint8 *data, struct kumis_rtp_header *h, guint8 pt);
void kumis_rtp_set_marker(guint8 *data, struct kumis_rtp_header *h, gboolean marker);

/* RFC 4588 §4: turns the packet in @data (@len bytes, parsed into @h) into its retransmission
 * on an RTX stream, in place: payload type @rtx_pt, SSRC @rtx_ssrc, sequence number @rtx_seq,
 * and the original sequence number (OSN) put before the payload; timestamp, marker, CSRCs,
 * header extensions and padding stay. @capacity is the room in @data.
 * Returns: the new length (@len + 2), or 0 when @capacity is too small (nothing changed). */
gsize kumis_rtp_to_rtx(guint8 *data, gsize len, gsize capacity, struct kumis_rtp_header *h,
                       guint8 rtx_pt, guint32 rtx_ssrc, guint16 rtx_seq);

/* The other way: turns an RTX packet in @data (*@len bytes, parsed into @h) back into the
 * packet it repairs, in place: payload type @pt, SSRC @ssrc, the sequence number from its OSN.
 * Returns: FALSE, nothing changed, when the payload is shorter than an OSN (a padding-only
 * packet, which is how Chromium probes bandwidth on RTX). */
gboolean kumis_rtp_from_rtx(guint8 *data, gsize *len, struct kumis_rtp_header *h, guint8 pt,
                            guint32 ssrc);

/* Overwrites the value of extension element @id with @value of exactly its current length
 * (the packet never changes size). FALSE when the element is absent or of another length. */
gboolean kumis_rtp_ext_write(guint8 *data, const struct kumis_rtp_header *h, guint8 id,
                             const guint8 *value, gsize value_len);

/* RFC 5761 §4: on a port that multiplexes RTP and RTCP, a packet whose second byte is 192..223
 * is RTCP. Also checks version 2 and the 4-byte RTCP minimum. */
gboolean kumis_rtp_is_rtcp(const guint8 *data, gsize len);

/* RFC 7983 §7 first-byte demultiplexing of one UDP port. */
enum kumis_demux {
    KUMIS_DEMUX_OTHER,
    KUMIS_DEMUX_STUN,         /* 0..3 */
    KUMIS_DEMUX_ZRTP,         /* 16..19 */
    KUMIS_DEMUX_DTLS,         /* 20..63 */
    KUMIS_DEMUX_TURN_CHANNEL, /* 64..79 */
    KUMIS_DEMUX_RTP_RTCP,     /* 128..191 */
};

/* Classifies a datagram by its first byte. An empty datagram is KUMIS_DEMUX_OTHER. */
enum kumis_demux kumis_demux_classify(const guint8 *data, gsize len);

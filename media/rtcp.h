/* kumis — RTCP: an iterator over compound packets (RFC 3550 §6), typed parsers for SR, RR,
 * SDES, BYE (RFC 3550), generic NACK and PLI (RFC 4585 §6.2.1, §6.3.1), FIR (RFC 5104
 * §4.3.1), REMB (draft-alvestrand-rmcat-remb-03 §2.2) and transport-wide congestion control
 * feedback (draft-holmer-rmcat-transport-wide-cc-extensions-01 §3.1), and builders that write
 * into a caller buffer.
 *
 * Pure functions: no allocation, no logging, no globals; every length field is checked against
 * the bytes really there. Parsed structs point into the packet where noted (no copy). */
#pragma once

#include <glib.h>

enum kumis_rtcp_type {
    KUMIS_RTCP_SR = 200,
    KUMIS_RTCP_RR = 201,
    KUMIS_RTCP_SDES = 202,
    KUMIS_RTCP_BYE = 203,
    KUMIS_RTCP_APP = 204,
    KUMIS_RTCP_RTPFB = 205, /* RFC 4585 §6.1 transport layer feedback */
    KUMIS_RTCP_PSFB = 206,  /* RFC 4585 §6.1 payload-specific feedback */
};

/* Feedback message types (the FMT field) */
#define KUMIS_RTCP_RTPFB_NACK 1  /* RFC 4585 §6.2.1 */
#define KUMIS_RTCP_RTPFB_TWCC 15 /* draft-holmer-rmcat-transport-wide-cc-extensions-01 */
#define KUMIS_RTCP_PSFB_PLI   1  /* RFC 4585 §6.3.1 */
#define KUMIS_RTCP_PSFB_FIR   4  /* RFC 5104 §4.3.1 */
#define KUMIS_RTCP_PSFB_AFB   15 /* RFC 4585 §6.4, REMB travels in it */

#define KUMIS_RTCP_MAX_REPORTS 31 /* the 5-bit count field */

/* One RTCP packet of a compound packet. @data points into the compound packet. */
struct kumis_rtcp_packet {
    guint8 type;        /* enum kumis_rtcp_type, or any other value seen */
    guint8 count;       /* RC, SC or FMT: the 5 low bits of the first byte */
    const guint8 *data; /* the packet, starting at its 4-byte common header */
    gsize len;          /* bytes of the packet, padding removed */
};

struct kumis_rtcp_iter {
    const guint8 *data;
    gsize len;
    gsize offset;
};

/* Starts iterating over compound packet @data (@len bytes). Cannot fail. */
void kumis_rtcp_iter_init(struct kumis_rtcp_iter *it, const guint8 *data, gsize len);

/* Yields the next packet into @out. Returns: 1 with a packet, 0 at the clean end, -1 when the
 * rest is malformed (version not 2, length past the end, bad padding); iteration stops there,
 * and packets already yielded stay valid. RFC 3550 §6.4.1: padding only in the last packet. */
int kumis_rtcp_iter_next(struct kumis_rtcp_iter *it, struct kumis_rtcp_packet *out);

/* RFC 3550 §6.4.1 report block. */
struct kumis_rtcp_report_block {
    guint32 ssrc;
    guint8 fraction_lost;
    gint32 cumulative_lost; /* 24-bit signed on the wire */
    guint32 highest_seq;    /* extended highest sequence number received */
    guint32 jitter;
    guint32 lsr;  /* middle 32 bits of the last SR's NTP timestamp */
    guint32 dlsr; /* delay since that SR, 1/65536 s */
};

struct kumis_rtcp_sr {
    guint32 ssrc;
    guint32 ntp_sec;
    guint32 ntp_frac;
    guint32 rtp_timestamp;
    guint32 packet_count;
    guint32 octet_count;
    guint n_reports;
    struct kumis_rtcp_report_block reports[KUMIS_RTCP_MAX_REPORTS];
};

struct kumis_rtcp_rr {
    guint32 ssrc;
    guint n_reports;
    struct kumis_rtcp_report_block reports[KUMIS_RTCP_MAX_REPORTS];
};

/* SR (type 200) / RR (type 201). FALSE when @p is another type or shorter than its count. */
gboolean kumis_rtcp_sr_parse(const struct kumis_rtcp_packet *p, struct kumis_rtcp_sr *out);
gboolean kumis_rtcp_rr_parse(const struct kumis_rtcp_packet *p, struct kumis_rtcp_rr *out);

struct kumis_rtcp_sdes_chunk {
    guint32 ssrc;
    const guint8 *cname; /* points into the packet, not NUL-terminated; NULL if none */
    guint8 cname_len;
};

struct kumis_rtcp_sdes {
    guint n_chunks;
    struct kumis_rtcp_sdes_chunk chunks[KUMIS_RTCP_MAX_REPORTS];
};

/* SDES (type 202), RFC 3550 §6.5: every chunk and item is checked; only CNAME is kept. */
gboolean kumis_rtcp_sdes_parse(const struct kumis_rtcp_packet *p, struct kumis_rtcp_sdes *out);

struct kumis_rtcp_bye {
    guint n_ssrcs;
    guint32 ssrcs[KUMIS_RTCP_MAX_REPORTS];
    const guint8 *reason; /* into the packet, not NUL-terminated; NULL if none */
    guint8 reason_len;
};

/* BYE (type 203), RFC 3550 §6.6. */
gboolean kumis_rtcp_bye_parse(const struct kumis_rtcp_packet *p, struct kumis_rtcp_bye *out);

/* The common part of every RFC 4585 §6.1 feedback message. */
struct kumis_rtcp_fb {
    guint8 fmt;
    guint32 sender_ssrc;
    guint32 media_ssrc;
    const guint8 *fci; /* feedback control information, into the packet */
    gsize fci_len;
};

/* Any RTPFB or PSFB packet. FALSE for other types or when shorter than 12 bytes. */
gboolean kumis_rtcp_fb_parse(const struct kumis_rtcp_packet *p, struct kumis_rtcp_fb *out);

/* Generic NACK (RTPFB FMT 1): expands every PID/BLP pair into @seqs (at most @max, the rest
 * is dropped: a subscriber asking for more than that will ask again). Returns: the number of
 * sequence numbers written, or -1 when @p is not a well-formed NACK. */
gssize kumis_rtcp_nack_parse(const struct kumis_rtcp_packet *p, guint32 *media_ssrc, guint16 *seqs,
                             gsize max);

/* PLI (PSFB FMT 1). */
gboolean kumis_rtcp_pli_parse(const struct kumis_rtcp_packet *p, guint32 *sender_ssrc,
                              guint32 *media_ssrc);

struct kumis_rtcp_fir_entry {
    guint32 ssrc;
    guint8 seq_nr;
};

/* FIR (PSFB FMT 4): up to @max entries. Returns: entries written, or -1 if malformed. */
gssize kumis_rtcp_fir_parse(const struct kumis_rtcp_packet *p, guint32 *sender_ssrc,
                            struct kumis_rtcp_fir_entry *entries, gsize max);

struct kumis_rtcp_remb {
    guint32 sender_ssrc;
    guint64 bitrate_bps; /* mantissa << exponent */
    guint n_ssrcs;
    guint32 ssrcs[255];
};

/* REMB (PSFB FMT 15 with the "REMB" identifier). FALSE for other application feedback. */
gboolean kumis_rtcp_remb_parse(const struct kumis_rtcp_packet *p, struct kumis_rtcp_remb *out);

struct kumis_rtcp_twcc {
    guint32 sender_ssrc;
    guint32 media_ssrc;
    guint16 base_seq;
    guint16 status_count;
    gint32 reference_time; /* signed 24-bit, multiples of 64 ms */
    guint8 fb_count;
};

struct kumis_twcc_status {
    guint16 seq;
    gboolean received;
    gint64 arrival_us; /* reference_time * 64 ms + the deltas so far; 0 if not received */
};

/* Transport-wide CC feedback (RTPFB FMT 15): the header into @hdr and one status per packet
 * into @out (status_count entries, which must be <= @max). Fails (FALSE) when chunks or deltas
 * run past the packet, when a symbol is the reserved value 3, or when @max is too small. */
gboolean kumis_rtcp_twcc_parse(const struct kumis_rtcp_packet *p, struct kumis_rtcp_twcc *hdr,
                               struct kumis_twcc_status *out, gsize max);

/* Builders: each writes one RTCP packet at @buf (@size bytes) and returns its length, or -1
 * when it does not fit (nothing useful is written then) or the input cannot be encoded.
 * Concatenate results into a compound packet (RFC 3550 §6.1: start with an SR or RR). */
gssize kumis_rtcp_build_sr(guint8 *buf, gsize size, const struct kumis_rtcp_sr *sr);
gssize kumis_rtcp_build_rr(guint8 *buf, gsize size, const struct kumis_rtcp_rr *rr);
/* One chunk with a CNAME item (RFC 3550 §6.5.1); @cname at most 255 bytes. */
gssize kumis_rtcp_build_sdes_cname(guint8 *buf, gsize size, guint32 ssrc, const char *cname);
/* @seqs in ascending order (wrap-aware) give the most compact packet; any order is correct. */
gssize kumis_rtcp_build_nack(guint8 *buf, gsize size, guint32 sender_ssrc, guint32 media_ssrc,
                             const guint16 *seqs, gsize n_seqs);
gssize kumis_rtcp_build_pli(guint8 *buf, gsize size, guint32 sender_ssrc, guint32 media_ssrc);
/* One FCI entry for @media_ssrc; RFC 5104 §4.3.1.1: the header's media SSRC is 0. */
gssize kumis_rtcp_build_fir(guint8 *buf, gsize size, guint32 sender_ssrc, guint32 media_ssrc,
                            guint8 seq_nr);
/* Transport-wide CC feedback for @n packets (@status[i].seq must be base + i, the first with
 * received set defines the reference time; arrival_us on one monotonic clock, in order of
 * seq not required). Arrival times are quantised to 250 µs as the draft says; a delta that
 * does not fit 16 bits (more than ~8 s between two packets) makes the build fail (-1): send
 * two feedback packets then. Padding uses the P bit (RFC 3550 §6.4.1), so this must be the
 * last packet of a compound packet when its length is not a multiple of 4 before padding. */
gssize kumis_rtcp_build_twcc(guint8 *buf, gsize size, guint32 sender_ssrc, guint32 media_ssrc,
                             const struct kumis_twcc_status *status, gsize n, guint8 fb_count);
/* @bitrate_bps is rounded down to 18 bits of mantissa; at most 255 @ssrcs. */
gssize kumis_rtcp_build_remb(guint8 *buf, gsize size, guint32 sender_ssrc, guint64 bitrate_bps,
                             const guint32 *ssrcs, gsize n_ssrcs);

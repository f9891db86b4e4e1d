/* RTP/RTCP header parsing and the receive statistics of one SSRC (RFC 3550), VP8 keyframe
 * recognition (RFC 7741). Pure functions, no I/O, no logging. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct rtp_header {
    uint8_t payload_type;
    uint8_t marker;
    uint16_t seq;
    uint32_t timestamp;
    uint32_t ssrc;
    size_t header_len; /* fixed header + CSRCs + extension: where the payload starts */
};

/* Returns whether a datagram whose first byte is 128..191 is RTCP rather than RTP, by its
 * payload type (RFC 5761 §4: 64..95 after masking the marker bit). */
int rtp_packet_is_rtcp(const uint8_t *buf, size_t len);

/* Parses the header of an RTP packet (version 2). Returns 0, or -1 when truncated or not
 * version 2. The header of an SRTP packet is in clear, so this works on SRTP too. */
int rtp_header_parse(const uint8_t *buf, size_t len, struct rtp_header *h);

/* The length of the RFC 7741 §4.2 payload descriptor at the start of a VP8 RTP payload, or 0
 * when @len cannot hold it. */
size_t rtp_vp8_descriptor_len(const uint8_t *payload, size_t len);

/* Returns whether a VP8 RTP payload starts a keyframe: RFC 7741 §4.2 descriptor with S=1 and
 * partition index 0, then a payload header (§4.3) whose P bit is 0. Bounds-checked. */
int rtp_vp8_is_keyframe_start(const uint8_t *payload, size_t len);

/* Receive statistics of one SSRC (RFC 3550 Appendix A.1 style). */
struct rtp_stream_stats {
    uint32_t ssrc;
    uint8_t payload_type;
    int started;
    uint16_t max_seq;
    uint32_t cycles;   /* sequence number wraps, shifted by 16 */
    uint32_t base_seq; /* extended */
    uint64_t received;
    uint64_t gaps;       /* forward jumps of more than one sequence number */
    uint64_t max_gap_us; /* longest time between two packets */
    uint64_t last_us;
    /* the keyframe being assembled on this stream (subscribers, until the first complete) */
    int keyframe_active;
    uint32_t keyframe_ts;
    uint16_t keyframe_first_seq;
    unsigned keyframe_packets;
};

/* Accounts one packet with sequence number @seq that arrived at @now_us. */
void rtp_stream_stats_update(struct rtp_stream_stats *s, uint16_t seq, uint64_t now_us);

/* Packets expected from the first to the highest sequence number seen. */
uint64_t rtp_stream_stats_expected(const struct rtp_stream_stats *s);

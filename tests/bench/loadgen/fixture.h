/* Pre-encoded media for publishers: RTP packets read from an RFC 4571 framed file (2-byte
 * big-endian length before each packet, as written by GStreamer's rtpstreampay). */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct fixture_packet {
    const uint8_t *data; /* the RTP packet, inside fixture.bytes */
    uint16_t len;
    uint32_t ts_rel;        /* RTP timestamp minus the first packet's */
    uint8_t keyframe_start; /* first packet of a VP8 keyframe (RFC 7741 §4.3) */
};

struct fixture {
    uint8_t *bytes;
    struct fixture_packet *packets;
    size_t count;
    uint32_t clock_rate;
    uint32_t loop_ts;  /* RTP time of one pass: last ts_rel plus one frame */
    uint64_t pace_bps; /* video: 2.5 x the mean bitrate (libwebrtc's pacing factor); 0: none */
};

/* A frame of more packets is left as the file has it. */
#define FIXTURE_FRAME_MAX 256

/* Loads @path. @clock_rate is the RTP clock (90000 video, 48000 Opus); with @is_vp8, keyframe
 * starts are marked and each frame's payload is cut about equally among its packets, as
 * browsers' packetizer does (the file's rtpvp8pay fills each packet to the MTU). Returns 0, or -1
 * when the file is missing, empty or holds a packet that is not RTP version 2 (then @fx is left
 * empty). */
int fixture_load(struct fixture *fx, const char *path, uint32_t clock_rate, int is_vp8);

/* Frees what fixture_load() allocated. Idempotent. */
void fixture_clear(struct fixture *fx);

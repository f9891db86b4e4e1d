/* One simulated WebRTC participant connection of the load generator: a UDP socket on
 * 127.0.0.1, a minimal full ICE agent (one host candidate, RFC 8445), DTLS-SRTP, and either a
 * publisher (sends looped pre-encoded Opus + VP8) or a subscriber (counts what arrives). */
#pragma once

#include "dtls.h"
#include "fixture.h"
#include "rtp.h"

#include <jansson.h>
#include <netinet/in.h>
#include <stdint.h>

#define PEER_MAX_STREAMS 32

enum peer_kind { PEER_PUBLISHER, PEER_SUBSCRIBER };

/* Sends one fixture in a loop, paced by its RTP timestamps, rewriting SSRC, payload type,
 * sequence numbers and timestamps so that the output stays continuous across loops and
 * keyframe jumps. */
struct peer_sender {
    const struct fixture *fx;
    uint32_t ssrc;
    uint8_t payload_type;
    uint16_t seq;
    uint32_t ts_base;
    size_t index;
    uint64_t loop_ts;      /* RTP time added by completed loops and keyframe jumps */
    uint64_t start_us;     /* wall time of output RTP time 0 */
    uint64_t pace_next_us; /* the pacer lets the next packet go at this time */
    int keyframe_wanted;
    uint64_t keyframes_forced; /* jumps made for PLI/FIR */
    uint64_t last_jump_us;
};

struct peer {
    char id[64];
    enum peer_kind kind;
    int fd;
    struct sockaddr_in local, remote;
    int has_remote;
    char local_ufrag[9], local_pwd[25];
    char remote_ufrag[257], remote_pwd[257];
    int controlling;
    uint64_t tie_breaker;
    uint8_t check_transaction[12];
    uint64_t next_check_us;
    int ice_ok;
    int nominated; /* controlled: the server sent USE-CANDIDATE */
    struct dtls_session dtls;
    int dtls_ready;    /* dtls is initialised */
    uint32_t own_ssrc; /* RTCP sender SSRC (subscriber) */
    uint64_t t0_us;    /* when the runner began to join (monotonic), for first-frame time */
    uint64_t created_us, ice_us, secure_us, nominated_us;
    /* publisher */
    struct peer_sender audio, video;
    /* subscriber */
    uint8_t audio_pt, video_pt;
    struct rtp_stream_stats streams[PEER_MAX_STREAMS];
    unsigned n_streams;
    int keyframe_done;
    uint64_t first_frame_us;
    uint32_t video_ssrc_seen;
    uint64_t next_rr_us, next_pli_us;
    /* counters */
    uint64_t rx_rtp, rx_bytes, rx_rtcp, rx_stun, tx_rtp, tx_bytes, plis_sent, plis_received,
        nacks_received, decrypt_errors, ice_role_conflicts;
};

/* Creates a peer with a UDP socket bound to 127.0.0.1 on a free port and fresh ICE
 * credentials. Publishers get random SSRCs and send @audio / @video (borrowed; must outlive
 * the peer). Returns: (transfer full) the peer, or NULL when the socket cannot be made. */
struct peer *peer_new(const char *id, enum peer_kind kind, const struct fixture *audio,
                      const struct fixture *video, uint64_t t0_us, uint64_t now_us);

/* Closes the socket, frees DTLS/SRTP and the peer. NULL is ignored. */
void peer_free(struct peer *p);

/* Sets the remote side from the signaled SDP: ICE credentials, one host candidate, ICE role,
 * DTLS role and the negotiated payload types; starts the connectivity checks. Returns 0, or
 * -1 when the credentials are too long or DTLS cannot start. */
int peer_remote_set(struct peer *p, const char *ufrag, const char *pwd, const char *ip, int port,
                    int controlling, int dtls_client, int audio_pt, int video_pt,
                    struct dtls_context *dc);

/* Handles one received datagram (STUN, DTLS, SRTP or SRTCP by RFC 7983 first byte). Hostile
 * input is counted or dropped, never trusted. Never fails. */
void peer_datagram_handle(struct peer *p, uint8_t *buf, size_t len, const struct sockaddr_in *from,
                          uint64_t now_us);

/* Periodic work: ICE checks and consent, DTLS retransmission, RTCP receiver reports and PLI.
 * Never fails. */
void peer_tick(struct peer *p, uint64_t now_us);

/* Publisher: sends every packet due by @now_us. Returns the time of the next due packet, or
 * UINT64_MAX when not sending. */
uint64_t peer_media_send(struct peer *p, uint64_t now_us);

/* Returns: (transfer full) the peer's counters as a JSON object. */
json_t *peer_stats_json(const struct peer *p);

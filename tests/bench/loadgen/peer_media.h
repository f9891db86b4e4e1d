/* Internal to the load generator's peer: the media half (RTP/RTCP), used by peer.c. */
#pragma once

#include "peer.h"

/* Sends one datagram to the peer's remote candidate (dropped when the socket is full). */
void peer_datagram_send(struct peer *p, const uint8_t *buf, size_t len);

/* Prepares a sender of @fx (may be NULL: sends nothing) with SSRC @ssrc. Never fails. */
void peer_sender_init(struct peer_sender *s, const struct fixture *fx, uint32_t ssrc);

/* DTLS finished: publishers start their clocks, subscribers schedule RR and PLI. */
void peer_media_start(struct peer *p, uint64_t now_us);

/* One SRTP or SRTCP datagram arrived (first byte 128..191). Never fails. */
void peer_media_receive(struct peer *p, uint8_t *buf, size_t len, uint64_t now_us);

/* Periodic RTCP: receiver reports, PLI until the first keyframe. Never fails. */
void peer_media_tick(struct peer *p, uint64_t now_us);

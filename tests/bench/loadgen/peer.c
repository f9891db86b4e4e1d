/* A load-generator peer: socket, minimal ICE agent and DTLS-SRTP (RFC 8445, RFC 5764).
 * The media halves (publisher sending, subscriber counting) are in peer_media.c. */
#include "peer.h"

#include "peer_media.h"
#include "stun.h"

#include <arpa/inet.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CHECK_INTERVAL_US   100000  /* connectivity checks until one succeeds */
#define CONSENT_INTERVAL_US 2000000 /* RFC 7675 consent freshness, well under 30 s */
/* RFC 8445 §5.1.2.1 priority of a peer-reflexive candidate, component 1. */
#define PRFLX_PRIORITY ((110u << 24) | (65535u << 8) | 255u)

static void ice_string_make(char *out, size_t len)
{
    static const char alphabet[] =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/";
    uint8_t rnd[64];
    RAND_bytes(rnd, (int)len);
    for (size_t i = 0; i < len; i++)
        out[i] = alphabet[rnd[i] % 64];
    out[len] = '\0';
}

static uint32_t random_u32(void)
{
    uint32_t v = 0;
    RAND_bytes((uint8_t *)&v, sizeof v);
    return v;
}

void peer_datagram_send(struct peer *p, const uint8_t *buf, size_t len)
{
    if (!p->has_remote)
        return;
    sendto(p->fd, buf, len, MSG_DONTWAIT, (const struct sockaddr *)&p->remote, sizeof p->remote);
}

struct peer *peer_new(const char *id, enum peer_kind kind, const struct fixture *audio,
                      const struct fixture *video, uint64_t t0_us, uint64_t now_us)
{
    struct peer *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    snprintf(p->id, sizeof p->id, "%s", id);
    p->kind = kind;
    p->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    p->local.sin_family = AF_INET;
    p->local.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t slen = sizeof p->local;
    /* A bigger receive buffer rides out scheduling hiccups of a loaded machine. */
    int rcvbuf = 1 << 20;
    if (p->fd < 0 || setsockopt(p->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) != 0 ||
        bind(p->fd, (struct sockaddr *)&p->local, sizeof p->local) != 0 ||
        getsockname(p->fd, (struct sockaddr *)&p->local, &slen) != 0) {
        if (p->fd >= 0)
            close(p->fd);
        free(p);
        return NULL;
    }
    ice_string_make(p->local_ufrag, 8);
    ice_string_make(p->local_pwd, 24);
    RAND_bytes((uint8_t *)&p->tie_breaker, sizeof p->tie_breaker);
    p->own_ssrc = random_u32();
    p->t0_us = t0_us ? t0_us : now_us;
    p->created_us = now_us;
    if (kind == PEER_PUBLISHER) {
        peer_sender_init(&p->audio, audio, random_u32());
        peer_sender_init(&p->video, video, random_u32());
    }
    return p;
}

void peer_free(struct peer *p)
{
    if (p == NULL)
        return;
    if (p->dtls_ready)
        dtls_session_clear(&p->dtls);
    close(p->fd);
    free(p);
}

int peer_remote_set(struct peer *p, const char *ufrag, const char *pwd, const char *ip, int port,
                    int controlling, int dtls_client, int audio_pt, int video_pt,
                    struct dtls_context *dc)
{
    if (strlen(ufrag) >= sizeof p->remote_ufrag || strlen(pwd) >= sizeof p->remote_pwd ||
        port <= 0 || port > 65535 || p->dtls_ready)
        return -1;
    memset(&p->remote, 0, sizeof p->remote);
    p->remote.sin_family = AF_INET;
    p->remote.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, ip, &p->remote.sin_addr) != 1)
        return -1;
    snprintf(p->remote_ufrag, sizeof p->remote_ufrag, "%s", ufrag);
    snprintf(p->remote_pwd, sizeof p->remote_pwd, "%s", pwd);
    p->controlling = controlling;
    p->audio_pt = (uint8_t)audio_pt;
    p->video_pt = (uint8_t)video_pt;
    p->audio.payload_type = (uint8_t)audio_pt;
    p->video.payload_type = (uint8_t)video_pt;
    if (dtls_session_init(&p->dtls, dc, dtls_client) != 0)
        return -1;
    p->dtls_ready = 1;
    p->has_remote = 1;
    p->next_check_us = 0;
    return 0;
}

static void ice_check_send(struct peer *p, uint64_t now_us)
{
    uint8_t buf[STUN_MAX_MESSAGE];
    RAND_bytes(p->check_transaction, sizeof p->check_transaction);
    /* Aggressive nomination: libnice and Janus accept USE-CANDIDATE on the first check. */
    size_t len = stun_binding_request_write(buf, p->check_transaction, p->remote_ufrag,
                                            p->local_ufrag, p->remote_pwd, PRFLX_PRIORITY,
                                            p->controlling, p->tie_breaker, p->controlling);
    if (len > 0)
        peer_datagram_send(p, buf, len);
    p->next_check_us = now_us + (p->ice_ok ? CONSENT_INTERVAL_US : CHECK_INTERVAL_US);
}

static void dtls_flush(struct peer *p)
{
    uint8_t out[1500];
    size_t len;
    while ((len = dtls_session_take_datagram(&p->dtls, out, 1200)) > 0)
        peer_datagram_send(p, out, len);
}

static void dtls_drive(struct peer *p, const uint8_t *buf, size_t len, uint64_t now_us)
{
    int was_done = p->dtls.done;
    dtls_session_advance(&p->dtls, buf, len);
    dtls_flush(p);
    if (!was_done && p->dtls.done) {
        p->secure_us = now_us;
        peer_media_start(p, now_us);
    }
}

/* The DTLS client speaks once the pair is usable at both ends: after its own check succeeded
 * and, when controlled, the server nominated the pair (a ClientHello sent earlier is dropped
 * by agents that accept data only on a nominated pair). Servers that never nominate (both sides
 * controlled) get it after NOMINATION_WAIT_US anyway. */
#define NOMINATION_WAIT_US 200000
static int dtls_may_start(const struct peer *p, uint64_t now_us)
{
    if (!p->dtls.is_client)
        return 1;
    return p->ice_ok && (p->controlling || p->nominated || now_us - p->ice_us > NOMINATION_WAIT_US);
}

static void stun_handle(struct peer *p, const uint8_t *buf, size_t len,
                        const struct sockaddr_in *from, uint64_t now_us)
{
    struct stun_message msg;
    if (stun_message_parse(buf, len, &msg) != 0)
        return;
    p->rx_stun++;
    if (msg.type == STUN_BINDING_REQUEST) {
        if (!stun_message_check_integrity(buf, len, &msg, p->local_pwd))
            return;
        if (p->controlling && msg.ice_controlling)
            p->ice_role_conflicts++;
        if (msg.use_candidate && !p->controlling && !p->nominated) {
            p->nominated = 1;
            p->nominated_us = now_us;
            if (dtls_may_start(p, now_us) && !p->dtls.done)
                dtls_drive(p, NULL, 0, now_us);
        }
        uint8_t out[STUN_MAX_MESSAGE];
        size_t olen = stun_binding_success_write(out, msg.transaction, from, p->local_pwd);
        sendto(p->fd, out, olen, MSG_DONTWAIT, (const struct sockaddr *)from, sizeof *from);
        /* RFC 8445 §7.3.1.4 triggered check: answer a check with ours at once. */
        if (!p->ice_ok && p->has_remote)
            ice_check_send(p, now_us);
        return;
    }
    if (memcmp(msg.transaction, p->check_transaction, 12) != 0)
        return;
    if (msg.type == STUN_BINDING_SUCCESS && !p->ice_ok &&
        stun_message_check_integrity(buf, len, &msg, p->remote_pwd)) {
        p->ice_ok = 1;
        p->ice_us = now_us;
        p->next_check_us = now_us + CONSENT_INTERVAL_US;
        if (dtls_may_start(p, now_us))
            dtls_drive(p, NULL, 0, now_us);
    } else if (msg.type == STUN_BINDING_ERROR && msg.error_code == 487) {
        /* RFC 8445 §7.2.5.1: role conflict, switch and check again. */
        p->ice_role_conflicts++;
        p->controlling = !p->controlling;
        p->next_check_us = now_us;
    }
}

void peer_datagram_handle(struct peer *p, uint8_t *buf, size_t len, const struct sockaddr_in *from,
                          uint64_t now_us)
{
    if (len == 0 || !p->has_remote)
        return;
    uint8_t b = buf[0];
    /* RFC 7983 §7 demultiplexing by the first byte. */
    if (b <= 3)
        stun_handle(p, buf, len, from, now_us);
    else if (b >= 20 && b <= 63)
        dtls_drive(p, buf, len, now_us);
    else if (b >= 128 && b <= 191 && p->dtls.done)
        peer_media_receive(p, buf, len, now_us);
}

void peer_tick(struct peer *p, uint64_t now_us)
{
    if (!p->has_remote)
        return;
    if (now_us >= p->next_check_us)
        ice_check_send(p, now_us);
    if (p->dtls_ready && !p->dtls.done && !p->dtls.failed && dtls_may_start(p, now_us))
        dtls_drive(p, NULL, 0, now_us);
    if (p->dtls.done)
        peer_media_tick(p, now_us);
}

static const char *peer_state_name(const struct peer *p)
{
    if (p->dtls.failed)
        return "failed";
    if (p->dtls.done)
        return "secure";
    if (p->ice_ok)
        return "ice-connected";
    return p->has_remote ? "checking" : "new";
}

json_t *peer_stats_json(const struct peer *p)
{
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "id", p->id, "kind",
        p->kind == PEER_PUBLISHER ? "publisher" : "subscriber", "state", peer_state_name(p), "rx",
        (json_int_t)p->rx_rtp, "rx_bytes", (json_int_t)p->rx_bytes, "rx_rtcp",
        (json_int_t)p->rx_rtcp, "tx", (json_int_t)p->tx_rtp, "tx_bytes", (json_int_t)p->tx_bytes,
        "plis_sent", (json_int_t)p->plis_sent, "plis_received", (json_int_t)p->plis_received,
        "nacks_received", (json_int_t)p->nacks_received, "decrypt_errors",
        (json_int_t)p->decrypt_errors, "role_conflicts", (json_int_t)p->ice_role_conflicts);
    uint64_t expected = 0, received = 0, gaps = 0, max_gap = 0;
    for (unsigned i = 0; i < p->n_streams; i++) {
        expected += rtp_stream_stats_expected(&p->streams[i]);
        received += p->streams[i].received;
        gaps += p->streams[i].gaps;
        if (p->streams[i].max_gap_us > max_gap)
            max_gap = p->streams[i].max_gap_us;
    }
    json_t *per_stream = json_array();
    for (unsigned i = 0; i < p->n_streams; i++) {
        const struct rtp_stream_stats *st = &p->streams[i];
        json_array_append_new(per_stream,
                              json_pack("{s:I, s:i, s:I, s:I, s:I}", "ssrc", (json_int_t)st->ssrc,
                                        "pt", st->payload_type, "rx", (json_int_t)st->received,
                                        "expected", (json_int_t)rtp_stream_stats_expected(st),
                                        "gaps", (json_int_t)st->gaps));
    }
    json_object_set_new(o, "per_stream", per_stream);
    json_object_set_new(o, "expected", json_integer((json_int_t)expected));
    json_object_set_new(o, "lost",
                        json_integer(expected > received ? (json_int_t)(expected - received) : 0));
    json_object_set_new(o, "gaps", json_integer((json_int_t)gaps));
    json_object_set_new(o, "max_gap_ms", json_real((double)max_gap / 1000.0));
    json_object_set_new(o, "streams", json_integer(p->n_streams));
    json_object_set_new(o, "keyframes_forced", json_integer((json_int_t)p->video.keyframes_forced));
    if (p->dtls.profile)
        json_object_set_new(o, "srtp", json_string(p->dtls.profile));
    if (p->ice_us) /* the join's phases: our first check answered, nominated, DTLS done */
        json_object_set_new(o, "ice_ms", json_real((double)(p->ice_us - p->t0_us) / 1000.0));
    if (p->nominated_us)
        json_object_set_new(o, "nominated_ms",
                            json_real((double)(p->nominated_us - p->t0_us) / 1000.0));
    if (p->secure_us)
        json_object_set_new(o, "secure_ms", json_real((double)(p->secure_us - p->t0_us) / 1000.0));
    if (p->keyframe_done)
        json_object_set_new(o, "first_frame_ms",
                            json_real((double)(p->first_frame_us - p->t0_us) / 1000.0));
    return o;
}

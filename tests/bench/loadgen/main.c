/* kumis-loadgen — lean WebRTC load generator for tests/bench/run.
 *
 * Many publishers/subscribers on one epoll loop in one thread. Controlled through stdin and
 * stdout, one JSON object per line (the runner does signaling and SDP; see README.md):
 *   {"cmd":"create","id":"s1","kind":"subscriber"|"publisher","t0":<CLOCK_MONOTONIC s>}
 *     -> {"ok":true,"port":..,"ufrag":..,"pwd":..,"fingerprint":..,"audio_ssrc":..,...}
 *   {"cmd":"remote","id":"s1","ufrag":..,"pwd":..,"ip":..,"port":..,"controlling":bool,
 *    "dtls_client":bool,"audio_pt":111,"video_pt":96}                     -> {"ok":true}
 *   {"cmd":"payload_types","id":..,"audio_pt":..,"video_pt":..}  (after a re-offer) -> ok
 *   {"cmd":"stats"} -> {"ok":true,"now_us":..,"cpu_us":..,"peers":[...]}
 *   {"cmd":"close","id":"s1"}, {"cmd":"quit"}                            -> {"ok":true}
 * Failures answer {"ok":false,"error":"..."}. */
#include "dtls.h"
#include "fixture.h"
#include "peer.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define TICK_US    20000
#define BATCH      32
#define DGRAM_MAX  2048
#define LINE_MAX_B (1 << 20)

struct loadgen {
    int epfd;
    struct dtls_context dtls;
    struct fixture audio, video;
    int have_fixtures;
    struct peer **peers;
    size_t n_peers, cap_peers;
    char *line;
    size_t line_len;
    int quit;
    uint64_t next_tick_us;
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    struct sockaddr_in from[BATCH];
    uint8_t bufs[BATCH][DGRAM_MAX];
};

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint64_t cpu_us(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000u +
           (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static void reply(json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT);
    fputs(s, stdout);
    fputc('\n', stdout);
    fflush(stdout);
    free(s);
    json_decref(o);
}

static json_t *fail(const char *message)
{
    return json_pack("{s:b, s:s}", "ok", 0, "error", message);
}

static struct peer *peer_find(struct loadgen *lg, const char *id, size_t *index)
{
    for (size_t i = 0; id && i < lg->n_peers; i++)
        if (strcmp(lg->peers[i]->id, id) == 0) {
            if (index)
                *index = i;
            return lg->peers[i];
        }
    return NULL;
}

static json_t *cmd_create(struct loadgen *lg, json_t *req)
{
    const char *id = json_string_value(json_object_get(req, "id"));
    const char *kind = json_string_value(json_object_get(req, "kind"));
    if (id == NULL || kind == NULL || peer_find(lg, id, NULL))
        return fail("create: needs a new id and a kind");
    enum peer_kind k = strcmp(kind, "publisher") == 0 ? PEER_PUBLISHER : PEER_SUBSCRIBER;
    if (k == PEER_PUBLISHER && !lg->have_fixtures)
        return fail("create: publisher needs --fixtures DIR (run make-fixture)");
    double t0 = json_number_value(json_object_get(req, "t0"));
    struct peer *p = peer_new(id, k, &lg->audio, &lg->video, (uint64_t)(t0 * 1e6), now_us());
    if (p == NULL)
        return fail("create: cannot open a UDP socket");
    if (lg->n_peers == lg->cap_peers) {
        size_t cap = lg->cap_peers ? 2 * lg->cap_peers : 64;
        struct peer **bigger = realloc(lg->peers, cap * sizeof(struct peer *));
        if (bigger == NULL) {
            peer_free(p);
            return fail("create: out of memory");
        }
        lg->peers = bigger;
        lg->cap_peers = cap;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = p};
    if (epoll_ctl(lg->epfd, EPOLL_CTL_ADD, p->fd, &ev) != 0) {
        peer_free(p);
        return fail("create: epoll_ctl failed");
    }
    lg->peers[lg->n_peers++] = p;
    return json_pack("{s:b, s:s, s:s, s:i, s:s, s:s, s:s, s:I, s:I}", "ok", 1, "id", id, "ip",
                     "127.0.0.1", "port", (int)ntohs(p->local.sin_port), "ufrag", p->local_ufrag,
                     "pwd", p->local_pwd, "fingerprint", lg->dtls.fingerprint, "audio_ssrc",
                     (json_int_t)p->audio.ssrc, "video_ssrc", (json_int_t)p->video.ssrc);
}

static json_t *cmd_remote(struct loadgen *lg, json_t *req)
{
    struct peer *p = peer_find(lg, json_string_value(json_object_get(req, "id")), NULL);
    const char *ufrag = json_string_value(json_object_get(req, "ufrag"));
    const char *pwd = json_string_value(json_object_get(req, "pwd"));
    const char *ip = json_string_value(json_object_get(req, "ip"));
    if (p == NULL || ufrag == NULL || pwd == NULL || ip == NULL)
        return fail("remote: needs a known id, ufrag, pwd, ip, port");
    int r =
        peer_remote_set(p, ufrag, pwd, ip, (int)json_integer_value(json_object_get(req, "port")),
                        json_is_true(json_object_get(req, "controlling")),
                        json_is_true(json_object_get(req, "dtls_client")),
                        (int)json_integer_value(json_object_get(req, "audio_pt")),
                        (int)json_integer_value(json_object_get(req, "video_pt")), &lg->dtls);
    return r == 0 ? json_pack("{s:b}", "ok", 1) : fail("remote: bad address or credentials");
}

/* A renegotiation (the server re-offered) may bring the first video or audio m-line. */
static json_t *cmd_payload_types(struct loadgen *lg, json_t *req)
{
    struct peer *p = peer_find(lg, json_string_value(json_object_get(req, "id")), NULL);
    if (p == NULL)
        return fail("payload_types: unknown id");
    json_int_t audio = json_integer_value(json_object_get(req, "audio_pt"));
    json_int_t video = json_integer_value(json_object_get(req, "video_pt"));
    if (audio > 0 && audio < 128)
        p->audio_pt = (uint8_t)audio;
    if (video > 0 && video < 128)
        p->video_pt = (uint8_t)video;
    return json_pack("{s:b}", "ok", 1);
}

static json_t *cmd_stats(struct loadgen *lg, json_t *req)
{
    (void)req;
    json_t *peers = json_array();
    for (size_t i = 0; i < lg->n_peers; i++)
        json_array_append_new(peers, peer_stats_json(lg->peers[i]));
    return json_pack("{s:b, s:I, s:I, s:o}", "ok", 1, "now_us", (json_int_t)now_us(), "cpu_us",
                     (json_int_t)cpu_us(), "peers", peers);
}

static json_t *cmd_close(struct loadgen *lg, json_t *req)
{
    size_t i;
    struct peer *p = peer_find(lg, json_string_value(json_object_get(req, "id")), &i);
    if (p == NULL)
        return fail("close: unknown id");
    epoll_ctl(lg->epfd, EPOLL_CTL_DEL, p->fd, NULL);
    peer_free(p);
    lg->peers[i] = lg->peers[--lg->n_peers];
    return json_pack("{s:b}", "ok", 1);
}

static json_t *cmd_quit(struct loadgen *lg, json_t *req)
{
    (void)req;
    lg->quit = 1;
    return json_pack("{s:b}", "ok", 1);
}

static const struct {
    const char *name;
    json_t *(*handle)(struct loadgen *lg, json_t *req);
} commands[] = {
    {"create", cmd_create}, {"remote", cmd_remote}, {"payload_types", cmd_payload_types},
    {"stats", cmd_stats},   {"close", cmd_close},   {"quit", cmd_quit},
};

static void command_line_handle(struct loadgen *lg, const char *line)
{
    json_t *req = json_loads(line, 0, NULL);
    const char *cmd = json_string_value(json_object_get(req, "cmd"));
    json_t *answer = NULL;
    for (size_t i = 0; cmd && i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(cmd, commands[i].name) == 0)
            answer = commands[i].handle(lg, req);
    reply(answer ? answer : fail("unknown or malformed command"));
    json_decref(req);
}

static void stdin_read(struct loadgen *lg)
{
    ssize_t n = read(STDIN_FILENO, lg->line + lg->line_len, LINE_MAX_B - 1 - lg->line_len);
    if (n <= 0) {
        if (n == 0 || (errno != EAGAIN && errno != EINTR))
            lg->quit = 1; /* the runner went away */
        return;
    }
    lg->line_len += (size_t)n;
    lg->line[lg->line_len] = '\0';
    char *start = lg->line, *nl;
    while ((nl = strchr(start, '\n')) != NULL) {
        *nl = '\0';
        if (nl > start)
            command_line_handle(lg, start);
        start = nl + 1;
    }
    lg->line_len -= (size_t)(start - lg->line);
    memmove(lg->line, start, lg->line_len);
    if (lg->line_len == LINE_MAX_B - 1)
        lg->line_len = 0; /* an absurdly long line: drop it */
}

static void socket_drain(struct loadgen *lg, struct peer *p)
{
    for (;;) {
        for (int i = 0; i < BATCH; i++) {
            lg->iov[i] = (struct iovec){lg->bufs[i], DGRAM_MAX};
            lg->msgs[i].msg_hdr = (struct msghdr){.msg_name = &lg->from[i],
                                                  .msg_namelen = sizeof lg->from[i],
                                                  .msg_iov = &lg->iov[i],
                                                  .msg_iovlen = 1};
        }
        int n = recvmmsg(p->fd, lg->msgs, BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0)
            return;
        uint64_t t = now_us();
        for (int i = 0; i < n; i++)
            peer_datagram_handle(p, lg->bufs[i], lg->msgs[i].msg_len, &lg->from[i], t);
        if (n < BATCH)
            return;
    }
}

/* Runs periodic work and publishers' sending; returns the epoll timeout in ms. */
static int timers_run(struct loadgen *lg)
{
    uint64_t t = now_us(), next = UINT64_MAX;
    if (t >= lg->next_tick_us) {
        for (size_t i = 0; i < lg->n_peers; i++)
            peer_tick(lg->peers[i], t);
        lg->next_tick_us = t + TICK_US;
    }
    for (size_t i = 0; i < lg->n_peers; i++) {
        uint64_t due = peer_media_send(lg->peers[i], t);
        if (due < next)
            next = due;
    }
    if (lg->next_tick_us < next)
        next = lg->next_tick_us;
    t = now_us();
    return next <= t ? 0 : (int)((next - t + 999) / 1000);
}

static int loadgen_run(struct loadgen *lg)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    if (epoll_ctl(lg->epfd, EPOLL_CTL_ADD, STDIN_FILENO, &ev) != 0)
        return -1;
    struct epoll_event events[64];
    while (!lg->quit) {
        int timeout = timers_run(lg);
        int n = epoll_wait(lg->epfd, events, 64, timeout);
        for (int i = 0; i < n && !lg->quit; i++) {
            if (events[i].data.ptr == NULL)
                stdin_read(lg);
            else
                socket_drain(lg, events[i].data.ptr);
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *fixtures = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--fixtures") == 0 && i + 1 < argc) {
            fixtures = argv[++i];
        } else {
            fprintf(stderr, "usage: kumis-loadgen [--fixtures DIR]  (JSON commands on stdin)\n");
            return 2;
        }
    }
    static struct loadgen lg; /* large scratch buffers: not on the stack */
    lg.epfd = epoll_create1(EPOLL_CLOEXEC);
    lg.line = malloc(LINE_MAX_B);
    if (lg.epfd < 0 || lg.line == NULL || dtls_context_init(&lg.dtls) != 0) {
        fprintf(stderr, "kumis-loadgen: cannot initialise epoll/OpenSSL/libsrtp2\n");
        return 1;
    }
    if (fixtures) {
        char a[4096], v[4096];
        snprintf(a, sizeof a, "%s/opus.rtp", fixtures);
        snprintf(v, sizeof v, "%s/vp8-720p.rtp", fixtures);
        if (fixture_load(&lg.audio, a, 48000, 0) != 0 ||
            fixture_load(&lg.video, v, 90000, 1) != 0) {
            fprintf(stderr, "kumis-loadgen: cannot load %s and %s\n", a, v);
            return 1;
        }
        lg.have_fixtures = 1;
    }
    int r = loadgen_run(&lg);
    for (size_t i = 0; i < lg.n_peers; i++)
        peer_free(lg.peers[i]);
    free(lg.peers);
    free(lg.line);
    fixture_clear(&lg.audio);
    fixture_clear(&lg.video);
    dtls_context_clear(&lg.dtls);
    close(lg.epfd);
    return r == 0 ? 0 : 1;
}

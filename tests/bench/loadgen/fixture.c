/* Loads RFC 4571 framed RTP files made by tests/bench/make-fixture. */
#include "fixture.h"

#include "rtp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint8_t *file_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    uint8_t *buf = NULL;
    size_t cap = 0, used = 0;
    for (;;) {
        if (used == cap) {
            cap = cap ? cap * 2 : 1 << 20;
            uint8_t *bigger = realloc(buf, cap);
            if (bigger == NULL)
                goto out_fail;
            buf = bigger;
        }
        size_t n = fread(buf + used, 1, cap - used, f);
        if (n == 0)
            break;
        used += n;
    }
    fclose(f);
    *len = used;
    return buf;
out_fail:
    fclose(f);
    free(buf);
    return NULL;
}

int fixture_load(struct fixture *fx, const char *path, uint32_t clock_rate, int is_vp8)
{
    memset(fx, 0, sizeof *fx);
    size_t len = 0;
    fx->bytes = file_read(path, &len);
    if (fx->bytes == NULL)
        return -1;
    size_t cap = len / 14 + 1;
    fx->packets = calloc(cap, sizeof *fx->packets);
    if (fx->packets == NULL)
        goto out_bad;
    uint32_t first_ts = 0;
    for (size_t off = 0; off + 2 <= len;) {
        size_t plen = (size_t)(fx->bytes[off] << 8 | fx->bytes[off + 1]);
        struct rtp_header h;
        if (off + 2 + plen > len || rtp_header_parse(fx->bytes + off + 2, plen, &h) != 0 ||
            fx->count == cap)
            goto out_bad;
        struct fixture_packet *p = &fx->packets[fx->count];
        p->data = fx->bytes + off + 2;
        p->len = (uint16_t)plen;
        if (fx->count == 0)
            first_ts = h.timestamp;
        p->ts_rel = h.timestamp - first_ts;
        p->keyframe_start =
            is_vp8 && rtp_vp8_is_keyframe_start(p->data + h.header_len, plen - h.header_len);
        fx->count++;
        off += 2 + plen;
    }
    if (fx->count < 2)
        goto out_bad;
    fx->clock_rate = clock_rate;
    /* One frame after the last: the mean frame distance keeps the loop seamless. */
    uint32_t last = fx->packets[fx->count - 1].ts_rel;
    size_t frames = 0;
    for (size_t i = 1; i < fx->count; i++)
        frames += fx->packets[i].ts_rel != fx->packets[i - 1].ts_rel;
    fx->loop_ts = last + (frames ? last / (uint32_t)frames : clock_rate / 50);
    /* Browsers pace video at 2.5 x its bitrate rather than sending a keyframe's 50 packets at
     * once; an unpaced burst overflows the server's socket buffer on loopback. */
    if (is_vp8)
        fx->pace_bps = (uint64_t)len * 8 * clock_rate / fx->loop_ts * 5 / 2;
    return 0;
out_bad:
    fixture_clear(fx);
    return -1;
}

void fixture_clear(struct fixture *fx)
{
    free(fx->bytes);
    free(fx->packets);
    memset(fx, 0, sizeof *fx);
}

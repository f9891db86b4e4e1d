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

/* The RTP header and VP8 descriptor of @p: what stays when its payload is cut anew; 0 when
 * the packet cannot be cut (no descriptor). */
static size_t vp8_prefix_len(const struct fixture_packet *p)
{
    struct rtp_header h;
    if (rtp_header_parse(p->data, p->len, &h) != 0)
        return 0;
    size_t d = rtp_vp8_descriptor_len(p->data + h.header_len, p->len - h.header_len);
    return d ? h.header_len + d : 0;
}

/* Rewrites the frame in packets [@first, @end) as browsers packetize it: libwebrtc's VP8
 * packetizer cuts a frame's payload about equally (sizes differ by at most a byte, the longer
 * ones last), where GStreamer's rtpvp8pay fills each packet to the MTU and leaves the rest to
 * the last. Same packets, headers and descriptors, same bytes in all: only the cut moves, in
 * place (@scratch holds a copy of the frame's bytes). */
static void frame_cut_evenly(struct fixture *fx, size_t first, size_t end, uint8_t *scratch)
{
    size_t n = end - first, payload = 0, prefix[FIXTURE_FRAME_MAX];
    if (n < 2 || n > FIXTURE_FRAME_MAX || fx->packets[first].data == NULL)
        return;
    for (size_t i = first; i < end; i++) {
        prefix[i - first] = vp8_prefix_len(&fx->packets[i]);
        if (prefix[i - first] == 0)
            return;
        payload += fx->packets[i].len - prefix[i - first];
    }
    /* The frame's packets lie one after the other, each after its 2-byte length. */
    uint8_t *region = (uint8_t *)fx->packets[first].data - 2;
    const struct fixture_packet *last = &fx->packets[end - 1];
    size_t region_len = (size_t)(last->data + last->len - region);
    memcpy(scratch, region, region_len);
    /* The payload, gathered after the copy of the region. */
    uint8_t *body = scratch + region_len;
    size_t at = 0;
    for (size_t i = first; i < end; i++) {
        const uint8_t *src = scratch + (fx->packets[i].data - region);
        size_t k = i - first;
        memcpy(body + at, src + prefix[k], fx->packets[i].len - prefix[k]);
        at += fx->packets[i].len - prefix[k];
    }
    size_t base = payload / n, longer = payload % n, out = 0;
    at = 0;
    for (size_t i = first; i < end; i++) {
        size_t k = i - first;
        const uint8_t *src = scratch + (fx->packets[i].data - region);
        size_t part = base + (k >= n - longer);
        size_t plen = prefix[k] + part;
        region[out] = (uint8_t)(plen >> 8);
        region[out + 1] = (uint8_t)plen;
        memcpy(region + out + 2, src, prefix[k]);
        memcpy(region + out + 2 + prefix[k], body + at, part);
        fx->packets[i].data = region + out + 2;
        fx->packets[i].len = (uint16_t)plen;
        at += part;
        out += 2 + plen;
    }
}

static int fixture_cut_evenly(struct fixture *fx, size_t file_len)
{
    uint8_t *scratch = malloc(2 * file_len + 1);
    if (scratch == NULL)
        return -1;
    size_t first = 0;
    for (size_t i = 1; i <= fx->count; i++) {
        if (i < fx->count && fx->packets[i].ts_rel == fx->packets[first].ts_rel)
            continue;
        frame_cut_evenly(fx, first, i, scratch);
        first = i;
    }
    free(scratch);
    return 0;
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
    if (is_vp8 && fixture_cut_evenly(fx, len) != 0)
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

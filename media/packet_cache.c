/* kumis — fixed-size cache of sent RTP packets for NACK answers (see packet_cache.h). */
#include "media/packet_cache.h"

#include <stdatomic.h>
#include <string.h>

struct kumis_packet_body {
    atomic_uint refs;
    guint16 len;
    guint8 data[];
};

/* One cache line: what is the subscriber's own, and where the rest is. */
struct packet_slot {
    struct kumis_packet_body *body; /* NULL: no tail */
    guint16 seq;
    guint16 len; /* 0: empty */
    guint16 tail_offset;
    guint8 prefix_len;
    guint8 prefix[KUMIS_PACKET_CACHE_PREFIX];
};

struct kumis_packet_cache {
    guint size; /* a power of two */
    guint mask;
    gboolean have_highest;
    guint16 highest; /* highest seq stored, by RFC 3550 serial number arithmetic */
    struct packet_slot *slots;
};

G_STATIC_ASSERT(KUMIS_PACKET_CACHE_PREFIX <= G_MAXUINT8);
G_STATIC_ASSERT(KUMIS_PACKET_CACHE_MTU <= G_MAXUINT16);

struct kumis_packet_body *kumis_packet_body_new(const guint8 *data, gsize len)
{
    g_return_val_if_fail(len <= G_MAXUINT16, NULL);
    struct kumis_packet_body *body = g_malloc(sizeof *body + len);
    atomic_init(&body->refs, 1);
    body->len = (guint16)len;
    memcpy(body->data, data, len);
    return body;
}

struct kumis_packet_body *kumis_packet_body_ref(struct kumis_packet_body *body)
{
    atomic_fetch_add_explicit(&body->refs, 1, memory_order_relaxed);
    return body;
}

void kumis_packet_body_unref(struct kumis_packet_body *body)
{
    if (body != NULL && atomic_fetch_sub_explicit(&body->refs, 1, memory_order_acq_rel) == 1)
        g_free(body);
}

const guint8 *kumis_packet_body_data(const struct kumis_packet_body *body, gsize *len)
{
    *len = body->len;
    return body->data;
}

struct kumis_packet_cache *kumis_packet_cache_new(guint n_slots)
{
    guint size = 16;
    while (size < n_slots && size < 32768)
        size <<= 1;
    struct kumis_packet_cache *cache = g_new0(struct kumis_packet_cache, 1);
    cache->size = size;
    cache->mask = size - 1;
    cache->slots = g_new0(struct packet_slot, size);
    return cache;
}

void kumis_packet_cache_prefetch(const struct kumis_packet_cache *cache, guint16 seq)
{
    __builtin_prefetch(&cache->slots[seq & cache->mask], 1);
    __builtin_prefetch(&cache->slots[(seq + 1u) & cache->mask], 1);
}

void kumis_packet_cache_prefetch_head(const struct kumis_packet_cache *cache)
{
    __builtin_prefetch(cache);
}

static void slot_empty(struct packet_slot *slot)
{
    kumis_packet_body_unref(slot->body);
    slot->body = NULL;
    slot->len = 0;
}

void kumis_packet_cache_free(struct kumis_packet_cache *cache)
{
    if (cache == NULL)
        return;
    kumis_packet_cache_clear(cache);
    g_free(cache->slots);
    g_free(cache);
}

guint kumis_packet_cache_size(const struct kumis_packet_cache *cache)
{
    return cache->size;
}

/* Distance of @seq behind the highest seq stored (0 = the highest itself); negative when
 * @seq is newer. 16-bit serial arithmetic, so it stays right across the 65535 -> 0 wrap. */
static gint behind_highest(const struct kumis_packet_cache *cache, guint16 seq)
{
    return (gint16)(guint16)(cache->highest - seq);
}

/* Moves the highest seq to @seq, forgetting what the move says is gone. */
static void cache_advance(struct kumis_packet_cache *cache, guint16 seq)
{
    if (!cache->have_highest) {
        cache->have_highest = TRUE;
        cache->highest = seq;
        return;
    }
    gint behind = behind_highest(cache, seq);
    if (behind >= (gint)cache->size) {
        /* Further behind than any reordering we answer for: the sender restarted its
         * sequence (RFC 3550 §8.2 allows a random restart). Start over from here. */
        kumis_packet_cache_clear(cache);
        cache->have_highest = TRUE;
        cache->highest = seq;
    } else if (behind < 0) {
        /* A jump ahead: slots the jump skips over still hold packets a full ring (or more)
         * older, which lookups must no longer return. Invalidate them. */
        guint skipped = MIN((guint)(-behind) - 1, cache->size);
        for (guint i = 1; i <= skipped; i++)
            slot_empty(&cache->slots[(guint16)(cache->highest + i) & cache->mask]);
        cache->highest = seq;
    }
}

gboolean kumis_packet_cache_store(struct kumis_packet_cache *cache, guint16 seq,
                                  const guint8 *prefix, gsize prefix_len,
                                  struct kumis_packet_body *body, gsize tail_offset, gsize tail_len)
{
    gsize len = prefix_len + tail_len;
    if (len == 0 || len > KUMIS_PACKET_CACHE_MTU || prefix_len > KUMIS_PACKET_CACHE_PREFIX)
        return FALSE;
    if (tail_len > 0 &&
        (body == NULL || tail_offset > body->len || tail_len > (gsize)body->len - tail_offset))
        return FALSE;
    cache_advance(cache, seq);
    struct packet_slot *slot = &cache->slots[seq & cache->mask];
    kumis_packet_body_unref(slot->body);
    slot->body = tail_len > 0 ? kumis_packet_body_ref(body) : NULL;
    slot->seq = seq;
    slot->len = (guint16)len;
    slot->tail_offset = (guint16)tail_offset;
    slot->prefix_len = (guint8)prefix_len;
    memcpy(slot->prefix, prefix, prefix_len);
    return TRUE;
}

gssize kumis_packet_cache_copy(const struct kumis_packet_cache *cache, guint16 seq, guint8 *buf,
                               gsize size)
{
    if (!cache->have_highest)
        return -1;
    gint behind = behind_highest(cache, seq);
    if (behind < 0 || behind >= (gint)cache->size)
        return -1;
    const struct packet_slot *slot = &cache->slots[seq & cache->mask];
    if (slot->len == 0 || slot->seq != seq || slot->len > size)
        return -1;
    memcpy(buf, slot->prefix, slot->prefix_len);
    if (slot->body != NULL)
        memcpy(buf + slot->prefix_len, slot->body->data + slot->tail_offset,
               slot->len - slot->prefix_len);
    return slot->len;
}

void kumis_packet_cache_clear(struct kumis_packet_cache *cache)
{
    for (guint i = 0; i < cache->size; i++)
        slot_empty(&cache->slots[i]);
    cache->have_highest = FALSE;
}

/* kumis — fixed-size RTP packet cache for NACK answers (see packet_cache.h). */
#include "media/packet_cache.h"

#include <string.h>

struct packet_slot {
    guint16 seq;
    guint16 len; /* 0: empty */
    guint8 data[KUMIS_PACKET_CACHE_MTU];
};

struct kumis_packet_cache {
    guint size; /* a power of two */
    guint mask;
    gboolean have_highest;
    guint16 highest; /* highest seq stored, by RFC 3550 serial number arithmetic */
    struct packet_slot *slots;
};

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

void kumis_packet_cache_free(struct kumis_packet_cache *cache)
{
    if (cache == NULL)
        return;
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

gboolean kumis_packet_cache_store(struct kumis_packet_cache *cache, guint16 seq, const guint8 *data,
                                  gsize len)
{
    if (len == 0 || len > KUMIS_PACKET_CACHE_MTU)
        return FALSE;
    if (!cache->have_highest) {
        cache->have_highest = TRUE;
        cache->highest = seq;
    } else {
        gint behind = behind_highest(cache, seq);
        if (behind >= (gint)cache->size) {
            /* Further behind than any reordering we answer for: the sender restarted its
             * sequence (RFC 3550 §8.2 allows a random restart). Start over from here. */
            kumis_packet_cache_clear(cache);
            cache->have_highest = TRUE;
            cache->highest = seq;
        } else if (behind < 0) {
            /* A jump ahead: slots the jump skips over still hold packets a full ring (or
             * more) older, which lookups must no longer return. Invalidate them. */
            guint skipped = (guint)(-behind) - 1;
            if (skipped >= cache->size) {
                for (guint i = 0; i < cache->size; i++)
                    cache->slots[i].len = 0;
            } else {
                for (guint i = 1; i <= skipped; i++)
                    cache->slots[(guint16)(cache->highest + i) & cache->mask].len = 0;
            }
            cache->highest = seq;
        }
    }
    struct packet_slot *slot = &cache->slots[seq & cache->mask];
    slot->seq = seq;
    slot->len = (guint16)len;
    memcpy(slot->data, data, len);
    return TRUE;
}

const guint8 *kumis_packet_cache_lookup(const struct kumis_packet_cache *cache, guint16 seq,
                                        gsize *len)
{
    if (!cache->have_highest)
        return NULL;
    gint behind = behind_highest(cache, seq);
    if (behind < 0 || behind >= (gint)cache->size)
        return NULL;
    const struct packet_slot *slot = &cache->slots[seq & cache->mask];
    if (slot->len == 0 || slot->seq != seq)
        return NULL;
    *len = slot->len;
    return slot->data;
}

gssize kumis_packet_cache_copy(const struct kumis_packet_cache *cache, guint16 seq, guint8 *buf,
                               gsize size)
{
    gsize len;
    const guint8 *data = kumis_packet_cache_lookup(cache, seq, &len);
    if (data == NULL || len > size)
        return -1;
    memcpy(buf, data, len);
    return (gssize)len;
}

void kumis_packet_cache_clear(struct kumis_packet_cache *cache)
{
    for (guint i = 0; i < cache->size; i++)
        cache->slots[i].len = 0;
    cache->have_highest = FALSE;
}

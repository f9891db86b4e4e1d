/* kumis — video packets held per track until the end of their burst (see burst.h). */
#include "media/burst.h"

#include <string.h>

struct burst {
    void *key; /* a reference; NULL: the slot is free */
    const void *owner;
    guint group;
    gint64 deadline_us;
    guint n;
    struct kumis_burst_packet packets[KUMIS_BURST_MAX];
};

struct kumis_bursts {
    const struct kumis_bursts_funcs *funcs;
    void *user_data;
    struct burst *slots; /* a handful: one per video track with subscribers on the worker */
    guint n_slots;
};

struct kumis_bursts *kumis_bursts_new(const struct kumis_bursts_funcs *funcs, void *user_data)
{
    struct kumis_bursts *bursts = g_new0(struct kumis_bursts, 1);
    bursts->funcs = funcs;
    bursts->user_data = user_data;
    return bursts;
}

static void burst_release(struct kumis_bursts *bursts, struct burst *b)
{
    for (guint i = 0; i < b->n; i++)
        kumis_packet_body_unref(b->packets[i].body);
    b->n = 0;
    bursts->funcs->key_unref(b->key);
    b->key = NULL;
}

/* The slot is free again before the callback returns to us, and the callback may not add:
 * it forwards. */
static void burst_flush(struct kumis_bursts *bursts, struct burst *b, gboolean cut_short)
{
    bursts->funcs->flush(bursts->user_data, b->key, b->group, b->packets, b->n, cut_short);
    burst_release(bursts, b);
}

void kumis_bursts_free(struct kumis_bursts *bursts)
{
    if (bursts == NULL)
        return;
    for (guint i = 0; i < bursts->n_slots; i++)
        if (bursts->slots[i].key != NULL)
            burst_release(bursts, &bursts->slots[i]);
    g_free(bursts->slots);
    g_free(bursts);
}

/* The burst of @key, else a new one (an owner's burst under another key flushed first). */
static struct burst *burst_for(struct kumis_bursts *bursts, void *key, const void *owner,
                               guint group, gint64 now_us)
{
    struct burst *free_slot = NULL;
    for (guint i = 0; i < bursts->n_slots; i++) {
        struct burst *b = &bursts->slots[i];
        if (b->key == key)
            return b;
        if (b->key != NULL && b->owner == owner)
            burst_flush(bursts, b, TRUE);
        if (b->key == NULL && free_slot == NULL)
            free_slot = b;
    }
    if (free_slot == NULL) {
        bursts->slots = g_renew(struct burst, bursts->slots, bursts->n_slots + 1);
        free_slot = &bursts->slots[bursts->n_slots++];
    }
    *free_slot = (struct burst){bursts->funcs->key_ref(key),  owner, group,
                                now_us + KUMIS_BURST_HOLD_US, 0,     {{0}}};
    return free_slot;
}

void kumis_bursts_add(struct kumis_bursts *bursts, void *key, const void *owner, guint group,
                      struct kumis_packet_body *body, const struct kumis_rtp_header *h, int layer,
                      gboolean keyframe, gint64 now_us)
{
    struct burst *b = burst_for(bursts, key, owner, group, now_us);
    b->packets[b->n++] =
        (struct kumis_burst_packet){kumis_packet_body_ref(body), *h, layer, keyframe};
    if (h->marker)
        burst_flush(bursts, b, FALSE);
    else if (b->n == KUMIS_BURST_MAX)
        burst_flush(bursts, b, TRUE);
}

void kumis_bursts_flush_due(struct kumis_bursts *bursts, gint64 now_us)
{
    for (guint i = 0; i < bursts->n_slots; i++) {
        struct burst *b = &bursts->slots[i];
        if (b->key != NULL && b->deadline_us <= now_us)
            burst_flush(bursts, b, TRUE);
    }
}

gint64 kumis_bursts_deadline(const struct kumis_bursts *bursts)
{
    gint64 next = -1;
    for (guint i = 0; i < bursts->n_slots; i++) {
        const struct burst *b = &bursts->slots[i];
        if (b->key != NULL && (next < 0 || b->deadline_us < next))
            next = b->deadline_us;
    }
    return next;
}

void kumis_burst_pads(const struct kumis_burst_packet *packets, guint n, guint8 *pads)
{
    memset(pads, 0, n);
    for (guint i = 0; i < n; i++) {
        if (packets[i].h.payload_len == 0)
            continue;
        /* The first packet of a layer not seen yet: its longest, and its last. */
        int layer = packets[i].layer;
        gboolean seen = FALSE;
        for (guint k = 0; k < i && !seen; k++)
            seen = packets[k].layer == layer;
        if (seen)
            continue;
        gsize longest = 0;
        guint last = i;
        for (guint k = i; k < n; k++) {
            if (packets[k].layer != layer || packets[k].h.payload_len == 0)
                continue;
            longest = MAX(longest, packets[k].h.payload_len);
            last = k;
        }
        for (guint k = i; k < last; k++) {
            gsize len = packets[k].h.payload_len;
            if (packets[k].layer == layer && len > 0 && len < longest &&
                longest - len <= KUMIS_BURST_PAD_MAX)
                pads[k] = (guint8)(longest - len);
        }
    }
}

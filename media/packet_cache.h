/* kumis — the packets sent to one subscriber's video track, by sequence number, so that its
 * NACKs (RFC 4585 §6.2.1) are answered without asking the publisher again.
 *
 * Every subscriber of a track is sent the same payload under its own header, so a cache keeps
 * per packet only what is its own (the rewritten RTP header and the first bytes of the payload,
 * where the VP8/VP9 descriptor's picture ID and TL0PICIDX were rewritten: the "prefix") and a
 * reference to the publisher's packet, shared by the caches of all subscribers on one worker
 * (struct kumis_packet_body). At 100 subscribers that is ~48 bytes a packet each instead of
 * 1.2 KB: 12 KB instead of 384 KB per subscriber, and one cache line written per packet.
 *
 * A fixed ring of slots (a power of two), indexed by seq modulo the ring size: memory is
 * bounded whatever the peer sends (a body is held by at most the ring's slots that name it),
 * storing never allocates. A cache is not thread-safe (one media worker owns it); a body's
 * reference count is atomic, as caches freed on another thread may drop it. */
#pragma once

#include <glib.h>

#define KUMIS_PACKET_CACHE_MTU    1500 /* the longest packet kept: longer ones are not cached */
#define KUMIS_PACKET_CACHE_PREFIX 48   /* the most bytes of a packet's own kept per slot */

/* A publisher's packet as it arrived, shared (read-only) by the caches holding it. */
struct kumis_packet_body;

/* Returns: (transfer full) a body holding a copy of @len bytes at @data (one reference). */
struct kumis_packet_body *kumis_packet_body_new(const guint8 *data, gsize len);

/* Returns: @body, with one reference more. */
struct kumis_packet_body *kumis_packet_body_ref(struct kumis_packet_body *body);

/* Drops one reference; the last one frees @body. NULL is allowed. */
void kumis_packet_body_unref(struct kumis_packet_body *body);

/* Returns: (transfer none) the bytes of @body, @len set to their number. */
const guint8 *kumis_packet_body_data(const struct kumis_packet_body *body, gsize *len);

struct kumis_packet_cache;

/* Creates a cache of @n_slots slots, rounded up to a power of two and clamped to 16..32768.
 * Allocates all slots now (KUMIS_PACKET_CACHE_PREFIX + 16 bytes each). Returns: (transfer
 * full), never NULL. */
struct kumis_packet_cache *kumis_packet_cache_new(guint n_slots);

/* Frees @cache and drops its references to bodies. NULL is allowed. */
void kumis_packet_cache_free(struct kumis_packet_cache *cache);

/* The number of slots (the power of two actually used). */
guint kumis_packet_cache_size(const struct kumis_packet_cache *cache);

/* Asks the processor for the slots where @seq and the one after it would be stored (a hint, no
 * effect on behaviour); @cache's own struct should have been fetched before. */
void kumis_packet_cache_prefetch(const struct kumis_packet_cache *cache, guint16 seq);

/* Asks the processor for @cache's own struct (a hint). */
void kumis_packet_cache_prefetch_head(const struct kumis_packet_cache *cache);

/* Keeps the packet with sequence number @seq, made of the @prefix_len bytes at @prefix then
 * the @tail_len bytes of @body from @tail_offset on (a reference to @body is taken; @body may
 * be NULL when @tail_len is 0), in its slot, replacing whatever that slot held. A @seq further
 * behind the highest stored than the ring size means the sender restarted its sequence: the
 * cache then starts over from @seq.
 * Returns: FALSE (nothing stored) when the packet is empty, longer than KUMIS_PACKET_CACHE_MTU,
 * the prefix longer than KUMIS_PACKET_CACHE_PREFIX, or the tail outside @body. */
gboolean kumis_packet_cache_store(struct kumis_packet_cache *cache, guint16 seq,
                                  const guint8 *prefix, gsize prefix_len,
                                  struct kumis_packet_body *body, gsize tail_offset,
                                  gsize tail_len);

/* Copies the packet with exactly sequence number @seq, if it is still held (inside the window
 * behind the highest seq stored, not overwritten), into @buf (@size bytes).
 * Returns: its length, or -1 when not held or @size is too small. */
gssize kumis_packet_cache_copy(const struct kumis_packet_cache *cache, guint16 seq, guint8 *buf,
                               gsize size);

/* Forgets every packet (for instance when the publisher restarts its stream). */
void kumis_packet_cache_clear(struct kumis_packet_cache *cache);

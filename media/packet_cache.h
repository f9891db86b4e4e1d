/* kumis — the packet cache of one published track: the most recent RTP packets by sequence
 * number, so that NACKs from subscribers (RFC 4585 §6.2.1) are answered without asking the
 * publisher again.
 *
 * A fixed ring of preallocated slots (a power of two), indexed by seq modulo the ring size:
 * memory is bounded whatever the peer sends, storing never allocates. Not thread-safe: one
 * media worker owns a cache. */
#pragma once

#include <glib.h>

#define KUMIS_PACKET_CACHE_MTU 1500 /* bytes kept per slot: larger packets are not cached */

struct kumis_packet_cache;

/* Creates a cache of @n_slots slots, rounded up to a power of two and clamped to 16..32768.
 * Allocates all slots now (about 1.5 KB each). Returns: (transfer full), never NULL. */
struct kumis_packet_cache *kumis_packet_cache_new(guint n_slots);

/* Frees @cache and every packet in it. NULL is allowed. */
void kumis_packet_cache_free(struct kumis_packet_cache *cache);

/* The number of slots (the power of two actually used). */
guint kumis_packet_cache_size(const struct kumis_packet_cache *cache);

/* Copies plaintext RTP packet @data (@len bytes) with sequence number @seq into its slot,
 * replacing whatever that slot held. A @seq further behind the highest stored than the ring
 * size means the sender restarted its sequence: the cache then starts over from @seq.
 * Returns: FALSE (nothing stored) when @len is 0 or larger than KUMIS_PACKET_CACHE_MTU. */
gboolean kumis_packet_cache_store(struct kumis_packet_cache *cache, guint16 seq, const guint8 *data,
                                  gsize len);

/* Looks up the packet with exactly sequence number @seq, if it is still held (inside the window
 * behind the highest seq stored, not overwritten). Returns: a pointer to the stored bytes,
 * valid until the next store, with @len set; or NULL. (transfer none) */
const guint8 *kumis_packet_cache_lookup(const struct kumis_packet_cache *cache, guint16 seq,
                                        gsize *len);

/* Like kumis_packet_cache_lookup, but copies into @buf (@size bytes).
 * Returns: the length copied, or -1 when not held or @size is too small. */
gssize kumis_packet_cache_copy(const struct kumis_packet_cache *cache, guint16 seq, guint8 *buf,
                               gsize size);

/* Forgets every packet (for instance when the publisher restarts its stream). */
void kumis_packet_cache_clear(struct kumis_packet_cache *cache);

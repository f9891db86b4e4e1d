/* kumis — active-speaker detection from RFC 6464 audio levels only (no decoding).
 *
 * Every audio packet carries the sender's level in -dBov (0 loudest, 127 silence). Per source
 * the detector averages the levels of each tick and smooths them over a window; the dominant
 * speaker changes only when another source stays louder by a margin for hold_us. Silence never
 * wins: when everybody is quiet the last speaker stays dominant.
 *
 * One media worker owns a detector; levels are O(number of sources) per packet with no
 * allocation (sources are few: the speakers of one forum). */
#pragma once

#include <glib.h>

struct kumis_speaker_config {
    gint64 window_us;    /* 500 ms: smoothing time constant */
    gint64 hold_us;      /* 1.5 s: how long a challenger must stay louder */
    guint8 silence_dbov; /* 70: levels at or above this -dBov count as silence */
    gdouble margin;      /* 3: dB a challenger must be louder by */
};

struct kumis_speaker_detector;

/* Creates a detector for up to @capacity sources, with @config or the defaults above when
 * NULL. Returns: (transfer full), never NULL. */
struct kumis_speaker_detector *
kumis_speaker_detector_new(guint capacity, const struct kumis_speaker_config *config);

/* Frees @det. NULL is allowed. */
void kumis_speaker_detector_free(struct kumis_speaker_detector *det);

/* Starts tracking source @id (the caller's handle: an SSRC or participant number).
 * Returns: FALSE when @id is already tracked or the detector is full. */
gboolean kumis_speaker_detector_add(struct kumis_speaker_detector *det, guint32 id);

/* Stops tracking @id. If it was dominant, the next tick reports the change. */
void kumis_speaker_detector_remove(struct kumis_speaker_detector *det, guint32 id);

/* One packet of source @id carried @level (-dBov, 0..127; larger values are clamped) and the
 * voice activity flag @voice. Unknown ids are ignored. */
void kumis_speaker_detector_level(struct kumis_speaker_detector *det, guint32 id, guint8 level,
                                  gboolean voice, gint64 now_us);

/* Advances the smoothing to @now_us; call every 100–300 ms. Returns: TRUE when the dominant
 * speaker changed since the last tick, with @dominant_id set and @has_dominant FALSE when
 * there is none any more (the dominant source was removed and nobody speaks). */
gboolean kumis_speaker_detector_tick(struct kumis_speaker_detector *det, gint64 now_us,
                                     guint32 *dominant_id, gboolean *has_dominant);

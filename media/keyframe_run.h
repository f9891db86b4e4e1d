/* kumis — the keyframe a new subscriber can start on: for one simulcast layer of one video
 * track, the packets of the latest keyframe and of what followed it, kept by a media worker
 * for a short while after the keyframe began.
 *
 * Why: a subscriber receives nothing until a keyframe (a decoder cannot start mid-GOP), and a
 * publisher makes one on request at most every few hundred ms (the load generator every 500 ms,
 * as an encoder would). A 720p keyframe is paced over ~100 ms, so a subscriber that became
 * ready just after its first packet left waited a whole interval for the next one: most of the
 * tail of join-to-first-frame. With the run, it gets the packets already gone at once and the
 * rest with everyone else; the frame is as old as the run (at most
 * KUMIS_KEYFRAME_RUN_WINDOW_US), which the receiver's jitter buffer absorbs.
 *
 * A run is whole or nothing: it starts at a keyframe's first packet and holds every packet
 * since in sequence; a gap, another SSRC, more than KUMIS_KEYFRAME_RUN_MAX packets or the
 * window's end drops it until the next keyframe. Pure: no clock of its own (callers pass
 * now_us), no threads (one worker); zero-initialised memory is an empty run. */
#pragma once

#include <glib.h>

#include "media/packet_cache.h"
#include "media/rtp.h"

#define KUMIS_KEYFRAME_RUN_MAX       128    /* a 720p keyframe is ~50 packets */
#define KUMIS_KEYFRAME_RUN_WINDOW_US 150000 /* kept this long after the keyframe's first packet */

struct kumis_keyframe_run {
    gboolean valid;
    guint32 ssrc;
    guint32 timestamp; /* the keyframe's */
    gint64 start_us;   /* when its first packet was noted */
    guint16 next_seq;  /* the sequence number that continues the run */
    guint n;
    struct kumis_packet_body *bodies[KUMIS_KEYFRAME_RUN_MAX]; /* a reference each */
};

/* Empties @run (its references go). */
void kumis_keyframe_run_clear(struct kumis_keyframe_run *run);

/* Notes a packet of the run's layer, in the order the worker forwards them: a @keyframe packet
 * (one that starts a keyframe, or belongs to it: H.264 marks each of its packets) of a new
 * timestamp or SSRC starts the run anew; any other packet extends it or ends it (see above).
 * Takes its own reference to @body when kept. */
void kumis_keyframe_run_note(struct kumis_keyframe_run *run, struct kumis_packet_body *body,
                             const struct kumis_rtp_header *h, gboolean keyframe, gint64 now_us);

/* How many packets of @run a subscriber that has nothing yet should get before @next, the
 * first packet of this layer it is about to be sent (@next_keyframe: whether it is a keyframe
 * packet): all of them when the run is fresh and @next continues it, else 0 (a keyframe of
 * its own in @next, or wait for the next keyframe as before). */
guint kumis_keyframe_run_joinable(const struct kumis_keyframe_run *run,
                                  const struct kumis_rtp_header *next, gboolean next_keyframe,
                                  gint64 now_us);

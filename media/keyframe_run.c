/* kumis — the keyframe a new subscriber can start on (see keyframe_run.h). */
#include "media/keyframe_run.h"

void kumis_keyframe_run_clear(struct kumis_keyframe_run *run)
{
    for (guint i = 0; i < run->n; i++)
        kumis_packet_body_unref(run->bodies[i]);
    run->n = 0;
    run->valid = FALSE;
}

static void run_append(struct kumis_keyframe_run *run, struct kumis_packet_body *body,
                       const struct kumis_rtp_header *h)
{
    run->bodies[run->n++] = kumis_packet_body_ref(body);
    run->next_seq = (guint16)(h->seq + 1);
}

void kumis_keyframe_run_note(struct kumis_keyframe_run *run, struct kumis_packet_body *body,
                             const struct kumis_rtp_header *h, gboolean keyframe, gint64 now_us)
{
    gboolean same_frame = run->valid && h->ssrc == run->ssrc && h->timestamp == run->timestamp;
    if (keyframe && !same_frame) {
        kumis_keyframe_run_clear(run);
        run->valid = TRUE;
        run->ssrc = h->ssrc;
        run->timestamp = h->timestamp;
        run->start_us = now_us;
        run_append(run, body, h);
        return;
    }
    if (!run->valid)
        return;
    if (h->ssrc != run->ssrc || h->seq != run->next_seq || run->n == KUMIS_KEYFRAME_RUN_MAX ||
        now_us - run->start_us > KUMIS_KEYFRAME_RUN_WINDOW_US) {
        kumis_keyframe_run_clear(run);
        return;
    }
    run_append(run, body, h);
}

guint kumis_keyframe_run_joinable(const struct kumis_keyframe_run *run,
                                  const struct kumis_rtp_header *next, gboolean next_keyframe,
                                  gint64 now_us)
{
    /* A keyframe of its own in @next needs no run, unless it is the run's (H.264 marks every
     * packet of an IDR picture). */
    if (!run->valid || (next_keyframe && next->timestamp != run->timestamp) ||
        now_us - run->start_us > KUMIS_KEYFRAME_RUN_WINDOW_US || next->ssrc != run->ssrc ||
        next->seq != run->next_seq)
        return 0;
    return run->n;
}

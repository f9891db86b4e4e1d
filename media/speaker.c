/* kumis — dominant speaker from RFC 6464 audio levels (see speaker.h). */
#include "media/speaker.h"

static const struct kumis_speaker_config speaker_config_default = {
    .window_us = 500 * 1000,
    .hold_us = 1500 * 1000,
    .silence_dbov = 70,
    .margin = 3.0,
};

struct speaker_source {
    guint32 id;
    gdouble tick_sum; /* loudness of this tick's packets */
    guint tick_packets;
    gdouble smoothed;       /* loudness: 0 silence, up to 127 */
    gint64 louder_since_us; /* 0: not louder than the dominant */
};

struct kumis_speaker_detector {
    struct kumis_speaker_config config;
    guint capacity;
    guint n_sources;
    struct speaker_source *sources;
    gint dominant; /* index into sources, -1 none */
    gboolean reported_has;
    guint32 reported_id;
    gint64 last_tick_us;
};

struct kumis_speaker_detector *kumis_speaker_detector_new(guint capacity,
                                                          const struct kumis_speaker_config *config)
{
    struct kumis_speaker_detector *det = g_new0(struct kumis_speaker_detector, 1);
    det->config = config != NULL ? *config : speaker_config_default;
    det->capacity = MAX(capacity, 1);
    det->sources = g_new0(struct speaker_source, det->capacity);
    det->dominant = -1;
    return det;
}

void kumis_speaker_detector_free(struct kumis_speaker_detector *det)
{
    if (det == NULL)
        return;
    g_free(det->sources);
    g_free(det);
}

static gint source_index(const struct kumis_speaker_detector *det, guint32 id)
{
    for (guint i = 0; i < det->n_sources; i++) {
        if (det->sources[i].id == id)
            return (gint)i;
    }
    return -1;
}

gboolean kumis_speaker_detector_add(struct kumis_speaker_detector *det, guint32 id)
{
    if (det->n_sources >= det->capacity || source_index(det, id) >= 0)
        return FALSE;
    det->sources[det->n_sources++] = (struct speaker_source){.id = id};
    return TRUE;
}

void kumis_speaker_detector_remove(struct kumis_speaker_detector *det, guint32 id)
{
    gint i = source_index(det, id);
    if (i < 0)
        return;
    guint last = det->n_sources - 1;
    if (det->dominant == i)
        det->dominant = -1;
    else if (det->dominant == (gint)last)
        det->dominant = i; /* the last source moves into the hole */
    det->sources[i] = det->sources[last];
    det->n_sources--;
}

void kumis_speaker_detector_level(struct kumis_speaker_detector *det, guint32 id, guint8 level,
                                  gboolean voice, gint64 now_us)
{
    (void)voice; /* not every sender sets V (RFC 6464 §3 makes it optional): levels decide */
    (void)now_us;
    gint i = source_index(det, id);
    if (i < 0)
        return;
    level = MIN(level, 127);
    struct speaker_source *s = &det->sources[i];
    /* Below the silence threshold a level is background noise: count it as nothing. */
    s->tick_sum += level >= det->config.silence_dbov ? 0.0 : (gdouble)(127 - level);
    s->tick_packets++;
}

/* Folds each source's tick average into its smoothed loudness (exponential moving average
 * with time constant window_us; a source that sent nothing, as Opus DTX does, was silent). */
static void speaker_smooth(struct kumis_speaker_detector *det, gint64 dt_us)
{
    gdouble alpha =
        det->config.window_us > 0 ? MIN(1.0, (gdouble)dt_us / (gdouble)det->config.window_us) : 1.0;
    for (guint i = 0; i < det->n_sources; i++) {
        struct speaker_source *s = &det->sources[i];
        gdouble now = s->tick_packets > 0 ? s->tick_sum / s->tick_packets : 0.0;
        s->smoothed += alpha * (now - s->smoothed);
        s->tick_sum = 0;
        s->tick_packets = 0;
    }
}

/* The loudest speaking source other than the dominant one, or -1. */
static gint speaker_challenger(const struct kumis_speaker_detector *det)
{
    gint best = -1;
    for (guint i = 0; i < det->n_sources; i++) {
        const struct speaker_source *s = &det->sources[i];
        if ((gint)i == det->dominant || s->smoothed <= 0.5)
            continue;
        if (best < 0 || s->smoothed > det->sources[best].smoothed)
            best = (gint)i;
    }
    return best;
}

gboolean kumis_speaker_detector_tick(struct kumis_speaker_detector *det, gint64 now_us,
                                     guint32 *dominant_id, gboolean *has_dominant)
{
    gint64 dt = det->last_tick_us != 0 ? now_us - det->last_tick_us : det->config.window_us / 5;
    det->last_tick_us = now_us;
    speaker_smooth(det, MAX(dt, 0));

    gint challenger = speaker_challenger(det);
    if (challenger >= 0 && det->dominant < 0) {
        det->dominant = challenger; /* nobody held the floor: no need to wait */
    } else if (challenger >= 0) {
        gdouble floor = det->sources[det->dominant].smoothed + det->config.margin;
        for (guint i = 0; i < det->n_sources; i++) {
            struct speaker_source *s = &det->sources[i];
            if ((gint)i == det->dominant || s->smoothed <= floor)
                s->louder_since_us = 0;
            else if (s->louder_since_us == 0)
                s->louder_since_us = now_us;
        }
        struct speaker_source *c = &det->sources[challenger];
        if (c->louder_since_us != 0 && now_us - c->louder_since_us >= det->config.hold_us)
            det->dominant = challenger;
    }
    gboolean has = det->dominant >= 0;
    guint32 id = has ? det->sources[det->dominant].id : 0;
    if (has == det->reported_has && (!has || id == det->reported_id))
        return FALSE;
    if (has)
        for (guint i = 0; i < det->n_sources; i++)
            det->sources[i].louder_since_us = 0;
    det->reported_has = has;
    det->reported_id = id;
    *dominant_id = id;
    *has_dominant = has;
    return TRUE;
}

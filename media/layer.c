/* kumis — simulcast layer selection with hysteresis and keyframe gating (see layer.h). */
#include "media/layer.h"

#include <string.h>

static const struct kumis_layer_config layer_config_default = {
    .up_factor = 1.2,
    .up_hold_us = 3 * G_USEC_PER_SEC,
    .pli_interval_us = 500 * 1000,
};

enum kumis_layer_want kumis_layer_want_from_string(const char *s)
{
    if (s == NULL)
        return KUMIS_LAYER_WANT_AUTO;
    if (strcmp(s, "low") == 0)
        return KUMIS_LAYER_WANT_LOW;
    if (strcmp(s, "medium") == 0)
        return KUMIS_LAYER_WANT_MEDIUM;
    if (strcmp(s, "high") == 0)
        return KUMIS_LAYER_WANT_HIGH;
    return KUMIS_LAYER_WANT_AUTO;
}

void kumis_layer_selector_init(struct kumis_layer_selector *sel,
                               const struct kumis_layer_config *config)
{
    memset(sel, 0, sizeof(*sel));
    sel->config = config != NULL ? *config : layer_config_default;
    sel->current = -1;
    sel->target = -1;
    sel->up_candidate = -1;
    sel->pli_target = -1;
}

static gboolean layer_fits(const struct kumis_layer_info *l, guint64 estimate_bps)
{
    return estimate_bps == 0 || l->bitrate_bps == 0 || l->bitrate_bps <= estimate_bps;
}

static gint want_ceiling(enum kumis_layer_want want, guint n_layers)
{
    gint top = (gint)n_layers - 1;
    switch (want) {
    case KUMIS_LAYER_WANT_LOW:
        return 0;
    case KUMIS_LAYER_WANT_MEDIUM:
        return MIN(1, top);
    case KUMIS_LAYER_WANT_HIGH:
    case KUMIS_LAYER_WANT_AUTO:
    default:
        return top;
    }
}

/* The highest active layer at or below @ceiling that fits @estimate, else the lowest active
 * one at or below @ceiling, else the lowest active one at all; -1 when none is active. */
static gint layer_best_fit(const struct kumis_layer_info *layers, guint n, gint ceiling,
                           guint64 estimate_bps)
{
    gint lowest = -1;
    for (gint i = MIN(ceiling, (gint)n - 1); i >= 0; i--) {
        if (!layers[i].active)
            continue;
        if (layer_fits(&layers[i], estimate_bps))
            return i;
        lowest = i;
    }
    if (lowest >= 0)
        return lowest;
    for (guint i = 0; i < n; i++) {
        if (layers[i].active)
            return (gint)i;
    }
    return -1;
}

gint kumis_layer_selector_update(struct kumis_layer_selector *sel,
                                 const struct kumis_layer_info *layers, guint n_layers,
                                 guint64 estimate_bps, enum kumis_layer_want want, gint64 now_us)
{
    n_layers = MIN(n_layers, KUMIS_LAYER_MAX);
    gint ceiling = want_ceiling(want, n_layers);
    gint base = sel->target;
    if (base < 0 || base >= (gint)n_layers || !layers[base].active || base > ceiling) {
        /* Nothing chosen yet, the target vanished, or the wish went down: choose afresh. */
        sel->target = layer_best_fit(layers, n_layers, ceiling, estimate_bps);
        sel->up_candidate = -1;
        return sel->target;
    }
    if (!layer_fits(&layers[base], estimate_bps)) {
        /* Down fast: congestion hurts every layer, so do not wait. */
        sel->target = layer_best_fit(layers, n_layers, base - 1, estimate_bps);
        if (sel->target < 0)
            sel->target = base;
        sel->up_candidate = -1;
        return sel->target;
    }
    gint next = -1;
    for (gint i = base + 1; i <= ceiling; i++) {
        if (layers[i].active) {
            next = i;
            break;
        }
    }
    gboolean room = next >= 0 && (estimate_bps == 0 || layers[next].bitrate_bps == 0 ||
                                  (gdouble)estimate_bps >=
                                      sel->config.up_factor * (gdouble)layers[next].bitrate_bps);
    if (!room) {
        sel->up_candidate = -1;
    } else if (sel->up_candidate != next) {
        sel->up_candidate = next;
        sel->up_since_us = now_us;
    } else if (now_us - sel->up_since_us >= sel->config.up_hold_us) {
        /* Up slowly, one layer at a time: the estimate held for long enough. */
        sel->target = next;
        sel->up_candidate = -1;
    }
    return sel->target;
}

gboolean kumis_layer_selector_pending(const struct kumis_layer_selector *sel)
{
    return sel->target >= 0 && sel->target != sel->current;
}

gboolean kumis_layer_selector_on_keyframe(struct kumis_layer_selector *sel, gint layer)
{
    if (!kumis_layer_selector_pending(sel) || layer != sel->target)
        return FALSE;
    sel->current = layer;
    return TRUE;
}

gboolean kumis_layer_selector_should_pli(struct kumis_layer_selector *sel, gint64 now_us)
{
    if (!kumis_layer_selector_pending(sel))
        return FALSE;
    if (sel->pli_target == sel->target && now_us - sel->pli_last_us < sel->config.pli_interval_us)
        return FALSE;
    sel->pli_target = sel->target;
    sel->pli_last_us = now_us;
    return TRUE;
}

gint kumis_layer_selector_current(const struct kumis_layer_selector *sel)
{
    return sel->current;
}

gint kumis_layer_selector_target(const struct kumis_layer_selector *sel)
{
    return sel->target;
}

/* Loss estimator ------------------------------------------------------------------------- */

static const struct kumis_loss_config loss_config_default = {
    .window_us = 2 * G_USEC_PER_SEC,
    .min_packets = 100,
    .congested = 0.10,
};

/* Past this step between two reports the extended sequence is not the same count any more. */
#define LOSS_SEQ_JUMP 65536

void kumis_loss_estimator_init(struct kumis_loss_estimator *est,
                               const struct kumis_loss_config *config)
{
    memset(est, 0, sizeof(*est));
    est->config = config != NULL ? *config : loss_config_default;
}

static const struct kumis_loss_report *loss_report_at(const struct kumis_loss_estimator *est,
                                                      guint i)
{
    return &est->reports[(est->first + i) % KUMIS_LOSS_REPORTS];
}

/* Packets expected from report @from to the newest: sequence differences modulo 2^32, as
 * reports are kept only while each step forward is under LOSS_SEQ_JUMP. */
static guint32 loss_expected_since(const struct kumis_loss_estimator *est, guint from)
{
    return loss_report_at(est, est->n - 1)->highest_seq - loss_report_at(est, from)->highest_seq;
}

/* TRUE when the reports from @from to the newest make a whole window. */
static gboolean loss_window_full(const struct kumis_loss_estimator *est, guint from)
{
    gint64 span = loss_report_at(est, est->n - 1)->at_us - loss_report_at(est, from)->at_us;
    return span >= est->config.window_us &&
           loss_expected_since(est, from) >= est->config.min_packets;
}

gdouble kumis_loss_estimator_fraction(const struct kumis_loss_estimator *est)
{
    if (est->n < 2 || !loss_window_full(est, 0))
        return -1;
    guint32 expected = loss_expected_since(est, 0);
    /* RFC 3550 A.3: lost over an interval is the difference of the cumulative counts; it is
     * negative when more late packets and duplicates arrived than were missing. */
    gint64 lost = (gint64)loss_report_at(est, est->n - 1)->cumulative_lost -
                  loss_report_at(est, 0)->cumulative_lost;
    lost = CLAMP(lost, 0, (gint64)expected);
    return (gdouble)lost / (gdouble)expected;
}

gboolean kumis_loss_estimator_on_report(struct kumis_loss_estimator *est, guint32 highest_seq,
                                        gint32 cumulative_lost, gint64 now_us)
{
    if (est->n > 0) {
        gint32 step = (gint32)(highest_seq - loss_report_at(est, est->n - 1)->highest_seq);
        if (step > LOSS_SEQ_JUMP || step < -LOSS_SEQ_JUMP) {
            est->n = 0; /* a new count: start from it */
        } else if (step <= 0) {
            return FALSE; /* a duplicate or reordered report, or nothing received since */
        }
    }
    if (est->n == KUMIS_LOSS_REPORTS) {
        est->first = (est->first + 1) % KUMIS_LOSS_REPORTS;
        est->n--;
    }
    est->reports[(est->first + est->n) % KUMIS_LOSS_REPORTS] = (struct kumis_loss_report){
        .highest_seq = highest_seq,
        .cumulative_lost = cumulative_lost,
        .at_us = now_us,
    };
    est->n++;
    /* Slide: drop the oldest report while the window would still be whole without it. */
    while (est->n > 2 && loss_window_full(est, 1)) {
        est->first = (est->first + 1) % KUMIS_LOSS_REPORTS;
        est->n--;
    }
    return kumis_loss_estimator_fraction(est) > est->config.congested;
}

void kumis_loss_estimator_restart(struct kumis_loss_estimator *est)
{
    if (est->n > 1) {
        est->first = (est->first + est->n - 1) % KUMIS_LOSS_REPORTS;
        est->n = 1;
    }
}

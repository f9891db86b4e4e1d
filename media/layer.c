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

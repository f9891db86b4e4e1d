/* kumis — simulcast layer selection for one subscriber of one video track.
 *
 * Inputs: the layers the publisher sends (ordered lowest to highest, with their measured
 * bitrate and whether they are active), the subscriber's bandwidth estimate (from TWCC, REMB
 * or receiver reports) and what the subscriber asked for. Output: the target layer, with
 * hysteresis: down at once when the estimate falls below the target's bitrate, up one layer
 * only after the estimate stayed above up_factor x the next layer's bitrate for up_hold_us.
 * The forwarded layer changes only when a keyframe of the target arrives (a decoder cannot
 * start mid-GOP); until then the selector asks for PLIs (RFC 4585 §6.3.1), throttled.
 *
 * Pure state machine: no allocation, no clock of its own (callers pass now_us). */
#pragma once

#include <glib.h>

#define KUMIS_LAYER_MAX 4

struct kumis_layer_info {
    const char *rid;     /* RFC 8852 RtpStreamId, for the caller's reference (may be NULL) */
    gboolean active;     /* packets arrived recently */
    guint64 bitrate_bps; /* measured; 0 = unknown (always fits) */
};

/* The subscriber's wish: a ceiling; AUTO means as high as bandwidth allows. */
enum kumis_layer_want {
    KUMIS_LAYER_WANT_AUTO,
    KUMIS_LAYER_WANT_LOW,
    KUMIS_LAYER_WANT_MEDIUM,
    KUMIS_LAYER_WANT_HIGH,
};

struct kumis_layer_config {
    gdouble up_factor;      /* 1.2: headroom over the next layer's bitrate before going up */
    gint64 up_hold_us;      /* 3 s: how long that headroom must last */
    gint64 pli_interval_us; /* 500 ms: at most one PLI per this interval */
};

struct kumis_layer_selector {
    struct kumis_layer_config config;
    gint current; /* layer being forwarded, -1 none */
    gint target;  /* layer wanted, -1 none */
    gint up_candidate;
    gint64 up_since_us;
    gint pli_target;
    gint64 pli_last_us;
};

/* Parses "low", "medium", "high" or "auto" (also NULL). Unknown strings mean AUTO. */
enum kumis_layer_want kumis_layer_want_from_string(const char *s);

/* Sets up @sel with @config, or the defaults above when @config is NULL. Cannot fail. */
void kumis_layer_selector_init(struct kumis_layer_selector *sel,
                               const struct kumis_layer_config *config);

/* Re-evaluates the target from @layers[0..n_layers) (lowest first, at most KUMIS_LAYER_MAX),
 * @estimate_bps (0 = unknown: no bandwidth limit) and @want, at monotonic time @now_us.
 * Call it on every estimate or layer change, and periodically (say every 500 ms).
 * Returns: the target layer index, or -1 when no layer is active. */
gint kumis_layer_selector_update(struct kumis_layer_selector *sel,
                                 const struct kumis_layer_info *layers, guint n_layers,
                                 guint64 estimate_bps, enum kumis_layer_want want, gint64 now_us);

/* TRUE when a switch is pending (the target differs from the layer forwarded). */
gboolean kumis_layer_selector_pending(const struct kumis_layer_selector *sel);

/* A keyframe started on @layer. Returns: TRUE when it is the pending target: forwarding
 * switches to it now (kumis_layer_selector_current() returns it from here on). */
gboolean kumis_layer_selector_on_keyframe(struct kumis_layer_selector *sel, gint layer);

/* TRUE when the caller should send a PLI for the target layer now: a switch is pending and no
 * PLI for that layer went out in the last pli_interval_us. Records it as sent. */
gboolean kumis_layer_selector_should_pli(struct kumis_layer_selector *sel, gint64 now_us);

/* The layer being forwarded (-1 none) and the target (-1 none). */
gint kumis_layer_selector_current(const struct kumis_layer_selector *sel);
gint kumis_layer_selector_target(const struct kumis_layer_selector *sel);

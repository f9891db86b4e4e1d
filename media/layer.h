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
 * Beside it, the loss estimator that tells the router when a subscriber's reported loss is
 * sustained enough to mean its layer does not fit (see struct kumis_loss_estimator).
 *
 * Pure state machines: no allocation, no clock of their own (callers pass now_us). */
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

/* Loss-based congestion from a subscriber's receiver reports (RFC 3550 §6.4.1).
 *
 * One report's fraction lost is no verdict: Chromium reports every ~250 ms on 7-50 packets, so
 * with 5 % random loss (recovered by NACK) one report in ten says 10-32 %. Instead the
 * estimator keeps the reports' (extended highest sequence, cumulative lost) pairs and measures
 * the loss over a window of them, as RFC 3550 A.3 does over one interval: expected = the
 * difference of the extended highest sequences, lost = the difference of the cumulative
 * counts (which goes down when late or retransmitted packets arrive, or duplicates: RFC 3550
 * allows it). The window is the most recent reports spanning at least window_us and at least
 * min_packets expected packets; its loss above `congested` (10 %, the threshold at which
 * draft-ietf-rmcat-gcc §6 decreases) is congestion. */
struct kumis_loss_config {
    gint64 window_us;  /* 2 s: the reports a verdict rests on span at least this long */
    guint min_packets; /* 100: ... and cover at least this many expected packets */
    gdouble congested; /* 0.10: loss over the window above this is congestion */
};

#define KUMIS_LOSS_REPORTS 32 /* reports kept: 8 s at Chromium's 4 a second */

struct kumis_loss_report {
    guint32 highest_seq;    /* extended highest sequence number received */
    gint32 cumulative_lost; /* signed, as on the wire */
    gint64 at_us;
};

struct kumis_loss_estimator {
    struct kumis_loss_config config;
    struct kumis_loss_report reports[KUMIS_LOSS_REPORTS]; /* ring: the window, oldest first */
    guint first, n;
};

/* Sets up @est with @config, or the defaults above when @config is NULL. Cannot fail. */
void kumis_loss_estimator_init(struct kumis_loss_estimator *est,
                               const struct kumis_loss_config *config);

/* Takes one report block's @highest_seq (extended, wraps at 2^32) and @cumulative_lost for our
 * stream, received at monotonic time @now_us. A report that adds no expected packet (a
 * duplicate, one older than the last, or one with nothing new) changes nothing and returns
 * FALSE; one whose sequence jumps by more than 2^16 either way (the receiver restarted its
 * count) starts the estimator afresh from it.
 * Returns: TRUE when the loss over the window now exceeds the congestion threshold. */
gboolean kumis_loss_estimator_on_report(struct kumis_loss_estimator *est, guint32 highest_seq,
                                        gint32 cumulative_lost, gint64 now_us);

/* The loss over the window, from 0 to 1, or -1 while the reports kept span less than
 * window_us or fewer than min_packets expected packets. */
gdouble kumis_loss_estimator_fraction(const struct kumis_loss_estimator *est);

/* Forgets the window, keeping the last report as the start of the next one: call it after
 * acting on a verdict (the next one needs losses of its own) or when what is measured changed
 * (another layer is forwarded). */
void kumis_loss_estimator_restart(struct kumis_loss_estimator *est);

/* kumis — the selective forwarding unit as the server sees it (DESIGN §1–4).
 *
 * The control thread (server/) creates one sfu_peer per participant who takes part in media,
 * hands it the browser's SDP and candidates, and hears back through a listener. Everything in
 * this header is called on, and calls back on, the control thread; packets move on the media
 * workers behind it. */
#pragma once

#include <glib.h>

struct sfu;
struct sfu_peer;

enum sfu_pc {
    SFU_PC_UP,   /* the participant publishes: browser offers, we answer */
    SFU_PC_DOWN, /* the participant receives: we offer, browser answers */
};

struct sfu_options {
    guint workers;                /* media worker threads; 0 = one per core */
    const char *const *addresses; /* local addresses to gather on (NULL-terminated) */
    const char *public_address;   /* announced instead, or NULL */
    guint16 port_min, port_max;   /* UDP port range */
};

/* Events for the server, always on the control thread. @peer_user is what sfu_peer_new got. */
struct sfu_listener {
    /* A local ICE candidate to trickle to the browser; @candidate "" means end of candidates. */
    void (*on_candidate)(void *peer_user, enum sfu_pc pc, const char *candidate, const char *mid);
    /* The down connection must be (re)negotiated: send @sdp as an offer. */
    void (*on_down_offer)(void *peer_user, const char *sdp);
    /* A connection reached a state the participant should know of ("connected", "failed",
     * "closed"). A vanished peer reports "failed" within 30 s (RFC 7675 consent freshness). */
    void (*on_state)(void *peer_user, enum sfu_pc pc, const char *state);
    /* The loudest speaker changed (participant id of the publisher), or NULL for silence. */
    void (*on_active_speaker)(void *user, const char *participant_id);
    /* The participant's browser cannot receive @publisher_id's track @mid of stream @stream_id
     * (@kind "audio" or "video") in @codec, the only one it is published in: its answer
     * rejected the m-line or left the codec out. The track is not sent to it. */
    void (*on_track_unsupported)(void *peer_user, const char *publisher_id, const char *stream_id,
                                 const char *mid, const char *kind, const char *codec);
    /* The participant's down connection has every m-line (SDP_MAX_MEDIA) in use: @publisher_id's
     * @kind track of stream @stream_id waits, oldest first, for one of its kind to free (a
     * speaker leaves or stops a track) and then simply arrives in a later down offer. Called
     * once per waiting track. */
    void (*on_track_waiting)(void *peer_user, const char *publisher_id, const char *stream_id,
                             const char *kind);
};

/* Starts the media workers and makes the daemon's DTLS certificate.
 * Returns: (transfer full) or NULL with @error. */
struct sfu *sfu_new(const struct sfu_options *options, const struct sfu_listener *listener,
                    void *user, GError **error);

/* Closes every peer and stops the workers. */
void sfu_free(struct sfu *sfu);

/* Creates the media side of participant @participant_id (copied). @peer_user is passed back
 * to every listener call about this peer. Returns: (transfer full), free with sfu_peer_free. */
struct sfu_peer *sfu_peer_new(struct sfu *sfu, const char *participant_id, void *peer_user);

/* Closes both connections; the peer's published tracks leave every subscriber, whose down
 * connections are renegotiated. */
void sfu_peer_free(struct sfu_peer *peer);

/* The browser's offer on the up connection. Returns: (transfer full) our answer, or NULL with
 * @error naming what is wrong with the offer (nothing changes then). */
char *sfu_peer_up_offer(struct sfu_peer *peer, const char *sdp, GError **error);

/* The browser's answer to our last down offer. FALSE with @error when it does not fit. */
gboolean sfu_peer_down_answer(struct sfu_peer *peer, const char *sdp, GError **error);

/* A remote trickle candidate ("candidate:..." or "" for end of candidates). */
gboolean sfu_peer_add_candidate(struct sfu_peer *peer, enum sfu_pc pc, const char *candidate,
                                GError **error);

/* Starts receiving: from now on the peer's down connection carries every published track (one
 * that finds no free m-line waits for one: on_track_waiting). */
void sfu_peer_subscribe(struct sfu_peer *peer);

/* What the participant wants to see of video: "low", "high" or "auto". */
void sfu_peer_set_quality(struct sfu_peer *peer, const char *quality);

/* Per-peer counters as a JSON object text (transfer full), for the stats the server exposes. */
char *sfu_peer_stats_json(struct sfu_peer *peer);

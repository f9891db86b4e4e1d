/* kumis — SDP for the SFU: parse offers and answers, write answers and offers (DESIGN §4).
 *
 * The rest of the server sees SDP only as the plain structs below; GstSDPMessage parses and
 * writes the text inside sdp.c. Two peer connections per participant:
 *  - up: the browser offers its send-only tracks; sdp_up_answer_new() chooses codecs and
 *    header extensions and builds the recvonly answer (a=setup:passive).
 *  - down: kumis offers what the participant should receive from a persistent m-line table
 *    (struct sdp_mline_table), so re-offers keep mids and order stable (RFC 8829 §5.2.2);
 *    sdp_down_answer_check() validates the browser's answer against our offer.
 * WebRTC rules enforced on every parsed SDP: DTLS fingerprint, ICE credentials, BUNDLE
 * (RFC 8843) and rtcp-mux (RFC 5761) on every accepted m-line.
 *
 * Pure functions: no logging, no globals, no I/O, so that fuzz_sdp can call them bare. */
#pragma once

#include <glib.h>

/* A down connection of SDP_MAX_MEDIA m-lines carries 32 speakers with camera and microphone.
 * Measured at that size (test_sdp /sdp/down/full, every video m-line offering VP8 and H.264):
 * our offer 54 KB, Chromium's answer 47 KB, so both stay under SDP_MAX_BYTES and the answer
 * under the signaling's limits (the 60000-byte "sdp" field, max_message_bytes 65536). */
#define SDP_MAX_BYTES      65536 /* refuse longer SDP text */
#define SDP_MAX_MEDIA      64    /* m-lines per SDP */
#define SDP_MAX_CODECS     64    /* payload types per m-line */
#define SDP_MAX_CANDIDATES 64    /* a=candidate lines per m-line */
#define SDP_MAX_SSRCS      32    /* distinct a=ssrc per m-line */
#define SDP_MAX_RIDS       8     /* a=rid per m-line (simulcast layers) */

/* Header extensions kumis negotiates (DESIGN §4); every other one is refused by omission. */
#define SDP_EXT_MID         "urn:ietf:params:rtp-hdrext:sdes:mid"
#define SDP_EXT_RID         "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"
#define SDP_EXT_RRID        "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id"
#define SDP_EXT_ABS_SEND    "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
#define SDP_EXT_TWCC        "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
#define SDP_EXT_AUDIO_LEVEL "urn:ietf:params:rtp-hdrext:ssrc-audio-level"

#define SDP_ERROR (sdp_error_quark())
GQuark sdp_error_quark(void);

enum sdp_error_code {
    SDP_ERROR_TOO_LARGE,   /* over a size or count limit */
    SDP_ERROR_SYNTAX,      /* not SDP, or an attribute we need is malformed */
    SDP_ERROR_MISSING,     /* a required attribute is absent (fingerprint, ICE, BUNDLE, ...) */
    SDP_ERROR_UNSUPPORTED, /* well-formed, but kumis cannot accept it (codec, role, ...) */
    SDP_ERROR_MISMATCH,    /* an answer does not match the offer it answers */
};

enum sdp_kind { SDP_KIND_AUDIO, SDP_KIND_VIDEO, SDP_KIND_APPLICATION, SDP_KIND_OTHER };
enum sdp_direction { SDP_DIR_SENDRECV, SDP_DIR_SENDONLY, SDP_DIR_RECVONLY, SDP_DIR_INACTIVE };
enum sdp_setup { SDP_SETUP_NONE, SDP_SETUP_ACTPASS, SDP_SETUP_ACTIVE, SDP_SETUP_PASSIVE };

/* Returns: "audio", "video", "application" or "other". */
const char *sdp_kind_name(enum sdp_kind kind);
/* Returns: "sendrecv", "sendonly", "recvonly" or "inactive". */
const char *sdp_direction_name(enum sdp_direction dir);

/* One RTP payload type of an m-line (a=rtpmap, a=fmtp, a=rtcp-fb). */
struct sdp_codec {
    guint8 pt;
    char *name; /* encoding name as written ("VP8", "opus", "rtx"); "" when unknown */
    guint clock_rate;
    guint channels;     /* audio: 1 when not written; video: 0 */
    char *fmtp;         /* (nullable) the a=fmtp parameters, e.g. "minptime=10;useinbandfec=1" */
    GPtrArray *rtcp_fb; /* (element-type utf8) "nack", "nack pli", "transport-cc", ... */
    int apt;            /* rtx only: the payload type it repairs (fmtp apt=), else -1 */
    int rtx_pt;         /* the rtx payload type that repairs this codec, else -1 */
};

/* Returns: (transfer full) a codec without fmtp or rtcp-fb. @name is copied. */
struct sdp_codec *sdp_codec_new(guint8 pt, const char *name, guint clock_rate, guint channels,
                                const char *fmtp);
/* Returns: (transfer full) a deep copy of @codec. */
struct sdp_codec *sdp_codec_copy(const struct sdp_codec *codec);
void sdp_codec_free(struct sdp_codec *codec);

/* One RTP header extension (RFC 8285 a=extmap). */
struct sdp_extmap {
    guint id; /* 1-14 or 16-255 */
    char *uri;
    gboolean has_direction;
    enum sdp_direction direction;
};

/* A simulcast stream (RFC 8853 a=rid plus its place in a=simulcast). */
struct sdp_rid {
    char *id;
    gboolean send;   /* a=rid:<id> send (TRUE) or recv (FALSE) */
    gboolean paused; /* listed as ~<id> in a=simulcast */
};

/* An SSRC announced with a=ssrc (RFC 5576). */
struct sdp_ssrc {
    guint32 ssrc;
    char *cname; /* (nullable) */
};

/* a=ssrc-group:<semantics> <ssrc>... ("FID" primary + rtx, "SIM" layers). */
struct sdp_ssrc_group {
    char *semantics;
    GArray *ssrcs; /* (element-type guint32) */
};

/* One ICE candidate (RFC 8839 §5.1 candidate-attribute). */
struct sdp_candidate {
    char *foundation;
    guint component;
    char *transport; /* "udp" or "tcp", lower case */
    guint32 priority;
    char *address; /* IP address or an mDNS name */
    guint16 port;
    char *type;    /* "host", "srflx", "prflx", "relay" */
    char *raddr;   /* (nullable) */
    int rport;     /* -1 when absent */
    char *tcptype; /* (nullable) "active", "passive", "so" */
    char *raw;     /* the whole value as received or formatted, without "a=" and "candidate:" */
};

/* Parses a candidate value, with or without a leading "a=" and "candidate:", e.g.
 * "candidate:1 1 udp 2122260223 127.0.0.1 5000 typ host generation 0". Unknown extension
 * attributes (generation, network-id, ufrag...) are kept only in ->raw.
 * Returns: (transfer full) the candidate, or NULL with @error set (SDP_ERROR_SYNTAX). */
struct sdp_candidate *sdp_candidate_parse(const char *text, GError **error);
/* Returns: (transfer full) "candidate:<foundation> <component> <transport> ..." without "a=",
 * built from the fields (->raw is ignored). */
char *sdp_candidate_format(const struct sdp_candidate *cand);
/* Returns: (transfer full) a deep copy. */
struct sdp_candidate *sdp_candidate_copy(const struct sdp_candidate *cand);
void sdp_candidate_free(struct sdp_candidate *cand);

/* One m-line. */
struct sdp_media {
    guint index; /* position in the SDP, from 0 */
    enum sdp_kind kind;
    char *proto; /* "UDP/TLS/RTP/SAVPF", "UDP/DTLS/SCTP", ... */
    guint16 port;
    gboolean rejected;    /* port 0 (RFC 3264 §6) without a=bundle-only */
    gboolean bundle_only; /* a=bundle-only (RFC 8843 §6): port 0 yet part of the BUNDLE */
    char *mid;            /* (nullable) only when rejected */
    enum sdp_direction direction;
    gboolean rtcp_mux, rtcp_rsize;
    char *msid_stream, *msid_track; /* (nullable) a=msid (RFC 8830); stream "-" when none */
    /* ICE/DTLS, media level or else session level (NULL when rejected and absent). */
    char *ice_ufrag, *ice_pwd;
    char *fingerprint_alg; /* lower case, "sha-256" */
    char *fingerprint;     /* upper-case hex with colons */
    enum sdp_setup setup;
    gboolean ice_trickle;    /* a=ice-options:trickle, media or session level */
    GPtrArray *codecs;       /* (element-type struct sdp_codec) in m-line format order */
    GPtrArray *extmaps;      /* (element-type struct sdp_extmap) */
    GPtrArray *rids;         /* (element-type struct sdp_rid) in a=simulcast order if given */
    gboolean simulcast;      /* a=simulcast present */
    gboolean simulcast_send; /* its direction: TRUE "send", FALSE "recv" */
    GPtrArray *ssrcs;        /* (element-type struct sdp_ssrc) */
    GPtrArray *ssrc_groups;  /* (element-type struct sdp_ssrc_group) */
    GPtrArray *candidates;   /* (element-type struct sdp_candidate) */
    gboolean end_of_candidates;
};

/* A whole SDP. The transport fields are those of the BUNDLE-tag m-line (the first mid of the
 * BUNDLE group, RFC 8843 §7.2.1): under BUNDLE they are the connection's. */
struct sdp_session {
    guint64 session_id, session_version; /* o= line */
    char *ice_ufrag, *ice_pwd;
    char *fingerprint_alg, *fingerprint;
    enum sdp_setup setup;
    gboolean ice_trickle; /* a=ice-options contains "trickle" */
    gboolean ice_lite;
    GPtrArray *bundle_mids; /* (element-type utf8) a=group:BUNDLE */
    GPtrArray *media;       /* (element-type struct sdp_media) */
};

/* Parses @len bytes of SDP (offer or answer; need not be NUL-terminated) and checks what
 * WebRTC requires: at most SDP_MAX_BYTES, SDP_MAX_MEDIA m-lines and SDP_MAX_CODECS payload
 * types per m-line; at least one m-line not rejected (port 0 with a=bundle-only is not
 * rejected, RFC 8843 §6); on each accepted m-line a unique mid, ICE
 * ufrag/pwd (RFC 8839 syntax), a DTLS fingerprint (RFC 8122), rtcp-mux, and membership in
 * a=group:BUNDLE. Malformed attributes we rely on (rtpmap, fmtp apt, extmap, rid, ssrc,
 * candidate) are errors; attributes we do not use are ignored.
 * Returns: (transfer full) the session, or NULL with @error set in SDP_ERROR, with a message
 * naming the m-line: "m-line 1 (video): missing a=fingerprint". */
struct sdp_session *sdp_session_parse(const char *text, gsize len, GError **error);

/* Returns: (transfer none) (nullable) the m-line of @session whose a=mid is @mid. */
const struct sdp_media *sdp_session_find_mid(const struct sdp_session *session, const char *mid);

/* Returns: the id @m maps to the header extension @uri (SDP_EXT_*), or 0 when not negotiated. */
guint sdp_media_extmap_id(const struct sdp_media *m, const char *uri);

/* Writes @session as SDP text (CRLF line ends) with GstSDPMessage: the session's ICE/DTLS
 * parameters on every m-line not rejected, a=group:BUNDLE with the mids of those m-lines.
 * This cannot fail. Returns: (transfer full). */
char *sdp_session_write(const struct sdp_session *session);

void sdp_session_free(struct sdp_session *session);

/* Our side of the transport, written into answers and offers. The values are ours and are
 * written as given (not checked): ufrag 4+ and pwd 22+ ice-chars, an RFC 8122 fingerprint. */
struct sdp_local {
    const char *ice_ufrag, *ice_pwd;
    const char *fingerprint_alg, *fingerprint; /* "sha-256", "AB:CD:..." */
    guint64 session_id;                        /* o= session id, stable per peer connection */
    const GPtrArray *candidates; /* (nullable) (element-type struct sdp_candidate); borrowed */
    gboolean end_of_candidates;  /* gathering is complete: write a=end-of-candidates */
};

/* Video codec preference for sdp_up_answer_new(), first preferred. The default (NULL) is
 * { "VP8", "H264", "VP9", NULL }: VP8 first because every subscriber decodes it; VP9 when a
 * publisher offers nothing else (kumis forwards its non-flexible and flexible modes, one
 * spatial layer per simulcast encoding). */
extern const char *const sdp_video_codecs_default[];

/* Builds kumis's answer to a browser's up @offer (parsed by sdp_session_parse()).
 * Per audio/video m-line that the browser sends on: direction recvonly, one codec (Opus
 * 48000/2 for audio; for video the first of @video_prefs offered, H.264 only with
 * packetization-mode=1 and profile-level-id 42e01f preferred, VP9 profile 0 preferred) with
 * the offerer's payload type, its rtx, the supported rtcp-fb (nack, nack pli, ccm fir,
 * goog-remb, transport-cc), the supported header extensions with the offerer's ids
 * (RFC 8285 §6), and simulcast mirrored as recv (RFC 8853 §5.3). An inactive m-line (a track
 * the browser stopped sending) is answered inactive with its codec, still bundled (RFC 3264
 * §6.1); application and recvonly m-lines are rejected (port 0), as are those already
 * rejected.
 * Fails (SDP_ERROR_UNSUPPORTED) when the offer asks kumis to be DTLS client
 * (a=setup:passive), uses a non DTLS-SRTP profile, or sends on an m-line with no codec kumis
 * supports ("m-line 1 (video): no codec kumis supports"); fails when nothing is accepted.
 * @video_prefs: (nullable) encoding names, NULL-terminated.
 * Returns: (transfer full) the answer (write it with sdp_session_write()), or NULL. */
struct sdp_session *sdp_up_answer_new(const struct sdp_session *offer,
                                      const struct sdp_local *local, const char *const *video_prefs,
                                      GError **error);

/* A track kumis sends down to a participant. */
struct sdp_out_track {
    enum sdp_kind kind; /* audio or video */
    char *stream_id;    /* msid stream: one per speaker, so audio and video are grouped */
    char *track_id;     /* msid track id */
    char *cname;
    guint32 ssrc;
    guint32 rtx_ssrc;  /* 0: no rtx */
    GPtrArray *codecs; /* (element-type struct sdp_codec) our payload types, first preferred */
};

/* Returns: (transfer full) a track with no codecs yet; strings are copied. */
struct sdp_out_track *sdp_out_track_new(enum sdp_kind kind, const char *stream_id,
                                        const char *track_id, const char *cname, guint32 ssrc,
                                        guint32 rtx_ssrc);
void sdp_out_track_free(struct sdp_out_track *track);

/* The payload type kumis sends @video_codec with on down connections ("VP8" or NULL 96,
 * "VP9" 98, "H264" 102; its rtx is the next one), or 0 for a codec it does not forward. */
int sdp_out_video_pt(const char *video_codec);

/* Adds kumis's usual codecs for @track's kind: Opus 111 (48000/2); or VP8 96 with rtx 97, and
 * when @video_codec (the publisher's, NULL for VP8) is another, that one too (VP9 98/rtx 99
 * profile 0, H.264 102/rtx 103 42e01f), all with the supported rtcp-fb. */
void sdp_out_track_add_default_codecs(struct sdp_out_track *track, const char *video_codec);

/* The down connection's m-lines, kept across renegotiations (RFC 8829 §5.2.2: an m-line is
 * never removed or reordered; a free one is recycled). Not thread-safe: control thread. */
struct sdp_mline_table;

/* Returns: (transfer full) an empty table. */
struct sdp_mline_table *sdp_mline_table_new(void);
void sdp_mline_table_free(struct sdp_mline_table *table);

/* Places @track on the first inactive m-line of its kind, or appends an m-line.
 * Takes ownership of @track (also on failure). Fails with SDP_ERROR_TOO_LARGE when
 * SDP_MAX_MEDIA m-lines are in use and none of its kind is free, SDP_ERROR_UNSUPPORTED when
 * @track has no codec. Returns: (transfer none) the mid, valid as long as @table. */
const char *sdp_mline_table_add(struct sdp_mline_table *table, struct sdp_out_track *track,
                                GError **error);

/* Makes the m-line @mid inactive (its track is dropped; the m-line stays, port 9 under
 * BUNDLE, and can be reused). Returns: FALSE when no active m-line has that mid. */
gboolean sdp_mline_table_remove(struct sdp_mline_table *table, const char *mid);

/* Returns: the number of m-lines (active or not). */
guint sdp_mline_table_len(const struct sdp_mline_table *table);

/* Builds the next down offer from @table: sendonly m-lines with a=msid, a=ssrc and
 * a=ssrc-group:FID for active tracks, inactive ones for freed m-lines, a=setup:actpass,
 * trickle ICE, rtcp-mux, BUNDLE over all m-lines. Each call raises the o= version.
 * Returns: (transfer full) the offer (write it with sdp_session_write()). */
struct sdp_session *sdp_down_offer_new(struct sdp_mline_table *table,
                                       const struct sdp_local *local);

/* Checks the browser's @answer (parsed) to our down @offer: same m-lines in the same order
 * with the same mids and kinds, a=setup:active (kumis is the DTLS server), only payload types
 * and header extension URIs we offered, and a direction compatible with ours. The accepted
 * codecs and extension ids per mid are then in @answer->media.
 * Returns: TRUE, or FALSE with @error set (SDP_ERROR_MISMATCH or SDP_ERROR_UNSUPPORTED). */
gboolean sdp_down_answer_check(const struct sdp_session *offer, const struct sdp_session *answer,
                               GError **error);

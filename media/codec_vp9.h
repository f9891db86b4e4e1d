/* kumis — VP9 payload inspection without decoding: the payload descriptor (RFC 9628 §4.2),
 * keyframe detection, and in-place picture ID / TL0PICIDX writers.
 *
 * Pure functions on the RTP payload (the bytes after the RTP header): no allocation, no
 * logging, bounds-checked against hostile input. */
#pragma once

#include <glib.h>

/* What RFC 9628 §4.2 says about one packet, plus whether it starts a keyframe. */
struct kumis_vp9_descriptor {
    gboolean has_picture_id;   /* I */
    gboolean inter_picture;    /* P: the picture refers to earlier ones */
    gboolean has_layer;        /* L: TID, U, SID, D present */
    gboolean flexible;         /* F */
    gboolean start_of_frame;   /* B */
    gboolean end_of_frame;     /* E */
    gboolean has_ss;           /* V: scalability structure present */
    gboolean picture_id_15bit; /* M */
    guint16 picture_id;
    guint8 tid, sid;        /* valid when has_layer */
    gboolean has_tl0picidx; /* L and not F */
    guint8 tl0picidx;
    gsize picture_id_offset; /* within the payload, valid when has_picture_id */
    gsize tl0picidx_offset;  /* within the payload, valid when has_tl0picidx */
    gsize descriptor_len;    /* bytes of descriptor; the VP9 payload follows */
    /* first packet of a picture that refers to no other (B=1, P=0) in the base spatial layer:
     * a decoder can start there */
    gboolean keyframe;
};

/* Parses the descriptor at the start of @payload (@len bytes) into @out, the scalability
 * structure included (checked, not kept). Fails (FALSE) when the descriptor runs past @len or
 * leaves no VP9 payload byte. */
gboolean kumis_vp9_parse(const guint8 *payload, gsize len, struct kumis_vp9_descriptor *out);

/* Rewrites the picture ID in place, keeping its width (7 or 15 bits; @picture_id is masked to
 * it). Does nothing when @d has no picture ID. @d must come from kumis_vp9_parse on @payload. */
void kumis_vp9_set_picture_id(guint8 *payload, struct kumis_vp9_descriptor *d, guint16 picture_id);

/* Rewrites TL0PICIDX in place. Does nothing when @d has none. */
void kumis_vp9_set_tl0picidx(guint8 *payload, struct kumis_vp9_descriptor *d, guint8 tl0picidx);

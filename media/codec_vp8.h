/* kumis — VP8 payload inspection without decoding: the payload descriptor (RFC 7741 §4.2),
 * keyframe detection, and in-place picture ID / TL0PICIDX writers.
 *
 * Pure functions on the RTP payload (the bytes after the RTP header): no allocation, no
 * logging, bounds-checked against hostile input. */
#pragma once

#include <glib.h>

/* Callers that look at either codec (the router) get H.264 too. */
#include "media/codec_h264.h"

/* What RFC 7741 §4.2 says about one packet, plus whether it starts a keyframe. */
struct kumis_vp8_descriptor {
    gboolean non_reference;      /* N */
    gboolean start_of_partition; /* S */
    guint8 partition_id;         /* PID */
    gboolean has_picture_id;     /* I */
    gboolean picture_id_15bit;   /* M */
    guint16 picture_id;
    gboolean has_tl0picidx; /* L */
    guint8 tl0picidx;
    gboolean has_tid; /* T */
    guint8 tid;
    gboolean layer_sync; /* Y */
    gboolean has_keyidx; /* K */
    guint8 keyidx;
    gsize picture_id_offset; /* within the payload, valid when has_picture_id */
    gsize tl0picidx_offset;  /* within the payload, valid when has_tl0picidx */
    gsize descriptor_len;    /* bytes of descriptor; the VP8 payload follows */
    gboolean keyframe; /* first packet of a keyframe: S=1, PID=0 and P=0 in the payload header */
};

/* Parses the descriptor at the start of @payload (@len bytes) into @out.
 * Fails (FALSE) when the descriptor runs past @len or leaves no VP8 payload byte. */
gboolean kumis_vp8_parse(const guint8 *payload, gsize len, struct kumis_vp8_descriptor *out);

/* Reads the picture ID field at @field (@avail bytes left): VP8 (RFC 7741 §4.2) and VP9
 * (RFC 9628 §4.2) share it, |M| 7 bits | and with M one more byte (15 bits).
 * Returns: the field's length (1 or 2) with *@picture_id and *@long_form set, or 0 when it runs
 * past @avail. */
gsize kumis_picture_id_read(const guint8 *field, gsize avail, guint16 *picture_id,
                            gboolean *long_form);

/* Writes @picture_id into the picture ID field at @field: VP8 (RFC 7741 §4.2) and VP9
 * (RFC 9628 §4.2) share it, |M| 7 bits | and with M one more byte (15 bits). */
void kumis_picture_id_write(guint8 *field, gboolean long_form, guint16 picture_id);

/* Rewrites the picture ID in place, keeping its width (7 or 15 bits; @picture_id is masked to
 * it). Does nothing when @d has no picture ID. @d must come from kumis_vp8_parse on @payload. */
void kumis_vp8_set_picture_id(guint8 *payload, struct kumis_vp8_descriptor *d, guint16 picture_id);

/* Rewrites TL0PICIDX in place. Does nothing when @d has none. */
void kumis_vp8_set_tl0picidx(guint8 *payload, struct kumis_vp8_descriptor *d, guint8 tl0picidx);

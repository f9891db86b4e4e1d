/* kumis — VP8 payload descriptor (see codec_vp8.h). */
#include "media/codec_vp8.h"

#include <string.h>

gboolean kumis_vp8_parse(const guint8 *payload, gsize len, struct kumis_vp8_descriptor *out)
{
    if (payload == NULL || len < 1)
        return FALSE;
    memset(out, 0, sizeof(*out));
    /* RFC 7741 §4.2: |X|R|N|S|R| PID | */
    guint8 b = payload[0];
    gboolean x = (b & 0x80) != 0;
    out->non_reference = (b & 0x20) != 0;
    out->start_of_partition = (b & 0x10) != 0;
    out->partition_id = b & 0x07;
    gsize i = 1;
    if (x) {
        /* |I|L|T|K| RSV | */
        if (i >= len)
            return FALSE;
        guint8 ext = payload[i++];
        out->has_picture_id = (ext & 0x80) != 0;
        out->has_tl0picidx = (ext & 0x40) != 0;
        out->has_tid = (ext & 0x20) != 0;
        out->has_keyidx = (ext & 0x10) != 0;
        if (out->has_picture_id) {
            gsize n = kumis_picture_id_read(payload + i, len - i, &out->picture_id,
                                            &out->picture_id_15bit);
            if (n == 0)
                return FALSE;
            out->picture_id_offset = i;
            i += n;
        }
        if (out->has_tl0picidx) {
            if (i >= len)
                return FALSE;
            out->tl0picidx_offset = i;
            out->tl0picidx = payload[i++];
        }
        if (out->has_tid || out->has_keyidx) {
            /* |TID|Y| KEYIDX  |: TID and Y are meaningful only with T, KEYIDX only with K. */
            if (i >= len)
                return FALSE;
            guint8 t = payload[i++];
            if (out->has_tid) {
                out->tid = t >> 6;
                out->layer_sync = (t & 0x20) != 0;
            }
            if (out->has_keyidx)
                out->keyidx = t & 0x1F;
        }
    }
    if (i >= len)
        return FALSE;
    out->descriptor_len = i;
    /* RFC 7741 §4.3: in the first packet of partition 0 the VP8 payload header starts; its
     * lowest bit P is the inverse key frame flag (RFC 6386 §9.1). */
    out->keyframe = out->start_of_partition && out->partition_id == 0 && (payload[i] & 0x01) == 0;
    return TRUE;
}

gsize kumis_picture_id_read(const guint8 *field, gsize avail, guint16 *picture_id,
                            gboolean *long_form)
{
    if (avail < 1)
        return 0;
    *long_form = (field[0] & 0x80) != 0;
    if (!*long_form) {
        *picture_id = field[0] & 0x7F;
        return 1;
    }
    if (avail < 2)
        return 0;
    *picture_id = (guint16)(((field[0] & 0x7F) << 8) | field[1]);
    return 2;
}

void kumis_picture_id_write(guint8 *field, gboolean long_form, guint16 picture_id)
{
    if (long_form) {
        field[0] = (guint8)(0x80 | ((picture_id >> 8) & 0x7F));
        field[1] = (guint8)picture_id;
    } else {
        field[0] = (guint8)(picture_id & 0x7F);
    }
}

void kumis_vp8_set_picture_id(guint8 *payload, struct kumis_vp8_descriptor *d, guint16 picture_id)
{
    if (!d->has_picture_id)
        return;
    picture_id &= d->picture_id_15bit ? 0x7FFF : 0x7F;
    kumis_picture_id_write(payload + d->picture_id_offset, d->picture_id_15bit, picture_id);
    d->picture_id = picture_id;
}

void kumis_vp8_set_tl0picidx(guint8 *payload, struct kumis_vp8_descriptor *d, guint8 tl0picidx)
{
    if (!d->has_tl0picidx)
        return;
    payload[d->tl0picidx_offset] = tl0picidx;
    d->tl0picidx = tl0picidx;
}

/* kumis — VP9 payload descriptor (see codec_vp9.h). */
#include "media/codec_vp9.h"

#include "media/codec_vp8.h" /* the picture ID field */

#include <string.h>

/* RFC 9628 §4.2.1: the scalability structure, | N_S |Y|G|-|-|-| then per spatial layer
 * WIDTH and HEIGHT (2 bytes each) when Y, then N_G and per picture group | T |U| R |-|-| and
 * R P_DIFF bytes when G. Returns: the index after it, or 0 when it runs past @len. */
static gsize vp9_skip_ss(const guint8 *p, gsize len, gsize i)
{
    if (i >= len)
        return 0;
    guint8 b = p[i++];
    guint n_s = (guint)(b >> 5) + 1;
    if (b & 0x10) {
        if (len - i < 4 * (gsize)n_s)
            return 0;
        i += 4 * (gsize)n_s;
    }
    if (b & 0x08) {
        if (i >= len)
            return 0;
        guint n_g = p[i++];
        for (guint g = 0; g < n_g; g++) {
            if (i >= len)
                return 0;
            guint r = (p[i++] >> 2) & 0x03;
            if (len - i < r)
                return 0;
            i += r;
        }
    }
    return i;
}

gboolean kumis_vp9_parse(const guint8 *payload, gsize len, struct kumis_vp9_descriptor *out)
{
    if (payload == NULL || len < 1)
        return FALSE;
    memset(out, 0, sizeof(*out));
    /* |I|P|L|F|B|E|V|Z| */
    guint8 b = payload[0];
    out->has_picture_id = (b & 0x80) != 0;
    out->inter_picture = (b & 0x40) != 0;
    out->has_layer = (b & 0x20) != 0;
    out->flexible = (b & 0x10) != 0;
    out->start_of_frame = (b & 0x08) != 0;
    out->end_of_frame = (b & 0x04) != 0;
    out->has_ss = (b & 0x02) != 0;
    gsize i = 1;
    if (out->has_picture_id) {
        /* |M| PICTURE ID | and, with M, the extended 8 bits (RFC 9628 §4.2). */
        gsize n =
            kumis_picture_id_read(payload + i, len - i, &out->picture_id, &out->picture_id_15bit);
        if (n == 0)
            return FALSE;
        out->picture_id_offset = i;
        i += n;
    }
    if (out->has_layer) {
        /* | TID |U| SID |D|, then TL0PICIDX in non-flexible mode. */
        if (i >= len)
            return FALSE;
        out->tid = payload[i] >> 5;
        out->sid = (payload[i] >> 1) & 0x07;
        i++;
        if (!out->flexible) {
            if (i >= len)
                return FALSE;
            out->has_tl0picidx = TRUE;
            out->tl0picidx_offset = i;
            out->tl0picidx = payload[i++];
        }
    }
    if (out->flexible && out->inter_picture) {
        /* Up to three reference indices | P_DIFF |N|, N saying another follows. */
        for (guint k = 0;; k++) {
            if (i >= len || k == 3)
                return FALSE;
            if ((payload[i++] & 0x01) == 0)
                break;
        }
    }
    if (out->has_ss) {
        i = vp9_skip_ss(payload, len, i);
        if (i == 0)
            return FALSE;
    }
    if (i >= len)
        return FALSE;
    out->descriptor_len = i;
    out->keyframe = out->start_of_frame && !out->inter_picture && out->sid == 0;
    return TRUE;
}

void kumis_vp9_set_picture_id(guint8 *payload, struct kumis_vp9_descriptor *d, guint16 picture_id)
{
    if (!d->has_picture_id)
        return;
    picture_id &= d->picture_id_15bit ? 0x7FFF : 0x7F;
    kumis_picture_id_write(payload + d->picture_id_offset, d->picture_id_15bit, picture_id);
    d->picture_id = picture_id;
}

void kumis_vp9_set_tl0picidx(guint8 *payload, struct kumis_vp9_descriptor *d, guint8 tl0picidx)
{
    if (!d->has_tl0picidx)
        return;
    payload[d->tl0picidx_offset] = tl0picidx;
    d->tl0picidx = tl0picidx;
}

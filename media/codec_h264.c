/* kumis — H.264 keyframe detection (see codec_h264.h). */
#include "media/codec_h264.h"

static gboolean h264_nal_type_is_key(guint8 type)
{
    return type == 5 || type == 7; /* RFC 6184 §1.3 / H.264 Table 7-1: IDR slice, SPS */
}

gboolean kumis_h264_is_keyframe(const guint8 *payload, gsize len)
{
    if (payload == NULL || len < 1)
        return FALSE;
    guint8 type = payload[0] & 0x1F;
    if (type >= 1 && type <= 23)
        return h264_nal_type_is_key(type);
    if (type == 24) {
        /* RFC 6184 §5.7.1 STAP-A: 16-bit size, then a NAL unit, repeated. */
        gsize i = 1;
        while (len - i >= 2) {
            gsize size = ((gsize)payload[i] << 8) | payload[i + 1];
            i += 2;
            if (size == 0 || size > len - i)
                return FALSE;
            if (h264_nal_type_is_key(payload[i] & 0x1F))
                return TRUE;
            i += size;
        }
        return FALSE;
    }
    if (type == 28) {
        /* RFC 6184 §5.8 FU-A: indicator, then |S|E|R| type |; only the start fragment counts. */
        if (len < 2)
            return FALSE;
        return (payload[1] & 0x80) != 0 && h264_nal_type_is_key(payload[1] & 0x1F);
    }
    return FALSE;
}

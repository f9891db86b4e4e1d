/* libFuzzer target: RTP header, RFC 8285 extensions, VP8/VP9/H.264 payload inspection
 * (media/rtp.c, media/codec_vp8.c, media/codec_vp9.c) and the rewriter (media/rewrite.c) on
 * hostile packets. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "media/codec_h264.h"
#include "media/codec_vp8.h"
#include "media/codec_vp9.h"
#include "media/rewrite.h"
#include "media/rtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    (void)kumis_rtp_is_rtcp(data, size);
    (void)kumis_demux_classify(data, size);
    struct kumis_rtp_header h;
    if (!kumis_rtp_parse(data, size, &h))
        return 0;
    /* Parsed offsets must describe bytes inside the packet. */
    if (h.payload_offset + h.payload_len + h.padding_len != size)
        __builtin_trap();

    const guint8 *v;
    gsize n;
    guint8 level;
    gboolean voice;
    guint32 ast;
    guint16 tw;
    char s[32];
    for (guint id = 0; id < 256; id++) {
        if (kumis_rtp_ext_find(data, &h, (guint8)id, &v, &n) && (v < data || v + n > data + size))
            __builtin_trap();
    }
    (void)kumis_rtp_ext_audio_level(data, &h, 1, &level, &voice);
    (void)kumis_rtp_ext_abs_send_time(data, &h, 2, &ast);
    (void)kumis_rtp_ext_twcc_seq(data, &h, 3, &tw);
    (void)kumis_rtp_ext_string(data, &h, 4, s, sizeof(s));
    (void)kumis_rtp_ext_string(data, &h, 10, s, 2);

    /* Writers and the rewriter on a private copy (the input is read-only). */
    guint8 copy[2048];
    if (size > sizeof(copy))
        return 0;
    memcpy(copy, data, size);
    struct kumis_vp8_descriptor d;
    if (kumis_vp8_parse(copy + h.payload_offset, h.payload_len, &d)) {
        if (d.descriptor_len >= h.payload_len)
            __builtin_trap();
        kumis_vp8_set_picture_id(copy + h.payload_offset, &d, 0x7FFF);
        kumis_vp8_set_tl0picidx(copy + h.payload_offset, &d, 0xFF);
    }
    struct kumis_vp9_descriptor d9;
    if (kumis_vp9_parse(copy + h.payload_offset, h.payload_len, &d9)) {
        if (d9.descriptor_len >= h.payload_len)
            __builtin_trap();
        kumis_vp9_set_picture_id(copy + h.payload_offset, &d9, 0x7FFF);
        kumis_vp9_set_tl0picidx(copy + h.payload_offset, &d9, 0xFF);
    }
    (void)kumis_h264_is_keyframe(copy + h.payload_offset, h.payload_len);
    guint8 val[2] = {0, 0};
    (void)kumis_rtp_ext_write(copy, &h, 3, val, 2);

    struct kumis_rewrite rw;
    kumis_rewrite_init(&rw, 0x1234, 90000,
                       size % 2 ? KUMIS_REWRITE_CODEC_VP9 : KUMIS_REWRITE_CODEC_VP8);
    struct kumis_rtp_header h2 = h;
    (void)kumis_rewrite_packet(&rw, copy, size, &h2, 1000);
    /* The same packet again from another source, then a duplicate. */
    memcpy(copy, data, size);
    h2 = h;
    h2.ssrc ^= 1;
    (void)kumis_rewrite_packet(&rw, copy, size, &h2, 2000);
    (void)kumis_rewrite_packet(&rw, copy, size, &h2, 3000);
    guint32 ssrc;
    guint16 seq;
    (void)kumis_rewrite_reverse(&rw, h.seq, &ssrc, &seq);
    struct kumis_rtp_header h3;
    if (!kumis_rtp_parse(copy, size, &h3))
        __builtin_trap(); /* rewriting must keep the packet well formed */

    /* RTX both ways (RFC 4588): read as an RTX packet from a publisher, and written as one. */
    memcpy(copy, data, size);
    gsize len = size;
    h3 = h;
    if (kumis_rtp_from_rtx(copy, &len, &h3, 96, 0x1234)) {
        struct kumis_rtp_header h4;
        if (len + 2 != size || !kumis_rtp_parse(copy, len, &h4) || h4.payload_len != h3.payload_len)
            __builtin_trap();
    }
    memcpy(copy, data, size);
    h3 = h;
    len = kumis_rtp_to_rtx(copy, size, sizeof copy, &h3, 97, 0x5678, 1);
    if (len != 0 && (len != size + 2 || !kumis_rtp_parse(copy, len, &h3)))
        __builtin_trap();
    return 0;
}

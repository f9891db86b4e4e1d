/* libFuzzer target: compound RTCP parsing (media/rtcp.c), every typed parser on every packet,
 * and the builders re-encoding what was parsed. */
#include <stddef.h>
#include <stdint.h>

#include "media/rtcp.h"

static void rebuild(const struct kumis_rtcp_sr *sr, const struct kumis_rtcp_rr *rr)
{
    guint8 out[1500];
    if (sr != NULL && kumis_rtcp_build_sr(out, sizeof(out), sr) < 0)
        __builtin_trap(); /* 31 report blocks always fit 1500 bytes */
    if (rr != NULL && kumis_rtcp_build_rr(out, sizeof(out), rr) < 0)
        __builtin_trap();
}

/* Whatever TWCC feedback parses must re-encode, and decode to the same statuses and times. */
static void twcc_rebuild(const struct kumis_rtcp_twcc *twcc, const struct kumis_twcc_status *st)
{
    static guint8 out[300000];
    static struct kumis_twcc_status again[65536];
    if (twcc->status_count == 0)
        return;
    gssize n = kumis_rtcp_build_twcc(out, sizeof(out), twcc->sender_ssrc, twcc->media_ssrc, st,
                                     twcc->status_count, twcc->fb_count);
    if (n < 0)
        __builtin_trap();
    struct kumis_rtcp_iter it;
    struct kumis_rtcp_packet p;
    struct kumis_rtcp_twcc hdr;
    kumis_rtcp_iter_init(&it, out, (gsize)n);
    if (kumis_rtcp_iter_next(&it, &p) != 1 || !kumis_rtcp_twcc_parse(&p, &hdr, again, 65536))
        __builtin_trap();
    if (hdr.status_count != twcc->status_count || hdr.base_seq != twcc->base_seq)
        __builtin_trap();
    for (guint k = 0; k < hdr.status_count; k++) {
        /* Equal modulo the 24-bit reference time's wrap (2^24 x 64 ms). */
        const gint64 wrap = (G_GINT64_CONSTANT(1) << 24) * 64000;
        if (again[k].received != st[k].received || (again[k].arrival_us - st[k].arrival_us) % wrap)
            __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct kumis_rtcp_iter it;
    struct kumis_rtcp_packet p;
    kumis_rtcp_iter_init(&it, data, size);
    static struct kumis_twcc_status status[65536];
    int r;
    while ((r = kumis_rtcp_iter_next(&it, &p)) == 1) {
        if (p.data < data || p.data + p.len > data + size || p.len < 4)
            __builtin_trap();
        struct kumis_rtcp_sr sr;
        struct kumis_rtcp_rr rr;
        struct kumis_rtcp_sdes sdes;
        struct kumis_rtcp_bye bye;
        struct kumis_rtcp_fb fb;
        struct kumis_rtcp_remb remb;
        struct kumis_rtcp_twcc twcc;
        struct kumis_rtcp_fir_entry fir[8];
        guint16 seqs[64];
        guint32 a, b;
        if (kumis_rtcp_sr_parse(&p, &sr))
            rebuild(&sr, NULL);
        if (kumis_rtcp_rr_parse(&p, &rr))
            rebuild(NULL, &rr);
        (void)kumis_rtcp_sdes_parse(&p, &sdes);
        (void)kumis_rtcp_bye_parse(&p, &bye);
        (void)kumis_rtcp_fb_parse(&p, &fb);
        (void)kumis_rtcp_nack_parse(&p, &a, seqs, G_N_ELEMENTS(seqs));
        (void)kumis_rtcp_pli_parse(&p, &a, &b);
        (void)kumis_rtcp_fir_parse(&p, &a, fir, G_N_ELEMENTS(fir));
        if (kumis_rtcp_remb_parse(&p, &remb)) {
            guint8 out[1500];
            (void)kumis_rtcp_build_remb(out, sizeof(out), remb.sender_ssrc, remb.bitrate_bps,
                                        remb.ssrcs, remb.n_ssrcs);
        }
        if (kumis_rtcp_twcc_parse(&p, &twcc, status, G_N_ELEMENTS(status)))
            twcc_rebuild(&twcc, status);
        (void)kumis_rtcp_twcc_parse(&p, &twcc, status, 3);
    }
    if (r != 0 && r != -1)
        __builtin_trap();
    if (kumis_rtcp_iter_next(&it, &p) != 0)
        __builtin_trap(); /* the iterator stops for good */
    return 0;
}

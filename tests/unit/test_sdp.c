/* Unit tests for media/sdp.c: real Chromium SDPs (tests/unit/sdp/, captured by capture.mjs),
 * kumis's answers and offers round-tripped through its own parser, and every refusal.
 *
 * With KUMIS_SDP_DUMP_DIR set, the down offers of test_down_chromium are written there as
 * down-offer-N.sdp so capture.mjs can feed them to Chromium again. */
#include <glib.h>
#include <string.h>

#include "media/sdp.h"
#include "server/config.h"
#include "signaling/protocol.h"

#define SDP_DIR KUMIS_SOURCE_DIR "/tests/unit/sdp/"

#define FP_SHA256                                                                                  \
    "4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB:3D:7A:1B:2C:3D:4E:5F:60:71:82:"   \
    "93:A4"

static char *load(const char *name)
{
    g_autofree char *path = g_strconcat(SDP_DIR, name, NULL);
    char *text = NULL;
    g_autoptr(GError) error = NULL;
    g_file_get_contents(path, &text, NULL, &error);
    g_assert_no_error(error);
    return text;
}

static struct sdp_session *parse_ok(const char *text)
{
    g_autoptr(GError) error = NULL;
    struct sdp_session *s = sdp_session_parse(text, strlen(text), &error);
    g_assert_no_error(error);
    g_assert_nonnull(s);
    return s;
}

static struct sdp_session *parse_file(const char *name)
{
    g_autofree char *text = load(name);
    return parse_ok(text);
}

/* Parses @text, expects failure with @code and a message containing @needle. */
static void parse_fails(const char *text, gsize len, int code, const char *needle)
{
    g_autoptr(GError) error = NULL;
    struct sdp_session *s = sdp_session_parse(text, len, &error);
    g_assert_null(s);
    g_assert_error(error, SDP_ERROR, code);
    if (strstr(error->message, needle) == NULL)
        g_error("\"%s\" does not contain \"%s\"", error->message, needle);
}

static char *replace(const char *text, const char *pattern, const char *with)
{
    g_autoptr(GRegex) re = g_regex_new(pattern, G_REGEX_MULTILINE, 0, NULL);
    g_assert_nonnull(re);
    return g_regex_replace(re, text, -1, 0, with, 0, NULL);
}

static struct sdp_media *media(const struct sdp_session *s, guint i)
{
    g_assert_cmpuint(i, <, s->media->len);
    return g_ptr_array_index(s->media, i);
}

static struct sdp_codec *codec(const struct sdp_media *m, guint i)
{
    g_assert_cmpuint(i, <, m->codecs->len);
    return g_ptr_array_index(m->codecs, i);
}

static const struct sdp_codec *codec_by_pt(const struct sdp_media *m, guint pt)
{
    for (guint i = 0; i < m->codecs->len; i++)
        if (codec(m, i)->pt == pt)
            return codec(m, i);
    return NULL;
}

static gboolean has_fb(const struct sdp_codec *c, const char *fb)
{
    for (guint i = 0; i < c->rtcp_fb->len; i++)
        if (strcmp(g_ptr_array_index(c->rtcp_fb, i), fb) == 0)
            return TRUE;
    return FALSE;
}

static guint extmap_id(const struct sdp_media *m, const char *uri_part)
{
    for (guint i = 0; i < m->extmaps->len; i++) {
        const struct sdp_extmap *e = g_ptr_array_index(m->extmaps, i);
        if (strstr(e->uri, uri_part))
            return e->id;
    }
    return 0;
}

static const char *rid_id(const struct sdp_media *m, guint i)
{
    g_assert_cmpuint(i, <, m->rids->len);
    return ((struct sdp_rid *)g_ptr_array_index(m->rids, i))->id;
}

static GPtrArray *local_candidates(void)
{
    GPtrArray *c = g_ptr_array_new_with_free_func((GDestroyNotify)sdp_candidate_free);
    g_ptr_array_add(
        c, sdp_candidate_parse("candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host", NULL));
    return c;
}

static struct sdp_local local_params(const GPtrArray *candidates)
{
    struct sdp_local l = {
        .ice_ufrag = "kUm1",
        .ice_pwd = "kumispasswordkumispassword",
        .fingerprint_alg = "sha-256",
        .fingerprint = FP_SHA256,
        .session_id = 4242,
        .candidates = candidates,
        .end_of_candidates = candidates != NULL,
    };
    return l;
}

/* ---- parsing real Chromium offers ---------------------------------------------------------- */

static void assert_chromium_transport(const struct sdp_session *s)
{
    g_assert_cmpuint(strlen(s->ice_ufrag), >=, 4);
    g_assert_cmpuint(strlen(s->ice_pwd), >=, 22);
    g_assert_cmpstr(s->fingerprint_alg, ==, "sha-256");
    g_assert_cmpuint(strlen(s->fingerprint), ==, 95);
    g_assert_cmpint(s->setup, ==, SDP_SETUP_ACTPASS);
    g_assert_true(s->ice_trickle);
    g_assert_cmpuint(s->bundle_mids->len, ==, s->media->len);
    for (guint i = 0; i < s->media->len; i++) {
        const struct sdp_media *m = media(s, i);
        g_assert_cmpstr(m->ice_ufrag, ==, s->ice_ufrag);
        g_assert_cmpstr(m->fingerprint, ==, s->fingerprint);
        g_assert_true(m->rtcp_mux);
        g_assert_cmpint(m->direction, ==, SDP_DIR_SENDONLY);
        g_assert_cmpstr(m->proto, ==, "UDP/TLS/RTP/SAVPF");
    }
}

static void test_parse_camera_mic(void)
{
    struct sdp_session *s = parse_file("chromium-offer-camera-mic.sdp");
    assert_chromium_transport(s);
    g_assert_cmpuint(s->media->len, ==, 2);
    const struct sdp_media *a = media(s, 0), *v = media(s, 1);
    g_assert_cmpint(a->kind, ==, SDP_KIND_AUDIO);
    g_assert_cmpstr(a->mid, ==, "0");
    g_assert_cmpstr(v->mid, ==, "1");
    g_assert_cmpstr(a->msid_stream, ==, v->msid_stream); /* one getUserMedia stream */
    g_assert_cmpstr(a->msid_track, !=, v->msid_track);
    const struct sdp_codec *opus = codec(a, 0);
    g_assert_cmpstr(opus->name, ==, "opus");
    g_assert_cmpuint(opus->clock_rate, ==, 48000);
    g_assert_cmpuint(opus->channels, ==, 2);
    g_assert_cmpstr(opus->fmtp, ==, "minptime=10;useinbandfec=1");
    g_assert_true(has_fb(opus, "transport-cc"));
    g_assert_cmpstr(codec_by_pt(a, 0)->name, ==, "PCMU");
    g_assert_cmpuint(extmap_id(a, "ssrc-audio-level"), ==, 1);
    g_assert_cmpuint(a->ssrcs->len, ==, 1);
    g_assert_nonnull(((struct sdp_ssrc *)g_ptr_array_index(a->ssrcs, 0))->cname);
    /* Candidates came with the audio m-line (the BUNDLE tag). */
    g_assert_cmpuint(a->candidates->len, >=, 1);
    const struct sdp_candidate *c = g_ptr_array_index(a->candidates, 0);
    g_assert_cmpstr(c->address, ==, "127.0.0.1");
    g_assert_cmpstr(c->type, ==, "host");
    g_assert_cmpuint(c->component, ==, 1);
    g_assert_cmpuint(c->port, ==, a->port);

    g_assert_cmpint(v->kind, ==, SDP_KIND_VIDEO);
    g_assert_cmpuint(v->codecs->len, >=, 10);
    const struct sdp_codec *vp8 = codec(v, 0);
    g_assert_cmpstr(vp8->name, ==, "VP8");
    g_assert_cmpuint(vp8->clock_rate, ==, 90000);
    g_assert_cmpint(vp8->rtx_pt, >=, 0);
    const struct sdp_codec *rtx = codec_by_pt(v, (guint)vp8->rtx_pt);
    g_assert_cmpstr(rtx->name, ==, "rtx");
    g_assert_cmpint(rtx->apt, ==, vp8->pt);
    g_assert_true(has_fb(vp8, "nack pli"));
    g_assert_true(has_fb(vp8, "ccm fir"));
    g_assert_cmpuint(extmap_id(v, "sdes:mid"), ==, extmap_id(a, "sdes:mid"));
    g_assert_cmpuint(extmap_id(v, "sdes:rtp-stream-id"), !=, 0);
    /* Without simulcast Chromium announces primary + rtx SSRCs bound by FID. */
    g_assert_cmpuint(v->ssrc_groups->len, ==, 1);
    const struct sdp_ssrc_group *g = g_ptr_array_index(v->ssrc_groups, 0);
    g_assert_cmpstr(g->semantics, ==, "FID");
    g_assert_cmpuint(g->ssrcs->len, ==, 2);
    g_assert_cmpuint(v->rids->len, ==, 0);
    sdp_session_free(s);
}

static void test_parse_simulcast(void)
{
    struct sdp_session *s = parse_file("chromium-offer-simulcast.sdp");
    assert_chromium_transport(s);
    const struct sdp_media *v = media(s, 1);
    g_assert_true(v->simulcast);
    g_assert_true(v->simulcast_send);
    g_assert_cmpuint(v->rids->len, ==, 3);
    g_assert_cmpstr(rid_id(v, 0), ==, "q");
    g_assert_cmpstr(rid_id(v, 1), ==, "h");
    g_assert_cmpstr(rid_id(v, 2), ==, "f");
    for (guint i = 0; i < 3; i++)
        g_assert_true(((struct sdp_rid *)g_ptr_array_index(v->rids, i))->send);
    sdp_session_free(s);
}

static void test_parse_screen(void)
{
    struct sdp_session *s = parse_file("chromium-offer-screen.sdp");
    assert_chromium_transport(s);
    g_assert_cmpuint(s->media->len, ==, 3);
    const struct sdp_media *cam = media(s, 1), *screen = media(s, 2);
    g_assert_cmpint(screen->kind, ==, SDP_KIND_VIDEO);
    g_assert_cmpstr(screen->mid, ==, "2");
    g_assert_cmpstr(media(s, 0)->msid_stream, ==, cam->msid_stream);
    g_assert_cmpstr(screen->msid_stream, !=, cam->msid_stream); /* its own stream */
    sdp_session_free(s);
}

/* webrtcbin (max-bundle): fingerprint at media level, the second m-line port 0 + bundle-only. */
static void test_parse_webrtcbin(void)
{
    struct sdp_session *s = parse_file("webrtcbin-offer.sdp");
    g_assert_cmpuint(s->media->len, ==, 2);
    g_assert_true(s->ice_trickle);
    g_assert_cmpint(s->setup, ==, SDP_SETUP_ACTPASS);
    g_assert_cmpstr(s->fingerprint_alg, ==, "sha-256");
    const struct sdp_media *v = media(s, 0), *a = media(s, 1);
    g_assert_cmpstr(v->mid, ==, "video0");
    g_assert_cmpstr(a->mid, ==, "audio1");
    g_assert_cmpuint(a->port, ==, 0);
    g_assert_true(a->bundle_only);
    g_assert_false(a->rejected); /* RFC 8843 §6 */
    g_assert_cmpstr(codec(a, 0)->name, ==, "OPUS");
    g_assert_cmpuint(v->ssrcs->len, ==, 1);
    sdp_session_free(s);
}

/* kumis's answers that Chromium accepted (capture.mjs "up"). */
static void test_parse_kumis_answers(void)
{
    const char *names[] = {"kumis-answer-up-camera-mic.sdp", "kumis-answer-up-simulcast.sdp",
                           "kumis-answer-up-screen.sdp"};
    for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
        struct sdp_session *s = parse_file(names[i]);
        g_assert_cmpint(s->setup, ==, SDP_SETUP_PASSIVE);
        for (guint j = 0; j < s->media->len; j++)
            g_assert_cmpint(media(s, j)->direction, ==, SDP_DIR_RECVONLY);
        g_assert_cmpuint(media(s, 0)->candidates->len, ==, 1);
        sdp_session_free(s);
    }
}

/* ---- answers to up offers ------------------------------------------------------------------ */

static struct sdp_session *answer_file(const char *name, const char *const *prefs,
                                       const GPtrArray *cands, struct sdp_session **reparsed)
{
    struct sdp_session *offer = parse_file(name);
    struct sdp_local local = local_params(cands);
    g_autoptr(GError) error = NULL;
    struct sdp_session *answer = sdp_up_answer_new(offer, &local, prefs, &error);
    g_assert_no_error(error);
    g_autofree char *text = sdp_session_write(answer);
    *reparsed = parse_ok(text); /* our own answer passes our own checks */
    sdp_session_free(offer);
    return answer;
}

static void test_up_answer(void)
{
    struct sdp_session *back;
    struct sdp_session *ans = answer_file("chromium-offer-camera-mic.sdp", NULL, NULL, &back);
    g_assert_cmpint(ans->setup, ==, SDP_SETUP_PASSIVE);
    g_assert_cmpint(back->setup, ==, SDP_SETUP_PASSIVE);
    g_assert_cmpstr(back->ice_ufrag, ==, "kUm1");
    g_assert_cmpstr(back->fingerprint, ==, FP_SHA256);
    g_assert_true(back->ice_trickle);
    g_assert_cmpuint(back->bundle_mids->len, ==, 2);
    const struct sdp_media *a = media(back, 0), *v = media(back, 1);
    g_assert_cmpint(a->direction, ==, SDP_DIR_RECVONLY);
    g_assert_cmpint(v->direction, ==, SDP_DIR_RECVONLY);
    g_assert_cmpstr(a->mid, ==, "0");
    g_assert_cmpuint(a->codecs->len, ==, 1);
    g_assert_cmpstr(codec(a, 0)->name, ==, "opus");
    g_assert_cmpuint(codec(a, 0)->pt, ==, 111); /* the offerer's payload type */
    g_assert_cmpstr(codec(a, 0)->fmtp, ==, "minptime=10;useinbandfec=1;usedtx=1"); /* DTX */
    g_assert_cmpuint(v->codecs->len, ==, 2); /* VP8 and its rtx */
    g_assert_cmpstr(codec(v, 0)->name, ==, "VP8");
    g_assert_cmpint(codec(v, 0)->rtx_pt, ==, codec(v, 1)->pt);
    g_assert_cmpint(codec(v, 1)->apt, ==, codec(v, 0)->pt);
    g_assert_cmpuint(codec(v, 0)->rtcp_fb->len, ==, 5);
    /* Supported extensions keep the offerer's ids; the rest are gone (RFC 8285 §6). */
    g_assert_cmpuint(extmap_id(a, "ssrc-audio-level"), ==, 1);
    g_assert_cmpuint(extmap_id(v, "abs-send-time"), ==, 2);
    g_assert_cmpuint(extmap_id(v, "transport-wide-cc"), ==, 3);
    g_assert_cmpuint(extmap_id(v, "sdes:mid"), ==, 4);
    g_assert_cmpuint(extmap_id(v, "toffset"), ==, 0);
    g_assert_cmpuint(extmap_id(v, "playout-delay"), ==, 0);
    g_assert_cmpuint(a->candidates->len, ==, 0); /* trickle: none yet */
    g_assert_true(sdp_session_find_mid(back, "1") == v);
    g_assert_null(sdp_session_find_mid(back, "7"));
    g_assert_cmpuint(sdp_media_extmap_id(v, SDP_EXT_TWCC), ==, 3);
    g_assert_cmpuint(sdp_media_extmap_id(v, SDP_EXT_RID), ==, 10);
    g_assert_cmpuint(sdp_media_extmap_id(a, SDP_EXT_RID), ==, 0);
    sdp_session_free(back);
    sdp_session_free(ans);

    /* H.264 preferred: constrained baseline 42e01f with packetization-mode=1, and its rtx. */
    const char *const h264[] = {"H264", "VP8", NULL};
    ans = answer_file("chromium-offer-camera-mic.sdp", h264, NULL, &back);
    v = media(back, 1);
    g_assert_cmpstr(codec(v, 0)->name, ==, "H264");
    g_assert_nonnull(strstr(codec(v, 0)->fmtp, "profile-level-id=42e01f"));
    g_assert_nonnull(strstr(codec(v, 0)->fmtp, "packetization-mode=1"));
    g_assert_cmpstr(codec(v, 1)->name, ==, "rtx");
    sdp_session_free(back);
    sdp_session_free(ans);

    const char *const vp9[] = {"VP9", NULL};
    ans = answer_file("chromium-offer-camera-mic.sdp", vp9, NULL, &back);
    g_assert_cmpstr(codec(media(back, 1), 0)->name, ==, "VP9");
    g_assert_cmpstr(codec(media(back, 1), 0)->fmtp, ==, "profile-id=0");
    sdp_session_free(back);
    sdp_session_free(ans);
}

static void test_up_answer_simulcast(void)
{
    GPtrArray *cands = local_candidates();
    struct sdp_session *back;
    struct sdp_session *ans = answer_file("chromium-offer-simulcast.sdp", NULL, cands, &back);
    g_autofree char *text = sdp_session_write(ans);
    g_assert_nonnull(strstr(text, "a=simulcast:recv q;h;f\r\n"));
    g_assert_nonnull(strstr(text, "a=rid:q recv\r\n"));
    g_assert_nonnull(strstr(text, "a=setup:passive\r\n"));
    g_assert_nonnull(strstr(text, "a=ice-options:trickle\r\n"));
    const struct sdp_media *v = media(back, 1);
    g_assert_true(v->simulcast);
    g_assert_false(v->simulcast_send);
    g_assert_cmpuint(v->rids->len, ==, 3);
    g_assert_cmpstr(rid_id(v, 2), ==, "f");
    g_assert_cmpuint(extmap_id(v, "sdes:rtp-stream-id"), !=, 0);
    /* Our candidate and end-of-candidates went on the BUNDLE tag m-line only. */
    g_assert_cmpuint(media(back, 0)->candidates->len, ==, 1);
    g_assert_true(media(back, 0)->end_of_candidates);
    g_assert_cmpuint(v->candidates->len, ==, 0);
    const struct sdp_candidate *c = g_ptr_array_index(media(back, 0)->candidates, 0);
    g_assert_cmpuint(c->port, ==, 40000);
    sdp_session_free(back);
    sdp_session_free(ans);
    g_ptr_array_unref(cands);
}

static void test_up_answer_webrtcbin(void)
{
    struct sdp_session *back;
    struct sdp_session *ans = answer_file("webrtcbin-offer.sdp", NULL, NULL, &back);
    g_assert_cmpuint(back->media->len, ==, 2);
    g_assert_cmpuint(back->bundle_mids->len, ==, 2);
    g_assert_cmpstr(codec(media(back, 0), 0)->name, ==, "VP8");
    g_assert_cmpuint(media(back, 0)->codecs->len, ==, 1); /* no rtx offered */
    g_assert_cmpstr(codec(media(back, 1), 0)->name, ==, "OPUS");
    g_assert_cmpuint(media(back, 1)->port, ==, 9);
    sdp_session_free(back);
    sdp_session_free(ans);
}

static void test_up_answer_screen(void)
{
    struct sdp_session *back;
    struct sdp_session *ans = answer_file("chromium-offer-screen.sdp", NULL, NULL, &back);
    g_assert_cmpuint(back->media->len, ==, 3);
    g_assert_false(media(back, 2)->rejected);
    g_assert_cmpstr(media(back, 2)->mid, ==, "2");
    sdp_session_free(back);
    sdp_session_free(ans);
}

/* For capture.mjs "up": answers the offer in $KUMIS_SDP_UP_OFFER into $KUMIS_SDP_UP_ANSWER, so
 * Chromium can take kumis's answer to its own live offer. Skipped without those variables. */
static void test_up_external(void)
{
    const char *in = g_getenv("KUMIS_SDP_UP_OFFER"), *out = g_getenv("KUMIS_SDP_UP_ANSWER");
    if (in == NULL || out == NULL) {
        g_test_skip("KUMIS_SDP_UP_OFFER and KUMIS_SDP_UP_ANSWER not set");
        return;
    }
    g_autofree char *text = NULL;
    g_assert_true(g_file_get_contents(in, &text, NULL, NULL));
    struct sdp_session *offer = parse_ok(text);
    GPtrArray *cands = local_candidates();
    struct sdp_local local = local_params(cands);
    g_autoptr(GError) error = NULL;
    struct sdp_session *answer = sdp_up_answer_new(offer, &local, NULL, &error);
    g_assert_no_error(error);
    g_autofree char *answer_text = sdp_session_write(answer);
    g_assert_true(g_file_set_contents(out, answer_text, -1, NULL));
    sdp_session_free(answer);
    sdp_session_free(offer);
    g_ptr_array_unref(cands);
}

static void up_answer_fails(const char *offer_text, int code, const char *needle)
{
    struct sdp_session *offer = parse_ok(offer_text);
    struct sdp_local local = local_params(NULL);
    g_autoptr(GError) error = NULL;
    struct sdp_session *ans = sdp_up_answer_new(offer, &local, NULL, &error);
    g_assert_null(ans);
    g_assert_error(error, SDP_ERROR, code);
    if (strstr(error->message, needle) == NULL)
        g_error("\"%s\" does not contain \"%s\"", error->message, needle);
    sdp_session_free(offer);
}

/* The answer asks for Opus DTX whatever the offer's fmtp said of its own reception. */
static void test_up_answer_dtx(void)
{
    g_autofree char *cam = load("chromium-offer-camera-mic.sdp");
    g_autofree char *text = replace(cam, "a=fmtp:111 minptime=10;useinbandfec=1",
                                    "a=fmtp:111 usedtx=0; stereo=1;USEDTX=0");
    struct sdp_session *offer = parse_ok(text);
    struct sdp_local local = local_params(NULL);
    g_autoptr(GError) error = NULL;
    struct sdp_session *answer = sdp_up_answer_new(offer, &local, NULL, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(codec(media(answer, 0), 0)->fmtp, ==, "stereo=1;usedtx=1");
    sdp_session_free(answer);
    sdp_session_free(offer);
}

static void test_up_answer_refusals(void)
{
    g_autofree char *cam = load("chromium-offer-camera-mic.sdp");
    /* Only H.264 packetization-mode=0 left: nothing kumis can forward. */
    g_autofree char *v1 =
        replace(cam, "^m=video 9 UDP/TLS/RTP/SAVPF .*$", "m=video 9 UDP/TLS/RTP/SAVPF 104 107\r");
    up_answer_fails(v1, SDP_ERROR_UNSUPPORTED, "m-line 1 (video): no codec kumis supports");
    g_autofree char *passive = replace(cam, "a=setup:actpass", "a=setup:passive");
    up_answer_fails(passive, SDP_ERROR_UNSUPPORTED, "DTLS server");
    g_autofree char *avp = replace(cam, "UDP/TLS/RTP/SAVPF", "RTP/AVP");
    up_answer_fails(avp, SDP_ERROR_UNSUPPORTED, "m-line 0 (audio): protocol RTP/AVP");
    g_autofree char *recv = replace(cam, "a=sendonly", "a=recvonly");
    up_answer_fails(recv, SDP_ERROR_UNSUPPORTED, "no audio or video kumis can receive");
    /* AV1 only (45/46 and its rtx): kumis does not forward AV1, so it says so. */
    g_autofree char *av1 =
        replace(cam, "^m=video 9 UDP/TLS/RTP/SAVPF .*$", "m=video 9 UDP/TLS/RTP/SAVPF 45 46\r");
    up_answer_fails(av1, SDP_ERROR_UNSUPPORTED, "m-line 1 (video): no codec kumis supports");
}

/* A publisher offering VP9 only (98/99 profile 0 and its rtx) gets VP9 with the default
 * preferences; with VP8 offered too, VP8 (every subscriber decodes it). */
static void test_up_answer_vp9_only(void)
{
    g_autofree char *cam = load("chromium-offer-camera-mic.sdp");
    g_autofree char *vp9 =
        replace(cam, "^m=video 9 UDP/TLS/RTP/SAVPF .*$", "m=video 9 UDP/TLS/RTP/SAVPF 98 99\r");
    const char *offers[] = {vp9, cam};
    const char *expect[] = {"VP9", "VP8"};
    for (guint i = 0; i < G_N_ELEMENTS(offers); i++) {
        struct sdp_session *offer = parse_ok(offers[i]);
        struct sdp_local local = local_params(NULL);
        g_autoptr(GError) error = NULL;
        struct sdp_session *ans = sdp_up_answer_new(offer, &local, NULL, &error);
        g_assert_no_error(error);
        g_autofree char *text = sdp_session_write(ans);
        struct sdp_session *back = parse_ok(text);
        g_assert_cmpstr(codec(media(back, 1), 0)->name, ==, expect[i]);
        sdp_session_free(back);
        sdp_session_free(ans);
        sdp_session_free(offer);
    }
}

/* Camera off (a re-offer with the m-lines inactive): answered inactive with a codec, not
 * rejected, and still bundled, so the browser keeps the transceivers and the transport; an
 * offer with every m-line inactive is answered too (the speaker turned everything off). */
static void test_up_answer_inactive(void)
{
    g_autofree char *cam = load("chromium-offer-camera-mic.sdp");
    g_autofree char *off = replace(cam, "a=sendonly", "a=inactive");
    struct sdp_session *offer = parse_ok(off);
    struct sdp_local local = local_params(NULL);
    g_autoptr(GError) error = NULL;
    struct sdp_session *ans = sdp_up_answer_new(offer, &local, NULL, &error);
    g_assert_no_error(error);
    g_assert_nonnull(ans);
    g_assert_cmpuint(ans->media->len, ==, 2);
    for (guint i = 0; i < ans->media->len; i++) {
        struct sdp_media *a = g_ptr_array_index(ans->media, i);
        g_assert_false(a->rejected);
        g_assert_cmpint(a->direction, ==, SDP_DIR_INACTIVE);
        g_assert_cmpuint(a->codecs->len, >, 0);
    }
    g_autofree char *text = sdp_session_write(ans);
    g_assert_nonnull(strstr(text, "a=group:BUNDLE 0 1\r\n"));
    g_assert_null(strstr(text, "m=audio 0 "));
    g_assert_null(strstr(text, "m=video 0 "));
    sdp_session_free(ans);
    sdp_session_free(offer);

    /* One track on, one off. */
    const char *video_line = strstr(cam, "m=video");
    g_assert_nonnull(video_line);
    g_autofree char *head = g_strndup(cam, (gsize)(video_line - cam));
    g_autofree char *head_off = replace(head, "a=sendonly", "a=inactive");
    g_autofree char *half = g_strconcat(head_off, video_line, NULL);
    offer = parse_ok(half);
    ans = sdp_up_answer_new(offer, &local, NULL, &error);
    g_assert_no_error(error);
    struct sdp_media *audio = g_ptr_array_index(ans->media, 0);
    struct sdp_media *video = g_ptr_array_index(ans->media, 1);
    g_assert_cmpint(audio->direction, ==, SDP_DIR_INACTIVE);
    g_assert_cmpint(video->direction, ==, SDP_DIR_RECVONLY);
    g_assert_false(audio->rejected || video->rejected);
    sdp_session_free(ans);
    sdp_session_free(offer);
}

/* ---- parse errors -------------------------------------------------------------------------- */

static void test_parse_errors(void)
{
    g_autofree char *cam = load("chromium-offer-camera-mic.sdp");
    g_autofree char *no_fp = replace(cam, "^a=fingerprint:.*\r\n", "");
    parse_fails(no_fp, strlen(no_fp), SDP_ERROR_MISSING, "m-line 0 (audio): missing a=fingerprint");
    g_autofree char *no_bundle = replace(cam, "^a=group:BUNDLE.*\r\n", "");
    parse_fails(no_bundle, strlen(no_bundle), SDP_ERROR_MISSING, "BUNDLE required");
    g_autofree char *half_bundle = replace(cam, "^a=group:BUNDLE 0 1", "a=group:BUNDLE 0");
    parse_fails(half_bundle, strlen(half_bundle), SDP_ERROR_MISSING,
                "m-line 1 (video): BUNDLE required");
    g_autofree char *no_mux = replace(cam, "^a=rtcp-mux\r\n", "");
    parse_fails(no_mux, strlen(no_mux), SDP_ERROR_MISSING, "rtcp-mux");
    g_autofree char *no_ice = replace(cam, "^a=ice-pwd:.*\r\n", "");
    parse_fails(no_ice, strlen(no_ice), SDP_ERROR_MISSING, "a=ice-pwd");
    g_autofree char *bad_fp = replace(cam, "sha-256 CA:", "sha-256 ZZ:");
    parse_fails(bad_fp, strlen(bad_fp), SDP_ERROR_SYNTAX, "malformed a=fingerprint");
    g_autofree char *all_zero = replace(cam, "^m=(audio|video) [0-9]+ ", "m=\\1 0 ");
    parse_fails(all_zero, strlen(all_zero), SDP_ERROR_UNSUPPORTED, "every m-line is rejected");
    g_autofree char *same_mid = replace(cam, "^a=mid:1", "a=mid:0");
    parse_fails(same_mid, strlen(same_mid), SDP_ERROR_SYNTAX, "repeated");
    g_autofree char *sim = load("chromium-offer-simulcast.sdp");
    g_autofree char *bad_sim = replace(sim, "send q;h;f", "send q;h;x");
    parse_fails(bad_sim, strlen(bad_sim), SDP_ERROR_SYNTAX, "a=simulcast");
    g_autofree char *bad_ext = replace(cam, "^a=extmap:14 ", "a=extmap:2 ");
    parse_fails(bad_ext, strlen(bad_ext), SDP_ERROR_SYNTAX, "a=extmap");
    g_autofree char *bad_pt = replace(cam, " 111 63 9 ", " 111 163 9 ");
    parse_fails(bad_pt, strlen(bad_pt), SDP_ERROR_SYNTAX, "payload type");

    parse_fails("hello", 5, SDP_ERROR_SYNTAX, "not SDP");
    parse_fails("", 0, SDP_ERROR_SYNTAX, "empty");
    parse_fails("v=0\r\n\0m=audio", 13, SDP_ERROR_SYNTAX, "NUL");
    parse_fails("v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n", 37, SDP_ERROR_MISSING,
                "no m-line");

    /* 64 KiB + 1 */
    g_autofree char *big = g_strnfill(SDP_MAX_BYTES + 1, 'a');
    parse_fails(big, SDP_MAX_BYTES + 1, SDP_ERROR_TOO_LARGE, "over the limit of 65536");

    /* 65 m-lines */
    GString *many = g_string_new("v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n");
    for (int i = 0; i < SDP_MAX_MEDIA + 1; i++)
        g_string_append(many, "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n");
    parse_fails(many->str, many->len, SDP_ERROR_TOO_LARGE, "65 m-lines, over the limit of 64");
    g_string_free(many, TRUE);

    /* 65 payload types on one m-line */
    GString *pts = g_string_new("");
    for (int i = 0; i < 65; i++)
        g_string_append_printf(pts, " %d", 30 + i);
    g_autofree char *with = g_strdup_printf("m=video 9 UDP/TLS/RTP/SAVPF%s\r", pts->str);
    g_autofree char *many_pts = replace(cam, "^m=video 9 UDP/TLS/RTP/SAVPF .*$", with);
    parse_fails(many_pts, strlen(many_pts), SDP_ERROR_TOO_LARGE,
                "m-line 1 (video): 65 payload types, over the limit of 64");
    g_string_free(pts, TRUE);
}

/* ---- candidates ---------------------------------------------------------------------------- */

static void test_candidates(void)
{
    g_autoptr(GError) error = NULL;
    struct sdp_candidate *c = sdp_candidate_parse(
        "a=candidate:842163049 1 udp 1677729535 203.0.113.7 46154 typ srflx raddr 10.0.0.2 "
        "rport 51000 generation 0 network-cost 999\r\n",
        &error);
    g_assert_no_error(error);
    g_assert_cmpstr(c->foundation, ==, "842163049");
    g_assert_cmpuint(c->component, ==, 1);
    g_assert_cmpstr(c->transport, ==, "udp");
    g_assert_cmpuint(c->priority, ==, 1677729535);
    g_assert_cmpstr(c->address, ==, "203.0.113.7");
    g_assert_cmpuint(c->port, ==, 46154);
    g_assert_cmpstr(c->type, ==, "srflx");
    g_assert_cmpstr(c->raddr, ==, "10.0.0.2");
    g_assert_cmpint(c->rport, ==, 51000);
    g_assert_nonnull(strstr(c->raw, "network-cost 999"));
    g_autofree char *text = sdp_candidate_format(c);
    g_assert_cmpstr(text, ==,
                    "candidate:842163049 1 udp 1677729535 203.0.113.7 46154 typ srflx raddr "
                    "10.0.0.2 rport 51000");
    struct sdp_candidate *again = sdp_candidate_parse(text, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(again->priority, ==, c->priority);
    g_assert_cmpstr(again->raddr, ==, c->raddr);
    sdp_candidate_free(again);
    sdp_candidate_free(c);

    c = sdp_candidate_parse("candidate:1 1 TCP 1518280447 ::1 9 typ host tcptype active", &error);
    g_assert_no_error(error);
    g_assert_cmpstr(c->transport, ==, "tcp");
    g_assert_cmpstr(c->tcptype, ==, "active");
    g_assert_cmpstr(c->address, ==, "::1");
    g_assert_cmpint(c->rport, ==, -1);
    sdp_candidate_free(c);

    const char *bad[] = {
        "candidate:1 1 udp 100 1.2.3.4 5000 typ",                 /* too short */
        "candidate:1 1 udp 100 1.2.3.4 5000 typx host",           /* no typ */
        "candidate:1 1 udp 100 1.2.3.4 5000 typ bogus",           /* type */
        "candidate:1 1 sctp 100 1.2.3.4 5000 typ host",           /* transport */
        "candidate:1 1 udp 100 1.2.3.4 70000 typ host",           /* port */
        "candidate:1 0 udp 100 1.2.3.4 5000 typ host",            /* component */
        "candidate:1 1 udp 4294967296 1.2.3.4 5000 typ host",     /* priority */
        "candidate:1 1 udp -5 1.2.3.4 5000 typ host",             /* priority */
        "candidate:1 1 udp 100 1.2.3.4 5000 typ host generation", /* odd extension */
        "candidate:1 1 udp 100 1.2.3.4 5000 typ host tcptype x",
        "candidate:1 1 udp 100 1.2.3.4 5000 typ host rport 1 rport 2",
        "candidate:f\001 1 udp 100 1.2.3.4 5000 typ host",
        "",
    };
    for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) e = NULL;
        g_assert_null(sdp_candidate_parse(bad[i], &e));
        g_assert_error(e, SDP_ERROR, SDP_ERROR_SYNTAX);
        g_assert_nonnull(strstr(e->message, "malformed candidate"));
    }
    g_autofree char *longc = g_strnfill(1100, '1');
    g_autoptr(GError) e = NULL;
    g_assert_null(sdp_candidate_parse(longc, &e));
}

/* ---- down offers ----------------------------------------------------------------------------- */

static struct sdp_out_track *track(enum sdp_kind kind, const char *stream, const char *id,
                                   guint32 ssrc)
{
    struct sdp_out_track *t =
        sdp_out_track_new(kind, stream, id, "kumis", ssrc, kind == SDP_KIND_VIDEO ? ssrc + 1 : 0);
    sdp_out_track_add_default_codecs(t, "H264");
    return t;
}

static const char *add(struct sdp_mline_table *table, struct sdp_out_track *t)
{
    g_autoptr(GError) error = NULL;
    const char *mid = sdp_mline_table_add(table, t, &error);
    g_assert_no_error(error);
    return mid;
}

/* Offer -> text -> our parser, which also proves it is valid WebRTC SDP for us. */
static struct sdp_session *offer_roundtrip(struct sdp_mline_table *table, const GPtrArray *cands,
                                           char **text_out)
{
    struct sdp_local local = local_params(cands);
    struct sdp_session *offer = sdp_down_offer_new(table, &local);
    char *text = sdp_session_write(offer);
    struct sdp_session *back = parse_ok(text);
    sdp_session_free(offer);
    if (text_out)
        *text_out = text;
    else
        g_free(text);
    return back;
}

/* The scenario Chromium answered in capture.mjs:
 * 1: speaker A audio + video (mids 0, 1);
 * 2: A's video leaves (mid 1 inactive), B's audio arrives (appended, mid 2);
 * 3: B's video arrives and reuses mid 1. */
static void down_scenario(char *texts[3], struct sdp_session *offers[3])
{
    struct sdp_mline_table *table = sdp_mline_table_new();
    g_assert_cmpstr(add(table, track(SDP_KIND_AUDIO, "speakerA", "a-audio", 1001)), ==, "0");
    g_assert_cmpstr(add(table, track(SDP_KIND_VIDEO, "speakerA", "a-video", 1002)), ==, "1");
    offers[0] = offer_roundtrip(table, NULL, &texts[0]);
    g_assert_true(sdp_mline_table_remove(table, "1"));
    g_assert_false(sdp_mline_table_remove(table, "1"));
    g_assert_cmpstr(add(table, track(SDP_KIND_AUDIO, "speakerB", "b-audio", 2001)), ==, "2");
    offers[1] = offer_roundtrip(table, NULL, &texts[1]);
    g_assert_cmpstr(add(table, track(SDP_KIND_VIDEO, "speakerB", "b-video", 2002)), ==, "1");
    offers[2] = offer_roundtrip(table, NULL, &texts[2]);
    g_assert_cmpuint(sdp_mline_table_len(table), ==, 3);
    sdp_mline_table_free(table);
}

static void test_down_offer(void)
{
    char *texts[3];
    struct sdp_session *o[3];
    down_scenario(texts, o);
    g_assert_nonnull(strstr(texts[0], "a=setup:actpass\r\n"));
    g_assert_nonnull(strstr(texts[0], "a=group:BUNDLE 0 1\r\n"));
    g_assert_nonnull(strstr(texts[0], "a=ssrc-group:FID 1002 1003\r\n"));
    g_assert_nonnull(strstr(texts[0], "a=msid:speakerA a-video\r\n"));
    g_assert_cmpint(o[0]->setup, ==, SDP_SETUP_ACTPASS);
    g_assert_cmpuint(o[0]->media->len, ==, 2);
    const struct sdp_media *v = media(o[0], 1);
    g_assert_cmpint(v->direction, ==, SDP_DIR_SENDONLY);
    g_assert_cmpstr(v->msid_stream, ==, media(o[0], 0)->msid_stream);
    g_assert_cmpuint(v->codecs->len, ==, 4); /* VP8, rtx, H264, rtx */
    g_assert_cmpint(codec(v, 0)->rtx_pt, ==, 97);
    g_assert_cmpuint(v->ssrcs->len, ==, 2);
    g_assert_cmpuint(extmap_id(v, "sdes:mid"), ==, extmap_id(media(o[0], 0), "sdes:mid"));

    /* Re-offer: mids and order kept, the freed m-line inactive with port 9, still bundled. */
    g_assert_cmpuint(o[1]->session_version, >, o[0]->session_version);
    g_assert_cmpuint(o[1]->session_id, ==, o[0]->session_id);
    g_assert_cmpuint(o[1]->media->len, ==, 3);
    g_assert_cmpstr(media(o[1], 0)->mid, ==, "0");
    g_assert_cmpstr(media(o[1], 1)->mid, ==, "1");
    g_assert_cmpint(media(o[1], 1)->direction, ==, SDP_DIR_INACTIVE);
    g_assert_cmpuint(media(o[1], 1)->port, ==, 9);
    g_assert_cmpuint(media(o[1], 1)->ssrcs->len, ==, 0);
    g_assert_null(media(o[1], 1)->msid_stream);
    g_assert_cmpuint(o[1]->bundle_mids->len, ==, 3);
    g_assert_cmpint(media(o[1], 2)->kind, ==, SDP_KIND_AUDIO);
    /* Reuse: B's video took mid 1 back. */
    g_assert_cmpint(media(o[2], 1)->direction, ==, SDP_DIR_SENDONLY);
    g_assert_cmpstr(media(o[2], 1)->msid_stream, ==, "speakerB");
    g_assert_cmpstr(media(o[2], 2)->msid_stream, ==, "speakerB");

    const char *dump = g_getenv("KUMIS_SDP_DUMP_DIR");
    for (int i = 0; i < 3; i++) {
        if (dump) {
            g_autofree char *path = g_strdup_printf("%s/down-offer-%d.sdp", dump, i + 1);
            g_assert_true(g_file_set_contents(path, texts[i], -1, NULL));
        }
        g_free(texts[i]);
        sdp_session_free(o[i]);
    }
}

static void test_down_table_limits(void)
{
    struct sdp_mline_table *table = sdp_mline_table_new();
    for (int i = 0; i < SDP_MAX_MEDIA; i++)
        add(table, track(SDP_KIND_AUDIO, "s", "t", (guint32)i + 1));
    g_autoptr(GError) error = NULL;
    g_assert_null(sdp_mline_table_add(table, track(SDP_KIND_VIDEO, "s", "v", 99), &error));
    g_assert_error(error, SDP_ERROR, SDP_ERROR_TOO_LARGE);
    g_clear_error(&error);
    /* A freed audio m-line does not take video, but takes audio. */
    g_assert_true(sdp_mline_table_remove(table, "5"));
    g_assert_null(sdp_mline_table_add(table, track(SDP_KIND_VIDEO, "s", "v", 99), &error));
    g_clear_error(&error);
    g_assert_cmpstr(add(table, track(SDP_KIND_AUDIO, "s", "t", 99)), ==, "5");
    /* No codec: refused. */
    struct sdp_out_track *bare = sdp_out_track_new(SDP_KIND_AUDIO, "s", "t", NULL, 1, 0);
    g_assert_null(sdp_mline_table_add(table, bare, &error));
    g_assert_error(error, SDP_ERROR, SDP_ERROR_UNSUPPORTED);
    /* With candidates: on the first m-line. */
    GPtrArray *cands = local_candidates();
    struct sdp_session *o = offer_roundtrip(table, cands, NULL);
    g_assert_cmpuint(o->media->len, ==, SDP_MAX_MEDIA);
    g_assert_cmpuint(media(o, 0)->candidates->len, ==, 1);
    g_assert_true(media(o, 0)->end_of_candidates);
    sdp_session_free(o);
    g_ptr_array_unref(cands);
    sdp_mline_table_free(table);
}

/* Takes transport-wide congestion control out of @offer as media/sfu.c does with every down
 * offer (kumis reads REMB from subscribers). */
static void strip_twcc(struct sdp_session *offer)
{
    for (guint i = 0; i < offer->media->len; i++) {
        struct sdp_media *m = media(offer, i);
        for (guint e = m->extmaps->len; e-- > 0;)
            if (strcmp(((struct sdp_extmap *)g_ptr_array_index(m->extmaps, e))->uri,
                       SDP_EXT_TWCC) == 0)
                g_ptr_array_remove_index(m->extmaps, e);
        for (guint c = 0; c < m->codecs->len; c++)
            for (guint f = codec(m, c)->rtcp_fb->len; f-- > 0;)
                if (strcmp(g_ptr_array_index(codec(m, c)->rtcp_fb, f), "transport-cc") == 0)
                    g_ptr_array_remove_index(codec(m, c)->rtcp_fb, f);
    }
}

/* Chromium's answer to @offer, each m-line stamped from its real answer to an m-line of the
 * same kind (chromium-answer-down-3.sdp: mid 0 audio with two candidates, mid 1 video offered
 * as VP8 and H.264, mid 2 audio); without its transport-cc lines unless @twcc. */
static char *chromium_answer_like(const struct sdp_session *offer, gboolean twcc)
{
    g_autofree char *captured = load("chromium-answer-down-3.sdp");
    g_autofree char *real =
        twcc ? g_strdup(captured) : replace(captured, "^a=[^\r]*transport-(cc|wide)[^\r]*\r\n", "");
    char *part[4] = {real, NULL, NULL, NULL}; /* the session, then its three m-lines */
    for (guint i = 1; i < 4; i++) {
        char *m = strstr(part[i - 1], "\r\nm=");
        g_assert_nonnull(m);
        part[i] = m + 2;
    }
    g_assert_null(strstr(part[3], "\r\nm="));
    GString *group = g_string_new("a=group:BUNDLE");
    GString *body = g_string_new(NULL);
    for (guint i = 0; i < offer->media->len; i++) {
        const struct sdp_media *m = media(offer, i);
        const char *from = m->kind == SDP_KIND_VIDEO ? part[2] : i == 0 ? part[1] : part[3];
        const char *to = from == part[3] ? NULL : from == part[2] ? part[3] : part[2];
        g_autofree char *block = to ? g_strndup(from, to - from) : g_strdup(from);
        g_autofree char *mid = g_strdup_printf("a=mid:%s\r\n", m->mid);
        g_autofree char *stamped = replace(block, "^a=mid:[0-9]+\r\n", mid);
        g_string_append(body, stamped);
        g_string_append_printf(group, " %s", m->mid);
    }
    g_autofree char *session = g_strndup(part[0], part[1] - part[0]);
    g_autofree char *group_line = g_string_free(group, FALSE);
    g_autofree char *header = replace(session, "^a=group:BUNDLE[ 0-9]*", group_line);
    g_autofree char *text = g_string_free(body, FALSE);
    return g_strconcat(header, text, NULL);
}

struct down_sizes {
    gsize offer, answer, message; /* bytes: our offer, Chromium's answer, that as signaling */
};

/* Our offer of SDP_MAX_MEDIA m-lines, half audio, half video from publishers that send H.264
 * (a video m-line then offers VP8 and H.264, each with rtx: the longest kumis writes), with
 * participant ids of four digits and ten-digit SSRCs; Chromium's answer to it, which must pass
 * our parser, the answer check, and the signaling's own parser (its "sdp" field limit and the
 * default max_message_bytes) as the web client sends it (JSON.stringify escapes CR and LF).
 * Without @twcc transport-cc is stripped as in production. */
static struct down_sizes down_full(gboolean twcc)
{
    struct sdp_mline_table *table = sdp_mline_table_new();
    for (guint i = 0; i < SDP_MAX_MEDIA; i++) {
        g_autofree char *stream = g_strdup_printf("p%u", 1000 + i / 2);
        g_autofree char *id = g_strdup_printf("%s-%u", stream, i % 2);
        add(table, track(i % 2 ? SDP_KIND_VIDEO : SDP_KIND_AUDIO, stream, id, 0x7f000000 + i * 2));
    }
    GPtrArray *cands = local_candidates();
    struct sdp_local local = local_params(cands);
    struct sdp_session *written = sdp_down_offer_new(table, &local);
    if (!twcc)
        strip_twcc(written);
    g_autofree char *offer_text = sdp_session_write(written);
    sdp_session_free(written);
    struct sdp_session *offer = parse_ok(offer_text);
    g_assert_cmpuint(offer->media->len, ==, SDP_MAX_MEDIA);

    g_autofree char *answer_text = chromium_answer_like(offer, twcc);
    struct sdp_session *answer = parse_ok(answer_text);
    g_autoptr(GError) error = NULL;
    g_assert_true(sdp_down_answer_check(offer, answer, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(answer->media->len, ==, SDP_MAX_MEDIA);

    json_t *msg = json_pack("{s:s, s:s, s:s}", "type", "answer", "pc", "down", "sdp", answer_text);
    char *json = json_dumps(msg, JSON_COMPACT);
    struct kumis_config *config = kumis_config_load(NULL, &error);
    g_assert_no_error(error);
    struct sig_message parsed;
    struct sig_parse_error perr;
    if (!sig_message_parse(json, strlen(json), config->max_message_bytes, &parsed, &perr))
        g_error("the browser's answer to a full down offer does not pass: %s", perr.message);
    g_assert_cmpstr(sig_message_string(&parsed, "sdp"), ==, answer_text);
    sig_message_clear(&parsed);

    struct down_sizes sizes = {strlen(offer_text), strlen(answer_text), strlen(json)};
    g_test_message("%u m-lines%s: our offer %" G_GSIZE_FORMAT
                   " bytes, Chromium's answer %" G_GSIZE_FORMAT " bytes, %" G_GSIZE_FORMAT
                   " as a signaling message",
                   SDP_MAX_MEDIA, twcc ? " (transport-cc kept)" : "", sizes.offer, sizes.answer,
                   sizes.message);
    g_assert_cmpuint(sizes.offer, <=, SDP_MAX_BYTES);
    kumis_config_free(config);
    free(json);
    json_decref(msg);
    sdp_session_free(answer);
    sdp_session_free(offer);
    g_ptr_array_unref(cands);
    sdp_mline_table_free(table);
    return sizes;
}

/* The largest down negotiation fits every limit: as kumis sends it with room to spare (a tenth
 * of each limit), and even with transport-cc left in (what the captured answer has). */
static void test_down_full(void)
{
    struct down_sizes sizes = down_full(FALSE);
    g_assert_cmpuint(sizes.offer, <=, SDP_MAX_BYTES * 9 / 10);
    g_assert_cmpuint(sizes.answer, <=, SDP_MAX_BYTES * 9 / 10);
    g_assert_cmpuint(sizes.message, <=, 65536 * 9 / 10); /* the default max_message_bytes */
    down_full(TRUE);
}

/* Chromium's real answers to the offers of down_scenario (capture.mjs "answers"). */
static void test_down_chromium(void)
{
    char *texts[3];
    struct sdp_session *o[3];
    down_scenario(texts, o);
    for (int i = 0; i < 3; i++) {
        g_autofree char *name = g_strdup_printf("chromium-answer-down-%d.sdp", i + 1);
        struct sdp_session *ans = parse_file(name);
        g_autoptr(GError) error = NULL;
        g_assert_true(sdp_down_answer_check(o[i], ans, &error));
        g_assert_no_error(error);
        g_assert_cmpint(ans->setup, ==, SDP_SETUP_ACTIVE);
        g_assert_cmpuint(ans->media->len, ==, o[i]->media->len);
        for (guint j = 0; j < ans->media->len; j++) {
            const struct sdp_media *m = media(ans, j);
            g_assert_cmpstr(m->mid, ==, media(o[i], j)->mid);
            g_assert_cmpint(m->direction, ==,
                            media(o[i], j)->direction == SDP_DIR_SENDONLY ? SDP_DIR_RECVONLY
                                                                          : SDP_DIR_INACTIVE);
            g_assert_cmpuint(m->codecs->len, >=, 1);
            g_assert_cmpuint(extmap_id(m, "sdes:mid"), ==, 4);
        }
        /* Chromium kept VP8 first, with rtx, and the rtcp-fb we offered. */
        const struct sdp_media *v = media(ans, 1);
        g_assert_cmpstr(codec(v, 0)->name, ==, "VP8");
        g_assert_cmpint(codec(v, 0)->rtx_pt, ==, 97);
        g_assert_true(has_fb(codec(v, 0), "nack pli"));

        /* The answer does not fit the other offers: m-line count, or mid 1 answered recvonly
         * while offered inactive. */
        for (int k = 0; k < 3; k++) {
            if (k == i || (i == 1 && k == 2))
                continue; /* inactive also answers sendonly (RFC 3264 §6.1) */
            g_assert_false(sdp_down_answer_check(o[k], ans, &error));
            g_assert_error(error, SDP_ERROR, SDP_ERROR_MISMATCH);
            g_clear_error(&error);
        }
        sdp_session_free(ans);
    }
    /* An answer claiming passive, or adding a payload type, is refused. */
    g_autofree char *ans_text = load("chromium-answer-down-1.sdp");
    g_autofree char *passive = replace(ans_text, "a=setup:active", "a=setup:passive");
    struct sdp_session *ans = parse_ok(passive);
    g_autoptr(GError) error = NULL;
    g_assert_false(sdp_down_answer_check(o[0], ans, &error));
    g_assert_error(error, SDP_ERROR, SDP_ERROR_UNSUPPORTED);
    g_clear_error(&error);
    sdp_session_free(ans);
    g_autofree char *extra = replace(ans_text, "^a=rtpmap:96 VP8/90000", "a=rtpmap:96 AV1/90000");
    ans = parse_ok(extra);
    g_assert_false(sdp_down_answer_check(o[0], ans, &error));
    g_assert_error(error, SDP_ERROR, SDP_ERROR_MISMATCH);
    sdp_session_free(ans);
    for (int i = 0; i < 3; i++) {
        g_free(texts[i]);
        sdp_session_free(o[i]);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/sdp/parse/camera-mic", test_parse_camera_mic);
    g_test_add_func("/sdp/parse/simulcast", test_parse_simulcast);
    g_test_add_func("/sdp/parse/screen", test_parse_screen);
    g_test_add_func("/sdp/parse/webrtcbin", test_parse_webrtcbin);
    g_test_add_func("/sdp/parse/kumis-answers", test_parse_kumis_answers);
    g_test_add_func("/sdp/parse/errors", test_parse_errors);
    g_test_add_func("/sdp/candidates", test_candidates);
    g_test_add_func("/sdp/up/answer", test_up_answer);
    g_test_add_func("/sdp/up/simulcast", test_up_answer_simulcast);
    g_test_add_func("/sdp/up/screen", test_up_answer_screen);
    g_test_add_func("/sdp/up/webrtcbin", test_up_answer_webrtcbin);
    g_test_add_func("/sdp/up/dtx", test_up_answer_dtx);
    g_test_add_func("/sdp/up/refusals", test_up_answer_refusals);
    g_test_add_func("/sdp/up/vp9-only", test_up_answer_vp9_only);
    g_test_add_func("/sdp/up/inactive", test_up_answer_inactive);
    g_test_add_func("/sdp/up/external", test_up_external);
    g_test_add_func("/sdp/down/offer", test_down_offer);
    g_test_add_func("/sdp/down/limits", test_down_table_limits);
    g_test_add_func("/sdp/down/chromium", test_down_chromium);
    g_test_add_func("/sdp/down/full", test_down_full);
    return g_test_run();
}

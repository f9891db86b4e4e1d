/* Unit tests for media/sfu.c through its own API: real transports on 127.0.0.1 that never
 * connect (the browsers' SDP is played by the test), so what is checked is negotiation. A
 * participant's down connection holds at most SDP_MAX_MEDIA m-lines; the tracks that do not
 * fit wait, oldest first, and take the m-lines that free, once an offer has shown them
 * inactive. Publishers offer tests/unit/sdp/chromium-offer-camera-mic.sdp (audio, video). */
#include <gio/gio.h>
#include <glib.h>
#include <jansson.h>
#include <string.h>

#include "media/sdp.h"
#include "media/sfu.h"

#define SDP_DIR     KUMIS_SOURCE_DIR "/tests/unit/sdp/"
#define PUBLISHERS  (SDP_MAX_MEDIA / 2) /* camera and microphone each: the table is full */
#define MAX_ANSWERS 16                  /* a down negotiation settles in a few rounds */

/* What the test sees of one participant, as the server would. */
struct part {
    const char *id;
    struct sfu_peer *peer;
    char *offer;      /* the last down offer */
    gboolean pending; /* ...not answered yet */
    guint offers;
    GPtrArray *told; /* "<publisher> <stream> <kind>" per on_track_waiting */
};

static void on_candidate(void *user, enum sfu_pc pc, const char *candidate, const char *mid)
{
    (void)user;
    (void)pc;
    (void)candidate;
    (void)mid;
}

static void on_down_offer(void *user, const char *sdp)
{
    struct part *p = user;
    g_assert_false(p->pending); /* one offer at a time (JSEP) */
    g_free(p->offer);
    p->offer = g_strdup(sdp);
    p->pending = TRUE;
    p->offers++;
}

static void on_state(void *user, enum sfu_pc pc, const char *state)
{
    (void)user;
    (void)pc;
    (void)state;
}

static void on_active_speaker(void *user, const char *participant_id)
{
    (void)user;
    (void)participant_id;
}

static void on_track_unsupported(void *user, const char *publisher_id, const char *stream_id,
                                 const char *mid, const char *kind, const char *codec)
{
    (void)user;
    (void)stream_id;
    g_error("%s's %s track %s (%s) unsupported: the answers keep every codec", publisher_id, kind,
            mid, codec);
}

static void on_track_waiting(void *user, const char *publisher_id, const char *stream_id,
                             const char *kind)
{
    struct part *p = user;
    g_ptr_array_add(p->told, g_strdup_printf("%s %s %s", publisher_id, stream_id, kind));
}

static const struct sfu_listener listener = {
    on_candidate,      on_down_offer,        on_state,
    on_active_speaker, on_track_unsupported, on_track_waiting};

static char *replace(const char *text, const char *pattern, const char *with)
{
    g_autoptr(GRegex) re = g_regex_new(pattern, G_REGEX_MULTILINE, 0, NULL);
    g_assert_nonnull(re);
    return g_regex_replace(re, text, -1, 0, with, 0, NULL);
}

/* The captured camera + microphone offer without its candidates (nothing is to be reached);
 * with @video_stopped its video m-line inactive, as a browser re-offers a stopped track. */
static char *camera_mic_offer(gboolean video_stopped)
{
    g_autofree char *text = NULL;
    g_autoptr(GError) error = NULL;
    g_file_get_contents(SDP_DIR "chromium-offer-camera-mic.sdp", &text, NULL, &error);
    g_assert_no_error(error);
    char *offer = replace(text, "^a=(candidate|end-of-candidates).*\r\n", "");
    if (video_stopped) {
        char *video = strstr(offer, "m=video");
        g_assert_nonnull(video);
        g_autofree char *stopped = replace(video, "^a=sendonly\r\n", "a=inactive\r\n");
        g_assert_cmpstr(stopped, !=, video);
        *video = '\0';
        char *whole = g_strconcat(offer, stopped, NULL);
        g_free(offer);
        offer = whole;
    }
    return offer;
}

static struct part *part_new(struct sfu *sfu, const char *id)
{
    struct part *p = g_new0(struct part, 1);
    p->id = id;
    p->told = g_ptr_array_new_with_free_func(g_free);
    p->peer = sfu_peer_new(sfu, id, p);
    return p;
}

static void part_free(struct part *p)
{
    sfu_peer_free(p->peer);
    g_ptr_array_unref(p->told);
    g_free(p->offer);
    g_free(p);
}

static void publish(struct part *p, gboolean video_stopped)
{
    g_autofree char *offer = camera_mic_offer(video_stopped);
    g_autoptr(GError) error = NULL;
    g_autofree char *answer = sfu_peer_up_offer(p->peer, offer, &error);
    g_assert_no_error(error);
    g_assert_nonnull(answer);
}

/* Answers the last down offer as a browser would (recvonly, every codec kept). */
static void answer(struct part *p)
{
    g_assert_true(p->pending);
    p->pending = FALSE;
    g_autofree char *a1 = replace(p->offer, "^a=setup:actpass", "a=setup:active");
    g_autofree char *a2 = replace(a1, "^a=sendonly", "a=recvonly");
    g_autofree char *a3 = replace(a2, "^a=(ssrc|ssrc-group|msid):.*\r\n", "");
    g_autofree char *a4 = replace(a3, "^a=ice-ufrag:.*\r\n", "a=ice-ufrag:tEsT\r\n");
    g_autofree char *text =
        replace(a4, "^a=ice-pwd:.*\r\n", "a=ice-pwd:testpasswordtestpassword\r\n");
    g_autoptr(GError) error = NULL;
    g_assert_true(sfu_peer_down_answer(p->peer, text, &error));
    g_assert_no_error(error);
}

/* Answers every offer until the down connection has nothing more to offer. */
static void settle(struct part *p)
{
    for (guint i = 0; p->pending; i++) {
        g_assert_cmpuint(i, <, MAX_ANSWERS);
        answer(p);
    }
}

static struct sdp_session *last_offer(const struct part *p)
{
    g_autoptr(GError) error = NULL;
    g_assert_nonnull(p->offer);
    struct sdp_session *s = sdp_session_parse(p->offer, strlen(p->offer), &error);
    g_assert_no_error(error);
    return s;
}

/* The mid on which the last offer sends @publisher's @kind track, or NULL. */
static char *mid_of(const struct part *p, const char *publisher, enum sdp_kind kind)
{
    struct sdp_session *s = last_offer(p);
    char *mid = NULL;
    for (guint i = 0; mid == NULL && i < s->media->len; i++) {
        const struct sdp_media *m = g_ptr_array_index(s->media, i);
        if (m->kind == kind && m->direction == SDP_DIR_SENDONLY &&
            g_strcmp0(m->msid_stream, publisher) == 0)
            mid = g_strdup(m->mid);
    }
    sdp_session_free(s);
    return mid;
}

/* Returns: the direction of m-line @mid in the last offer. */
static enum sdp_direction direction_of(const struct part *p, const char *mid)
{
    struct sdp_session *s = last_offer(p);
    const struct sdp_media *m = sdp_session_find_mid(s, mid);
    g_assert_nonnull(m);
    enum sdp_direction dir = m->direction;
    sdp_session_free(s);
    return dir;
}

static guint count_sending(const struct part *p)
{
    struct sdp_session *s = last_offer(p);
    guint n = 0;
    for (guint i = 0; i < s->media->len; i++)
        n += ((const struct sdp_media *)g_ptr_array_index(s->media, i))->direction ==
             SDP_DIR_SENDONLY;
    sdp_session_free(s);
    return n;
}

/* The peer's wait list as its stats show it: "q1 audio,q1 video". */
static char *waiting_of(const struct part *p)
{
    g_autofree char *text = sfu_peer_stats_json(p->peer);
    json_t *root = json_loads(text, 0, NULL);
    json_t *waiting = json_object_get(root, "waiting");
    g_assert_true(json_is_array(waiting));
    GString *out = g_string_new(NULL);
    for (size_t i = 0; i < json_array_size(waiting); i++) {
        json_t *w = json_array_get(waiting, i);
        g_string_append_printf(out, "%s%s %s", i ? "," : "",
                               json_string_value(json_object_get(w, "from")),
                               json_string_value(json_object_get(w, "kind")));
    }
    json_decref(root);
    return g_string_free(out, FALSE);
}

static gsize receiving_of(const struct part *p)
{
    g_autofree char *text = sfu_peer_stats_json(p->peer);
    json_t *root = json_loads(text, 0, NULL);
    gsize n = json_array_size(json_object_get(root, "receiving"));
    json_decref(root);
    return n;
}

static void test_waiting(void)
{
    static const char *const addresses[] = {"127.0.0.1", NULL};
    struct sfu_options options = {
        .workers = 1, .addresses = addresses, .port_min = 30000, .port_max = 39999};
    g_autoptr(GError) error = NULL;
    struct sfu *sfu = sfu_new(&options, &listener, NULL, &error);
    g_assert_no_error(error);

    struct part *s = part_new(sfu, "s");
    sfu_peer_subscribe(s->peer);
    g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func(g_free);
    struct part *pub[PUBLISHERS + 3]; /* p0 ... and three late ones: q1, q2, q3 */
    for (guint i = 0; i < G_N_ELEMENTS(pub); i++) {
        g_ptr_array_add(ids, i < PUBLISHERS ? g_strdup_printf("p%u", i)
                                            : g_strdup_printf("q%u", i - PUBLISHERS + 1));
        pub[i] = part_new(sfu, g_ptr_array_index(ids, i));
    }

    /* PUBLISHERS fill the down connection. */
    for (guint i = 0; i < PUBLISHERS; i++)
        publish(pub[i], FALSE);
    settle(s);
    g_assert_cmpuint(count_sending(s), ==, SDP_MAX_MEDIA);
    g_assert_cmpuint(receiving_of(s), ==, SDP_MAX_MEDIA);
    g_assert_cmpuint(s->told->len, ==, 0);

    /* Two more: their four tracks wait, in order, and the participant is told of each. */
    guint offers = s->offers;
    publish(pub[PUBLISHERS], FALSE);
    publish(pub[PUBLISHERS + 1], FALSE);
    g_assert_false(s->pending);
    g_assert_cmpuint(s->offers, ==, offers);
    g_autofree char *w1 = waiting_of(s);
    g_assert_cmpstr(w1, ==, "q1 audio,q1 video,q2 audio,q2 video");
    g_assert_cmpuint(s->told->len, ==, 4);
    g_assert_cmpstr(g_ptr_array_index(s->told, 0), ==, "q1 q1 audio");
    g_assert_cmpstr(g_ptr_array_index(s->told, 3), ==, "q2 q2 video");

    /* p0 stops its camera: its video m-line is offered inactive first (Chromium's ontrack
     * needs the transceiver to stop receiving before it receives another track); the oldest
     * waiting video takes it in the next offer, the audio waiting before it keeps waiting. */
    g_autofree char *p0_video = mid_of(s, "p0", SDP_KIND_VIDEO);
    g_assert_nonnull(p0_video);
    publish(pub[0], TRUE);
    g_assert_true(s->pending);
    g_assert_cmpint(direction_of(s, p0_video), ==, SDP_DIR_INACTIVE);
    answer(s);
    g_assert_true(s->pending); /* fails against a kumis that drops what does not fit */
    g_autofree char *q1_video = mid_of(s, "q1", SDP_KIND_VIDEO);
    g_assert_cmpstr(q1_video, ==, p0_video);
    settle(s);
    g_autofree char *w2 = waiting_of(s);
    g_assert_cmpstr(w2, ==, "q1 audio,q2 audio,q2 video");

    /* q2 leaves while its tracks wait: they leave the wait list, nothing to renegotiate. */
    part_free(pub[PUBLISHERS + 1]);
    pub[PUBLISHERS + 1] = NULL;
    g_assert_false(s->pending);
    g_autofree char *w3 = waiting_of(s);
    g_assert_cmpstr(w3, ==, "q1 audio");

    /* p1 leaves: its audio m-line goes to q1's waiting audio, its video m-line stays free. */
    g_autofree char *p1_audio = mid_of(s, "p1", SDP_KIND_AUDIO);
    g_autofree char *p1_video = mid_of(s, "p1", SDP_KIND_VIDEO);
    part_free(pub[1]);
    pub[1] = NULL;
    settle(s);
    g_autofree char *q1_audio = mid_of(s, "q1", SDP_KIND_AUDIO);
    g_assert_cmpstr(q1_audio, ==, p1_audio);
    g_assert_cmpint(direction_of(s, p1_video), ==, SDP_DIR_INACTIVE);
    g_autofree char *w4 = waiting_of(s);
    g_assert_cmpstr(w4, ==, "");
    g_assert_cmpuint(s->told->len, ==, 4); /* told once per track */
    g_assert_cmpuint(count_sending(s), ==, SDP_MAX_MEDIA - 1);

    /* A newcomer takes the free video m-line at once; its audio waits (and is told). */
    publish(pub[PUBLISHERS + 2], FALSE);
    settle(s);
    g_autofree char *q3_video = mid_of(s, "q3", SDP_KIND_VIDEO);
    g_assert_cmpstr(q3_video, ==, p1_video);
    g_autofree char *w5 = waiting_of(s);
    g_assert_cmpstr(w5, ==, "q3 audio");
    g_assert_cmpuint(s->told->len, ==, 5);

    /* The participant leaves with a track waiting (ASan: nothing leaks or dangles), then
     * everyone else. */
    part_free(s);
    for (guint i = 0; i < G_N_ELEMENTS(pub); i++)
        if (pub[i] != NULL)
            part_free(pub[i]);
    sfu_free(sfu);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/sfu/waiting", test_waiting);
    return g_test_run();
}

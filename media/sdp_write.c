/* kumis — writing struct sdp_session as SDP text with GstSDPMessage (see sdp.h). */
#include "media/sdp.h"
#include "media/sdp_private.h"

#include <gst/sdp/gstsdpmessage.h>
#include <string.h>

static void write_codecs(GstSDPMedia *gm, const struct sdp_media *m)
{
    for (guint i = 0; i < m->codecs->len; i++) {
        const struct sdp_codec *c = g_ptr_array_index(m->codecs, i);
        g_autofree char *map =
            c->channels > 1
                ? g_strdup_printf("%u %s/%u/%u", c->pt, c->name, c->clock_rate, c->channels)
                : g_strdup_printf("%u %s/%u", c->pt, c->name, c->clock_rate);
        gst_sdp_media_add_attribute(gm, "rtpmap", map);
        for (guint j = 0; j < c->rtcp_fb->len; j++) {
            g_autofree char *fb =
                g_strdup_printf("%u %s", c->pt, (char *)g_ptr_array_index(c->rtcp_fb, j));
            gst_sdp_media_add_attribute(gm, "rtcp-fb", fb);
        }
        if (c->fmtp) {
            g_autofree char *fmtp = g_strdup_printf("%u %s", c->pt, c->fmtp);
            gst_sdp_media_add_attribute(gm, "fmtp", fmtp);
        }
    }
}

static void write_streams(GstSDPMedia *gm, const struct sdp_media *m)
{
    for (guint i = 0; i < m->rids->len; i++) {
        const struct sdp_rid *r = g_ptr_array_index(m->rids, i);
        g_autofree char *rid = g_strdup_printf("%s %s", r->id, r->send ? "send" : "recv");
        gst_sdp_media_add_attribute(gm, "rid", rid);
    }
    if (m->simulcast && m->rids->len > 0) {
        GString *sim = g_string_new(m->simulcast_send ? "send " : "recv ");
        for (guint i = 0; i < m->rids->len; i++) {
            const struct sdp_rid *r = g_ptr_array_index(m->rids, i);
            g_string_append_printf(sim, "%s%s%s", i ? ";" : "", r->paused ? "~" : "", r->id);
        }
        gst_sdp_media_add_attribute(gm, "simulcast", sim->str);
        g_string_free(sim, TRUE);
    }
    for (guint i = 0; i < m->ssrc_groups->len; i++) {
        const struct sdp_ssrc_group *g = g_ptr_array_index(m->ssrc_groups, i);
        GString *grp = g_string_new(g->semantics);
        for (guint j = 0; j < g->ssrcs->len; j++)
            g_string_append_printf(grp, " %u", g_array_index(g->ssrcs, guint32, j));
        gst_sdp_media_add_attribute(gm, "ssrc-group", grp->str);
        g_string_free(grp, TRUE);
    }
    for (guint i = 0; i < m->ssrcs->len; i++) {
        const struct sdp_ssrc *s = g_ptr_array_index(m->ssrcs, i);
        if (s->cname) {
            g_autofree char *line = g_strdup_printf("%u cname:%s", s->ssrc, s->cname);
            gst_sdp_media_add_attribute(gm, "ssrc", line);
        }
        if (m->msid_stream) {
            g_autofree char *line =
                g_strdup_printf("%u msid:%s%s%s", s->ssrc, m->msid_stream, m->msid_track ? " " : "",
                                m->msid_track ? m->msid_track : "");
            gst_sdp_media_add_attribute(gm, "ssrc", line);
        }
    }
}

static void write_transport(GstSDPMedia *gm, const struct sdp_session *s, const struct sdp_media *m)
{
    for (guint i = 0; i < m->candidates->len; i++) {
        g_autofree char *c = sdp_candidate_format(g_ptr_array_index(m->candidates, i));
        gst_sdp_media_add_attribute(gm, "candidate", c + strlen("candidate:"));
    }
    gst_sdp_media_add_attribute(gm, "ice-ufrag", s->ice_ufrag);
    gst_sdp_media_add_attribute(gm, "ice-pwd", s->ice_pwd);
    if (s->ice_trickle)
        gst_sdp_media_add_attribute(gm, "ice-options", "trickle");
    g_autofree char *fp = g_strdup_printf("%s %s", s->fingerprint_alg, s->fingerprint);
    gst_sdp_media_add_attribute(gm, "fingerprint", fp);
    if (s->setup != SDP_SETUP_NONE)
        gst_sdp_media_add_attribute(gm, "setup", sdp_setup_name(s->setup));
}

static void write_media(GstSDPMessage *msg, const struct sdp_session *s, const struct sdp_media *m)
{
    GstSDPMedia gm = {0}; /* gst_sdp_media_init() frees what it finds */
    gst_sdp_media_init(&gm);
    gst_sdp_media_set_media(&gm, sdp_kind_name(m->kind));
    gst_sdp_media_set_port_info(&gm, m->port, 1);
    gst_sdp_media_set_proto(&gm, m->proto);
    for (guint i = 0; i < m->codecs->len; i++) {
        g_autofree char *pt =
            g_strdup_printf("%u", ((struct sdp_codec *)g_ptr_array_index(m->codecs, i))->pt);
        gst_sdp_media_add_format(&gm, pt);
    }
    if (m->codecs->len == 0) /* SCTP data channel, or a rejected m-line without codecs */
        gst_sdp_media_add_format(&gm, m->kind == SDP_KIND_APPLICATION ? "webrtc-datachannel" : "0");
    gst_sdp_media_add_connection(&gm, "IN", "IP4", "0.0.0.0", 0, 0);
    if (!m->rejected)
        write_transport(&gm, s, m);
    if (m->mid)
        gst_sdp_media_add_attribute(&gm, "mid", m->mid);
    for (guint i = 0; !m->rejected && i < m->extmaps->len; i++) {
        const struct sdp_extmap *e = g_ptr_array_index(m->extmaps, i);
        g_autofree char *v =
            e->has_direction
                ? g_strdup_printf("%u/%s %s", e->id, sdp_direction_name(e->direction), e->uri)
                : g_strdup_printf("%u %s", e->id, e->uri);
        gst_sdp_media_add_attribute(&gm, "extmap", v);
    }
    gst_sdp_media_add_attribute(&gm, sdp_direction_name(m->direction), NULL);
    if (!m->rejected) {
        if (m->msid_stream) {
            g_autofree char *msid =
                g_strdup_printf("%s%s%s", m->msid_stream, m->msid_track ? " " : "",
                                m->msid_track ? m->msid_track : "");
            gst_sdp_media_add_attribute(&gm, "msid", msid);
        }
        if (m->bundle_only)
            gst_sdp_media_add_attribute(&gm, "bundle-only", NULL);
        if (m->rtcp_mux)
            gst_sdp_media_add_attribute(&gm, "rtcp-mux", NULL);
        if (m->rtcp_rsize)
            gst_sdp_media_add_attribute(&gm, "rtcp-rsize", NULL);
        write_codecs(&gm, m);
        write_streams(&gm, m);
        if (m->end_of_candidates)
            gst_sdp_media_add_attribute(&gm, "end-of-candidates", NULL);
    }
    gst_sdp_message_add_media(msg, &gm); /* takes the contents of gm */
}

char *sdp_session_write(const struct sdp_session *s)
{
    GstSDPMessage *msg = NULL;
    gst_sdp_message_new(&msg);
    gst_sdp_message_set_version(msg, "0");
    g_autofree char *id = g_strdup_printf("%" G_GUINT64_FORMAT, s->session_id);
    g_autofree char *version = g_strdup_printf("%" G_GUINT64_FORMAT, s->session_version);
    gst_sdp_message_set_origin(msg, "-", id, version, "IN", "IP4", "127.0.0.1");
    gst_sdp_message_set_session_name(msg, "-");
    gst_sdp_message_add_time(msg, "0", "0", NULL);
    GString *bundle = g_string_new("BUNDLE");
    for (guint i = 0; i < s->media->len; i++) {
        const struct sdp_media *m = g_ptr_array_index(s->media, i);
        if (!m->rejected && m->mid)
            g_string_append_printf(bundle, " %s", m->mid);
    }
    gst_sdp_message_add_attribute(msg, "group", bundle->str);
    g_string_free(bundle, TRUE);
    if (s->ice_lite)
        gst_sdp_message_add_attribute(msg, "ice-lite", NULL);
    /* Chromium groups tracks by a=msid only when the session announces msid semantics. */
    gst_sdp_message_add_attribute(msg, "msid-semantic", " WMS");
    for (guint i = 0; i < s->media->len; i++)
        write_media(msg, s, g_ptr_array_index(s->media, i));
    char *text = gst_sdp_message_as_text(msg);
    gst_sdp_message_free(msg);
    return text;
}

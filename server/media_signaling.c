/* kumis — negotiation over the signaling socket: the server's side of the SFU (DESIGN §4).
 *
 * Checks who may do what (only speakers and moderators publish), passes SDP and candidates to
 * media/sfu, and sends back what the SFU asks for (answers, down offers, candidates). */
#include <gio/gio.h>
#include <jansson.h>
#include <string.h>

#include "server/server_internal.h"

static enum sfu_pc pc_of(const struct sig_message *msg)
{
    return strcmp(sig_message_string(msg, "pc"), "up") == 0 ? SFU_PC_UP : SFU_PC_DOWN;
}

static const char *pc_name(enum sfu_pc pc)
{
    return pc == SFU_PC_UP ? "up" : "down";
}

/* Media needs a participant that is past the lobby. */
static gboolean media_ready(struct sig_conn *conn, struct session *session,
                            const struct sig_message *msg)
{
    if (session->media == NULL) {
        sig_conn_send_error(conn, SIG_ERR_NOT_ALLOWED,
                            session_text(session, "bergabung dan tunggu diizinkan masuk dahulu",
                                         "join and be admitted first"),
                            msg->id);
        return FALSE;
    }
    return TRUE;
}

void media_handle_offer(struct kumis_server *server, struct sig_conn *conn, struct session *session,
                        const struct sig_message *msg)
{
    (void)server;
    if (!media_ready(conn, session, msg))
        return;
    if (pc_of(msg) != SFU_PC_UP) {
        sig_conn_send_error(conn, SIG_ERR_BAD_FIELD, "the server makes the offers on pc down",
                            msg->id);
        return;
    }
    if (!forum_participant_may_publish(session->participant)) {
        sig_conn_send_error(conn, SIG_ERR_NOT_ALLOWED,
                            session_text(session,
                                         "hanya pembicara dan moderator yang boleh "
                                         "mengirim suara dan gambar",
                                         "only speakers and moderators may publish"),
                            msg->id);
        return;
    }
    g_autoptr(GError) error = NULL;
    g_autofree char *answer =
        sfu_peer_up_offer(session->media, sig_message_string(msg, "sdp"), &error);
    if (answer == NULL) {
        sig_conn_send_error(conn, SIG_ERR_BAD_FIELD, error->message, msg->id);
        return;
    }
    json_t *reply = sig_reply_new("answer", msg->id);
    json_object_set_new(reply, "pc", json_string("up"));
    json_object_set_new(reply, "sdp", json_string(answer));
    sig_conn_send(conn, reply);
}

void media_handle_answer(struct kumis_server *server, struct sig_conn *conn,
                         struct session *session, const struct sig_message *msg)
{
    (void)server;
    if (!media_ready(conn, session, msg))
        return;
    if (pc_of(msg) != SFU_PC_DOWN) {
        sig_conn_send_error(conn, SIG_ERR_BAD_FIELD, "the browser makes the offers on pc up",
                            msg->id);
        return;
    }
    g_autoptr(GError) error = NULL;
    if (!sfu_peer_down_answer(session->media, sig_message_string(msg, "sdp"), &error))
        sig_conn_send_error(conn, SIG_ERR_BAD_FIELD, error->message, msg->id);
}

void media_handle_candidate(struct kumis_server *server, struct sig_conn *conn,
                            struct session *session, const struct sig_message *msg)
{
    (void)server;
    if (!media_ready(conn, session, msg))
        return;
    g_autoptr(GError) error = NULL;
    if (!sfu_peer_add_candidate(session->media, pc_of(msg), sig_message_string(msg, "candidate"),
                                &error))
        sig_conn_send_error(conn, SIG_ERR_BAD_FIELD, error->message, msg->id);
}

void media_handle_quality(struct kumis_server *server, struct sig_conn *conn,
                          struct session *session, const struct sig_message *msg)
{
    (void)server;
    if (!media_ready(conn, session, msg))
        return;
    sfu_peer_set_quality(session->media, sig_message_string(msg, "quality"));
    sig_conn_send(conn, sig_reply_new("ok", msg->id));
}

/* The participant's own media counters (packets, drops by reason, NACKs, layers). */
void media_handle_stats(struct kumis_server *server, struct sig_conn *conn, struct session *session,
                        const struct sig_message *msg)
{
    (void)server;
    if (!media_ready(conn, session, msg))
        return;
    g_autofree char *text = sfu_peer_stats_json(session->media);
    json_t *reply = sig_reply_new("stats", msg->id);
    json_object_set_new(reply, "media", json_loads(text, 0, NULL));
    sig_conn_send(conn, reply);
}

void media_session_start(struct kumis_server *server, struct session *session)
{
    if (session->media != NULL || server->sfu == NULL)
        return;
    session->media = sfu_peer_new(server->sfu, session->participant->id, session);
    sfu_peer_subscribe(session->media);
}

void media_session_stop(struct session *session)
{
    if (session->media == NULL)
        return;
    sfu_peer_free(session->media);
    session->media = NULL;
}

/* SFU events, on the control thread. */

static void on_candidate(void *peer_user, enum sfu_pc pc, const char *candidate, const char *mid)
{
    struct session *session = peer_user;
    json_t *msg = sig_reply_new("candidate", NULL);
    json_object_set_new(msg, "pc", json_string(pc_name(pc)));
    json_object_set_new(msg, "candidate", json_string(candidate));
    if (mid != NULL)
        json_object_set_new(msg, "mid", json_string(mid));
    sig_conn_send(session->conn, msg);
}

static void on_down_offer(void *peer_user, const char *sdp)
{
    struct session *session = peer_user;
    json_t *msg = sig_reply_new("offer", NULL);
    json_object_set_new(msg, "pc", json_string("down"));
    json_object_set_new(msg, "sdp", json_string(sdp));
    sig_conn_send(session->conn, msg);
}

static void on_state(void *peer_user, enum sfu_pc pc, const char *state)
{
    struct session *session = peer_user;
    json_t *msg = sig_reply_new("media-state", NULL);
    json_object_set_new(msg, "pc", json_string(pc_name(pc)));
    json_object_set_new(msg, "state", json_string(state));
    sig_conn_send(session->conn, msg);
    /* ICE failed or consent expired (RFC 7675): the browser vanished or its network went.
     * Close its session so that everyone is told and its tracks leave every subscriber; a
     * browser that is still there reconnects and joins again. */
    if (strcmp(state, "failed") == 0) {
        g_message("media: %s %s connection failed: closing its session",
                  session->participant ? session->participant->id : "?", pc_name(pc));
        sig_conn_close(session->conn, 4000, "media connection failed");
    }
}

static void on_active_speaker(void *user, const char *participant_id)
{
    struct kumis_server *server = user;
    json_t *msg = sig_reply_new("active-speaker", NULL);
    json_object_set_new(msg, "participant",
                        participant_id ? json_string(participant_id) : json_null());
    g_autoptr(GList) all = forum_participants(server->forum);
    for (GList *l = all; l; l = l->next) {
        struct forum_participant *p = l->data;
        if (p->state != FORUM_STATE_LOBBY)
            sig_conn_send(p->conn, json_incref(msg));
    }
    json_decref(msg);
}

static void on_track_unsupported(void *peer_user, const char *publisher_id, const char *stream_id,
                                 const char *mid, const char *kind, const char *codec)
{
    struct session *session = peer_user;
    json_t *msg = sig_reply_new("track-unsupported", NULL);
    json_object_set_new(msg, "participant", json_string(publisher_id));
    json_object_set_new(msg, "stream", json_string(stream_id));
    json_object_set_new(msg, "mid", json_string(mid));
    json_object_set_new(msg, "kind", json_string(kind));
    json_object_set_new(msg, "codec", json_string(codec));
    sig_conn_send(session->conn, msg);
}

/* The participant's down connection is full: the track arrives once an m-line frees. */
static void on_track_waiting(void *peer_user, const char *publisher_id, const char *stream_id,
                             const char *kind)
{
    struct session *session = peer_user;
    json_t *msg = sig_reply_new("track-waiting", NULL);
    json_object_set_new(msg, "participant", json_string(publisher_id));
    json_object_set_new(msg, "stream", json_string(stream_id));
    json_object_set_new(msg, "kind", json_string(kind));
    sig_conn_send(session->conn, msg);
}

static const struct sfu_listener sfu_events = {
    .on_candidate = on_candidate,
    .on_down_offer = on_down_offer,
    .on_state = on_state,
    .on_active_speaker = on_active_speaker,
    .on_track_unsupported = on_track_unsupported,
    .on_track_waiting = on_track_waiting,
};

gboolean media_sfu_start(struct kumis_server *server, GError **error)
{
    const struct kumis_config *c = server->config;
    struct sfu_options options = {
        .workers = c->media_workers,
        .addresses = (const char *const *)c->media_addresses,
        .public_address = c->public_address,
        .port_min = c->port_min,
        .port_max = c->port_max,
    };
    server->sfu = sfu_new(&options, &sfu_events, server, error);
    return server->sfu != NULL;
}

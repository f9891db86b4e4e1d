/* kumis — what the server's own files share: the daemon object and per-connection session.
 * Not for other folders. */
#pragma once

#include <glib.h>

#include "media/sfu.h"
#include "server/config.h"
#include "server/forum.h"
#include "signaling/ws_server.h"

struct kumis_server {
    const struct kumis_config *config;
    struct sig_server *signaling;
    struct sfu *sfu;
    char *cert_path;
    char *key_path;
    char *web_root;
    char *moderator_password;
    struct forum *forum;
};

/* What the server remembers of one signaling connection. */
struct session {
    struct kumis_server *server;
    struct sig_conn *conn;
    gboolean hello_done;
    char lang[4];
    struct forum_participant *participant; /* NULL until join */
    struct sfu_peer *media;                /* NULL until the participant is admitted */
};

typedef void (*message_handler)(struct kumis_server *server, struct sig_conn *conn,
                                struct session *session, const struct sig_message *msg);

/* media_signaling.c: offer/answer/candidate/quality, and the SFU's events. */
void media_handle_offer(struct kumis_server *server, struct sig_conn *conn, struct session *session,
                        const struct sig_message *msg);
void media_handle_answer(struct kumis_server *server, struct sig_conn *conn,
                         struct session *session, const struct sig_message *msg);
void media_handle_candidate(struct kumis_server *server, struct sig_conn *conn,
                            struct session *session, const struct sig_message *msg);
void media_handle_stats(struct kumis_server *server, struct sig_conn *conn, struct session *session,
                        const struct sig_message *msg);
void media_handle_quality(struct kumis_server *server, struct sig_conn *conn,
                          struct session *session, const struct sig_message *msg);

/* Gives an admitted participant its media side and starts sending it the speakers. */
void media_session_start(struct kumis_server *server, struct session *session);
/* Closes the participant's media side (it left, was removed, or the connection closed). */
void media_session_stop(struct session *session);

/* Starts the SFU with the configured workers and addresses. FALSE with @error. */
gboolean media_sfu_start(struct kumis_server *server, GError **error);

/* Picks the message text for the session's language. */
static inline const char *session_text(const struct session *session, const char *id_text,
                                       const char *en_text)
{
    return session->lang[0] == 'e' ? en_text : id_text;
}

/* kumis — the daemon object and the signaling message dispatch table (STYLE §8). */
#include "server/server.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <gio/gio.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#include "server/forum.h"
#include "server/server_internal.h"
#include "media/cert.h"
#include "signaling/ws_server.h"

#ifndef KUMIS_VERSION
#define KUMIS_VERSION "0.0.0"
#endif
#ifndef KUMIS_DEFAULT_WEB_ROOT
#define KUMIS_DEFAULT_WEB_ROOT "server/web"
#endif

static json_t *forum_info(const struct kumis_config *config)
{
    return json_pack(
        "{s:s, s:s, s:s, s:s, s:s}", "id", config->forum_id, "title", config->forum_title,
        "description", config->forum_description ? config->forum_description : "", "policy",
        kumis_config_policy_name(config->forum_policy), "time_zone", config->time_zone);
}

static void handle_hello(struct kumis_server *server, struct sig_conn *conn,
                         struct session *session, const struct sig_message *msg)
{
    json_int_t version = sig_message_integer(msg, "version", 0);
    if (version != KUMIS_PROTOCOL_VERSION) {
        char text[96];
        g_snprintf(text, sizeof text, "this server speaks protocol version %d",
                   KUMIS_PROTOCOL_VERSION);
        sig_conn_send_error(conn, SIG_ERR_BAD_VERSION, text, msg->id);
        return;
    }
    const char *lang = sig_message_string(msg, "lang");
    g_strlcpy(session->lang, lang ? lang : "id", sizeof session->lang);
    session->hello_done = TRUE;

    json_t *welcome = sig_reply_new("welcome", msg->id);
    json_object_set_new(welcome, "version", json_integer(KUMIS_PROTOCOL_VERSION));
    json_object_set_new(welcome, "server", json_string("kumisd " KUMIS_VERSION));
    json_object_set_new(welcome, "forum", forum_info(server->config));
    sig_conn_send(conn, welcome);
}

static void handle_ping(struct kumis_server *server, struct sig_conn *conn, struct session *session,
                        const struct sig_message *msg)
{
    (void)server;
    (void)session;
    sig_conn_send(conn, sig_reply_new("pong", msg->id));
}

static json_t *participant_json(const struct forum_participant *p)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", p->id, "name", p->name, "institution",
                     p->institution, "role", forum_role_name(p->role), "state",
                     forum_state_name(p->state));
}

/* Who hears about @about: everyone admitted, and for a participant in the lobby only the
 * moderators (they are the ones who admit). Takes ownership of @msg. */
static void broadcast(struct kumis_server *server, const struct forum_participant *about,
                      json_t *msg)
{
    g_autoptr(GList) all = forum_participants(server->forum);
    for (GList *l = all; l; l = l->next) {
        struct forum_participant *p = l->data;
        if (p == about || p->state == FORUM_STATE_LOBBY)
            continue;
        if (about->state == FORUM_STATE_LOBBY && p->role != FORUM_ROLE_MODERATOR)
            continue;
        sig_conn_send(p->conn, json_incref(msg));
    }
    json_decref(msg);
}

static void send_participant_list(struct kumis_server *server, struct sig_conn *conn,
                                  const char *type, struct forum_participant *self, json_t *id)
{
    json_t *list = json_array();
    g_autoptr(GList) all = forum_participants(server->forum);
    for (GList *l = all; l; l = l->next) {
        struct forum_participant *p = l->data;
        if (p->state != FORUM_STATE_LOBBY || self->role == FORUM_ROLE_MODERATOR || p == self)
            json_array_append_new(list, participant_json(p));
    }
    json_t *reply = sig_reply_new(type, id);
    json_object_set_new(reply, "participant", participant_json(self));
    json_object_set_new(reply, "participants", list);
    sig_conn_send(conn, reply);
}

static gboolean password_matches(const char *expected, const char *given)
{
    if (expected == NULL || given == NULL)
        return FALSE;
    size_t a = strlen(expected), b = strlen(given);
    return a == b && CRYPTO_memcmp(expected, given, a) == 0;
}

static void handle_join(struct kumis_server *server, struct sig_conn *conn, struct session *session,
                        const struct sig_message *msg)
{
    if (session->participant != NULL) {
        sig_conn_send_error(conn, SIG_ERR_NOT_ALLOWED, "already joined", msg->id);
        return;
    }
    const char *password = sig_message_string(msg, "password");
    enum forum_role role = FORUM_ROLE_ATTENDEE;
    if (password != NULL && *password) {
        if (!password_matches(server->moderator_password, password)) {
            sig_conn_send_error(conn, SIG_ERR_NOT_ALLOWED,
                                strcmp(session->lang, "en") == 0 ? "wrong moderator password"
                                                                 : "kata sandi moderator salah",
                                msg->id);
            return;
        }
        role = FORUM_ROLE_MODERATOR;
    }
    g_autoptr(GError) error = NULL;
    struct forum_participant *p =
        forum_join(server->forum, sig_message_string(msg, "name"),
                   sig_message_string(msg, "institution"), role, conn, &error);
    if (p == NULL) {
        sig_conn_send_error(conn, SIG_ERR_BAD_FIELD, error->message, msg->id);
        return;
    }
    session->participant = p;
    g_message("forum: %s joined as %s (%s) from %s", p->id, forum_role_name(p->role),
              forum_state_name(p->state), sig_conn_peer(conn));
    send_participant_list(server, conn, "joined", p, msg->id);
    if (p->state != FORUM_STATE_LOBBY)
        media_session_start(server, session);
    json_t *note = sig_reply_new("participant-joined", NULL);
    json_object_set_new(note, "participant", participant_json(p));
    broadcast(server, p, note);
}

static void participant_gone(struct kumis_server *server, struct session *session)
{
    struct forum_participant *p = session->participant;
    if (p == NULL)
        return;
    json_t *note = sig_reply_new("participant-left", NULL);
    json_object_set_new(note, "participant", json_string(p->id));
    broadcast(server, p, note);
    g_message("forum: %s left", p->id);
    media_session_stop(session);
    session->participant = NULL;
    forum_leave(server->forum, p);
}

static void handle_leave(struct kumis_server *server, struct sig_conn *conn,
                         struct session *session, const struct sig_message *msg)
{
    if (session->participant == NULL) {
        sig_conn_send_error(conn, SIG_ERR_NOT_ALLOWED, "not joined", msg->id);
        return;
    }
    participant_gone(server, session);
    sig_conn_send(conn, sig_reply_new("left", msg->id));
}

static void handle_admit(struct kumis_server *server, struct sig_conn *conn,
                         struct session *session, const struct sig_message *msg)
{
    struct forum_participant *self = session->participant;
    if (self == NULL || self->role != FORUM_ROLE_MODERATOR) {
        sig_conn_send_error(conn, SIG_ERR_NOT_ALLOWED, "only moderators admit", msg->id);
        return;
    }
    struct forum_participant *p =
        forum_participant_find(server->forum, sig_message_string(msg, "participant"));
    if (p == NULL || !forum_participant_transition(p, FORUM_STATE_ATTENDEE)) {
        sig_conn_send_error(conn, SIG_ERR_BAD_FIELD, "no such participant in the lobby", msg->id);
        return;
    }
    g_message("forum: %s admitted %s", self->id, p->id);
    send_participant_list(server, p->conn, "admitted", p, NULL);
    media_session_start(server, sig_conn_get_data(p->conn));
    json_t *note = sig_reply_new("participant-joined", NULL);
    json_object_set_new(note, "participant", participant_json(p));
    broadcast(server, p, note);
    sig_conn_send(conn, sig_reply_new("ok", msg->id));
}

static const struct {
    const char *type;
    message_handler handler;
    gboolean before_hello; /* may come before hello */
} dispatch[] = {
    {"hello", handle_hello, TRUE},
    {"ping", handle_ping, TRUE},
    {"join", handle_join, FALSE},
    {"leave", handle_leave, FALSE},
    {"admit", handle_admit, FALSE},
    {"offer", media_handle_offer, FALSE},
    {"answer", media_handle_answer, FALSE},
    {"candidate", media_handle_candidate, FALSE},
    {"quality", media_handle_quality, FALSE},
    {"stats", media_handle_stats, FALSE},
};

static void on_open(struct sig_conn *conn, void *user)
{
    struct session *session = g_new0(struct session, 1);
    session->server = user;
    session->conn = conn;
    sig_conn_set_data(conn, session);
}

static void on_message(struct sig_conn *conn, const struct sig_message *msg, void *user)
{
    struct kumis_server *server = user;
    struct session *session = sig_conn_get_data(conn);

    for (size_t i = 0; i < G_N_ELEMENTS(dispatch); i++) {
        if (strcmp(dispatch[i].type, msg->type->name) != 0)
            continue;
        if (!session->hello_done && !dispatch[i].before_hello) {
            sig_conn_send_error(conn, SIG_ERR_HELLO_FIRST, "send hello first", msg->id);
            return;
        }
        dispatch[i].handler(server, conn, session, msg);
        return;
    }
    /* The protocol table knows the type but nobody handles it: our bug, not the client's. */
    g_warning("server: no handler for message type %s", msg->type->name);
    sig_conn_send_error(conn, SIG_ERR_INTERNAL, "no handler", msg->id);
}

static void on_close(struct sig_conn *conn, void *user)
{
    struct session *session = sig_conn_get_data(conn);
    participant_gone(user, session);
    g_free(session);
    sig_conn_set_data(conn, NULL);
}

static const struct sig_listener listener = {on_open, on_message, on_close};

static gboolean state_dir_prepare(const struct kumis_config *config, GError **error)
{
    if (g_mkdir_with_parents(config->state_dir, 0750) != 0) {
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
                    "cannot create state directory %s: %s", config->state_dir, g_strerror(errno));
        return FALSE;
    }
    return TRUE;
}

/* Makes sure the self-signed HTTPS certificate exists: made on first start, ECDSA P-256,
 * for localhost and 127.0.0.1, valid ten years (DESIGN §7). Half of a pair is an error: we
 * never overwrite a key an operator may rely on. */
static gboolean https_cert_ensure(const char *cert_path, const char *key_path, GError **error)
{
    gboolean have_cert = g_file_test(cert_path, G_FILE_TEST_EXISTS);
    gboolean have_key = g_file_test(key_path, G_FILE_TEST_EXISTS);
    if (have_cert && have_key)
        return TRUE;
    if (have_cert != have_key) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                    "%s exists but %s does not: restore it, or remove both to make new ones",
                    have_cert ? cert_path : key_path, have_cert ? key_path : cert_path);
        return FALSE;
    }
    struct kumis_cert *cert = kumis_cert_new_self_signed(
        "kumis localhost", "DNS:localhost,IP:127.0.0.1,IP:::1", 3650, error);
    if (cert == NULL)
        return FALSE;
    gboolean ok = kumis_cert_write_pem(cert, cert_path, key_path, error);
    kumis_cert_unref(cert);
    if (ok)
        g_message("made a self-signed certificate: %s", cert_path);
    return ok;
}

/* The configured moderator password, or the one kept in state_dir (made on first start and
 * printed once, DESIGN §7). Returns: (transfer full) or NULL with @error. */
static char *moderator_password_load(const struct kumis_config *config, GError **error)
{
    if (config->moderator_password)
        return g_strdup(config->moderator_password);
    g_autofree char *path = kumis_config_state_path(config, "moderator-password");
    char *text = NULL;
    if (g_file_get_contents(path, &text, NULL, NULL))
        return g_strstrip(text);
    unsigned char raw[9];
    if (RAND_bytes(raw, sizeof raw) != 1) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "no randomness for a password");
        return NULL;
    }
    g_autofree char *b64 = g_base64_encode(raw, sizeof raw);
    g_strdelimit(b64, "+/", 'k');
    if (!g_file_set_contents_full(path, b64, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, error))
        return NULL;
    fprintf(stderr, "kumisd: moderator password (shown once, kept in %s): %s\n", path, b64);
    return g_steal_pointer(&b64);
}

struct kumis_server *kumis_server_new(const struct kumis_config *config, GMainLoop *loop,
                                      GError **error)
{
    if (!state_dir_prepare(config, error))
        return NULL;

    struct kumis_server *server = g_new0(struct kumis_server, 1);
    server->config = config;
    if (config->certificate) {
        server->cert_path = g_strdup(config->certificate);
        server->key_path = g_strdup(config->private_key);
    } else {
        server->cert_path = kumis_config_state_path(config, "cert.pem");
        server->key_path = kumis_config_state_path(config, "key.pem");
        if (!https_cert_ensure(server->cert_path, server->key_path, error)) {
            kumis_server_free(server);
            return NULL;
        }
    }
    server->web_root = g_strdup(config->web_root ? config->web_root : KUMIS_DEFAULT_WEB_ROOT);
    server->moderator_password = moderator_password_load(config, error);
    if (server->moderator_password == NULL) {
        kumis_server_free(server);
        return NULL;
    }
    server->forum = forum_new(config);
    if (!media_sfu_start(server, error)) {
        kumis_server_free(server);
        return NULL;
    }

    struct sig_server_options options = {
        .listen_address = config->listen_address,
        .port = config->port,
        .certificate_path = server->cert_path,
        .private_key_path = server->key_path,
        .web_root = server->web_root,
        .max_message_bytes = config->max_message_bytes,
        .max_messages_per_second = config->max_messages_per_second,
        .max_connections = config->max_connections,
    };
    server->signaling = sig_server_new(&options, loop, &listener, server, error);
    if (server->signaling == NULL) {
        kumis_server_free(server);
        return NULL;
    }
    return server;
}

void kumis_server_free(struct kumis_server *server)
{
    if (server == NULL)
        return;
    sig_server_free(server->signaling);
    if (server->sfu)
        sfu_free(server->sfu);
    forum_free(server->forum);
    g_free(server->moderator_password);
    g_free(server->cert_path);
    g_free(server->key_path);
    g_free(server->web_root);
    g_free(server);
}

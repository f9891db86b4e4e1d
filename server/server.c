/* kumis — the daemon object and the signaling message dispatch table (STYLE §8). */
#include "server/server.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <jansson.h>
#include <string.h>

#include "server/tls_cert.h"
#include "signaling/ws_server.h"

#ifndef KUMIS_VERSION
#define KUMIS_VERSION "0.0.0"
#endif
#ifndef KUMIS_DEFAULT_WEB_ROOT
#define KUMIS_DEFAULT_WEB_ROOT "server/web"
#endif

struct kumis_server {
    const struct kumis_config *config;
    struct sig_server *signaling;
    char *cert_path;
    char *key_path;
    char *web_root;
};

/* What the server remembers of one signaling connection. */
struct session {
    gboolean hello_done;
    char lang[4];
};

typedef void (*message_handler)(struct kumis_server *server, struct sig_conn *conn,
                                struct session *session, const struct sig_message *msg);

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

/* Messages of the protocol that this server does not offer yet get a clear answer. */
static void handle_unavailable(struct kumis_server *server, struct sig_conn *conn,
                               struct session *session, const struct sig_message *msg)
{
    (void)server;
    char text[128];
    g_snprintf(text, sizeof text,
               strcmp(session->lang, "en") == 0 ? "\"%s\" is not available on this server yet"
                                                : "\"%s\" belum tersedia di server ini",
               msg->type->name);
    sig_conn_send_error(conn, SIG_ERR_UNAVAILABLE, text, msg->id);
}

static const struct {
    const char *type;
    message_handler handler;
    gboolean before_hello; /* may come before hello */
} dispatch[] = {
    {"hello", handle_hello, TRUE},
    {"ping", handle_ping, TRUE},
    {"join", handle_unavailable, FALSE},
    {"leave", handle_unavailable, FALSE},
    {"offer", handle_unavailable, FALSE},
    {"answer", handle_unavailable, FALSE},
    {"candidate", handle_unavailable, FALSE},
};

static void on_open(struct sig_conn *conn, void *user)
{
    (void)user;
    sig_conn_set_data(conn, g_new0(struct session, 1));
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
    (void)user;
    g_free(sig_conn_get_data(conn));
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
        gboolean created = FALSE;
        server->cert_path = kumis_config_state_path(config, "cert.pem");
        server->key_path = kumis_config_state_path(config, "key.pem");
        if (!kumis_tls_cert_ensure(server->cert_path, server->key_path, &created, error)) {
            kumis_server_free(server);
            return NULL;
        }
        if (created)
            g_message("made a self-signed certificate: %s", server->cert_path);
    }
    server->web_root = g_strdup(config->web_root ? config->web_root : KUMIS_DEFAULT_WEB_ROOT);

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
    g_free(server->cert_path);
    g_free(server->key_path);
    g_free(server->web_root);
    g_free(server);
}

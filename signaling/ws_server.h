/* kumis — the libwebsockets side: HTTPS (static web client, /healthz) and the WSS signaling
 * socket, on the GLib main loop of the control thread. All lws_write() calls live in
 * ws_server.c (STYLE: the cross-thread write protocol kept in one file). */
#pragma once

#include <glib.h>
#include <jansson.h>

#include "signaling/protocol.h"

struct sig_server;
struct sig_conn;

struct sig_server_options {
    const char *listen_address;
    guint16 port;
    const char *certificate_path; /* PEM */
    const char *private_key_path; /* PEM */
    const char *web_root;         /* folder served at / */
    gsize max_message_bytes;
    guint max_messages_per_second;
    guint max_connections;
};

/* Events go up to the owner (server/) through this listener; signaling decides nothing. */
struct sig_listener {
    void (*on_open)(struct sig_conn *conn, void *user);
    /* @msg is valid for the call only. */
    void (*on_message)(struct sig_conn *conn, const struct sig_message *msg, void *user);
    void (*on_close)(struct sig_conn *conn, void *user);
};

/* Starts listening on the default GMainContext's loop @loop.
 * Returns: (transfer full) or NULL with @error set (port in use, bad certificate, ...). */
struct sig_server *sig_server_new(const struct sig_server_options *options, GMainLoop *loop,
                                  const struct sig_listener *listener, void *user, GError **error);

/* Closes every connection and the listening socket. */
void sig_server_free(struct sig_server *server);

/* Number of open WebSocket connections. */
guint sig_server_connection_count(const struct sig_server *server);

/* Queues @msg for @conn; it is written when the socket is writable. Takes ownership of @msg.
 * A connection whose queue grows past its limit (a client that does not read) is closed. */
void sig_conn_send(struct sig_conn *conn, json_t *msg);

/* Sends an error message (see sig_error_new). @id: (nullable) (borrowed). */
void sig_conn_send_error(struct sig_conn *conn, enum sig_error_code code, const char *message,
                         json_t *id);

/* Closes @conn with a WebSocket close @status (RFC 6455 §7.4) and @reason after the queued
 * messages are written. on_close follows. */
void sig_conn_close(struct sig_conn *conn, guint16 status, const char *reason);

guint64 sig_conn_id(const struct sig_conn *conn);
void sig_conn_set_data(struct sig_conn *conn, void *data);
void *sig_conn_get_data(const struct sig_conn *conn);
/* The peer's address as text ("127.0.0.1"), for logs. */
const char *sig_conn_peer(const struct sig_conn *conn);

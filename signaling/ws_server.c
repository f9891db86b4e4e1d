/* kumis — libwebsockets server: HTTPS static files, /healthz, and the kumis.v1 WebSocket.
 *
 * Runs on the control thread's GLib main loop (lws GLib event-loop plugin). Every lws_write()
 * of the daemon is in this file: others queue JSON with sig_conn_send() and we write when lws
 * says the socket is writable (lws' rule: one write per WRITEABLE callback). */
#include "signaling/ws_server.h"

#include <gio/gio.h>
#include <libwebsockets.h>
#include <string.h>

#define SEND_QUEUE_LIMIT    1024 /* messages queued for one slow reader before we give up */
#define RATE_WINDOW_SECONDS 20   /* the token bucket holds this many seconds of messages */

struct sig_conn {
    struct sig_server *server;
    struct lws *wsi;
    guint64 id;
    void *data;
    GQueue out;       /* char* (transfer full), each a complete JSON text */
    GByteArray *rx;   /* fragments of the message being received */
    gboolean rx_drop; /* the current message went over the limit: discard the rest */
    gboolean rx_binary;
    gdouble tokens;   /* rate limit: messages left in the bucket */
    gint64 tokens_at; /* monotonic µs of the last refill */
    guint16 close_status;
    char *close_reason;
    char peer[64];
};

struct sig_server {
    struct sig_server_options options;
    struct sig_listener listener;
    void *user;
    struct lws_context *context;
    struct lws_http_mount mount_health;
    struct lws_http_mount mount_web;
    struct lws_protocols protocols[3];
    GHashTable *conns; /* guint64 id -> struct sig_conn* */
    guint64 next_id;
    char *web_root;
    char *listen_address;
};

/* Per-session data lws allocates for us: just a pointer to our own struct. */
struct ws_pss {
    struct sig_conn *conn;
};

static void lws_log_to_glib(int level, const char *line)
{
    g_autofree char *trimmed = g_strchomp(g_strdup(line));
    if (level & LLL_ERR)
        g_warning("lws: %s", trimmed);
    else
        g_message("lws: %s", trimmed);
}

static int http_reply(struct lws *wsi, unsigned status, const char *type, const char *body)
{
    unsigned char buf[LWS_PRE + 512];
    unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof buf;
    size_t len = strlen(body);

    if (lws_add_http_common_headers(wsi, status, type, (lws_filepos_t)len, &p, end) ||
        lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
                                    (const unsigned char *)"no-store", 8, &p, end) ||
        lws_finalize_write_http_header(wsi, start, &p, end))
        return 1;
    unsigned char body_buf[LWS_PRE + 256];
    if (len > sizeof body_buf - LWS_PRE)
        return 1;
    memcpy(body_buf + LWS_PRE, body, len);
    if (lws_write(wsi, body_buf + LWS_PRE, len, LWS_WRITE_HTTP_FINAL) != (int)len)
        return 1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int on_http_api(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len)
{
    (void)user;
    (void)len;
    /* A WebSocket upgrade lands here when it names no subprotocol we speak (libwebsockets
     * binds it to the first protocol): refused, so a client of another protocol learns it at
     * once instead of talking to nobody. */
    if (reason == LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION)
        return -1;
    if (reason != LWS_CALLBACK_HTTP)
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    /* The mount is "/healthz": @in is what follows it; only the exact path is ours. */
    if (in != NULL && ((const char *)in)[0] != '\0' && strcmp(in, "/") != 0)
        return http_reply(wsi, HTTP_STATUS_NOT_FOUND, "text/plain", "not found\n");
    return http_reply(wsi, HTTP_STATUS_OK, "text/plain", "ok\n");
}

static struct sig_server *server_of(struct lws *wsi)
{
    return lws_context_user(lws_get_context(wsi));
}

static void conn_flush_later(struct sig_conn *conn)
{
    if (conn->wsi)
        lws_callback_on_writable(conn->wsi);
}

void sig_conn_send(struct sig_conn *conn, json_t *msg)
{
    g_return_if_fail(conn != NULL && msg != NULL);
    if (conn->close_status != 0) {
        json_decref(msg);
        return;
    }
    if (g_queue_get_length(&conn->out) >= SEND_QUEUE_LIMIT) {
        json_decref(msg);
        sig_conn_close(conn, LWS_CLOSE_STATUS_POLICY_VIOLATION, "not reading");
        return;
    }
    g_queue_push_tail(&conn->out, sig_message_serialize(msg));
    json_decref(msg);
    conn_flush_later(conn);
}

void sig_conn_send_error(struct sig_conn *conn, enum sig_error_code code, const char *message,
                         json_t *id)
{
    sig_conn_send(conn, sig_error_new(code, message, id));
}

void sig_conn_close(struct sig_conn *conn, guint16 status, const char *reason)
{
    if (conn->close_status != 0)
        return;
    conn->close_status = status;
    conn->close_reason = g_strdup(reason ? reason : "");
    conn_flush_later(conn);
}

guint64 sig_conn_id(const struct sig_conn *conn)
{
    return conn->id;
}

void sig_conn_set_data(struct sig_conn *conn, void *data)
{
    conn->data = data;
}

void *sig_conn_get_data(const struct sig_conn *conn)
{
    return conn->data;
}

const char *sig_conn_peer(const struct sig_conn *conn)
{
    return conn->peer;
}

guint sig_server_connection_count(const struct sig_server *server)
{
    return g_hash_table_size(server->conns);
}

/* Token bucket: refills max_messages_per_second a second, holds RATE_WINDOW_SECONDS of them. */
static gboolean conn_rate_allows(struct sig_conn *conn)
{
    const struct sig_server_options *o = &conn->server->options;
    gint64 now = g_get_monotonic_time();
    gdouble cap = (gdouble)o->max_messages_per_second * RATE_WINDOW_SECONDS;
    conn->tokens += (gdouble)(now - conn->tokens_at) / G_USEC_PER_SEC * o->max_messages_per_second;
    conn->tokens = MIN(conn->tokens, cap);
    conn->tokens_at = now;
    if (conn->tokens < 1.0)
        return FALSE;
    conn->tokens -= 1.0;
    return TRUE;
}

static void conn_handle_message(struct sig_conn *conn)
{
    struct sig_server *server = conn->server;
    struct sig_message msg;
    struct sig_parse_error err;

    if (conn->rx_binary) {
        sig_conn_send_error(conn, SIG_ERR_BINARY_UNSUPPORTED,
                            "binary frames are not part of the kumis protocol", NULL);
        return;
    }
    if (conn->rx_drop) {
        char text[96];
        g_snprintf(text, sizeof text, "message over the limit of %zu bytes",
                   (size_t)server->options.max_message_bytes);
        sig_conn_send_error(conn, SIG_ERR_TOO_LARGE, text, NULL);
        return;
    }
    if (!sig_message_parse((const char *)conn->rx->data, conn->rx->len,
                           server->options.max_message_bytes, &msg, &err)) {
        sig_conn_send_error(conn, err.code, err.message, err.id);
        sig_parse_error_clear(&err);
        return;
    }
    server->listener.on_message(conn, &msg, server->user);
    sig_message_clear(&msg);
}

static int on_receive(struct sig_conn *conn, struct lws *wsi, const void *in, size_t len)
{
    if (lws_is_first_fragment(wsi)) {
        g_byte_array_set_size(conn->rx, 0);
        conn->rx_drop = FALSE;
        conn->rx_binary = lws_frame_is_binary(wsi);
        if (!conn_rate_allows(conn)) {
            g_message("signaling: connection %" G_GUINT64_FORMAT " from %s floods: closing",
                      conn->id, conn->peer);
            lws_close_reason(wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION,
                             (unsigned char *)"too many messages", 17);
            return -1;
        }
    }
    if (!conn->rx_drop && !conn->rx_binary) {
        if (conn->rx->len + len > conn->server->options.max_message_bytes) {
            conn->rx_drop = TRUE;
            g_byte_array_set_size(conn->rx, 0);
        } else {
            g_byte_array_append(conn->rx, in, (guint)len);
        }
    }
    if (lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0)
        conn_handle_message(conn);
    return 0;
}

static int on_writeable(struct sig_conn *conn, struct lws *wsi)
{
    char *text = g_queue_pop_head(&conn->out);
    if (text != NULL) {
        size_t len = strlen(text);
        unsigned char *buf = g_malloc(LWS_PRE + len);
        memcpy(buf + LWS_PRE, text, len);
        int n = lws_write(wsi, buf + LWS_PRE, len, LWS_WRITE_TEXT);
        g_free(buf);
        g_free(text);
        if (n < (int)len) {
            /* lws buffers what the socket did not take; less than all means it failed, and the
             * message stream is broken: close (the client sees 1006). */
            g_warning("ws: connection %" G_GUINT64_FORMAT " (%s): write of %zu bytes gave %d: "
                      "closing",
                      conn->id, conn->peer, len, n);
            return -1;
        }
        if (!g_queue_is_empty(&conn->out) || conn->close_status)
            lws_callback_on_writable(wsi);
        return 0;
    }
    if (conn->close_status) {
        lws_close_reason(wsi, conn->close_status, (unsigned char *)conn->close_reason,
                         strlen(conn->close_reason));
        return -1;
    }
    return 0;
}

static struct sig_conn *conn_new(struct sig_server *server, struct lws *wsi)
{
    struct sig_conn *conn = g_new0(struct sig_conn, 1);
    conn->server = server;
    conn->wsi = wsi;
    conn->id = ++server->next_id;
    conn->rx = g_byte_array_new();
    conn->tokens = (gdouble)server->options.max_messages_per_second * RATE_WINDOW_SECONDS;
    conn->tokens_at = g_get_monotonic_time();
    g_queue_init(&conn->out);
    lws_get_peer_simple(wsi, conn->peer, sizeof conn->peer);
    g_hash_table_insert(server->conns, &conn->id, conn);
    return conn;
}

static void conn_free(struct sig_conn *conn)
{
    g_queue_clear_full(&conn->out, g_free);
    g_byte_array_unref(conn->rx);
    g_free(conn->close_reason);
    g_free(conn);
}

static int on_ws(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                 size_t len)
{
    struct ws_pss *pss = user;
    struct sig_server *server = server_of(wsi);

    switch (reason) {
    case LWS_CALLBACK_ESTABLISHED:
        if (g_hash_table_size(server->conns) >= server->options.max_connections) {
            lws_close_reason(wsi, (enum lws_close_status)1013 /* IANA: Try Again Later */,
                             (unsigned char *)"full", 4);
            return -1;
        }
        pss->conn = conn_new(server, wsi);
        server->listener.on_open(pss->conn, server->user);
        return 0;
    case LWS_CALLBACK_RECEIVE:
        return pss->conn ? on_receive(pss->conn, wsi, in, len) : -1;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return pss->conn ? on_writeable(pss->conn, wsi) : -1;
    case LWS_CALLBACK_CLOSED:
        if (pss->conn) {
            struct sig_conn *conn = pss->conn;
            pss->conn = NULL;
            conn->wsi = NULL;
            g_hash_table_remove(server->conns, &conn->id);
            server->listener.on_close(conn, server->user);
            conn_free(conn);
        }
        return 0;
    default:
        return 0;
    }
}

struct sig_server *sig_server_new(const struct sig_server_options *options, GMainLoop *loop,
                                  const struct sig_listener *listener, void *user, GError **error)
{
    struct sig_server *server = g_new0(struct sig_server, 1);
    server->options = *options;
    server->listener = *listener;
    server->user = user;
    server->conns = g_hash_table_new(g_int64_hash, g_int64_equal);
    server->web_root = g_strdup(options->web_root);
    server->listen_address = g_strdup(options->listen_address);
    server->options.web_root = server->web_root;
    server->options.listen_address = server->listen_address;
    server->options.certificate_path = server->options.private_key_path = NULL;

    lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_to_glib);

    server->mount_web = (struct lws_http_mount){
        .mountpoint = "/",
        .mountpoint_len = 1,
        .origin = server->web_root,
        .def = "index.html",
        .origin_protocol = LWSMPRO_FILE,
        .cache_max_age = 60,
        .cache_reusable = 1,
        .cache_revalidate = 1,
    };
    server->mount_health = (struct lws_http_mount){
        .mount_next = &server->mount_web,
        .mountpoint = "/healthz",
        .mountpoint_len = 8,
        .protocol = "http-api",
        .origin_protocol = LWSMPRO_CALLBACK,
    };
    server->protocols[0] = (struct lws_protocols){"http-api", on_http_api, 0, 0, 0, NULL, 0};
    server->protocols[1] = (struct lws_protocols){
        KUMIS_PROTOCOL_NAME, on_ws, sizeof(struct ws_pss), 16384, 0, NULL, 0};
    server->protocols[2] = (struct lws_protocols){NULL, NULL, 0, 0, 0, NULL, 0};

    void *foreign_loops[1] = {loop};
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = options->port;
    info.iface = server->listen_address;
    info.protocols = server->protocols;
    info.mounts = &server->mount_health;
    info.user = server;
    info.foreign_loops = foreign_loops;
    info.ssl_cert_filepath = options->certificate_path;
    info.ssl_private_key_filepath = options->private_key_path;
    /* HTTP/1.1 only. Over HTTP/2, Chromium carries every WebSocket to this origin (RFC 8441), from
     * its pages (seen even across Playwright contexts), as streams of one TCP connection, and
     * lws 4.1 sometimes ends that whole connection when it closes one stream: closing one
     * participant's session (a vanished speaker) dropped everyone else in that browser with 1006.
     * One connection per WebSocket keeps each session's fate its own. */
    info.alpn = "http/1.1";
    /* The lws option macros share bits (each carries what it implies), hence the NOLINT. */
    // NOLINTBEGIN(misc-redundant-expression)
    info.options = LWS_SERVER_OPTION_GLIB | LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT |
                   LWS_SERVER_OPTION_ALLOW_NON_SSL_ON_SSL_PORT |
                   LWS_SERVER_OPTION_REDIRECT_HTTP_TO_HTTPS |
                   LWS_SERVER_OPTION_HTTP_HEADERS_SECURITY_BEST_PRACTICES_ENFORCE |
                   LWS_SERVER_OPTION_VALIDATE_UTF8;
    // NOLINTEND(misc-redundant-expression)
    info.timeout_secs = 20;
    info.ka_time = 60;
    info.ka_probes = 3;
    info.ka_interval = 10;

    server->context = lws_create_context(&info);
    if (server->context == NULL) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
                    "cannot listen on https://%s:%u/ (port in use, or bad certificate %s)",
                    options->listen_address, options->port, options->certificate_path);
        sig_server_free(server);
        return NULL;
    }
    return server;
}

void sig_server_free(struct sig_server *server)
{
    if (server == NULL)
        return;
    if (server->context)
        lws_context_destroy(server->context);
    g_hash_table_destroy(server->conns);
    g_free(server->web_root);
    g_free(server->listen_address);
    g_free(server);
}

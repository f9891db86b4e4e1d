/* kumis — received datagrams that wait because their worker is busy. */
#include "media/rx_backlog.h"

#include <string.h>

struct rx_datagram {
    gsize len;
    guint8 data[];
};

struct rx_backlog_source {
    GSource base;
    struct kumis_rx_backlog *backlog;
};

struct kumis_rx_backlog {
    GQueue datagrams; /* struct rx_datagram, oldest first */
    GSource *source;
    kumis_rx_handler handler;
    void *user_data;
};

/* Works the backlog off for one slice (at least one datagram), then lets the loop turn. */
static gboolean rx_backlog_dispatch(GSource *source, GSourceFunc cb, gpointer data)
{
    (void)cb;
    (void)data;
    struct kumis_rx_backlog *b = ((struct rx_backlog_source *)source)->backlog;
    gint64 end = g_get_monotonic_time() + KUMIS_RX_SLICE_US;
    struct rx_datagram *d;
    while ((d = g_queue_pop_head(&b->datagrams)) != NULL) {
        b->handler(d->data, d->len, b->user_data);
        g_free(d);
        if (g_get_monotonic_time() >= end)
            break;
    }
    g_source_set_ready_time(source, g_queue_is_empty(&b->datagrams) ? -1 : 0);
    return G_SOURCE_CONTINUE;
}

static GSourceFuncs rx_backlog_funcs = {NULL, NULL, rx_backlog_dispatch, NULL, NULL, NULL};

struct kumis_rx_backlog *kumis_rx_backlog_new(GMainContext *context, kumis_rx_handler handler,
                                              void *user_data)
{
    struct kumis_rx_backlog *b = g_new0(struct kumis_rx_backlog, 1);
    g_queue_init(&b->datagrams);
    b->handler = handler;
    b->user_data = user_data;
    b->source = g_source_new(&rx_backlog_funcs, sizeof(struct rx_backlog_source));
    ((struct rx_backlog_source *)b->source)->backlog = b;
    g_source_set_static_name(b->source, "kumis-rx-backlog");
    g_source_attach(b->source, context);
    return b;
}

void kumis_rx_backlog_free(struct kumis_rx_backlog *backlog)
{
    if (backlog == NULL)
        return;
    g_queue_clear_full(&backlog->datagrams, g_free);
    g_source_destroy(backlog->source);
    g_source_unref(backlog->source);
    g_free(backlog);
}

gboolean kumis_rx_backlog_must_wait(const struct kumis_rx_backlog *backlog)
{
    if (backlog != NULL && backlog->datagrams.length > 0)
        return TRUE;
    /* GLib caches the time at which this iteration started dispatching. */
    GSource *current = g_main_current_source();
    return current != NULL &&
           g_get_monotonic_time() - g_source_get_time(current) >= KUMIS_RX_SLICE_US;
}

/* Removes the oldest datagram over KUMIS_RX_SMALL_BYTES. Returns: FALSE when there is none. */
static gboolean rx_backlog_evict_big(struct kumis_rx_backlog *b)
{
    for (GList *l = b->datagrams.head; l != NULL; l = l->next) {
        struct rx_datagram *d = l->data;
        if (d->len > KUMIS_RX_SMALL_BYTES) {
            g_queue_delete_link(&b->datagrams, l);
            g_free(d);
            return TRUE;
        }
    }
    return FALSE;
}

guint kumis_rx_backlog_push(struct kumis_rx_backlog *backlog, const guint8 *data, gsize len)
{
    guint dropped = 0;
    if (g_queue_get_length(&backlog->datagrams) >= KUMIS_RX_BACKLOG_MAX) {
        if (len > KUMIS_RX_SMALL_BYTES || !rx_backlog_evict_big(backlog))
            return 1;
        dropped = 1;
    }
    struct rx_datagram *d = g_malloc(sizeof *d + len);
    d->len = len;
    memcpy(d->data, data, len);
    g_queue_push_tail(&backlog->datagrams, d);
    g_source_set_ready_time(backlog->source, 0);
    return dropped;
}

guint kumis_rx_backlog_length(const struct kumis_rx_backlog *backlog)
{
    return backlog->datagrams.length;
}

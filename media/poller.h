/* kumis — a worker's epoll set of small private contexts. GLib walks every source of a context
 * on every loop iteration (prepare and check) and polls every fd: with each transport's socket
 * a source of the worker's context, a worker carrying 50 subscribers walked ~100 sources and
 * polled ~50 sockets for each of its ~500 wake-ups a second, most of them for one publisher's
 * socket. Here each transport's socket lives in a context of its own; the worker's context
 * holds one source for all of them (an epoll fd), and only a context whose fd is ready is
 * iterated. */
#pragma once

#include <glib.h>

struct kumis_poller;
struct kumis_poller_watch;

/* Attaches the poller's source to @context (a worker's). Returns: (transfer full) */
struct kumis_poller *kumis_poller_new(GMainContext *context);

/* Stops the poller; every watch must have been removed. NULL is ignored. */
void kumis_poller_free(struct kumis_poller *poller);

/* @context's thread: from now on @context (a private one, holding sockets' sources and no
 * timers) is iterated by @poller whenever one of its fds is ready, on @poller's thread, which
 * acquires it. Its fds are read again after each iteration, so sources added to it later are
 * watched too. Returns: the watch, for kumis_poller_remove(). */
struct kumis_poller_watch *kumis_poller_add(struct kumis_poller *poller, GMainContext *context);

/* @poller's thread: stops watching and releases the context (not unreferenced). Safe from
 * within one of the poller's own dispatches. NULL is ignored. */
void kumis_poller_remove(struct kumis_poller_watch *watch);

/* How many contexts @poller iterated since it was made (@poller's thread; for tests). */
guint64 kumis_poller_get_iterations(const struct kumis_poller *poller);

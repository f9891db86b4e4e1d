/* kumis — a worker's epoll set of small private contexts. GLib walks every source of a context
 * on every loop iteration (prepare and check) and polls every fd: with each transport's socket
 * and libnice's timers sources of the worker's context, a worker carrying 50 subscribers walked
 * ~100 sources and polled ~50 sockets for each of its ~500 wake-ups a second, most of them for
 * one publisher's socket. Here each transport's agent (socket and timers) lives in a context of
 * its own; the worker's context holds one source for all of them (an epoll fd, and a wait
 * until the earliest of their timers), and only a context whose fd is ready or whose timer
 * is due is iterated. */
#pragma once

#include <glib.h>

struct kumis_poller;
struct kumis_poller_watch;

/* Attaches the poller's source to @context (a worker's). Returns: (transfer full) */
struct kumis_poller *kumis_poller_new(GMainContext *context);

/* Stops the poller; every watch must have been removed. NULL is ignored. */
void kumis_poller_free(struct kumis_poller *poller);

/* @context's thread: from now on @context (a private one: sockets' sources and timers) is
 * iterated by @poller whenever one of its fds is ready or its earliest timer is due, on
 * @poller's thread, which acquires it. What it waits for is read again after each iteration,
 * so sources added from its own dispatches are watched too, and sources attached from other
 * threads wake it (GLib signals a context owned by another thread). Returns: the watch, for
 * kumis_poller_remove(). */
struct kumis_poller_watch *kumis_poller_add(struct kumis_poller *poller, GMainContext *context);

/* @poller's thread, outside the context's own dispatch: reads again what the context waits
 * for. Call after adding or changing its sources from @poller's thread (GLib does not wake a
 * context for its owner's own changes). NULL is ignored. */
void kumis_poller_refresh(struct kumis_poller_watch *watch);

/* @poller's thread: stops watching and releases the context (not unreferenced). Safe from
 * within one of the poller's own dispatches. NULL is ignored. */
void kumis_poller_remove(struct kumis_poller_watch *watch);

/* How many contexts @poller iterated since it was made (@poller's thread; for tests). */
guint64 kumis_poller_get_iterations(const struct kumis_poller *poller);

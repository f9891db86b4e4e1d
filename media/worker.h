/* kumis — media worker threads (DESIGN §3): each runs its own GMainContext and GMainLoop; ICE
 * agents, DTLS timers and packet work of the transports it carries live there. Workers never
 * touch forum state: they post typed events to the control thread's context. */
#pragma once

#include <glib.h>

struct kumis_worker_pool;
struct kumis_worker;

/* Starts @n_workers threads ("kumis-media-N"; 0 means one per processor core). Events posted
 * with kumis_worker_post_control() go to @control (NULL: the global default context, where the
 * control thread runs). Fails with @error when a thread cannot be created.
 * Returns: (transfer full) stop and free with kumis_worker_pool_free(). */
struct kumis_worker_pool *kumis_worker_pool_new(guint n_workers, GMainContext *control,
                                                GError **error);

/* Stops every worker loop and joins the threads. Work queued before this call still runs (the
 * stop is queued behind it), so transports closed before it are torn down cleanly; their CLOSED
 * events then wait on the control context. A transport still open leaks its agent: close them
 * all first. Work queued later is dropped (its destroy notify runs). Control thread; NULL is
 * ignored. */
void kumis_worker_pool_free(struct kumis_worker_pool *pool);

guint kumis_worker_pool_get_size(const struct kumis_worker_pool *pool);

/* Returns: (transfer none) worker @index (< size). */
struct kumis_worker *kumis_worker_pool_get(struct kumis_worker_pool *pool, guint index);

/* Returns: (transfer none) the worker with the fewest transports (the lowest index on a tie).
 * kumis_transport_new() adds its own load; other users call kumis_worker_load_add(). Never
 * fails. */
struct kumis_worker *kumis_worker_pool_pick(struct kumis_worker_pool *pool);

/* Adjusts the number of transports @worker carries (any thread, atomic). */
void kumis_worker_load_add(struct kumis_worker *worker, gint delta);
guint kumis_worker_get_load(const struct kumis_worker *worker);

guint kumis_worker_get_index(const struct kumis_worker *worker);

/* Returns: (transfer none) the worker's own context, for agents and timers. */
GMainContext *kumis_worker_get_context(struct kumis_worker *worker);

/* Returns: (transfer none) the worker's batched UDP sender (media/sender.h); use it on the
 * worker's thread only. */
struct kumis_sender *kumis_worker_get_sender(struct kumis_worker *worker);

/* Returns: (transfer none) the worker's epoll of private contexts (media/poller.h), where
 * transports' sockets are read; use it on the worker's thread only. */
struct kumis_poller *kumis_worker_get_poller(struct kumis_worker *worker);

/* Returns: (transfer none) the control thread's context the pool was made with. */
GMainContext *kumis_worker_get_control_context(struct kumis_worker *worker);

/* TRUE when called on @worker's thread (its context is owned by the caller). */
gboolean kumis_worker_is_current(struct kumis_worker *worker);

/* Runs @func(@data) on @worker, with g_main_context_invoke_full() semantics: directly when
 * already on the worker's thread, else queued. @notify frees @data afterwards (or when the pool
 * stops before it ran). */
void kumis_worker_invoke(struct kumis_worker *worker, GSourceFunc func, gpointer data,
                         GDestroyNotify notify);

/* As kumis_worker_invoke() but always queued, even from the worker itself: the caller's stack
 * (say, inside a libnice callback) unwinds before @func runs. */
void kumis_worker_post(struct kumis_worker *worker, GSourceFunc func, gpointer data,
                       GDestroyNotify notify);

/* Queues @func(@data) on the control context (g_main_context_invoke_full()); this is how a
 * worker reports an event. @notify frees @data afterwards. */
void kumis_worker_post_control(struct kumis_worker *worker, GSourceFunc func, gpointer data,
                               GDestroyNotify notify);

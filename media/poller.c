/* kumis — a worker's epoll set of small private contexts (see poller.h). */
#include "media/poller.h"

#include <errno.h>
#include <gst/gst.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "media/rx_backlog.h"

GST_DEBUG_CATEGORY_STATIC(kumis_poller_debug);
#define GST_CAT_DEFAULT kumis_poller_debug

/* A transport's context holds its socket's source and the context's own wake-up fd. */
#define WATCH_FDS_MAX 8
#define EVENTS_MAX    64
/* Source IDs are per context and count from 1: a transport's context holds a few. */
#define WATCH_SOURCE_IDS 64

/* What an fd's epoll event points at: its watch, and which fd it is. */
struct watch_slot {
    struct kumis_poller_watch *watch;
    gint fd;
};

struct kumis_poller_watch {
    struct kumis_poller *poller;
    GMainContext *context;
    GPollFD fds[WATCH_FDS_MAX];
    struct watch_slot slots[WATCH_FDS_MAX];
    gint n_fds; /* the fds in the epoll set, as the context last asked */
    /* What epoll reported for its fds in the current dispatch round (ready_round). */
    GPollFD ready[WATCH_FDS_MAX];
    guint n_ready;
    guint64 ready_round;
    gint64 deadline;    /* monotonic µs when its next timer is due; G_MAXINT64: none */
    guint heap_index;   /* its place in the poller's deadline heap; G_MAXUINT: not in it */
    guint64 round;      /* the dispatch round that last iterated it */
    gboolean removed;   /* freed at the end of the dispatch that removed it */
    gboolean truncated; /* logged once: the context wanted more than WATCH_FDS_MAX fds */
};

struct kumis_poller {
    GSource *source;
    int epfd;
    guint64 round;
    gboolean dispatching;
    GPtrArray *removed; /* watches removed during a dispatch, freed at its end */
    GPtrArray *heap;    /* watches with a deadline, a binary min-heap on it */
    guint64 iterations;
};

struct poller_source {
    GSource base;
    struct kumis_poller *poller;
};

static void poller_debug_init(void)
{
    static gsize done = 0;
    if (g_once_init_enter(&done)) {
        GST_DEBUG_CATEGORY_INIT(kumis_poller_debug, "kumis-poller", 0, "kumis epoll of contexts");
        g_once_init_leave(&done, 1);
    }
}

static guint32 poll_to_epoll(gushort events)
{
    return (events & G_IO_IN ? EPOLLIN : 0) | (events & G_IO_OUT ? EPOLLOUT : 0) |
           (events & G_IO_PRI ? EPOLLPRI : 0);
}

/* GLib 2.74 blocks a source that is not allowed to recurse while it is dispatched: it takes
 * its fds out of the context's poll set and puts them back afterwards, and putting them back
 * wakes the context (a write(2) to its eventfd, and an extra turn of the loop to read it), for
 * every dispatch of every socket. Nothing here iterates a context from within its own
 * dispatch, so letting the sources recurse changes nothing else. */
static void context_let_sources_recurse(GMainContext *context)
{
    for (guint id = 1; id <= WATCH_SOURCE_IDS; id++) {
        GSource *source = g_main_context_find_source_by_id(context, id);
        if (source != NULL)
            g_source_set_can_recurse(source, TRUE);
    }
}

/* Makes the epoll set hold exactly @fds (@n of them) for @w. */
static void watch_sync_fds(struct kumis_poller_watch *w, const GPollFD *fds, gint n)
{
    if (n > WATCH_FDS_MAX) {
        if (!w->truncated)
            GST_ERROR("context %p wants %d fds; watching the first %d", (void *)w->context, n,
                      WATCH_FDS_MAX);
        w->truncated = TRUE;
        n = WATCH_FDS_MAX;
    }
    gboolean same = n == w->n_fds;
    for (gint i = 0; same && i < n; i++)
        same = fds[i].fd == w->fds[i].fd && fds[i].events == w->fds[i].events;
    if (same)
        return;
    if (n > 0)
        context_let_sources_recurse(w->context);
    for (gint i = 0; i < w->n_fds; i++)
        epoll_ctl(w->poller->epfd, EPOLL_CTL_DEL, w->fds[i].fd, NULL);
    for (gint i = 0; i < n; i++) {
        w->slots[i] = (struct watch_slot){.watch = w, .fd = fds[i].fd};
        struct epoll_event ev = {.events = poll_to_epoll(fds[i].events), .data.ptr = &w->slots[i]};
        if (epoll_ctl(w->poller->epfd, EPOLL_CTL_ADD, fds[i].fd, &ev) != 0 && errno != EEXIST)
            GST_ERROR("epoll_ctl(ADD %d): %s", fds[i].fd, g_strerror(errno));
        w->fds[i] = fds[i];
    }
    w->n_fds = n;
}

/* The deadline heap: a watch's timers are due at w->deadline; the poller's source wakes at the
 * earliest (its prepare reads the heap's top), so a worker's loop walks one source, not every
 * libnice timer of every transport. */
static gboolean heap_less(GPtrArray *heap, guint a, guint b)
{
    const struct kumis_poller_watch *wa = g_ptr_array_index(heap, a);
    const struct kumis_poller_watch *wb = g_ptr_array_index(heap, b);
    return wa->deadline < wb->deadline;
}

static void heap_swap(GPtrArray *heap, guint a, guint b)
{
    struct kumis_poller_watch *wa = g_ptr_array_index(heap, a);
    struct kumis_poller_watch *wb = g_ptr_array_index(heap, b);
    heap->pdata[a] = wb;
    heap->pdata[b] = wa;
    wb->heap_index = a;
    wa->heap_index = b;
}

static void heap_fix(GPtrArray *heap, guint i)
{
    while (i > 0 && heap_less(heap, i, (i - 1) / 2)) {
        heap_swap(heap, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
    for (;;) {
        guint least = i;
        guint l = 2 * i + 1;
        guint r = l + 1;
        if (l < heap->len && heap_less(heap, l, least))
            least = l;
        if (r < heap->len && heap_less(heap, r, least))
            least = r;
        if (least == i)
            return;
        heap_swap(heap, i, least);
        i = least;
    }
}

static void heap_remove(GPtrArray *heap, struct kumis_poller_watch *w)
{
    guint i = w->heap_index;
    if (i == G_MAXUINT)
        return;
    guint last = heap->len - 1;
    if (i != last)
        heap_swap(heap, i, last);
    g_ptr_array_set_size(heap, last);
    w->heap_index = G_MAXUINT;
    if (i < heap->len)
        heap_fix(heap, i);
}

/* Puts @w at @deadline in the heap (out of it for G_MAXINT64). Every caller runs on the
 * poller's thread, so the loop prepares its next wait after the change and finds the new
 * earliest deadline; no g_source_set_ready_time(), which writes the context's eventfd on every
 * change (and costs the loop an extra turn to read it: ~125 a second at 100 subscribers). */
static void watch_set_deadline(struct kumis_poller_watch *w, gint64 deadline)
{
    struct kumis_poller *p = w->poller;
    w->deadline = deadline;
    if (deadline == G_MAXINT64) {
        heap_remove(p->heap, w);
    } else if (w->heap_index == G_MAXUINT) {
        w->heap_index = p->heap->len;
        g_ptr_array_add(p->heap, w);
        heap_fix(p->heap, w->heap_index);
    } else {
        heap_fix(p->heap, w->heap_index);
    }
}

/* The earliest deadline of the poller's contexts, G_MAXINT64 when none has a timer. */
static gint64 poller_deadline(const struct kumis_poller *p)
{
    if (p->heap->len == 0)
        return G_MAXINT64;
    const struct kumis_poller_watch *first = g_ptr_array_index(p->heap, 0);
    return first->deadline;
}

/* Reads what @w's context waits for now: its fds into the epoll set, its next timer into the
 * heap. */
static void watch_sync(struct kumis_poller_watch *w)
{
    GPollFD fds[WATCH_FDS_MAX];
    gint priority, timeout;
    g_main_context_prepare(w->context, &priority);
    gint n = g_main_context_query(w->context, G_MAXINT, &timeout, fds, WATCH_FDS_MAX);
    watch_sync_fds(w, fds, n);
    /* GLib rounds the timeout up to whole milliseconds; 0 means something is ready now. */
    watch_set_deadline(w,
                       timeout < 0 ? G_MAXINT64 : g_get_monotonic_time() + (gint64)timeout * 1000);
}

static gushort epoll_to_poll(guint32 events)
{
    return (events & EPOLLIN ? G_IO_IN : 0) | (events & EPOLLOUT ? G_IO_OUT : 0) |
           (events & EPOLLPRI ? G_IO_PRI : 0) | (events & EPOLLERR ? G_IO_ERR : 0) |
           (events & EPOLLHUP ? G_IO_HUP : 0);
}

/* Notes @events of the fd behind @slot for this dispatch round of its watch. */
static void watch_note_ready(const struct watch_slot *slot, guint32 events, guint64 round)
{
    struct kumis_poller_watch *w = slot->watch;
    if (w->ready_round != round) {
        w->ready_round = round;
        w->n_ready = 0;
    }
    if (w->n_ready < WATCH_FDS_MAX)
        w->ready[w->n_ready++] = (GPollFD){.fd = slot->fd, .revents = epoll_to_poll(events)};
}

/* Fills the revents of @fds (@n) from what epoll reported for @w this round, so that the
 * context's sockets are not polled a second time (a system call per ready transport). */
static void watch_take_ready(const struct kumis_poller_watch *w, GPollFD *fds, gint n)
{
    gboolean fresh = w->ready_round == w->poller->round;
    for (gint i = 0; i < n; i++) {
        fds[i].revents = 0;
        for (guint r = 0; fresh && r < w->n_ready; r++) {
            if (w->ready[r].fd == fds[i].fd)
                fds[i].revents |= w->ready[r].revents & (fds[i].events | G_IO_ERR | G_IO_HUP);
        }
    }
}

/* One iteration of @w's context: what is ready is dispatched, then what it waits for is read
 * again (a dispatch may add or remove sources and timers without waking anyone). Readiness is
 * what epoll reported this round when @use_epoll (nothing when the iteration is for a timer:
 * a ready fd is reported again on the next round), else polled. */
static void watch_iterate(struct kumis_poller_watch *w, gboolean use_epoll)
{
    GPollFD fds[WATCH_FDS_MAX];
    gint priority, timeout;
    g_main_context_prepare(w->context, &priority);
    gint n = g_main_context_query(w->context, priority, &timeout, fds, WATCH_FDS_MAX);
    gint polled = MIN(n, WATCH_FDS_MAX);
    if (use_epoll)
        watch_take_ready(w, fds, polled);
    else if (polled > 0)
        g_poll(fds, (guint)polled, 0);
    if (g_main_context_check(w->context, priority, fds, polled))
        g_main_context_dispatch(w->context);
    w->poller->iterations++;
    if (!w->removed)
        watch_sync(w);
}

static gboolean poller_source_dispatch(GSource *source, GSourceFunc cb, gpointer data)
{
    (void)cb;
    (void)data;
    struct kumis_poller *p = ((struct poller_source *)source)->poller;
    struct epoll_event events[EVENTS_MAX];
    int n = epoll_wait(p->epfd, events, EVENTS_MAX, 0);
    gint64 start = g_get_monotonic_time();
    p->dispatching = TRUE;
    p->round++;
    for (int i = 0; i < n; i++)
        watch_note_ready(events[i].data.ptr, events[i].events, p->round);
    gboolean late = FALSE;
    for (int i = 0; i < n && !late; i++) {
        struct kumis_poller_watch *w = ((struct watch_slot *)events[i].data.ptr)->watch;
        if (w->removed || w->round == p->round)
            continue;
        w->round = p->round;
        watch_iterate(w, TRUE);
        /* Level-triggered: what is left is reported again on the loop's next turn, after the
         * worker's other sources had theirs. */
        late = g_get_monotonic_time() - start >= KUMIS_RX_SLICE_US;
    }
    /* Then the contexts whose timers are due; one that is ready again at once waits for the
     * loop's next turn (the source's prepare then finds it due at once). */
    while (!late && p->heap->len > 0) {
        struct kumis_poller_watch *w = g_ptr_array_index(p->heap, 0);
        if (w->deadline > start || w->round == p->round)
            break;
        w->round = p->round;
        watch_iterate(w, TRUE);
        late = g_get_monotonic_time() - start >= KUMIS_RX_SLICE_US;
    }
    p->dispatching = FALSE;
    g_ptr_array_set_size(p->removed, 0);
    return G_SOURCE_CONTINUE;
}

static gboolean poller_source_prepare(GSource *source, gint *timeout)
{
    gint64 deadline = poller_deadline(((struct poller_source *)source)->poller);
    if (deadline == G_MAXINT64) {
        *timeout = -1;
        return FALSE;
    }
    gint64 left = deadline - g_source_get_time(source);
    if (left <= 0) {
        *timeout = 0;
        return TRUE;
    }
    /* Whole milliseconds, rounded up: waking before the deadline would find nothing due. */
    *timeout = (gint)MIN((left + 999) / 1000, G_MAXINT);
    return FALSE;
}

/* The epoll fd being readable is seen by GLib itself (the source's unix fd). */
static gboolean poller_source_check(GSource *source)
{
    return poller_deadline(((struct poller_source *)source)->poller) <= g_source_get_time(source);
}

static GSourceFuncs poller_source_funcs = {
    poller_source_prepare, poller_source_check, poller_source_dispatch, NULL, NULL, NULL};

struct kumis_poller *kumis_poller_new(GMainContext *context)
{
    poller_debug_init();
    struct kumis_poller *p = g_new0(struct kumis_poller, 1);
    p->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (p->epfd < 0)
        g_error("epoll_create1: %s", g_strerror(errno)); /* only without memory or fds */
    p->removed = g_ptr_array_new_with_free_func(g_free);
    p->heap = g_ptr_array_new();
    p->source = g_source_new(&poller_source_funcs, sizeof(struct poller_source));
    ((struct poller_source *)p->source)->poller = p;
    g_source_set_static_name(p->source, "kumis-poller");
    g_source_set_can_recurse(p->source, TRUE); /* see context_let_sources_recurse() */
    g_source_add_unix_fd(p->source, p->epfd, G_IO_IN);
    g_source_attach(p->source, context);
    return p;
}

void kumis_poller_free(struct kumis_poller *poller)
{
    if (poller == NULL)
        return;
    g_source_destroy(poller->source);
    g_source_unref(poller->source);
    g_ptr_array_unref(poller->removed);
    g_ptr_array_unref(poller->heap);
    close(poller->epfd);
    g_free(poller);
}

struct kumis_poller_watch *kumis_poller_add(struct kumis_poller *poller, GMainContext *context)
{
    struct kumis_poller_watch *w = g_new0(struct kumis_poller_watch, 1);
    w->poller = poller;
    w->context = context;
    w->deadline = G_MAXINT64;
    w->heap_index = G_MAXUINT;
    if (!g_main_context_acquire(context))
        g_error("kumis_poller_add: context %p belongs to another thread", (void *)context);
    watch_iterate(w, FALSE); /* registers its fds and its first deadline */
    return w;
}

void kumis_poller_refresh(struct kumis_poller_watch *watch)
{
    if (watch != NULL && !watch->removed)
        watch_sync(watch);
}

void kumis_poller_remove(struct kumis_poller_watch *watch)
{
    if (watch == NULL)
        return;
    struct kumis_poller *p = watch->poller;
    watch_sync_fds(watch, NULL, 0);
    watch_set_deadline(watch, G_MAXINT64);
    g_main_context_release(watch->context);
    watch->removed = TRUE;
    if (p->dispatching)
        g_ptr_array_add(p->removed, watch);
    else
        g_free(watch);
}

guint64 kumis_poller_get_iterations(const struct kumis_poller *poller)
{
    return poller->iterations;
}

/* kumis — a worker's inbox: a lock-free multi-producer, single-consumer queue of packets.
 *
 * A packet published on one media worker crosses to another worker once (DESIGN §3): the
 * producer pushes, the consumer worker drains in batches. No lock on this path: producers do
 * one atomic exchange; the consumer owns the tail. (The intrusive MPSC design of D. Vyukov.) */
#pragma once

#include <glib.h>
#include <stdatomic.h>

struct inbox_item {
    _Atomic(struct inbox_item *) next;
};

struct inbox {
    _Atomic(struct inbox_item *) head; /* producers push here */
    struct inbox_item *tail;           /* the consumer pops here */
    struct inbox_item stub;
    atomic_uint pending;  /* items pushed and not yet popped, for wake-ups and stats */
    atomic_int signalled; /* a producer woke the consumer since it last looked */
};

void inbox_init(struct inbox *inbox);

/* Any thread. @item must stay valid until popped. Returns: TRUE when the inbox was empty
 * before (the caller should wake the consumer). */
gboolean inbox_push(struct inbox *inbox, struct inbox_item *item);

/* Any thread, after a push the consumer should not leave waiting. Returns: TRUE when the
 * caller must wake the consumer (nobody did since the consumer last looked). */
gboolean inbox_signal(struct inbox *inbox);

/* Consumer thread only, before it looks at pending (each main-loop iteration): a producer's
 * next inbox_signal() wakes it again. */
void inbox_acknowledge(struct inbox *inbox);

/* Consumer thread only. Returns: the oldest item, or NULL when empty (or when a producer is
 * half-way through a push: the item then shows up at the next pop). */
struct inbox_item *inbox_pop(struct inbox *inbox);

/* kumis — lock-free MPSC inbox (see inbox.h). */
#include "media/inbox.h"

void inbox_init(struct inbox *inbox)
{
    atomic_store_explicit(&inbox->stub.next, NULL, memory_order_relaxed);
    atomic_store_explicit(&inbox->head, &inbox->stub, memory_order_relaxed);
    inbox->tail = &inbox->stub;
    atomic_store_explicit(&inbox->pending, 0, memory_order_relaxed);
    atomic_store_explicit(&inbox->signalled, 0, memory_order_relaxed);
}

gboolean inbox_push(struct inbox *inbox, struct inbox_item *item)
{
    atomic_store_explicit(&item->next, NULL, memory_order_relaxed);
    struct inbox_item *prev = atomic_exchange_explicit(&inbox->head, item, memory_order_acq_rel);
    atomic_store_explicit(&prev->next, item, memory_order_release);
    return atomic_fetch_add_explicit(&inbox->pending, 1, memory_order_seq_cst) == 0;
}

/* Sequentially consistent, with the push's count and inbox_acknowledge(): either the consumer
 * sees the item pending after it acknowledged, or the producer sees the flag clear and wakes
 * it. */
gboolean inbox_signal(struct inbox *inbox)
{
    return atomic_exchange_explicit(&inbox->signalled, 1, memory_order_seq_cst) == 0;
}

void inbox_acknowledge(struct inbox *inbox)
{
    atomic_store_explicit(&inbox->signalled, 0, memory_order_seq_cst);
}

struct inbox_item *inbox_pop(struct inbox *inbox)
{
    struct inbox_item *tail = inbox->tail;
    struct inbox_item *next = atomic_load_explicit(&tail->next, memory_order_acquire);

    if (tail == &inbox->stub) {
        if (next == NULL)
            return NULL;
        inbox->tail = next;
        tail = next;
        next = atomic_load_explicit(&tail->next, memory_order_acquire);
    }
    if (next != NULL) {
        inbox->tail = next;
        atomic_fetch_sub_explicit(&inbox->pending, 1, memory_order_acq_rel);
        return tail;
    }
    if (tail != atomic_load_explicit(&inbox->head, memory_order_acquire))
        return NULL; /* a producer is between its exchange and its link */
    /* @tail is the last item: put the stub behind it so that it can be handed out. */
    atomic_store_explicit(&inbox->stub.next, NULL, memory_order_relaxed);
    struct inbox_item *prev =
        atomic_exchange_explicit(&inbox->head, &inbox->stub, memory_order_acq_rel);
    atomic_store_explicit(&prev->next, &inbox->stub, memory_order_release);
    next = atomic_load_explicit(&tail->next, memory_order_acquire);
    if (next == NULL)
        return NULL;
    inbox->tail = next;
    atomic_fetch_sub_explicit(&inbox->pending, 1, memory_order_acq_rel);
    return tail;
}

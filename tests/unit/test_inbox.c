/* Unit tests for media/inbox.c: order, emptiness, and several producers against one consumer. */
#include <glib.h>

#include "media/inbox.h"

struct item {
    struct inbox_item link; /* first: the item is its link */
    guint producer;
    guint seq;
};

static void test_single_thread(void)
{
    struct inbox inbox;
    struct item items[5];
    inbox_init(&inbox);
    g_assert_null(inbox_pop(&inbox));
    g_assert_true(inbox_push(&inbox, &items[0].link)); /* was empty: wake */
    for (guint i = 1; i < 5; i++)
        g_assert_false(inbox_push(&inbox, &items[i].link));
    for (guint i = 0; i < 5; i++)
        g_assert_true(inbox_pop(&inbox) == &items[i].link);
    g_assert_null(inbox_pop(&inbox));
    g_assert_true(inbox_push(&inbox, &items[2].link));
    g_assert_true(inbox_pop(&inbox) == &items[2].link);
    g_assert_null(inbox_pop(&inbox));
}

#define PRODUCERS    3
#define PER_PRODUCER 200000

static struct inbox shared;

static gpointer producer(gpointer data)
{
    guint id = GPOINTER_TO_UINT(data);
    for (guint i = 0; i < PER_PRODUCER; i++) {
        struct item *it = g_new(struct item, 1);
        it->producer = id;
        it->seq = i;
        inbox_push(&shared, &it->link);
    }
    return NULL;
}

/* Every item arrives exactly once, and each producer's items in the order pushed. */
static void test_threads(void)
{
    GThread *threads[PRODUCERS];
    guint next[PRODUCERS] = {0};
    guint received = 0;
    inbox_init(&shared);
    for (guint i = 0; i < PRODUCERS; i++)
        threads[i] = g_thread_new("producer", producer, GUINT_TO_POINTER(i));
    while (received < PRODUCERS * PER_PRODUCER) {
        struct item *it = (struct item *)inbox_pop(&shared);
        if (it == NULL) {
            g_thread_yield();
            continue;
        }
        g_assert_cmpuint(it->seq, ==, next[it->producer]);
        next[it->producer]++;
        received++;
        g_free(it);
    }
    for (guint i = 0; i < PRODUCERS; i++)
        g_thread_join(threads[i]);
    g_assert_null(inbox_pop(&shared));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/inbox/single-thread", test_single_thread);
    g_test_add_func("/inbox/threads", test_threads);
    return g_test_run();
}

/* Unit tests for server/forum.c: joining, the lobby, and the state machine. */
#include <gio/gio.h>
#include <glib.h>
#include <string.h>

#include "server/config.h"
#include "server/forum.h"

static struct kumis_config *config_with_policy(const char *policy)
{
    g_autofree char *text = g_strdup_printf("[forum]\npolicy = %s\n", policy);
    GError *error = NULL;
    struct kumis_config *c = kumis_config_parse(text, strlen(text), "t", &error);
    g_assert_no_error(error);
    return c;
}

static void test_join_states(void)
{
    struct kumis_config *lobby = config_with_policy("lobby");
    struct kumis_config *open = config_with_policy("open");
    struct forum *f = forum_new(lobby);
    struct forum *g = forum_new(open);
    GError *error = NULL;

    struct forum_participant *m =
        forum_join(f, "Moderator", "LAN", FORUM_ROLE_MODERATOR, NULL, &error);
    g_assert_no_error(error);
    g_assert_cmpint(m->state, ==, FORUM_STATE_SPEAKER);
    g_assert_true(forum_participant_may_publish(m));
    struct forum_participant *a =
        forum_join(f, "  Budi  ", "BPSDM", FORUM_ROLE_ATTENDEE, NULL, &error);
    g_assert_cmpstr(a->name, ==, "Budi");
    g_assert_cmpint(a->state, ==, FORUM_STATE_LOBBY);
    g_assert_false(forum_participant_may_publish(a));
    g_assert_cmpstr(a->id, !=, m->id);
    g_assert_true(forum_participant_find(f, a->id) == a);

    struct forum_participant *o =
        forum_join(g, "Sari", "Pusdiklat", FORUM_ROLE_ATTENDEE, NULL, &error);
    g_assert_cmpint(o->state, ==, FORUM_STATE_ATTENDEE);

    g_assert_cmpuint(forum_participant_count(f), ==, 2);
    forum_leave(f, a);
    g_assert_cmpuint(forum_participant_count(f), ==, 1);
    g_assert_null(forum_participant_find(f, "p2"));
    forum_free(f);
    forum_free(g);
    kumis_config_free(lobby);
    kumis_config_free(open);
}

static void test_bad_names(void)
{
    struct kumis_config *c = config_with_policy("open");
    struct forum *f = forum_new(c);
    const char *bad[] = {"", "   ", "a\tb", "x\x01", NULL};
    for (int i = 0; bad[i]; i++) {
        GError *error = NULL;
        g_assert_null(forum_join(f, bad[i], "ok", FORUM_ROLE_ATTENDEE, NULL, &error));
        g_assert_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
        g_clear_error(&error);
    }
    g_autofree char *long_name = g_strnfill(81, 'a');
    GError *error = NULL;
    g_assert_null(forum_join(f, "ok", long_name, FORUM_ROLE_ATTENDEE, NULL, &error));
    g_assert_nonnull(strstr(error->message, "institution"));
    g_clear_error(&error);
    /* 80 characters of two bytes each are fine: the limit is in characters. */
    GString *wide = g_string_new(NULL);
    for (int i = 0; i < 80; i++)
        g_string_append(wide, "é");
    g_assert_nonnull(forum_join(f, wide->str, "ok", FORUM_ROLE_ATTENDEE, NULL, &error));
    g_string_free(wide, TRUE);
    forum_free(f);
    kumis_config_free(c);
}

static void test_transitions(void)
{
    struct kumis_config *c = config_with_policy("lobby");
    struct forum *f = forum_new(c);
    struct forum_participant *p = forum_join(f, "A", "B", FORUM_ROLE_ATTENDEE, NULL, NULL);
    g_assert_false(forum_participant_transition(p, FORUM_STATE_SPEAKER)); /* not from lobby */
    g_assert_false(forum_participant_transition(p, FORUM_STATE_HAND_RAISED));
    g_assert_cmpint(p->state, ==, FORUM_STATE_LOBBY);
    g_assert_true(forum_participant_transition(p, FORUM_STATE_ATTENDEE));
    g_assert_false(forum_participant_transition(p, FORUM_STATE_LOBBY));
    g_assert_true(forum_participant_transition(p, FORUM_STATE_HAND_RAISED));
    g_assert_true(forum_participant_transition(p, FORUM_STATE_SPEAKER));
    g_assert_true(forum_participant_may_publish(p));
    g_assert_false(forum_participant_transition(p, FORUM_STATE_HAND_RAISED));
    g_assert_true(forum_participant_transition(p, FORUM_STATE_ATTENDEE));
    g_assert_true(forum_participant_transition(p, FORUM_STATE_REMOVED));
    g_assert_false(forum_participant_transition(p, FORUM_STATE_ATTENDEE)); /* final */
    forum_free(f);
    kumis_config_free(c);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/forum/join-states", test_join_states);
    g_test_add_func("/forum/bad-names", test_bad_names);
    g_test_add_func("/forum/transitions", test_transitions);
    return g_test_run();
}

/* kumis — participants, roles and the state machine of the running edition (DESIGN §5). */
#include "server/forum.h"

#include <gio/gio.h>
#include <string.h>

#define NAME_MAX_CHARS 80

struct forum {
    const struct kumis_config *config;
    GQueue participants; /* struct forum_participant*, in joining order */
    guint next_id;
};

static const char *const role_names[] = {
    [FORUM_ROLE_ATTENDEE] = "attendee",
    [FORUM_ROLE_MODERATOR] = "moderator",
};

static const char *const state_names[] = {
    [FORUM_STATE_LOBBY] = "lobby",
    [FORUM_STATE_ATTENDEE] = "attendee",
    [FORUM_STATE_HAND_RAISED] = "hand-raised",
    [FORUM_STATE_SPEAKER] = "speaker",
    [FORUM_STATE_REMOVED] = "removed",
};

const char *forum_role_name(enum forum_role role)
{
    return (size_t)role < G_N_ELEMENTS(role_names) ? role_names[role] : "?";
}

const char *forum_state_name(enum forum_state state)
{
    return (size_t)state < G_N_ELEMENTS(state_names) ? state_names[state] : "?";
}

struct forum *forum_new(const struct kumis_config *config)
{
    struct forum *forum = g_new0(struct forum, 1);
    forum->config = config;
    g_queue_init(&forum->participants);
    return forum;
}

static void participant_free(struct forum_participant *p)
{
    g_free(p->name);
    g_free(p->institution);
    g_free(p);
}

void forum_free(struct forum *forum)
{
    if (forum == NULL)
        return;
    g_queue_clear_full(&forum->participants, (GDestroyNotify)participant_free);
    g_free(forum);
}

/* Returns: (transfer full) @text trimmed, or NULL when empty, too long or with control chars. */
static char *clean_text(const char *text)
{
    g_autofree char *copy = g_strstrip(g_strdup(text ? text : ""));
    if (*copy == '\0' || !g_utf8_validate(copy, -1, NULL) ||
        g_utf8_strlen(copy, -1) > NAME_MAX_CHARS)
        return NULL;
    for (const char *p = copy; *p; p = g_utf8_next_char(p))
        if (g_unichar_iscntrl(g_utf8_get_char(p)))
            return NULL;
    return g_steal_pointer(&copy);
}

struct forum_participant *forum_join(struct forum *forum, const char *name, const char *institution,
                                     enum forum_role role, void *conn, GError **error)
{
    g_autofree char *clean_name = clean_text(name);
    g_autofree char *clean_institution = clean_text(institution);
    if (clean_name == NULL || clean_institution == NULL) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                    "%s must be 1 to %d characters, without control characters",
                    clean_name == NULL ? "name" : "institution", NAME_MAX_CHARS);
        return NULL;
    }
    struct forum_participant *p = g_new0(struct forum_participant, 1);
    g_snprintf(p->id, sizeof p->id, "p%u", ++forum->next_id);
    p->name = g_steal_pointer(&clean_name);
    p->institution = g_steal_pointer(&clean_institution);
    p->role = role;
    p->conn = conn;
    if (role == FORUM_ROLE_MODERATOR)
        p->state = FORUM_STATE_SPEAKER;
    else if (forum->config->forum_policy == KUMIS_POLICY_OPEN)
        p->state = FORUM_STATE_ATTENDEE;
    else
        p->state = FORUM_STATE_LOBBY;
    g_queue_push_tail(&forum->participants, p);
    return p;
}

void forum_leave(struct forum *forum, struct forum_participant *p)
{
    g_queue_remove(&forum->participants, p);
    participant_free(p);
}

/* Legal moves (DESIGN §5); REMOVED is final. */
static gboolean transition_allowed(enum forum_state from, enum forum_state to)
{
    if (from == FORUM_STATE_REMOVED)
        return FALSE;
    if (to == FORUM_STATE_REMOVED)
        return TRUE;
    switch (from) {
    case FORUM_STATE_LOBBY:
        return to == FORUM_STATE_ATTENDEE;
    case FORUM_STATE_ATTENDEE:
        return to == FORUM_STATE_HAND_RAISED || to == FORUM_STATE_SPEAKER;
    case FORUM_STATE_HAND_RAISED:
        return to == FORUM_STATE_ATTENDEE || to == FORUM_STATE_SPEAKER;
    case FORUM_STATE_SPEAKER:
        return to == FORUM_STATE_ATTENDEE;
    case FORUM_STATE_REMOVED:
        return FALSE;
    }
    return FALSE;
}

gboolean forum_participant_transition(struct forum_participant *p, enum forum_state to)
{
    if (!transition_allowed(p->state, to)) {
        g_info("forum: %s refused %s -> %s", p->id, forum_state_name(p->state),
               forum_state_name(to));
        return FALSE;
    }
    g_info("forum: %s %s -> %s", p->id, forum_state_name(p->state), forum_state_name(to));
    p->state = to;
    return TRUE;
}

gboolean forum_participant_may_publish(const struct forum_participant *p)
{
    return p->role == FORUM_ROLE_MODERATOR || p->state == FORUM_STATE_SPEAKER;
}

struct forum_participant *forum_participant_find(struct forum *forum, const char *id)
{
    for (GList *l = forum->participants.head; l; l = l->next) {
        struct forum_participant *p = l->data;
        if (strcmp(p->id, id) == 0)
            return p;
    }
    return NULL;
}

GList *forum_participants(struct forum *forum)
{
    return g_list_copy(forum->participants.head);
}

guint forum_participant_count(struct forum *forum)
{
    return forum->participants.length;
}

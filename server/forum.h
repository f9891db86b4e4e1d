/* kumis — the running forum edition: participants, roles and states (DESIGN §5).
 *
 * Pure state and rules, no I/O: the server calls these and sends what they decide. One
 * transition function checks every state change (STYLE §5). */
#pragma once

#include <glib.h>

#include "server/config.h"

enum forum_role {
    FORUM_ROLE_ATTENDEE,
    FORUM_ROLE_MODERATOR,
};

/* LOBBY -> ATTENDEE <-> HAND_RAISED -> SPEAKER, and REMOVED from anywhere (DESIGN §5). */
enum forum_state {
    FORUM_STATE_LOBBY,
    FORUM_STATE_ATTENDEE,
    FORUM_STATE_HAND_RAISED,
    FORUM_STATE_SPEAKER,
    FORUM_STATE_REMOVED,
};

struct forum_participant {
    char id[16]; /* "p<number>", unique for the life of the edition */
    char *name;
    char *institution;
    enum forum_role role;
    enum forum_state state;
    void *conn; /* (borrowed) the signaling connection, owned by the server */
};

struct forum;

/* Returns: (transfer full) an empty forum for @config (borrowed, must outlive it). */
struct forum *forum_new(const struct kumis_config *config);
void forum_free(struct forum *forum);

/* Adds a participant. @name and @institution are trimmed; both must be 1..80 characters.
 * A moderator enters as SPEAKER; others as ATTENDEE when the policy is open, else LOBBY.
 * Returns: (transfer none) the participant, or NULL with @error (G_IO_ERROR_INVALID_ARGUMENT)
 * naming the bad field. */
struct forum_participant *forum_join(struct forum *forum, const char *name, const char *institution,
                                     enum forum_role role, void *conn, GError **error);

/* Removes and frees @p (it left or its connection closed). */
void forum_leave(struct forum *forum, struct forum_participant *p);

/* The one transition function: moves @p to @to if the rules allow it, logging "from -> to".
 * Returns: FALSE (and changes nothing) for an illegal move. */
gboolean forum_participant_transition(struct forum_participant *p, enum forum_state to);

/* May @p publish media (send an up offer)? Speakers and moderators. */
gboolean forum_participant_may_publish(const struct forum_participant *p);

struct forum_participant *forum_participant_find(struct forum *forum, const char *id);

/* Participants in the order they joined. Returns: (transfer container) */
GList *forum_participants(struct forum *forum);

guint forum_participant_count(struct forum *forum);

const char *forum_role_name(enum forum_role role);
const char *forum_state_name(enum forum_state state);

/* kumis — daemon configuration: parsed once, read-only afterwards, passed down (STYLE §7). */
#pragma once

#include <glib.h>

#define KUMIS_CONFIG_ERROR (kumis_config_error_quark())
GQuark kumis_config_error_quark(void);

enum kumis_config_error {
    KUMIS_CONFIG_ERROR_IO,      /* file cannot be read */
    KUMIS_CONFIG_ERROR_SYNTAX,  /* not a key file */
    KUMIS_CONFIG_ERROR_UNKNOWN, /* unknown group or key */
    KUMIS_CONFIG_ERROR_VALUE,   /* value of the wrong kind or out of range */
};

enum kumis_forum_policy {
    KUMIS_POLICY_OPEN,
    KUMIS_POLICY_LOBBY,
    KUMIS_POLICY_PASSWORD,
    KUMIS_POLICY_INVITE_ONLY,
};

struct kumis_config {
    /* [server] */
    char *listen_address;
    guint16 port;
    char *certificate; /* NULL: self-signed under state_dir */
    char *private_key;
    char *state_dir;
    char *web_root;
    /* [signaling] */
    guint max_message_bytes;
    guint max_messages_per_second;
    guint max_connections;
    /* [forum] */
    char *forum_id;
    char *forum_title;
    char *forum_description;
    enum kumis_forum_policy forum_policy;
    char *moderator_password; /* NULL: generated on first start */
    char *time_zone;
    /* [media] */
    guint media_workers;    /* 0: one per core */
    char **media_addresses; /* NULL-terminated, at least one */
    char *public_address;   /* NULL: none */
    guint16 port_min;
    guint16 port_max;
    /* [recording] */
    gboolean recording_enabled;
    char *recording_dir; /* relative to state_dir unless absolute */
    /* [database] */
    char *database_path; /* relative to state_dir unless absolute */
};

/* Parses the embedded defaults, then @text (the contents of a file named @name, used in
 * messages) over them. Never logs and touches no global state, so fuzzers may call it.
 * On bad input returns NULL and sets @error to one line: "NAME:LINE: [group] key: reason".
 * Returns: (transfer full) a configuration; free with kumis_config_free(). */
struct kumis_config *kumis_config_parse(const char *text, gsize len, const char *name,
                                        GError **error);

/* Reads @path and parses it as kumis_config_parse() does; @path NULL gives the defaults.
 * Returns: (transfer full) or NULL with @error set. */
struct kumis_config *kumis_config_load(const char *path, GError **error);

/* Returns: (transfer full) the path @rel resolved against the state directory. */
char *kumis_config_state_path(const struct kumis_config *config, const char *rel);

const char *kumis_config_policy_name(enum kumis_forum_policy policy);

void kumis_config_free(struct kumis_config *config);

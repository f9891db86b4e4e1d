/* kumis — configuration file parsing (GKeyFile syntax, with line numbers in every error).
 *
 * GKeyFile reports neither line numbers nor unknown keys, and a moderator editing a file at
 * night needs both: so we scan the text ourselves once (syntax, groups, keys, lines) and read
 * typed values through a schema table. The embedded config/kumisd.conf is parsed first, then
 * the user's file over it, so the defaults live in one place. */
#include "server/config.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

extern const char kumis_default_conf[];
extern const size_t kumis_default_conf_len;

G_DEFINE_QUARK(kumis - config - error - quark, kumis_config_error)

enum setting_kind {
    KIND_STRING,
    KIND_PATH,
    KIND_UINT,
    KIND_PORT,
    KIND_BOOL,
    KIND_LIST,
    KIND_POLICY
};

struct setting {
    const char *group;
    const char *key;
    enum setting_kind kind;
    size_t offset;
    guint min, max;        /* KIND_UINT, KIND_PORT */
    gboolean may_be_empty; /* KIND_STRING, KIND_PATH */
};

#define OFF(field) offsetof(struct kumis_config, field)

static const struct setting settings[] = {
    {"server", "listen_address", KIND_STRING, OFF(listen_address), 0, 0, FALSE},
    {"server", "port", KIND_PORT, OFF(port), 1, 65535, FALSE},
    {"server", "certificate", KIND_PATH, OFF(certificate), 0, 0, TRUE},
    {"server", "private_key", KIND_PATH, OFF(private_key), 0, 0, TRUE},
    {"server", "state_dir", KIND_PATH, OFF(state_dir), 0, 0, FALSE},
    {"server", "web_root", KIND_PATH, OFF(web_root), 0, 0, TRUE},
    {"signaling", "max_message_bytes", KIND_UINT, OFF(max_message_bytes), 1024, 16 << 20, FALSE},
    {"signaling", "max_messages_per_second", KIND_UINT, OFF(max_messages_per_second), 1, 100000,
     FALSE},
    {"signaling", "max_connections", KIND_UINT, OFF(max_connections), 1, 100000, FALSE},
    {"forum", "id", KIND_STRING, OFF(forum_id), 0, 0, FALSE},
    {"forum", "title", KIND_STRING, OFF(forum_title), 0, 0, FALSE},
    {"forum", "description", KIND_STRING, OFF(forum_description), 0, 0, TRUE},
    {"forum", "policy", KIND_POLICY, OFF(forum_policy), 0, 0, FALSE},
    {"forum", "moderator_password", KIND_STRING, OFF(moderator_password), 0, 0, TRUE},
    {"forum", "time_zone", KIND_STRING, OFF(time_zone), 0, 0, FALSE},
    {"media", "workers", KIND_UINT, OFF(media_workers), 0, 64, FALSE},
    {"media", "addresses", KIND_LIST, OFF(media_addresses), 0, 0, FALSE},
    {"media", "public_address", KIND_STRING, OFF(public_address), 0, 0, TRUE},
    {"media", "port_min", KIND_PORT, OFF(port_min), 1024, 65535, FALSE},
    {"media", "port_max", KIND_PORT, OFF(port_max), 1024, 65535, FALSE},
    {"recording", "enabled", KIND_BOOL, OFF(recording_enabled), 0, 0, FALSE},
    {"recording", "directory", KIND_PATH, OFF(recording_dir), 0, 0, FALSE},
    {"database", "path", KIND_PATH, OFF(database_path), 0, 0, FALSE},
};

static const char *const policy_names[] = {
    [KUMIS_POLICY_OPEN] = "open",
    [KUMIS_POLICY_LOBBY] = "lobby",
    [KUMIS_POLICY_PASSWORD] = "password",
    [KUMIS_POLICY_INVITE_ONLY] = "invite-only",
};

const char *kumis_config_policy_name(enum kumis_forum_policy policy)
{
    g_return_val_if_fail((size_t)policy < G_N_ELEMENTS(policy_names), "?");
    return policy_names[policy];
}

static const struct setting *setting_find(const char *group, const char *key)
{
    for (size_t i = 0; i < G_N_ELEMENTS(settings); i++)
        if (strcmp(settings[i].group, group) == 0 && strcmp(settings[i].key, key) == 0)
            return &settings[i];
    return NULL;
}

static gboolean group_known(const char *group)
{
    for (size_t i = 0; i < G_N_ELEMENTS(settings); i++)
        if (strcmp(settings[i].group, group) == 0)
            return TRUE;
    return FALSE;
}

static gboolean fail(GError **error, int code, const char *name, unsigned line, const char *fmt,
                     ...) G_GNUC_PRINTF(5, 6);

static gboolean fail(GError **error, int code, const char *name, unsigned line, const char *fmt,
                     ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *what = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(error, KUMIS_CONFIG_ERROR, code, "%s:%u: %s", name, line, what);
    return FALSE;
}

static gboolean parse_uint(const char *text, guint min, guint max, guint *out)
{
    if (*text == '\0' || *text == '-' || *text == '+')
        return FALSE;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return FALSE;
    *out = (guint)v;
    return TRUE;
}

static gboolean forum_id_valid(const char *id)
{
    if (id == NULL || *id == '\0' || strlen(id) > 64)
        return FALSE;
    for (const char *p = id; *p; p++)
        if (!g_ascii_isalnum(*p) && *p != '-')
            return FALSE;
    return TRUE;
}

/* Stores @value (already unescaped by the scanner) into the field @s describes. */
static gboolean setting_apply(struct kumis_config *config, const struct setting *s,
                              const char *value, const char *name, unsigned line, GError **error)
{
    void *field = (char *)config + s->offset;
    guint u = 0;

    switch (s->kind) {
    case KIND_STRING:
    case KIND_PATH:
        if (*value == '\0' && !s->may_be_empty)
            return fail(error, KUMIS_CONFIG_ERROR_VALUE, name, line, "[%s] %s: must not be empty",
                        s->group, s->key);
        if (!g_utf8_validate(value, -1, NULL))
            return fail(error, KUMIS_CONFIG_ERROR_VALUE, name, line, "[%s] %s: not UTF-8", s->group,
                        s->key);
        g_free(*(char **)field);
        *(char **)field = *value ? g_strdup(value) : NULL;
        return TRUE;
    case KIND_UINT:
        if (!parse_uint(value, s->min, s->max, &u))
            return fail(error, KUMIS_CONFIG_ERROR_VALUE, name, line,
                        "[%s] %s: \"%s\" is not a whole number from %u to %u", s->group, s->key,
                        value, s->min, s->max);
        *(guint *)field = u;
        return TRUE;
    case KIND_PORT:
        if (!parse_uint(value, s->min, s->max, &u))
            return fail(error, KUMIS_CONFIG_ERROR_VALUE, name, line,
                        "[%s] %s: \"%s\" is not a port number from %u to %u", s->group, s->key,
                        value, s->min, s->max);
        *(guint16 *)field = (guint16)u;
        return TRUE;
    case KIND_BOOL:
        if (strcmp(value, "true") == 0)
            *(gboolean *)field = TRUE;
        else if (strcmp(value, "false") == 0)
            *(gboolean *)field = FALSE;
        else
            return fail(error, KUMIS_CONFIG_ERROR_VALUE, name, line,
                        "[%s] %s: \"%s\" is neither true nor false", s->group, s->key, value);
        return TRUE;
    case KIND_POLICY:
        for (size_t i = 0; i < G_N_ELEMENTS(policy_names); i++) {
            if (strcmp(value, policy_names[i]) == 0) {
                *(enum kumis_forum_policy *)field = (enum kumis_forum_policy)i;
                return TRUE;
            }
        }
        return fail(error, KUMIS_CONFIG_ERROR_VALUE, name, line,
                    "[%s] %s: \"%s\" is not one of open, lobby, password, invite-only", s->group,
                    s->key, value);
    case KIND_LIST: {
        g_auto(GStrv) parts = g_strsplit(value, ",", -1);
        GPtrArray *items = g_ptr_array_new();
        for (char **p = parts; *p; p++) {
            char *item = g_strstrip(*p);
            if (*item)
                g_ptr_array_add(items, g_strdup(item));
        }
        g_ptr_array_add(items, NULL);
        char **list = (char **)g_ptr_array_free(items, FALSE);
        if (list[0] == NULL) {
            g_strfreev(list);
            return fail(error, KUMIS_CONFIG_ERROR_VALUE, name, line,
                        "[%s] %s: needs at least one entry", s->group, s->key);
        }
        g_strfreev(*(char ***)field);
        *(char ***)field = list;
        return TRUE;
    }
    }
    g_assert_not_reached();
}

/* Unescapes a GKeyFile value (\s \n \t \r \\ and a leading-space rule); FALSE on a bad escape. */
static gboolean value_unescape(const char *in, GString *out)
{
    g_string_truncate(out, 0);
    for (const char *p = in; *p; p++) {
        if (*p != '\\') {
            g_string_append_c(out, *p);
            continue;
        }
        switch (*++p) {
        case 's':
            g_string_append_c(out, ' ');
            break;
        case 'n':
            g_string_append_c(out, '\n');
            break;
        case 't':
            g_string_append_c(out, '\t');
            break;
        case 'r':
            g_string_append_c(out, '\r');
            break;
        case '\\':
            g_string_append_c(out, '\\');
            break;
        default:
            return FALSE;
        }
    }
    return TRUE;
}

/* One pass over the text: every line is blank, a comment, a [group] or key = value. */
static gboolean config_scan(struct kumis_config *config, const char *text, gsize len,
                            const char *name, GHashTable *seen, GError **error)
{
    if (memchr(text, '\0', len) != NULL)
        return fail(error, KUMIS_CONFIG_ERROR_SYNTAX, name, 1, "file contains a NUL byte");
    if (!g_utf8_validate(text, (gssize)len, NULL))
        return fail(error, KUMIS_CONFIG_ERROR_SYNTAX, name, 1, "file is not UTF-8 text");

    g_autofree char *copy = g_strndup(text, len);
    g_autoptr(GString) value = g_string_new(NULL);
    g_autofree char *group = NULL;
    unsigned line_no = 0;
    char *save = NULL;

    for (char *line = copy; line != NULL; line = save) {
        save = strchr(line, '\n');
        if (save)
            *save++ = '\0';
        line_no++;
        char *l = g_strstrip(line);
        if (*l == '\0' || *l == '#' || *l == ';')
            continue;
        if (*l == '[') {
            char *end = strchr(l, ']');
            if (end == NULL || end[1] != '\0' || end == l + 1)
                return fail(error, KUMIS_CONFIG_ERROR_SYNTAX, name, line_no,
                            "\"%s\" is not a [group] header", l);
            *end = '\0';
            if (!group_known(l + 1))
                return fail(error, KUMIS_CONFIG_ERROR_UNKNOWN, name, line_no,
                            "[%s]: unknown group (known: server, signaling, forum, media, "
                            "recording, database)",
                            l + 1);
            g_free(group);
            group = g_strdup(l + 1);
            continue;
        }
        char *eq = strchr(l, '=');
        if (eq == NULL)
            return fail(error, KUMIS_CONFIG_ERROR_SYNTAX, name, line_no,
                        "\"%s\" is not a key = value line", l);
        *eq = '\0';
        char *key = g_strstrip(l);
        char *raw = g_strstrip(eq + 1);
        if (*key == '\0')
            return fail(error, KUMIS_CONFIG_ERROR_SYNTAX, name, line_no, "a value without a key");
        if (group == NULL)
            return fail(error, KUMIS_CONFIG_ERROR_SYNTAX, name, line_no,
                        "key %s comes before any [group]", key);
        const struct setting *s = setting_find(group, key);
        if (s == NULL)
            return fail(error, KUMIS_CONFIG_ERROR_UNKNOWN, name, line_no, "[%s] %s: unknown key",
                        group, key);
        char *id = g_strdup_printf("%s/%s", group, key);
        if (g_hash_table_contains(seen, id)) {
            g_free(id);
            return fail(error, KUMIS_CONFIG_ERROR_SYNTAX, name, line_no,
                        "[%s] %s: set twice in this file", group, key);
        }
        g_hash_table_insert(seen, id, GUINT_TO_POINTER(line_no));
        if (!value_unescape(raw, value))
            return fail(error, KUMIS_CONFIG_ERROR_VALUE, name, line_no,
                        "[%s] %s: bad escape sequence", group, key);
        if (!setting_apply(config, s, value->str, name, line_no, error))
            return FALSE;
    }
    return TRUE;
}

/* The line where @id ("group/key") was set in the user's file, 0 when it kept its default. */
static unsigned line_of(GHashTable *seen, const char *id)
{
    return GPOINTER_TO_UINT(g_hash_table_lookup(seen, id));
}

/* Rules between keys, checked once the whole file is read. */
static gboolean config_check(const struct kumis_config *config, const char *name, GHashTable *seen,
                             GError **error)
{
    if (config->port_min > config->port_max)
        return fail(error, KUMIS_CONFIG_ERROR_VALUE, name,
                    MAX(line_of(seen, "media/port_min"), line_of(seen, "media/port_max")),
                    "[media] port_min (%u) is above port_max (%u)", config->port_min,
                    config->port_max);
    if ((config->certificate == NULL) != (config->private_key == NULL))
        return fail(error, KUMIS_CONFIG_ERROR_VALUE, name,
                    MAX(line_of(seen, "server/certificate"), line_of(seen, "server/private_key")),
                    "[server] certificate and private_key must be set together");
    if (!forum_id_valid(config->forum_id))
        return fail(error, KUMIS_CONFIG_ERROR_VALUE, name, line_of(seen, "forum/id"),
                    "[forum] id: \"%s\" may hold only letters, digits and '-' (64 at most)",
                    config->forum_id);
    return TRUE;
}

struct kumis_config *kumis_config_parse(const char *text, gsize len, const char *name,
                                        GError **error)
{
    struct kumis_config *config = g_new0(struct kumis_config, 1);
    g_autoptr(GHashTable) defaults = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    GError *internal = NULL;

    /* The embedded file is ours: if it does not parse, the build is broken (an assertion). */
    if (!config_scan(config, kumis_default_conf, kumis_default_conf_len, "(embedded)", defaults,
                     &internal))
        g_error("embedded configuration is broken: %s", internal->message);
    if (text != NULL && (!config_scan(config, text, len, name, seen, error) ||
                         !config_check(config, name, seen, error))) {
        kumis_config_free(config);
        return NULL;
    }
    return config;
}

struct kumis_config *kumis_config_load(const char *path, GError **error)
{
    if (path == NULL)
        return kumis_config_parse(NULL, 0, NULL, error);

    g_autofree char *text = NULL;
    gsize len = 0;
    GError *io = NULL;
    if (!g_file_get_contents(path, &text, &len, &io)) {
        g_set_error(error, KUMIS_CONFIG_ERROR, KUMIS_CONFIG_ERROR_IO, "%s:0: cannot read: %s", path,
                    io->message);
        g_error_free(io);
        return NULL;
    }
    return kumis_config_parse(text, len, path, error);
}

char *kumis_config_state_path(const struct kumis_config *config, const char *rel)
{
    if (g_path_is_absolute(rel))
        return g_strdup(rel);
    return g_build_filename(config->state_dir, rel, NULL);
}

void kumis_config_free(struct kumis_config *config)
{
    if (config == NULL)
        return;
    for (size_t i = 0; i < G_N_ELEMENTS(settings); i++) {
        void *field = (char *)config + settings[i].offset;
        if (settings[i].kind == KIND_STRING || settings[i].kind == KIND_PATH)
            g_free(*(char **)field);
        else if (settings[i].kind == KIND_LIST)
            g_strfreev(*(char ***)field);
    }
    g_free(config);
}

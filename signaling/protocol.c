/* kumis — the WebSocket JSON protocol (see PROTOCOL.md for the wire description). */
#include "signaling/protocol.h"

#include <string.h>

static const char *const error_names[SIG_ERR_COUNT] = {
    [SIG_ERR_BAD_JSON] = "bad-json",           [SIG_ERR_NOT_OBJECT] = "not-object",
    [SIG_ERR_MISSING_TYPE] = "missing-type",   [SIG_ERR_UNKNOWN_TYPE] = "unknown-type",
    [SIG_ERR_MISSING_FIELD] = "missing-field", [SIG_ERR_BAD_FIELD] = "bad-field",
    [SIG_ERR_TOO_LARGE] = "too-large",         [SIG_ERR_BINARY_UNSUPPORTED] = "binary-unsupported",
    [SIG_ERR_HELLO_FIRST] = "hello-first",     [SIG_ERR_BAD_VERSION] = "bad-version",
    [SIG_ERR_NOT_ALLOWED] = "not-allowed",     [SIG_ERR_UNAVAILABLE] = "unavailable",
    [SIG_ERR_INTERNAL] = "internal",
};

const char *sig_error_code_name(enum sig_error_code code)
{
    if ((unsigned)code >= SIG_ERR_COUNT)
        return "internal";
    return error_names[code];
}

static const char *const langs[] = {"id", "en", NULL};
static const char *const pcs[] = {"up", "down", NULL};
static const char *const qualities[] = {"low", "high", "auto", NULL};

static const struct sig_field hello_fields[] = {
    {"version", SIG_FIELD_INTEGER, TRUE, 0, NULL},
    {"client", SIG_FIELD_STRING, FALSE, 128, NULL},
    {"lang", SIG_FIELD_STRING, FALSE, 8, langs},
    {NULL, 0, FALSE, 0, NULL},
};

static const struct sig_field join_fields[] = {
    {"name", SIG_FIELD_STRING, TRUE, 320, NULL},
    {"institution", SIG_FIELD_STRING, TRUE, 480, NULL},
    {"password", SIG_FIELD_STRING, FALSE, 256, NULL},
    {NULL, 0, FALSE, 0, NULL},
};

static const struct sig_field participant_fields[] = {
    {"participant", SIG_FIELD_STRING, TRUE, 16, NULL},
    {NULL, 0, FALSE, 0, NULL},
};

static const struct sig_field sdp_fields[] = {
    {"pc", SIG_FIELD_STRING, TRUE, 8, pcs},
    {"sdp", SIG_FIELD_STRING, TRUE, 60000, NULL},
    {NULL, 0, FALSE, 0, NULL},
};

static const struct sig_field candidate_fields[] = {
    {"pc", SIG_FIELD_STRING, TRUE, 8, pcs},
    {"candidate", SIG_FIELD_STRING, TRUE, 1024, NULL},
    {"mid", SIG_FIELD_STRING, FALSE, 32, NULL},
    {NULL, 0, FALSE, 0, NULL},
};

static const struct sig_field quality_fields[] = {
    {"quality", SIG_FIELD_STRING, TRUE, 8, qualities},
    {NULL, 0, FALSE, 0, NULL},
};

static const struct sig_field no_fields[] = {{NULL, 0, FALSE, 0, NULL}};

/* Every message a client may send. The server's dispatch table maps these names to handlers. */
static const struct sig_message_type message_types[] = {
    {"hello", hello_fields}, {"join", join_fields},         {"leave", no_fields},
    {"offer", sdp_fields},   {"answer", sdp_fields},        {"candidate", candidate_fields},
    {"ping", no_fields},     {"admit", participant_fields}, {"quality", quality_fields},
    {"stats", no_fields},
};

const struct sig_message_type *sig_message_type_find(const char *name)
{
    for (size_t i = 0; i < G_N_ELEMENTS(message_types); i++)
        if (strcmp(message_types[i].name, name) == 0)
            return &message_types[i];
    return NULL;
}

static gboolean parse_fail(struct sig_parse_error *err, enum sig_error_code code, const char *fmt,
                           ...) G_GNUC_PRINTF(3, 4);

static gboolean parse_fail(struct sig_parse_error *err, enum sig_error_code code, const char *fmt,
                           ...)
{
    va_list ap;
    err->code = code;
    va_start(ap, fmt);
    g_vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return FALSE;
}

static gboolean string_allowed(const char *value, const char *const *one_of)
{
    if (one_of == NULL)
        return TRUE;
    for (; *one_of; one_of++)
        if (strcmp(*one_of, value) == 0)
            return TRUE;
    return FALSE;
}

static const char *const kind_names[] = {"a string", "an integer", "true or false", "an object"};

static gboolean field_check(json_t *root, const struct sig_field *f, struct sig_parse_error *err)
{
    json_t *v = json_object_get(root, f->name);
    if (v == NULL || json_is_null(v)) {
        if (f->required)
            return parse_fail(err, SIG_ERR_MISSING_FIELD, "field \"%s\" is required", f->name);
        return TRUE;
    }
    gboolean ok = (f->kind == SIG_FIELD_STRING && json_is_string(v)) ||
                  (f->kind == SIG_FIELD_INTEGER && json_is_integer(v)) ||
                  (f->kind == SIG_FIELD_BOOLEAN && json_is_boolean(v)) ||
                  (f->kind == SIG_FIELD_OBJECT && json_is_object(v));
    if (!ok)
        return parse_fail(err, SIG_ERR_BAD_FIELD, "field \"%s\" must be %s", f->name,
                          kind_names[f->kind]);
    if (f->kind != SIG_FIELD_STRING)
        return TRUE;
    if (f->max_len && json_string_length(v) > f->max_len)
        return parse_fail(err, SIG_ERR_BAD_FIELD, "field \"%s\" is longer than %zu bytes", f->name,
                          (size_t)f->max_len);
    /* jansson accepts \u0000 inside strings; no field of ours may hold one. */
    if (strlen(json_string_value(v)) != json_string_length(v))
        return parse_fail(err, SIG_ERR_BAD_FIELD, "field \"%s\" contains a NUL character", f->name);
    if (!string_allowed(json_string_value(v), f->one_of))
        return parse_fail(err, SIG_ERR_BAD_FIELD, "field \"%s\" has a value not allowed here",
                          f->name);
    return TRUE;
}

static gboolean id_valid(json_t *id)
{
    return json_is_integer(id) || (json_is_string(id) && json_string_length(id) <= 64);
}

gboolean sig_message_parse(const char *data, gsize len, gsize max_len, struct sig_message *out,
                           struct sig_parse_error *err)
{
    memset(out, 0, sizeof *out);
    memset(err, 0, sizeof *err);
    if (len > max_len)
        return parse_fail(err, SIG_ERR_TOO_LARGE, "message of %zu bytes is over the limit of %zu",
                          (size_t)len, (size_t)max_len);

    json_error_t jerr;
    /* JSON_REJECT_DUPLICATES: two "type" keys must not mean two things to two readers. */
    json_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (root == NULL)
        return parse_fail(err, SIG_ERR_BAD_JSON, "not valid JSON (line %d, column %d)", jerr.line,
                          jerr.column);
    if (!json_is_object(root)) {
        json_decref(root);
        return parse_fail(err, SIG_ERR_NOT_OBJECT, "a message must be a JSON object");
    }

    json_t *id = json_object_get(root, "id");
    if (id != NULL && !id_valid(id)) {
        json_decref(root);
        return parse_fail(err, SIG_ERR_BAD_FIELD,
                          "field \"id\" must be an integer or a string of up to 64 bytes");
    }
    err->id = json_incref(id);

    json_t *type = json_object_get(root, "type");
    if (!json_is_string(type)) {
        json_decref(root);
        return parse_fail(err, SIG_ERR_MISSING_TYPE, "field \"type\" (a string) is required");
    }
    const struct sig_message_type *mt = sig_message_type_find(json_string_value(type));
    if (mt == NULL) {
        json_decref(root);
        return parse_fail(err, SIG_ERR_UNKNOWN_TYPE, "unknown message type");
    }
    for (const struct sig_field *f = mt->fields; f->name; f++) {
        if (!field_check(root, f, err)) {
            json_decref(root);
            return FALSE;
        }
    }
    json_decref(err->id);
    err->id = NULL;
    out->type = mt;
    out->root = root;
    out->id = id;
    return TRUE;
}

void sig_message_clear(struct sig_message *msg)
{
    json_decref(msg->root);
    memset(msg, 0, sizeof *msg);
}

void sig_parse_error_clear(struct sig_parse_error *err)
{
    json_decref(err->id);
    err->id = NULL;
}

const char *sig_message_string(const struct sig_message *msg, const char *field)
{
    return json_string_value(json_object_get(msg->root, field));
}

json_int_t sig_message_integer(const struct sig_message *msg, const char *field,
                               json_int_t fallback)
{
    json_t *v = json_object_get(msg->root, field);
    return json_is_integer(v) ? json_integer_value(v) : fallback;
}

json_t *sig_reply_new(const char *type, json_t *id)
{
    json_t *msg = json_object();
    json_object_set_new(msg, "type", json_string(type));
    if (id != NULL)
        json_object_set(msg, "id", id);
    return msg;
}

json_t *sig_error_new(enum sig_error_code code, const char *message, json_t *id)
{
    json_t *msg = sig_reply_new("error", id);
    json_object_set_new(msg, "code", json_string(sig_error_code_name(code)));
    json_object_set_new(msg, "message", json_string(message ? message : ""));
    return msg;
}

char *sig_message_serialize(const json_t *msg)
{
    char *dumped = json_dumps(msg, JSON_COMPACT);
    char *copy = g_strdup(dumped);
    free(dumped);
    return copy;
}

/* kumis — the WebSocket JSON protocol: bytes in, typed messages out, and back (PROTOCOL.md).
 *
 * Pure functions: no logging, no globals, no I/O, so that fuzz_protocol can call them bare. */
#pragma once

#include <glib.h>
#include <jansson.h>

#define KUMIS_PROTOCOL_VERSION 1
#define KUMIS_PROTOCOL_NAME    "kumis.v1"

/* Error codes sent to clients in {"type":"error","code":...}. Stable: clients switch on them. */
enum sig_error_code {
    SIG_ERR_BAD_JSON,           /* not JSON text */
    SIG_ERR_NOT_OBJECT,         /* JSON, but not an object */
    SIG_ERR_MISSING_TYPE,       /* no "type" string */
    SIG_ERR_UNKNOWN_TYPE,       /* "type" names no message we know */
    SIG_ERR_MISSING_FIELD,      /* a required field is absent */
    SIG_ERR_BAD_FIELD,          /* a field has the wrong JSON type, length or value */
    SIG_ERR_TOO_LARGE,          /* text message over the configured limit */
    SIG_ERR_BINARY_UNSUPPORTED, /* binary frames are not part of the protocol */
    SIG_ERR_HELLO_FIRST,        /* a message before hello */
    SIG_ERR_BAD_VERSION,        /* hello with a protocol version we do not speak */
    SIG_ERR_NOT_ALLOWED,        /* the sender's role or state forbids this */
    SIG_ERR_UNAVAILABLE,        /* a feature this server does not offer (yet) */
    SIG_ERR_INTERNAL,           /* our fault; logged on the server */
    SIG_ERR_COUNT
};

/* Returns: the wire name of @code ("bad-json", ...). */
const char *sig_error_code_name(enum sig_error_code code);

enum sig_field_kind { SIG_FIELD_STRING, SIG_FIELD_INTEGER, SIG_FIELD_BOOLEAN, SIG_FIELD_OBJECT };

struct sig_field {
    const char *name;
    enum sig_field_kind kind;
    gboolean required;
    gsize max_len;             /* strings: longest UTF-8 byte length accepted */
    const char *const *one_of; /* strings: NULL-terminated allowed values, or NULL */
};

/* What a message type looks like on the wire. */
struct sig_message_type {
    const char *name;
    const struct sig_field *fields; /* terminated by a field with a NULL name */
};

/* A received message that passed validation. */
struct sig_message {
    const struct sig_message_type *type;
    json_t *root; /* (owned) the whole object; fields were checked against type->fields */
    json_t *id;   /* (borrowed from root) the client's "id" for correlation, or NULL */
};

/* Result of a failed parse, ready to be sent as an error message. */
struct sig_parse_error {
    enum sig_error_code code;
    char message[160];
    json_t *id; /* (owned) the "id" of the offending message when it could be read, or NULL */
};

/* Parses one text frame of @len bytes (not NUL-terminated) against the table of message
 * types. Rejects text over @max_len bytes, invalid JSON, non-objects, a missing or unknown
 * "type", missing required fields, fields of the wrong kind, strings too long or not among the
 * allowed values, and an "id" that is neither a string (<= 64 bytes) nor an integer.
 * Returns: TRUE and fills @out (free with sig_message_clear()), or FALSE and fills @err
 * (free with sig_parse_error_clear()). */
gboolean sig_message_parse(const char *data, gsize len, gsize max_len, struct sig_message *out,
                           struct sig_parse_error *err);

void sig_message_clear(struct sig_message *msg);
void sig_parse_error_clear(struct sig_parse_error *err);

/* Accessors for fields the schema guaranteed. Return NULL / @fallback when absent. */
const char *sig_message_string(const struct sig_message *msg, const char *field);
json_int_t sig_message_integer(const struct sig_message *msg, const char *field,
                               json_int_t fallback);

/* Builds {"type":"error","code":...,"message":...[,"id":...]}.
 * @id: (nullable) (borrowed) echoed as "id". Returns: (transfer full). */
json_t *sig_error_new(enum sig_error_code code, const char *message, json_t *id);

/* Builds {"type": @type [,"id": @id]}; callers add their fields. Returns: (transfer full). */
json_t *sig_reply_new(const char *type, json_t *id);

/* Returns: (transfer full) the compact JSON text of @msg. */
char *sig_message_serialize(const json_t *msg);

/* Returns: the table entry for @name, or NULL. */
const struct sig_message_type *sig_message_type_find(const char *name);

/* Unit tests for signaling/protocol.c: every way a message can be wrong, and the good ones. */
#include <glib.h>
#include <string.h>

#include "signaling/protocol.h"

#define LIMIT 65536

static enum sig_error_code parse_error(const char *text)
{
    struct sig_message msg;
    struct sig_parse_error err;
    gboolean ok = sig_message_parse(text, strlen(text), LIMIT, &msg, &err);
    g_assert_false(ok);
    g_assert_null(msg.root);
    g_assert_cmpstr(err.message, !=, "");
    enum sig_error_code code = err.code;
    sig_parse_error_clear(&err);
    return code;
}

static void test_hello_ok(void)
{
    const char *text =
        "{\"type\":\"hello\",\"version\":1,\"client\":\"t\",\"lang\":\"en\",\"id\":7}";
    struct sig_message msg;
    struct sig_parse_error err;
    g_assert_true(sig_message_parse(text, strlen(text), LIMIT, &msg, &err));
    g_assert_cmpstr(msg.type->name, ==, "hello");
    g_assert_cmpint(sig_message_integer(&msg, "version", 0), ==, 1);
    g_assert_cmpstr(sig_message_string(&msg, "lang"), ==, "en");
    g_assert_cmpint(json_integer_value(msg.id), ==, 7);
    sig_message_clear(&msg);
}

static void test_errors(void)
{
    g_assert_cmpint(parse_error(""), ==, SIG_ERR_BAD_JSON);
    g_assert_cmpint(parse_error("{"), ==, SIG_ERR_BAD_JSON);
    g_assert_cmpint(parse_error("{\"type\":\"hello\",\"type\":\"join\"}"), ==, SIG_ERR_BAD_JSON);
    g_assert_cmpint(parse_error("[1,2]"), ==, SIG_ERR_NOT_OBJECT);
    /* JSON, but not an object: every scalar too (jansson needs JSON_DECODE_ANY for those). */
    g_assert_cmpint(parse_error("42"), ==, SIG_ERR_NOT_OBJECT);
    g_assert_cmpint(parse_error("\"hello\""), ==, SIG_ERR_NOT_OBJECT);
    g_assert_cmpint(parse_error("null"), ==, SIG_ERR_NOT_OBJECT);
    g_assert_cmpint(parse_error("true"), ==, SIG_ERR_NOT_OBJECT);
    g_assert_cmpint(parse_error("42 43"), ==, SIG_ERR_BAD_JSON);
    g_assert_cmpint(parse_error("{}"), ==, SIG_ERR_MISSING_TYPE);
    g_assert_cmpint(parse_error("{\"type\":5}"), ==, SIG_ERR_MISSING_TYPE);
    g_assert_cmpint(parse_error("{\"type\":\"nope\"}"), ==, SIG_ERR_UNKNOWN_TYPE);
    g_assert_cmpint(parse_error("{\"type\":\"hello\"}"), ==, SIG_ERR_MISSING_FIELD);
    g_assert_cmpint(parse_error("{\"type\":\"hello\",\"version\":null}"), ==,
                    SIG_ERR_MISSING_FIELD);
    g_assert_cmpint(parse_error("{\"type\":\"hello\",\"version\":\"1\"}"), ==, SIG_ERR_BAD_FIELD);
    g_assert_cmpint(parse_error("{\"type\":\"hello\",\"version\":1.5}"), ==, SIG_ERR_BAD_FIELD);
    g_assert_cmpint(parse_error("{\"type\":\"hello\",\"version\":1,\"lang\":\"fr\"}"), ==,
                    SIG_ERR_BAD_FIELD);
    /* jansson refuses \u0000 unless asked (JSON_ALLOW_NUL), so it is not JSON to us. */
    g_assert_cmpint(parse_error("{\"type\":\"join\",\"name\":\"a\\u0000b\",\"institution\":\"x\"}"),
                    ==, SIG_ERR_BAD_JSON);
    g_assert_cmpint(parse_error("{\"type\":\"offer\",\"pc\":\"sideways\",\"sdp\":\"v=0\"}"), ==,
                    SIG_ERR_BAD_FIELD);
    g_assert_cmpint(parse_error("{\"type\":\"ping\",\"id\":[1]}"), ==, SIG_ERR_BAD_FIELD);
}

/* The id of a bad message is still echoed so the client can match the error. */
static void test_error_keeps_id(void)
{
    const char *text = "{\"type\":\"hello\",\"id\":\"abc\"}";
    struct sig_message msg;
    struct sig_parse_error err;
    g_assert_false(sig_message_parse(text, strlen(text), LIMIT, &msg, &err));
    g_assert_cmpstr(json_string_value(err.id), ==, "abc");
    json_t *reply = sig_error_new(err.code, err.message, err.id);
    g_autofree char *wire = sig_message_serialize(reply);
    g_assert_nonnull(strstr(wire, "\"code\":\"missing-field\""));
    g_assert_nonnull(strstr(wire, "\"id\":\"abc\""));
    json_decref(reply);
    sig_parse_error_clear(&err);
}

static void test_too_large(void)
{
    gsize len = LIMIT + 1;
    static char big[LIMIT + 1];
    memset(big, ' ', len);
    struct sig_message msg;
    struct sig_parse_error err;
    g_assert_false(sig_message_parse(big, len, LIMIT, &msg, &err));
    g_assert_cmpint(err.code, ==, SIG_ERR_TOO_LARGE);
    sig_parse_error_clear(&err);
}

static void test_error_names_unique(void)
{
    for (int i = 0; i < SIG_ERR_COUNT; i++)
        for (int j = i + 1; j < SIG_ERR_COUNT; j++)
            g_assert_cmpstr(sig_error_code_name(i), !=, sig_error_code_name(j));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/protocol/hello-ok", test_hello_ok);
    g_test_add_func("/protocol/errors", test_errors);
    g_test_add_func("/protocol/error-keeps-id", test_error_keeps_id);
    g_test_add_func("/protocol/too-large", test_too_large);
    g_test_add_func("/protocol/error-names-unique", test_error_names_unique);
    return g_test_run();
}

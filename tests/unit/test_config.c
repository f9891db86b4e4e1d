/* Unit tests for server/config.c: defaults, overrides and every kind of bad file. */
#include <glib.h>
#include <string.h>

#include "server/config.h"

static struct kumis_config *parse(const char *text, GError **error)
{
    return kumis_config_parse(text, strlen(text), "test.conf", error);
}

static void test_defaults(void)
{
    g_autoptr(GError) error = NULL;
    struct kumis_config *c = kumis_config_load(NULL, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(c->listen_address, ==, "127.0.0.1");
    g_assert_cmpuint(c->port, ==, 8443);
    g_assert_null(c->certificate);
    g_assert_null(c->private_key);
    g_assert_cmpstr(c->state_dir, ==, "var");
    g_assert_cmpuint(c->max_message_bytes, ==, 65536);
    g_assert_cmpstr(c->forum_id, ==, "bang-kumis-menyapa");
    g_assert_cmpstr(c->forum_title, ==, "Bang Kumis Menyapa");
    g_assert_cmpint(c->forum_policy, ==, KUMIS_POLICY_LOBBY);
    g_assert_cmpstr(c->time_zone, ==, "Asia/Jakarta");
    g_assert_cmpstr(c->media_addresses[0], ==, "127.0.0.1");
    g_assert_null(c->media_addresses[1]);
    g_assert_true(c->recording_enabled);
    g_autofree char *db = kumis_config_state_path(c, c->database_path);
    g_assert_cmpstr(db, ==, "var/kumis.db");
    kumis_config_free(c);
}

/* The file shipped in config/ must parse and hold exactly the compiled-in defaults. */
static void test_shipped_file_is_the_defaults(void)
{
    g_autoptr(GError) error = NULL;
    struct kumis_config *c = kumis_config_load(KUMIS_SOURCE_DIR "/config/kumisd.conf", &error);
    g_assert_no_error(error);
    g_assert_cmpuint(c->port, ==, 8443);
    g_assert_cmpstr(c->forum_id, ==, "bang-kumis-menyapa");
    kumis_config_free(c);
}

static void test_overrides(void)
{
    g_autoptr(GError) error = NULL;
    struct kumis_config *c = parse("# comment\n; other comment\n\n[server]\nport = 9443\n"
                                   "state_dir = /tmp/k\\sx\n[media]\naddresses = 127.0.0.1, "
                                   "127.0.0.2 ,\nworkers=3\n[recording]\nenabled=false\n"
                                   "[forum]\npolicy = invite-only\n",
                                   &error);
    g_assert_no_error(error);
    g_assert_cmpuint(c->port, ==, 9443);
    g_assert_cmpstr(c->state_dir, ==, "/tmp/k x");
    g_assert_cmpstr(c->media_addresses[1], ==, "127.0.0.2");
    g_assert_null(c->media_addresses[2]);
    g_assert_cmpuint(c->media_workers, ==, 3);
    g_assert_false(c->recording_enabled);
    g_assert_cmpint(c->forum_policy, ==, KUMIS_POLICY_INVITE_ONLY);
    g_assert_cmpstr(c->forum_title, ==, "Bang Kumis Menyapa"); /* untouched default */
    kumis_config_free(c);
}

struct bad_case {
    const char *text;
    int code;
    const char *expect; /* the whole one-line message */
};

static const struct bad_case bad_cases[] = {
    {"[server]\nport = 0\n", KUMIS_CONFIG_ERROR_VALUE,
     "test.conf:2: [server] port: \"0\" is not a port number from 1 to 65535"},
    {"[server]\nport = 70000\n", KUMIS_CONFIG_ERROR_VALUE, NULL},
    {"[server]\nport = 80x\n", KUMIS_CONFIG_ERROR_VALUE, NULL},
    {"[server]\nport = -1\n", KUMIS_CONFIG_ERROR_VALUE, NULL},
    {"[server]\nport =\n", KUMIS_CONFIG_ERROR_VALUE, NULL},
    {"\n\n[server]\nprot = 1\n", KUMIS_CONFIG_ERROR_UNKNOWN,
     "test.conf:4: [server] prot: unknown key"},
    {"[sever]\n", KUMIS_CONFIG_ERROR_UNKNOWN, NULL},
    {"port = 1\n", KUMIS_CONFIG_ERROR_SYNTAX, "test.conf:1: key port comes before any [group]"},
    {"[server]\njust words\n", KUMIS_CONFIG_ERROR_SYNTAX,
     "test.conf:2: \"just words\" is not a key = value line"},
    {"[server\n", KUMIS_CONFIG_ERROR_SYNTAX, NULL},
    {"[]\n", KUMIS_CONFIG_ERROR_SYNTAX, NULL},
    {"[server]\n= 5\n", KUMIS_CONFIG_ERROR_SYNTAX, NULL},
    {"[server]\nport = 1\nport = 2\n", KUMIS_CONFIG_ERROR_SYNTAX,
     "test.conf:3: [server] port: set twice in this file"},
    {"[server]\nlisten_address =\n", KUMIS_CONFIG_ERROR_VALUE, NULL},
    {"[server]\nstate_dir = a\\qb\n", KUMIS_CONFIG_ERROR_VALUE, NULL},
    {"[recording]\nenabled = yes\n", KUMIS_CONFIG_ERROR_VALUE,
     "test.conf:2: [recording] enabled: \"yes\" is neither true nor false"},
    {"[forum]\npolicy = closed\n", KUMIS_CONFIG_ERROR_VALUE, NULL},
    {"[forum]\nid = bad id!\n", KUMIS_CONFIG_ERROR_VALUE, NULL},
    {"[media]\naddresses = , ,\n", KUMIS_CONFIG_ERROR_VALUE, NULL},
    {"[media]\nworkers = 65\n", KUMIS_CONFIG_ERROR_VALUE, NULL},
    {"[media]\nport_min = 30000\nport_max = 29999\n", KUMIS_CONFIG_ERROR_VALUE,
     "test.conf:3: [media] port_min (30000) is above port_max (29999)"},
    {"[server]\ncertificate = /x.pem\n", KUMIS_CONFIG_ERROR_VALUE, NULL},
    {"[signaling]\nmax_message_bytes = 10\n", KUMIS_CONFIG_ERROR_VALUE, NULL},
    {"[server]\nweb_root = \xff\xfe\n", KUMIS_CONFIG_ERROR_SYNTAX, NULL},
};

static void test_bad_files(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(bad_cases); i++) {
        g_autoptr(GError) error = NULL;
        struct kumis_config *c = parse(bad_cases[i].text, &error);
        g_assert_null(c);
        g_assert_error(error, KUMIS_CONFIG_ERROR, bad_cases[i].code);
        g_assert_null(strchr(error->message, '\n')); /* one line */
        g_assert_true(g_str_has_prefix(error->message, "test.conf:"));
        if (bad_cases[i].expect)
            g_assert_cmpstr(error->message, ==, bad_cases[i].expect);
    }
}

static void test_nul_byte(void)
{
    g_autoptr(GError) error = NULL;
    struct kumis_config *c = kumis_config_parse("[server]\0port=1\n", 16, "n.conf", &error);
    g_assert_null(c);
    g_assert_error(error, KUMIS_CONFIG_ERROR, KUMIS_CONFIG_ERROR_SYNTAX);
}

static void test_missing_file(void)
{
    g_autoptr(GError) error = NULL;
    struct kumis_config *c = kumis_config_load("/nonexistent/kumisd.conf", &error);
    g_assert_null(c);
    g_assert_error(error, KUMIS_CONFIG_ERROR, KUMIS_CONFIG_ERROR_IO);
    g_assert_true(g_str_has_prefix(error->message, "/nonexistent/kumisd.conf:"));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/config/defaults", test_defaults);
    g_test_add_func("/config/shipped-file", test_shipped_file_is_the_defaults);
    g_test_add_func("/config/overrides", test_overrides);
    g_test_add_func("/config/bad-files", test_bad_files);
    g_test_add_func("/config/nul-byte", test_nul_byte);
    g_test_add_func("/config/missing-file", test_missing_file);
    return g_test_run();
}

/* kumisd — the kumis forum server: entry point, options, signals. */
#include <glib-unix.h>
#include <glib.h>
#include <gst/gst.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "server/config.h"
#include "server/server.h"

#define EXIT_CONFIG 2

static gboolean on_stop_signal(gpointer loop)
{
    g_message("stopping");
    g_main_loop_quit(loop);
    return G_SOURCE_CONTINUE;
}

/* Each participant holds a few sockets (an ICE agent per connection, up and down) and each
 * media worker's io_uring may register one per connection: raise the open-files limit to what
 * the system allows (a service often starts at 1024, about 300 participants). */
static void fd_limit_raise(void)
{
    struct rlimit nofile;
    if (getrlimit(RLIMIT_NOFILE, &nofile) != 0 || nofile.rlim_cur >= nofile.rlim_max)
        return;
    rlim_t was = nofile.rlim_cur;
    nofile.rlim_cur = nofile.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &nofile) == 0)
        g_message("open files limit raised from %llu to %llu", (unsigned long long)was,
                  (unsigned long long)nofile.rlim_cur);
}

int main(int argc, char **argv)
{
    g_autofree char *config_path = NULL;
    gboolean version = FALSE;
    GOptionEntry entries[] = {
        {"config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path,
         "Configuration file (default: the embedded defaults, see config/kumisd.conf)", "FILE"},
        {"version", 'V', 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL},
        {NULL, 0, 0, 0, NULL, NULL, NULL},
    };
    setlocale(LC_ALL, "");
    g_autoptr(GOptionContext) options = g_option_context_new("- the kumis video forum server");
    g_option_context_set_summary(options,
                                 "Serves the \"Bang Kumis Menyapa\" forum: web client over HTTPS, "
                                 "signaling over WSS, media over WebRTC.");
    g_option_context_add_main_entries(options, entries, NULL);
    g_autoptr(GError) error = NULL;
    if (!g_option_context_parse(options, &argc, &argv, &error)) {
        fprintf(stderr, "kumisd: %s (try --help)\n", error->message);
        return EXIT_CONFIG;
    }
    if (version) {
        printf("kumisd %s\n", KUMIS_VERSION);
        return EXIT_SUCCESS;
    }
    if (argc > 1) {
        fprintf(stderr, "kumisd: unexpected argument \"%s\" (try --help)\n", argv[1]);
        return EXIT_CONFIG;
    }

    /* GStreamer's debug system carries the per-module log categories (GST_DEBUG=kumis-*:6). */
    gst_init(NULL, NULL);
    struct kumis_config *config = kumis_config_load(config_path, &error);
    if (config == NULL) {
        fprintf(stderr, "kumisd: %s\n", error->message);
        return EXIT_CONFIG;
    }

    fd_limit_raise();
    GMainLoop *loop = g_main_loop_new(NULL, FALSE);
    guint sigint = g_unix_signal_add(SIGINT, on_stop_signal, loop);
    guint sigterm = g_unix_signal_add(SIGTERM, on_stop_signal, loop);

    struct kumis_server *server = kumis_server_new(config, loop, &error);
    if (server == NULL) {
        fprintf(stderr, "kumisd: %s\n", error->message);
        kumis_config_free(config);
        return EXIT_FAILURE;
    }
    fprintf(stderr, "kumisd: listening on https://%s:%u/\n", config->listen_address, config->port);
    g_main_loop_run(loop);

    g_source_remove(sigint);
    g_source_remove(sigterm);
    kumis_server_free(server);
    g_main_loop_unref(loop);
    kumis_config_free(config);
    return EXIT_SUCCESS;
}

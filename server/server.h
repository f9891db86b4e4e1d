/* kumis — the daemon object: owns the configuration, the signaling server and the forum
 * state, all on the control thread (DESIGN §3). */
#pragma once

#include <glib.h>

#include "server/config.h"

struct kumis_server;

/* Prepares the state directory and certificate, and starts listening.
 * @config: (borrowed) must outlive the server. Returns: (transfer full) or NULL with @error. */
struct kumis_server *kumis_server_new(const struct kumis_config *config, GMainLoop *loop,
                                      GError **error);

/* Closes every connection and frees the server. */
void kumis_server_free(struct kumis_server *server);

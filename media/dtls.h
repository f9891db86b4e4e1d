/* kumis — one DTLS 1.2 association for DTLS-SRTP (RFC 5764, RFC 6347) over memory: the
 * transport feeds received datagrams in and sends what it is given out. No socket of its own. */
#pragma once

#include <glib.h>

#include "media/cert.h"
#include "media/srtp_session.h"

/* RFC 5763 §5: the answerer with a=setup:passive is the DTLS server. kumis is the server
 * towards browsers; the client role serves load generators and tests. */
enum kumis_dtls_role {
    KUMIS_DTLS_ROLE_SERVER,
    KUMIS_DTLS_ROLE_CLIENT,
};

enum kumis_dtls_state {
    KUMIS_DTLS_STATE_NEW,         /* kumis_dtls_start() not called yet */
    KUMIS_DTLS_STATE_HANDSHAKING, /* flights in progress */
    KUMIS_DTLS_STATE_CONNECTED,   /* fingerprint verified, SRTP keys exported */
    KUMIS_DTLS_STATE_FAILED,      /* fatal alert, timeout, bad fingerprint, no SRTP profile */
    KUMIS_DTLS_STATE_CLOSED,      /* close_notify received or sent */
};

struct kumis_dtls;

/* Called on the thread that drives the association, synchronously from within the kumis_dtls
 * call (or the retransmission timer) that caused them. They must not free @dtls. */
struct kumis_dtls_callbacks {
    /* Sends one datagram (one or more DTLS records, at most the 1200-byte link MTU). */
    void (*send)(struct kumis_dtls *dtls, const guint8 *data, gsize len, void *user_data);
    /* The handshake finished and the peer's certificate matched its fingerprint. @keys
     * (transfer none) are split by direction for our role. Called once. */
    void (*on_connected)(struct kumis_dtls *dtls, const struct kumis_srtp_keys *keys,
                         void *user_data);
    /* The association ended: @error NULL when the peer sent close_notify, else why it failed
     * (fatal alert, handshake timeout, fingerprint mismatch). Called at most once, and never
     * after kumis_dtls_close(). */
    void (*on_closed)(struct kumis_dtls *dtls, const GError *error, void *user_data);
};

struct kumis_dtls_stats {
    guint64 datagrams_in;
    guint64 datagrams_out;
    guint64 dropped_malformed; /* not a sequence of well-formed DTLS records */
    guint64 dropped_late;      /* arrived after the association ended */
    guint64 app_data_ignored;  /* DTLS application data: DTLS-SRTP carries none */
};

/* Makes an association in @role with the certificate @cert (a reference is taken), whose
 * retransmission timers run on @context (NULL: the thread-default context at call time) and
 * whose callbacks get @user_data. Fails with @error only when OpenSSL does.
 * All later calls must come from the thread that runs @context.
 * Returns: (transfer full) free with kumis_dtls_free(). */
struct kumis_dtls *kumis_dtls_new(struct kumis_cert *cert, enum kumis_dtls_role role,
                                  GMainContext *context,
                                  const struct kumis_dtls_callbacks *callbacks, void *user_data,
                                  GError **error);

/* Frees @dtls without sending anything; pending timers are removed. NULL is ignored. */
void kumis_dtls_free(struct kumis_dtls *dtls);

/* Sets the fingerprint the peer's certificate must have (RFC 8122 §5: @hash_function "sha-256"
 * and "AB:CD:..." hex pairs, case-insensitive). May be called before, during or after the
 * handshake: a handshake that already finished is verified now, which may call on_connected or
 * on_closed. Fails for another hash function or a malformed fingerprint.
 * Returns: FALSE with @error set when refused. */
gboolean kumis_dtls_set_remote_fingerprint(struct kumis_dtls *dtls, const char *hash_function,
                                           const char *fingerprint, GError **error);

/* Starts the handshake: the client sends its ClientHello, the server waits for one. Later calls
 * do nothing. */
void kumis_dtls_start(struct kumis_dtls *dtls);

/* Feeds one received datagram (first byte 20..63, RFC 7983 §7). Hostile input: malformed
 * datagrams are dropped and counted; may call any callback. Never fails. */
void kumis_dtls_handle_datagram(struct kumis_dtls *dtls, const guint8 *data, gsize len);

/* Ends the association: sends close_notify (RFC 5246 §7.2.1) when it got past the start, then
 * stays CLOSED; no callbacks follow. Idempotent. */
void kumis_dtls_close(struct kumis_dtls *dtls);

/* Checks that @hash_function is "sha-256" and @fingerprint is 32 hex pairs joined by ':' (RFC 8122
 * §5), without any DTLS object: a pure function for the control thread. Returns: FALSE with
 * @error set when refused. */
gboolean kumis_dtls_fingerprint_check(const char *hash_function, const char *fingerprint,
                                      GError **error);

enum kumis_dtls_state kumis_dtls_get_state(const struct kumis_dtls *dtls);

/* Returns: the negotiated profile once CONNECTED, else KUMIS_SRTP_PROFILE_NONE. */
enum kumis_srtp_profile kumis_dtls_get_profile(const struct kumis_dtls *dtls);

void kumis_dtls_get_stats(const struct kumis_dtls *dtls, struct kumis_dtls_stats *stats);

const char *kumis_dtls_state_name(enum kumis_dtls_state state);

/* kumis — helpers shared by the sdp*.c files; not part of the module's API (use sdp.h).
 * Pure functions, like the rest of the module. */
#pragma once

#include <glib.h>
#include <gst/sdp/gstsdpmessage.h>

#include "media/sdp.h"

/* Strict unsigned decimal: digits only, value <= @max. Returns: FALSE if not one. */
gboolean sdp_parse_uint(const char *s, guint64 max, guint64 *out);
/* Returns: TRUE if @s is 1..@max_len RFC 4566 §9 token-chars. */
gboolean sdp_is_token(const char *s, gsize max_len);
/* Returns: TRUE if @s is @min_len..@max_len RFC 8839 §5.4 ice-chars (ALPHA / DIGIT / + / /). */
gboolean sdp_is_ice_chars(const char *s, gsize min_len, gsize max_len);
/* Returns: TRUE if @s is 1..@max_len printable ASCII without blanks. */
gboolean sdp_is_visible(const char *s, gsize max_len);
/* Splits on runs of blanks. Returns: (transfer full) (element-type utf8) the words, or NULL
 * when there are more than @max. */
GPtrArray *sdp_split_words(const char *s, guint max);
/* Returns: (transfer full) (nullable) the value of @key in an fmtp "a=1;b=2" list. */
char *sdp_fmtp_get(const char *fmtp, const char *key);
/* Returns: "actpass", "active", "passive" or "none". */
const char *sdp_setup_name(enum sdp_setup setup);

/* Set @error in SDP_ERROR and return FALSE; sdp_media_fail() prefixes "m-line N (kind): ". */
gboolean sdp_fail(GError **error, enum sdp_error_code code, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);
gboolean sdp_media_fail(GError **error, const struct sdp_media *m, enum sdp_error_code code,
                        const char *fmt, ...) G_GNUC_PRINTF(4, 5);

/* Returns: (transfer none) (nullable) the codec of payload type @pt in @codecs. */
struct sdp_codec *sdp_codec_find(GPtrArray *codecs, guint pt);
/* Constructors with empty arrays. Returns: (transfer full). */
struct sdp_extmap *sdp_extmap_new(guint id, const char *uri);
struct sdp_media *sdp_media_new(guint index, enum sdp_kind kind);
void sdp_media_free(struct sdp_media *m);
struct sdp_session *sdp_session_new(void);

/* Parsing, shared by sdp.c (the session) and sdp_media.c (each m-line). */

/* ICE and DTLS attributes as read at session or media level. */
struct sdp_transport_attrs {
    char *ufrag, *pwd, *fp_alg, *fp;
    enum sdp_setup setup;
    gboolean trickle;
};
/* Frees the strings of @t, not @t itself. */
void sdp_transport_attrs_clear(struct sdp_transport_attrs *t);
/* Reads a=@key:@value into @t if it is ice-ufrag, ice-pwd, fingerprint, setup or ice-options.
 * Returns: 1 if @key was a transport attribute and valid, 0 if not one, -1 if malformed (@what
 * then names it). */
int sdp_transport_attr_parse(struct sdp_transport_attrs *t, const char *key, const char *value,
                             const char **what);
/* Parses m-line @index of a message: the m= line, the attributes kumis reads, a=simulcast and the
 * rtx links; transport attributes absent at media level come from @session_t. Does not check
 * what WebRTC requires of an accepted m-line (sdp.c does, once all are parsed).
 * Returns: (transfer full) the m-line, or NULL with @error set ("m-line N (kind): ..."). */
struct sdp_media *sdp_media_parse(const GstSDPMedia *gm, guint index,
                                  const struct sdp_transport_attrs *session_t, GError **error);

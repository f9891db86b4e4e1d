/* STUN messages for a minimal ICE agent: Binding requests and responses with short-term
 * credentials (RFC 5389 §10.1.2), ICE attributes (RFC 8445 §7.1.1, §16.1) and FINGERPRINT
 * (RFC 5389 §15.5). Pure functions: no I/O, no logging, no globals. */
#pragma once

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#define STUN_HEADER_LEN      20
#define STUN_MAGIC_COOKIE    0x2112A442u
#define STUN_BINDING_REQUEST 0x0001
#define STUN_BINDING_SUCCESS 0x0101
#define STUN_BINDING_ERROR   0x0111
#define STUN_MAX_MESSAGE     548

/* What stun_message_parse() found in a message. Pointers point into the parsed buffer. */
struct stun_message {
    uint16_t type;
    uint8_t transaction[12];
    const uint8_t *username; /* NULL when absent */
    size_t username_len;
    size_t integrity_offset; /* offset of the MESSAGE-INTEGRITY attribute, 0 when absent */
    int use_candidate;
    int ice_controlling;
    int ice_controlled;
    uint16_t error_code; /* ERROR-CODE class*100+number, 0 when absent */
};

/* Returns whether @buf looks like a STUN message (RFC 7983 §7 first byte 0..3 and the
 * magic cookie). Never fails. */
int stun_message_is_stun(const uint8_t *buf, size_t len);

/* Parses the header and the attributes this agent uses. Returns 0, or -1 when the message is
 * malformed (truncated attributes, length not a multiple of 4, wrong cookie). */
int stun_message_parse(const uint8_t *buf, size_t len, struct stun_message *msg);

/* Checks MESSAGE-INTEGRITY (HMAC-SHA1 keyed with @password, RFC 5389 §15.4) of a message
 * parsed into @msg. Returns 1 when it matches, 0 otherwise (including when absent). */
int stun_message_check_integrity(const uint8_t *buf, size_t len, const struct stun_message *msg,
                                 const char *password);

/* Writes a Binding request for a connectivity check (RFC 8445 §7.2.2) into @buf (at least
 * STUN_MAX_MESSAGE bytes): USERNAME "@remote_ufrag:@local_ufrag", PRIORITY, ICE-CONTROLLING or
 * ICE-CONTROLLED with @tie_breaker, USE-CANDIDATE when @nominate, MESSAGE-INTEGRITY keyed with
 * @remote_password, FINGERPRINT. Returns the length, or 0 if the credentials are too long. */
size_t stun_binding_request_write(uint8_t *buf, const uint8_t transaction[12],
                                  const char *remote_ufrag, const char *local_ufrag,
                                  const char *remote_password, uint32_t priority, int controlling,
                                  uint64_t tie_breaker, int nominate);

/* Writes a Binding success response to @transaction (at least STUN_MAX_MESSAGE bytes):
 * XOR-MAPPED-ADDRESS of @from, MESSAGE-INTEGRITY keyed with @local_password, FINGERPRINT.
 * Returns the length. Never fails. */
size_t stun_binding_success_write(uint8_t *buf, const uint8_t transaction[12],
                                  const struct sockaddr_in *from, const char *local_password);

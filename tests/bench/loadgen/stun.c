/* STUN Binding messages for ICE connectivity checks (RFC 5389, RFC 8445). */
#include "stun.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

#define ATTR_USERNAME           0x0006
#define ATTR_MESSAGE_INTEGRITY  0x0008
#define ATTR_ERROR_CODE         0x0009
#define ATTR_XOR_MAPPED_ADDRESS 0x0020
#define ATTR_PRIORITY           0x0024
#define ATTR_USE_CANDIDATE      0x0025
#define ATTR_FINGERPRINT        0x8028
#define ATTR_ICE_CONTROLLED     0x8029
#define ATTR_ICE_CONTROLLING    0x802A
#define FINGERPRINT_XOR         0x5354554eu

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static void wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void wr32(uint8_t *p, uint32_t v)
{
    wr16(p, (uint16_t)(v >> 16));
    wr16(p + 2, (uint16_t)v);
}

/* CRC-32 (ISO 3309, as zlib) bit by bit: only STUN uses it here, a few times a second. */
static uint32_t crc32_compute(const uint8_t *p, size_t len)
{
    uint32_t crc = 0xffffffffu;
    for (size_t i = 0; i < len; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

int stun_message_is_stun(const uint8_t *buf, size_t len)
{
    if (len < STUN_HEADER_LEN || buf[0] > 3)
        return 0;
    return (uint32_t)rd16(buf + 4) << 16 == (STUN_MAGIC_COOKIE & 0xffff0000u) &&
           rd16(buf + 6) == (STUN_MAGIC_COOKIE & 0xffff);
}

int stun_message_parse(const uint8_t *buf, size_t len, struct stun_message *msg)
{
    memset(msg, 0, sizeof *msg);
    if (!stun_message_is_stun(buf, len))
        return -1;
    size_t body = rd16(buf + 2);
    if (body % 4 != 0 || STUN_HEADER_LEN + body > len)
        return -1;
    msg->type = rd16(buf);
    memcpy(msg->transaction, buf + 8, 12);
    size_t off = STUN_HEADER_LEN, end = STUN_HEADER_LEN + body;
    while (off + 4 <= end) {
        uint16_t type = rd16(buf + off), alen = rd16(buf + off + 2);
        const uint8_t *val = buf + off + 4;
        if (off + 4 + alen > end)
            return -1;
        switch (type) {
        case ATTR_USERNAME:
            msg->username = val;
            msg->username_len = alen;
            break;
        case ATTR_MESSAGE_INTEGRITY:
            if (alen != 20)
                return -1;
            msg->integrity_offset = off;
            break;
        case ATTR_ERROR_CODE:
            if (alen >= 4)
                msg->error_code = (uint16_t)((val[2] & 7) * 100 + val[3]);
            break;
        case ATTR_USE_CANDIDATE:
            msg->use_candidate = 1;
            break;
        case ATTR_ICE_CONTROLLING:
            msg->ice_controlling = 1;
            break;
        case ATTR_ICE_CONTROLLED:
            msg->ice_controlled = 1;
            break;
        default:
            break;
        }
        off += 4 + (size_t)((alen + 3) & ~3);
    }
    return off == end ? 0 : -1;
}

/* RFC 5389 §15.4: the HMAC covers the message up to the attribute, with the header length
 * counting up to the end of MESSAGE-INTEGRITY (FINGERPRINT excluded). */
static void integrity_compute(const uint8_t *buf, size_t mi_offset, const char *password,
                              uint8_t out[20])
{
    uint8_t head[STUN_HEADER_LEN];
    memcpy(head, buf, STUN_HEADER_LEN);
    wr16(head + 2, (uint16_t)(mi_offset + 24 - STUN_HEADER_LEN));
    unsigned int out_len = 20;
    uint8_t tmp[STUN_MAX_MESSAGE + STUN_HEADER_LEN];
    if (mi_offset > sizeof tmp) {
        memset(out, 0, 20);
        return;
    }
    memcpy(tmp, head, STUN_HEADER_LEN);
    memcpy(tmp + STUN_HEADER_LEN, buf + STUN_HEADER_LEN, mi_offset - STUN_HEADER_LEN);
    HMAC(EVP_sha1(), password, (int)strlen(password), tmp, mi_offset, out, &out_len);
}

int stun_message_check_integrity(const uint8_t *buf, size_t len, const struct stun_message *msg,
                                 const char *password)
{
    if (msg->integrity_offset == 0 || msg->integrity_offset + 24 > len)
        return 0;
    uint8_t mac[20];
    integrity_compute(buf, msg->integrity_offset, password, mac);
    return memcmp(mac, buf + msg->integrity_offset + 4, 20) == 0;
}

static size_t attr_put(uint8_t *buf, size_t off, uint16_t type, const void *val, size_t len)
{
    wr16(buf + off, type);
    wr16(buf + off + 2, (uint16_t)len);
    memcpy(buf + off + 4, val, len);
    size_t padded = (len + 3) & ~(size_t)3;
    memset(buf + off + 4 + len, 0, padded - len);
    return off + 4 + padded;
}

/* Appends MESSAGE-INTEGRITY and FINGERPRINT and fixes the header length. */
static size_t message_finish(uint8_t *buf, size_t off, const char *password)
{
    uint8_t mac[20];
    integrity_compute(buf, off, password, mac);
    off = attr_put(buf, off, ATTR_MESSAGE_INTEGRITY, mac, 20);
    wr16(buf + 2, (uint16_t)(off + 8 - STUN_HEADER_LEN));
    uint8_t crc[4];
    wr32(crc, crc32_compute(buf, off) ^ FINGERPRINT_XOR);
    return attr_put(buf, off, ATTR_FINGERPRINT, crc, 4);
}

static void header_put(uint8_t *buf, uint16_t type, const uint8_t transaction[12])
{
    wr16(buf, type);
    wr16(buf + 2, 0);
    wr32(buf + 4, STUN_MAGIC_COOKIE);
    memcpy(buf + 8, transaction, 12);
}

size_t stun_binding_request_write(uint8_t *buf, const uint8_t transaction[12],
                                  const char *remote_ufrag, const char *local_ufrag,
                                  const char *remote_password, uint32_t priority, int controlling,
                                  uint64_t tie_breaker, int nominate)
{
    char user[300];
    size_t rl = strlen(remote_ufrag), ll = strlen(local_ufrag);
    if (rl + ll + 1 >= sizeof user || strlen(remote_password) > 128)
        return 0;
    memcpy(user, remote_ufrag, rl);
    user[rl] = ':';
    memcpy(user + rl + 1, local_ufrag, ll);
    header_put(buf, STUN_BINDING_REQUEST, transaction);
    size_t off = attr_put(buf, STUN_HEADER_LEN, ATTR_USERNAME, user, rl + 1 + ll);
    uint8_t v[8];
    wr32(v, priority);
    off = attr_put(buf, off, ATTR_PRIORITY, v, 4);
    wr32(v, (uint32_t)(tie_breaker >> 32));
    wr32(v + 4, (uint32_t)tie_breaker);
    off = attr_put(buf, off, controlling ? ATTR_ICE_CONTROLLING : ATTR_ICE_CONTROLLED, v, 8);
    if (nominate)
        off = attr_put(buf, off, ATTR_USE_CANDIDATE, v, 0);
    return message_finish(buf, off, remote_password);
}

size_t stun_binding_success_write(uint8_t *buf, const uint8_t transaction[12],
                                  const struct sockaddr_in *from, const char *local_password)
{
    header_put(buf, STUN_BINDING_SUCCESS, transaction);
    /* RFC 5389 §15.2: port xor the cookie's top 16 bits, address xor the cookie. */
    uint8_t v[8] = {0, 0x01};
    wr16(v + 2, (uint16_t)(ntohs(from->sin_port) ^ (STUN_MAGIC_COOKIE >> 16)));
    wr32(v + 4, ntohl(from->sin_addr.s_addr) ^ STUN_MAGIC_COOKIE);
    size_t off = attr_put(buf, STUN_HEADER_LEN, ATTR_XOR_MAPPED_ADDRESS, v, 8);
    return message_finish(buf, off, local_password);
}

/* On-disk layout of key files v1 (docs/formats/key-file.md). All integers little-endian. */
#ifndef TBML_KEY_FORMAT_H
#define TBML_KEY_FORMAT_H

#include <assert.h>
#include <stdint.h>

#define KEYFILE_MAGIC "TBMLKEYF"
#define KEYFILE_VERSION 1

/* Fixed part, followed by name[name_size], sealed_key[32], tag[16].
 * AAD of the key seal = fixed part + name. */
typedef struct {
    char magic[8];
    uint16_t version;
    uint8_t name_size;
    uint8_t reserved; /* 0 */
    uint32_t t_cost, m_cost, parallel; /* Argon2id */
    uint8_t salt[16];
    uint8_t nonce[12];
} keyfile_fixed;

static_assert(sizeof(keyfile_fixed) == 52, "key file fixed header is 52 bytes");

#endif

/* On-disk layout of sealed files v1 (docs/formats/sealed-file.md). All header integers are
 * little-endian; the segment index in nonces and AAD is big-endian (it counts, like a GCM
 * counter). Code serialises field by field at the offsets below; the structs exist so the
 * offsets are written down once and checked by the compiler. */
#ifndef TBML_SEALED_FORMAT_H
#define TBML_SEALED_FORMAT_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>

#define SEALED_MAGIC "TBMLSEAL"
#define SEALED_VERSION 1
#define SEALED_FILE_ID_SIZE 32

/* Fixed part of the header, followed by key_name[key_name_size], then a sealed_wrap. */
typedef struct {
    char magic[8];                        /* "TBMLSEAL" */
    uint16_t version;                     /* 1 */
    uint16_t header_size;                 /* = 56 + key_name_size + 60: bytes before segment 0 */
    uint32_t flags;                       /* 0; any other bit is rejected */
    uint32_t segment_size;                /* plaintext bytes per full segment, 16 .. 64 MiB */
    uint8_t key_name_size;                /* 1 .. 64 */
    uint8_t reserved[3];                  /* 0 */
    uint8_t file_id[SEALED_FILE_ID_SIZE]; /* random; also the HKDF salt of the wrapping key */
} sealed_fixed;

/* The per-file data key sealed under the wrapping key derived from the primary key;
 * AAD = every header byte before this struct. */
typedef struct {
    uint8_t nonce[12];
    uint8_t key[32];
    uint8_t tag[16];
} sealed_wrap;

static_assert(sizeof(sealed_fixed) == 56, "sealed header fixed part is 56 bytes");
static_assert(offsetof(sealed_fixed, version) == 8, "version at 8");
static_assert(offsetof(sealed_fixed, header_size) == 10, "header_size at 10");
static_assert(offsetof(sealed_fixed, flags) == 12, "flags at 12");
static_assert(offsetof(sealed_fixed, segment_size) == 16, "segment_size at 16");
static_assert(offsetof(sealed_fixed, key_name_size) == 20, "key_name_size at 20");
static_assert(offsetof(sealed_fixed, reserved) == 21, "reserved at 21");
static_assert(offsetof(sealed_fixed, file_id) == 24, "file_id at 24");
static_assert(sizeof(sealed_wrap) == 60, "wrapped data key is 60 bytes");

#define SEALED_HEADER_SIZE(name_size) (sizeof(sealed_fixed) + (name_size) + sizeof(sealed_wrap))
#define SEALED_HEADER_MAX SEALED_HEADER_SIZE(64)

/* Each segment on disk is ciphertext || 16-byte tag. Nonce = index (u64 BE) || last (u32 BE,
 * 1 for the final segment, else 0). AAD = SHA-256(header) || index (u64 BE) || last (u8). */
#define SEALED_TAG_SIZE 16
#define SEALED_AAD_SIZE (32 + 8 + 1)

/* HKDF-SHA256 info string for the wrapping key (salt = file_id, ikm = primary key). */
#define SEALED_WRAP_INFO "tbml sealed v1 data-key wrap"

#endif

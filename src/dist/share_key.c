/* One primary key on every rank for one password derivation. A key file is unwrapped with
 * Argon2id, slow and memory-hard on purpose (0.3 s and 64 MiB here); on N ranks sharing a
 * machine's cores that is N derivations fighting for the same memory, a quarter second or more
 * of every sealed job's start on 2 ranks. So rank 0 alone reads the key file and sends the key to
 * the others over the sealed, authenticated channel, as a driver hands executors their keys. */
#include "dist_internal.h"

#include <stdio.h>
#include <string.h>

/* The message: 1, name length, name, TBML_KEY_SIZE key bytes; or 0, status (4 bytes), error
 * message, when rank 0 could not load the key (so every rank fails with its reason). */
tbml_status tbml_comm_share_key(tbml_comm_t *c, tbml_key_load_fn load, void *arg, tbml_key_t **out)
{
    if (!c || tbml_comm_size(c) == 1) return load(arg, out);
    uint8_t *msg = NULL;
    size_t size = 0;
    if (tbml_comm_rank(c) == 0) {
        tbml_key_t *key = NULL;
        tbml_status st = load(arg, &key);
        if (st) {
            const char *why = tbml_errmsg();
            size = 5 + strlen(why);
            msg = tbml_malloc(size);
            msg[0] = 0;
            uint32_t code = (uint32_t)st;
            memcpy(msg + 1, &code, 4);
            memcpy(msg + 5, why, size - 5);
        } else {
            size_t n = strlen(tbml_key_name(key));
            size = 2 + n + TBML_KEY_SIZE;
            msg = tbml_malloc(size);
            msg[0] = 1;
            msg[1] = (uint8_t)n; /* key names are at most 64 bytes (tbml_key_name_valid) */
            memcpy(msg + 2, tbml_key_name(key), n);
            memcpy(msg + 2 + n, tbml_key_bytes(key), TBML_KEY_SIZE);
        }
        tbml_status bst = tbml_comm_bcast_alloc(c, 0, &msg, &size);
        tbml_wipe(msg, size);
        tbml_free(msg);
        if (st || bst) {
            tbml_key_free(key);
            return st ? st : bst;
        }
        *out = key;
        return TBML_OK;
    }
    tbml_status st = tbml_comm_bcast_alloc(c, 0, &msg, &size);
    if (st) return st;
    tbml_key_t *key = NULL;
    if (size >= 5 && msg[0] == 0) {
        uint32_t code;
        memcpy(&code, msg + 1, 4);
        st = tbml_error(code ? (tbml_status)code : TBML_E_KEY, "%.*s", (int)(size - 5),
                        (const char *)msg + 5);
    } else if (size >= 2 && msg[0] == 1 && size == 2 + (size_t)msg[1] + TBML_KEY_SIZE) {
        char name[256];
        memcpy(name, msg + 2, msg[1]);
        name[msg[1]] = '\0';
        st = tbml_key_from_bytes(name, msg + 2 + msg[1], &key);
    } else {
        st = tbml_error(TBML_E_FORMAT, "rank 0 sent a malformed key message (%zu bytes)", size);
    }
    tbml_wipe(msg, size);
    tbml_free(msg);
    if (st) return st;
    *out = key;
    return TBML_OK;
}

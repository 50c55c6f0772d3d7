/* The key service (docs/protocols/kms.md): releases named primary keys to attested jobs only.
 *
 * State lives in one folder: root.key (the root key, in a password-sealed key file), state.json
 * (applications, policies and their keys, each key AES-256-GCM-wrapped under a key derived from
 * the root key, the whole file MACed with another), tls/ (the service's TLS key and
 * self-signed certificate that clients pin), admin.token (the bearer token for the admin API;
 * only its hash is in state.json) and audit.log (hash-chained JSON lines). */
#ifndef TBML_KMS_H
#define TBML_KMS_H

#include "tbml/crypto.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TBML_KMS_STATE_VERSION 1
#define TBML_KMS_API_VERSION 1

/* Creates a new state folder dir (must not exist or be empty): a random root key sealed under
 * password, TLS credentials for the names in san (NULL: localhost and 127.0.0.1), a random admin
 * token, an empty state and an audit log with its first entry. */
TBML_NODISCARD tbml_status tbml_kms_init(const char *dir, const char *password,
                                         size_t password_size, tbml_pwhash_params params,
                                         const char *const *san, size_t san_count);

typedef struct {
    const char *state_dir;
    const char *listen;     /* "HOST:PORT"; port 0 picks a free port */
    const char *port_file;  /* if set, the chosen port is written here once listening */
    int nonce_ttl_s;        /* how long a nonce may be used; default 60 */
    int max_connections;    /* default 512; more are closed at once */
    int request_timeout_ms; /* handshake and each request; default 10000 */
    int idle_timeout_ms;    /* keep-alive idle; default 15000 */
    int audit_sync;         /* fdatasync the audit log after each entry; default on (-1 = off) */
} tbml_kms_serve_options;

/* Unlocks the root key with password, loads the state, and serves until SIGINT or SIGTERM.
 * Wrong password: TBML_E_PASSWORD. A state file whose MAC fails: TBML_E_AUTH. */
TBML_NODISCARD tbml_status tbml_kms_serve(const tbml_kms_serve_options *opt, const char *password,
                                          size_t password_size);

/* Verifies an audit log's hash chain. On success *entries is the number of entries and head_hex
 * the last entry's hash (keep both elsewhere to detect truncation later). A broken chain:
 * TBML_E_AUTH naming the line. anchor, if not NULL, is "SEQ:HEX" from an earlier run: entry SEQ
 * must exist and have that hash, so a log cut back before SEQ or rewritten from scratch fails. */
TBML_NODISCARD tbml_status tbml_kms_audit_verify(const char *path, const char *anchor,
                                                 uint64_t *entries, char head_hex[65]);

#ifdef __cplusplus
}
#endif
#endif

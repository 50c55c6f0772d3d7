/* Internals of the key service: the audit log, the sealed state, nonces and the request
 * handler. */
#ifndef TBML_KMS_SERVICE_H
#define TBML_KMS_SERVICE_H

#include "tbml/kms.h"
#include "tbml/seal.h"

#include <jansson.h>
#include <pthread.h>

typedef struct {
    pthread_mutex_t lock;
    int fd, sync;
    uint64_t seq;
    uint8_t head[32];
} kms_audit;

tbml_status kms_audit_open(kms_audit *a, const char *path, int sync);
/* Adds seq, time, prev and hash to entry and appends it; entry stays owned by the caller. */
tbml_status kms_audit_append(kms_audit *a, json_t *entry);
void kms_audit_close(kms_audit *a);

/* The state: applications with their policies and wrapped keys (state.json). */
typedef struct {
    char *dir;
    uint8_t kek[32], mac_key[32]; /* derived from the root key; wiped on free */
    json_t *root;                 /* {"tbml_kms_state":1,"admin_token_sha256":..,"apps":{..}} */
    pthread_rwlock_t lock;
} kms_store;

tbml_status kms_store_open(kms_store *s, const char *dir, const tbml_key_t *root_key);
/* Writes state.json atomically with a fresh MAC. Caller holds the write lock. */
tbml_status kms_store_save(kms_store *s);
void kms_store_close(kms_store *s);
/* Wraps key bytes for app/key under the KEK into a JSON object {nonce, wrapped}. */
tbml_status kms_store_wrap(kms_store *s, const char *app, const char *key, const uint8_t bytes[32],
                           json_t **out);
/* Unwraps into bytes (caller wipes). */
tbml_status kms_store_unwrap(kms_store *s, const char *app, const char *key, const json_t *w,
                             uint8_t bytes[32]);

#define KMS_ROOT_KEY_FILE "root.key"
#define KMS_STATE_FILE "state.json"
#define KMS_AUDIT_FILE "audit.log"
#define KMS_TOKEN_FILE "admin.token"
#define KMS_TLS_DIR "tls"

#endif

/* A small, strict HTTP/1.1 server over OpenSSL TLS 1.3 for the key service's JSON API.
 *
 * Why not libmicrohttpd: its TLS is GnuTLS, while tbml's keys, certificates and pins are
 * OpenSSL's; putting MHD behind an OpenSSL terminator means a plaintext socket pair and a second
 * event loop per connection. The key service needs a handful of JSON routes with hard limits, so
 * a strict parser (Content-Length bodies only, bounded headers and bodies, per-request
 * deadlines) is less code and less attack surface. */
#ifndef TBML_KMS_HTTP_H
#define TBML_KMS_HTTP_H

#include "tbml/core.h"

#include <stddef.h>

#define KMS_HTTP_MAX_HEADER (8u << 10)
#define KMS_HTTP_MAX_BODY (64u << 10)

typedef struct {
    char method[8];
    char path[256];
    char auth[256];   /* Authorization header value, "" if none */
    const char *body; /* NUL-terminated, body_size bytes */
    size_t body_size;
    char peer[64]; /* "127.0.0.1:5555" */
} kms_request;

typedef struct {
    int status;
    char *body; /* tbml_malloc'd JSON text */
} kms_response;

typedef void (*kms_handler)(void *ctx, const kms_request *req, kms_response *resp);

typedef struct {
    const char *listen; /* HOST:PORT */
    const char *cert_file, *key_file;
    int max_connections, request_timeout_ms, idle_timeout_ms;
    kms_handler handler;
    void *ctx;
} kms_http_config;

/* Parses a request head buf[0..head_len) that ends in CRLF CRLF into req (method, path,
 * Authorization), *content_length and *keep_alive. Returns 0, or the HTTP status to answer with
 * (400, 411, 413, 431, 501, 505) and *msg naming the problem. Exposed for tests and fuzzing. */
int kms_http_parse_head(const char *buf, size_t head_len, kms_request *req, size_t *content_length,
                        int *keep_alive, const char **msg);

typedef struct kms_http kms_http_t;

/* Binds and listens; *port gets the bound port. */
tbml_status kms_http_start(const kms_http_config *cfg, kms_http_t **out, int *port);
/* Accepts until *stop becomes non-zero, then waits for open connections to end. */
tbml_status kms_http_run(kms_http_t *h, volatile int *stop);
void kms_http_free(kms_http_t *h);

#endif

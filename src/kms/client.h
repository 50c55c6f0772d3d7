/* The key service's client (docs/protocols/kms.md): HTTPS over TLS 1.3 with the service's
 * certificate verified against a pinned CA file and, optionally, a pinned public-key hash.
 * There is no way to turn verification off. One handle is one keep-alive connection; use it
 * from one thread at a time. */
#ifndef TBML_KMS_CLIENT_H
#define TBML_KMS_CLIENT_H

#include "tbml/seal.h"
#include "tee/evidence.h"

#include <jansson.h>

typedef struct tbml_kms_client tbml_kms_client_t;

/* url: "https://host:port" (anything else is refused); ca_file: PEM with the CA (or the
 * service's self-signed certificate); pin: NULL or curl's "sha256//BASE64" public-key pin. */
TBML_NODISCARD tbml_status tbml_kms_client_open(const char *url, const char *ca_file,
                                                const char *pin, tbml_kms_client_t **out);
void tbml_kms_client_free(tbml_kms_client_t *c);

/* One JSON request. body may be NULL (no body). bearer: admin token or NULL. *resp is the
 * parsed JSON answer (json_decref it), also for HTTP errors; *http_status the code. Transport
 * failures (TLS, certificate, timeout): TBML_E_NET with curl's reason. */
TBML_NODISCARD tbml_status tbml_kms_client_call(tbml_kms_client_t *c, const char *method,
                                                const char *path, const char *bearer, json_t *body,
                                                long *http_status, json_t **resp);

/* The attested key release: gets a fresh nonce, makes an ephemeral X25519 key pair, asks the
 * backend for evidence over ident with report data binding nonce and public key, and unwraps
 * the answer. A refusal gives TBML_E_POLICY with the service's message (the failed check and
 * what to change). */
TBML_NODISCARD tbml_status tbml_kms_client_release(tbml_kms_client_t *c, const char *app,
                                                   const char *key_name,
                                                   const tbml_evidence_backend *be,
                                                   const tbml_report_t *ident, tbml_key_t **out);

/* Report data for a release: SHA-256("tbml-kms-release-v1\n" || nonce || public key) || 32 zero
 * bytes. Shared by client and server. */
TBML_NODISCARD tbml_status tbml_kms_report_data(const uint8_t nonce[32], const uint8_t pub[32],
                                                uint8_t rd[64]);
/* The AAD the wrapped key is bound to: "tbml-kms-release-v1\n" app "\n" key "\n" nonce-hex. */
void tbml_kms_wrap_aad(const char *app, const char *key, const uint8_t nonce[32], char *out,
                       size_t out_size);

#define TBML_KMS_RELEASE_PREFIX "tbml-kms-release-v1\n"
#define TBML_KMS_MAX_BODY (64u << 10)

#endif

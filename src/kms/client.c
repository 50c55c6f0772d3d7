/* The key service client on libcurl (OpenSSL underneath): TLS 1.3 only, https only, the peer
 * verified against a pinned CA (and optionally a pinned key), bounded answers and timeouts. */
#include "kms/client.h"

#include "tbml/crypto.h"
#include "tbml/ecc.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define CONNECT_TIMEOUT_MS 5000L
#define REQUEST_TIMEOUT_MS 20000L

struct tbml_kms_client {
    CURL *curl;
    char *url, *ca, *pin;
    char *resp;
    size_t resp_size;
    int resp_overflow;
};

static pthread_once_t g_curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
    tbml_kms_client_t *c = arg;
    size_t len = size * n;
    if (c->resp_size + len > TBML_KMS_MAX_BODY) {
        c->resp_overflow = 1;
        return 0; /* makes curl fail the transfer */
    }
    c->resp = tbml_realloc(c->resp, c->resp_size + len + 1);
    memcpy(c->resp + c->resp_size, p, len);
    c->resp_size += len;
    c->resp[c->resp_size] = '\0';
    return len;
}

tbml_status tbml_kms_client_open(const char *url, const char *ca_file, const char *pin,
                                 tbml_kms_client_t **out)
{
    if (strncmp(url, "https://", 8) != 0)
        return tbml_error(
            TBML_E_ARG,
            "key service URL '%s' must start with https:// (keys never travel in clear)", url);
    if (!ca_file)
        return tbml_error(TBML_E_ARG,
                          "the key service's CA is needed to verify it (tbml.kms.ca / --ca FILE)");
    pthread_once(&g_curl_once, curl_init_once);
    tbml_kms_client_t *c = tbml_calloc(1, sizeof(*c));
    c->curl = curl_easy_init();
    if (!c->curl) {
        tbml_free(c);
        return tbml_error(TBML_E_NOMEM, "curl_easy_init failed");
    }
    c->url = tbml_strdup(url);
    size_t n = strlen(c->url);
    while (n > 0 && c->url[n - 1] == '/')
        c->url[--n] = '\0';
    c->ca = tbml_strdup(ca_file);
    c->pin = pin ? tbml_strdup(pin) : NULL;
    *out = c;
    return TBML_OK;
}

void tbml_kms_client_free(tbml_kms_client_t *c)
{
    if (!c) return;
    curl_easy_cleanup(c->curl);
    tbml_free(c->url);
    tbml_free(c->ca);
    tbml_free(c->pin);
    tbml_free(c->resp);
    tbml_free(c);
}

tbml_status tbml_kms_client_call(tbml_kms_client_t *c, const char *method, const char *path,
                                 const char *bearer, json_t *body, long *http_status, json_t **resp)
{
    tbml_status st = TBML_OK;
    char url[2048], auth[256];
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    struct curl_slist *hdr = NULL;
    CURL *h = c->curl;
    snprintf(url, sizeof(url), "%s%s", c->url, path);
    tbml_free(c->resp);
    c->resp = NULL;
    c->resp_size = 0;
    c->resp_overflow = 0;
    curl_easy_reset(h); /* keeps the connection cache: the TLS session is reused */
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_3);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(h, CURLOPT_CAINFO, c->ca);
    curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
    if (c->pin) curl_easy_setopt(h, CURLOPT_PINNEDPUBLICKEY, c->pin);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, REQUEST_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    hdr = curl_slist_append(hdr, "Content-Type: application/json");
    hdr = curl_slist_append(hdr, "Accept: application/json");
    if (bearer) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", bearer);
        hdr = curl_slist_append(hdr, auth);
        tbml_wipe(auth, sizeof(auth));
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    if (text) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, text);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(text));
    } else if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
    }
    CURLcode rc = curl_easy_perform(h);
    if (rc != CURLE_OK) {
        st = tbml_error(TBML_E_NET, "key service %s: %s%s", c->url, curl_easy_strerror(rc),
                        c->resp_overflow ? " (answer too large)" : "");
        goto out;
    }
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    json_error_t jerr;
    json_t *j = json_loadb(c->resp ? c->resp : "", c->resp_size, 0, &jerr);
    if (!j) {
        st = tbml_error(TBML_E_NET, "key service %s%s answered HTTP %ld without JSON", c->url, path,
                        code);
        goto out;
    }
    *http_status = code;
    *resp = j;
out:
    if (text) {
        tbml_wipe(text, strlen(text));
        free(text);
    }
    curl_slist_free_all(hdr);
    if (c->resp) tbml_wipe(c->resp, c->resp_size);
    return st;
}

tbml_status tbml_kms_report_data(const uint8_t nonce[32], const uint8_t pub[32], uint8_t rd[64])
{
    uint8_t msg[sizeof(TBML_KMS_RELEASE_PREFIX) - 1 + 64];
    size_t n = sizeof(TBML_KMS_RELEASE_PREFIX) - 1;
    memcpy(msg, TBML_KMS_RELEASE_PREFIX, n);
    memcpy(msg + n, nonce, 32);
    memcpy(msg + n + 32, pub, 32);
    memset(rd, 0, 64);
    return tbml_sha256(msg, sizeof(msg), rd);
}

void tbml_kms_wrap_aad(const char *app, const char *key, const uint8_t nonce[32], char *out,
                       size_t out_size)
{
    char hex[65];
    tbml_hex(nonce, 32, hex);
    snprintf(out, out_size, "%s%s\n%s\n%s", TBML_KMS_RELEASE_PREFIX, app, key, hex);
}

static int unhex(const char *hex, uint8_t *out, size_t size)
{
    if (!hex || strlen(hex) != 2 * size) return -1;
    for (size_t i = 0; i < size; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1) return -1;
        out[i] = (uint8_t)v;
    }
    return 0;
}

/* The service's refusal as one line: the failed check and what to change. */
static tbml_status refusal(long code, json_t *resp, const char *app, const char *key)
{
    const char *check = json_string_value(json_object_get(resp, "check"));
    const char *msg = json_string_value(json_object_get(resp, "message"));
    return tbml_error(code == 403 ? TBML_E_POLICY : TBML_E_NET,
                      "key service refused key '%s' for app '%s' (HTTP %ld): check %s: %s", key,
                      app, code, check ? check : "request", msg ? msg : "no reason given");
}

tbml_status tbml_kms_client_release(tbml_kms_client_t *c, const char *app, const char *key_name,
                                    const tbml_evidence_backend *be, const tbml_report_t *ident,
                                    tbml_key_t **out)
{
    tbml_status st;
    long code;
    json_t *resp = NULL, *req = NULL;
    uint8_t nonce[32], priv[32], pub[32], *ev = NULL, wrapped[TBML_KEY_SIZE + TBML_WRAP_OVERHEAD],
                                          key[TBML_KEY_SIZE];
    size_t ev_size = 0;
    char *ev_hex = NULL, nonce_hex[65], pub_hex[65], aad[512];
    if (!be || !be->get_quote)
        return tbml_error(TBML_E_POLICY, "no evidence backend: the key service needs evidence");
    if ((st = tbml_kms_client_call(c, "POST", "/v1/attest/nonce", NULL, NULL, &code, &resp)))
        return st;
    if (code != 200 || unhex(json_string_value(json_object_get(resp, "nonce")), nonce, 32)) {
        st = tbml_error(TBML_E_NET, "key service gave no nonce (HTTP %ld)", code);
        goto out;
    }
    json_decref(resp);
    resp = NULL;
    if ((st = tbml_x25519_keypair(priv, pub))) goto out;
    tbml_report_t r = *ident;
    if ((st = tbml_kms_report_data(nonce, pub, r.report_data))) goto out;
    if ((st = be->get_quote(&r, &ev, &ev_size))) goto out;
    ev_hex = tbml_malloc(2 * ev_size + 1);
    tbml_hex(ev, ev_size, ev_hex);
    tbml_hex(nonce, 32, nonce_hex);
    tbml_hex(pub, 32, pub_hex);
    req = json_pack("{s:s, s:s, s:s, s:s, s:s}", "app", app, "key", key_name, "nonce", nonce_hex,
                    "public_key", pub_hex, "evidence", ev_hex);
    if ((st = tbml_kms_client_call(c, "POST", "/v1/keys/release", NULL, req, &code, &resp)))
        goto out;
    if (code != 200) {
        st = refusal(code, resp, app, key_name);
        goto out;
    }
    if (unhex(json_string_value(json_object_get(resp, "wrapped")), wrapped, sizeof(wrapped))) {
        st = tbml_error(TBML_E_NET, "key service answer has no wrapped key");
        goto out;
    }
    tbml_kms_wrap_aad(app, key_name, nonce, aad, sizeof(aad));
    if ((st = tbml_x25519_unwrap(priv, pub, aad, strlen(aad), wrapped, sizeof(wrapped), key)))
        goto out;
    st = tbml_key_from_bytes(key_name, key, out);
out:
    tbml_wipe(priv, sizeof(priv));
    tbml_wipe(key, sizeof(key));
    json_decref(resp);
    json_decref(req);
    tbml_free(ev);
    tbml_free(ev_hex);
    return st;
}

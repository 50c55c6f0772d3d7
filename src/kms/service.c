/* The key service: `tbml kms init` and `tbml kms serve`. Applications, policies and keys; nonces
 * for freshness; attested release of a key wrapped to the client's ephemeral X25519 key; every
 * decision in the audit log (docs/protocols/kms.md). */
#include "kms/service.h"
#include "kms/client.h"
#include "kms/http.h"

#include "tee/evidence.h"
#include "tee/tee_internal.h"

#include "tbml/crypto.h"
#include "tbml/ecc.h"
#include "tbml/pki.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NONCE_BUCKETS 4096
#define NONCE_MAX 65536

typedef struct nonce_entry {
    uint8_t nonce[32];
    double expires;
    int used;
    struct nonce_entry *next;
} nonce_entry;

typedef struct {
    kms_store store;
    kms_audit audit;
    int nonce_ttl_s;
    pthread_mutex_t nonce_lock;
    nonce_entry *buckets[NONCE_BUCKETS];
    size_t nonce_count;
} kms_service;

static volatile int g_stop;
static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

/* ---- init ------------------------------------------------------------------------------------ */

static tbml_status write_secret_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return tbml_error(TBML_E_IO, "%s: %s", path, strerror(errno));
    tbml_status st = tbml_write_all(fd, text, strlen(text), path);
    if (!st && fsync(fd) != 0) st = tbml_error(TBML_E_IO, "%s: fsync: %s", path, strerror(errno));
    close(fd);
    return st;
}

/* Removes what a failed init left in its temporary folder. */
static void remove_init_tree(const char *tmp)
{
    static const char *const files[] = {
        KMS_ROOT_KEY_FILE,      KMS_STATE_FILE,          KMS_AUDIT_FILE,           KMS_TOKEN_FILE,
        KMS_TLS_DIR "/key.pem", KMS_TLS_DIR "/cert.pem", KMS_TLS_DIR "/bundle.p12"};
    char path[4096];
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", tmp, files[i]);
        unlink(path);
    }
    snprintf(path, sizeof(path), "%s/%s", tmp, KMS_TLS_DIR);
    rmdir(path);
    rmdir(tmp);
}

static tbml_status init_into(const char *dir, const char *password, size_t password_size,
                             tbml_pwhash_params params, const char *const *san, size_t san_count);

/* Builds the state in a temporary sibling folder and renames it into place, so a failed init
 * leaves nothing half-made behind. */
tbml_status tbml_kms_init(const char *dir, const char *password, size_t password_size,
                          tbml_pwhash_params params, const char *const *san, size_t san_count)
{
    char tmp[4096];
    struct stat sb;
    if (stat(dir, &sb) == 0 && !(S_ISDIR(sb.st_mode) && rmdir(dir) == 0))
        return tbml_error(TBML_E_ARG,
                          "%s already exists: give a new folder for the key service state", dir);
    snprintf(tmp, sizeof(tmp), "%s.init-XXXXXX", dir);
    if (!mkdtemp(tmp)) return tbml_error(TBML_E_IO, "%s: cannot create: %s", tmp, strerror(errno));
    tbml_status st = init_into(tmp, password, password_size, params, san, san_count);
    if (!st && rename(tmp, dir) != 0)
        st = tbml_error(TBML_E_IO, "%s: cannot rename into place: %s", dir, strerror(errno));
    if (st) remove_init_tree(tmp);
    return st;
}

static tbml_status init_into(const char *dir, const char *password, size_t password_size,
                             tbml_pwhash_params params, const char *const *san, size_t san_count)
{
    char path[4096], token_hex[66], token_hash_hex[65]; /* token_hex gets a newline */
    uint8_t token[32], th[32];
    tbml_key_t *root = NULL;
    kms_store s;
    int store_open = 0;
    memset(&s, 0, sizeof(s));
    tbml_status st = tbml_key_generate("kms-root", &root);
    if (st) return st;
    snprintf(path, sizeof(path), "%s/%s", dir, KMS_ROOT_KEY_FILE);
    if ((st = tbml_keyfile_write(path, root, password, password_size, params))) goto out;
    snprintf(path, sizeof(path), "%s/%s", dir, KMS_TLS_DIR);
    if (mkdir(path, 0700) != 0 && errno != EEXIST) {
        st = tbml_error(TBML_E_IO, "%s: %s", path, strerror(errno));
        goto out;
    }
    tbml_tls_params tp = {TBML_TLS_KEY_EC_P256, "tbml-kms", 825, san, san_count};
    if ((st = tbml_tls_create(path, &tp, password, password_size))) goto out;
    if ((st = tbml_random(token, sizeof(token)))) goto out;
    tbml_hex(token, 32, token_hex);
    if ((st = tbml_sha256(token_hex, 64, th))) goto out;
    tbml_hex(th, 32, token_hash_hex);
    snprintf(path, sizeof(path), "%s/%s", dir, KMS_TOKEN_FILE);
    strcat(token_hex, "\n");
    if ((st = write_secret_file(path, token_hex))) goto out;
    /* An empty state, MACed under the new root key. */
    s.dir = tbml_strdup(dir);
    pthread_rwlock_init(&s.lock, NULL);
    store_open = 1;
    if ((st = tbml_hkdf_sha256(tbml_key_bytes(root), TBML_KEY_SIZE, NULL, 0,
                               "tbml-kms-state-mac-v1", 21, s.mac_key, 32)))
        goto out;
    s.root = json_pack("{s:i, s:s, s:{}}", "tbml_kms_state", TBML_KMS_STATE_VERSION,
                       "admin_token_sha256", token_hash_hex, "apps");
    if ((st = kms_store_save(&s))) goto out;
    kms_audit a;
    snprintf(path, sizeof(path), "%s/%s", dir, KMS_AUDIT_FILE);
    st = kms_audit_open(&a, path, 1);
    if (!st) {
        json_t *e = json_pack("{s:s}", "event", "init");
        st = kms_audit_append(&a, e);
        json_decref(e);
    }
    kms_audit_close(&a);
out:
    tbml_wipe(token, sizeof(token));
    tbml_wipe(token_hex, sizeof(token_hex));
    if (store_open) kms_store_close(&s);
    tbml_key_free(root);
    return st;
}

/* ---- nonces -----------------------------------------------------------------------------------
 */

static size_t bucket_of(const uint8_t n[32])
{
    return ((size_t)n[0] | (size_t)n[1] << 8) % NONCE_BUCKETS;
}

/* Drops entries long past expiry (kept a while after to tell "expired" from "unknown"). */
static void prune_bucket(kms_service *k, size_t b, double now)
{
    nonce_entry **pp = &k->buckets[b];
    while (*pp) {
        nonce_entry *e = *pp;
        if (e->expires + k->nonce_ttl_s < now) {
            *pp = e->next;
            tbml_free(e);
            k->nonce_count--;
        } else {
            pp = &e->next;
        }
    }
}

static int nonce_issue(kms_service *k, uint8_t out[32])
{
    if (tbml_random(out, 32)) return -1;
    double now = tbml_now();
    size_t b = bucket_of(out);
    pthread_mutex_lock(&k->nonce_lock);
    prune_bucket(k, b, now);
    if (k->nonce_count >= NONCE_MAX) {
        for (size_t i = 0; i < NONCE_BUCKETS; i++)
            prune_bucket(k, i, now);
    }
    int ok = k->nonce_count < NONCE_MAX;
    if (ok) {
        nonce_entry *e = tbml_calloc(1, sizeof(*e));
        memcpy(e->nonce, out, 32);
        e->expires = now + k->nonce_ttl_s;
        e->next = k->buckets[b];
        k->buckets[b] = e;
        k->nonce_count++;
    }
    pthread_mutex_unlock(&k->nonce_lock);
    return ok ? 0 : -1;
}

/* Consumes a nonce: 0 fresh, 1 unknown, 2 already used, 3 expired. */
static int nonce_consume(kms_service *k, const uint8_t n[32])
{
    double now = tbml_now();
    size_t b = bucket_of(n);
    int r = 1;
    pthread_mutex_lock(&k->nonce_lock);
    for (nonce_entry *e = k->buckets[b]; e; e = e->next) {
        if (!tbml_ct_equal(e->nonce, n, 32)) continue;
        r = e->used ? 2 : e->expires < now ? 3 : 0;
        e->used = 1;
        break;
    }
    pthread_mutex_unlock(&k->nonce_lock);
    return r;
}

/* ---- responses --------------------------------------------------------------------------------
 */

static void reply(kms_response *resp, int status, json_t *body)
{
    resp->status = status;
    char *text = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
    resp->body = tbml_strdup(text ? text : "{}");
    free(text);
    json_decref(body);
}

static void reply_error(kms_response *resp, int status, const char *check, const char *msg)
{
    reply(resp, status,
          json_pack("{s:s, s:s, s:s}", "error", status == 403 ? "refused" : "bad request", "check",
                    check, "message", msg));
}

static int valid_name(const char *s)
{
    return s && tbml_key_name_valid(s);
}

/* ---- release ------------------------------------------------------------------------------------
 */

static void hex32(const uint8_t *b, char out[65])
{
    tbml_hex(b, 32, out);
}

/* Checks a verified report against a policy. 0 if allowed, else fills check and msg. */
static int policy_check(const json_t *pol, const tbml_report_t *r, const char **check, char *msg,
                        size_t msz)
{
    char have[65];
    if (!pol) {
        *check = "policy";
        snprintf(msg, msz,
                 "the application has no policy: register one (PUT /v1/admin/policy) before "
                 "releasing keys");
        return 1;
    }
    if (r->simulated && !json_is_true(json_object_get(pol, "insecure_allow_simulated"))) {
        *check = "simulated";
        snprintf(
            msg, msz,
            "the evidence is SIMULATED (no hardware vouches for it): run the job on SGX hardware "
            "(--tee-backend gramine), or, for testing only, set insecure_allow_simulated in the "
            "policy");
        return 1;
    }
    if (r->debug && !json_is_true(json_object_get(pol, "allow_debug"))) {
        *check = "debug";
        snprintf(msg, msz,
                 "the enclave runs in debug mode (its memory is readable by the host): rebuild the "
                 "manifest without --debug, or set allow_debug in the policy");
        return 1;
    }
    json_t *ms = json_object_get(pol, "measurements");
    if (json_array_size(ms) > 0) {
        int found = 0;
        hex32(r->measurement, have);
        for (size_t i = 0; i < json_array_size(ms) && !found; i++)
            found = strcmp(json_string_value(json_array_get(ms, i)), have) == 0;
        if (!found) {
            *check = "measurement";
            snprintf(
                msg, msz,
                "measurement %s is not among the policy's allowed measurements: the program, its "
                "arguments, environment or a trusted file differ from what the data owner "
                "approved; run the "
                "approved manifest, or add this measurement to the policy",
                have);
            return 1;
        }
    }
    const char *signer = json_string_value(json_object_get(pol, "mrsigner"));
    if (signer) {
        hex32(r->mrsigner, have);
        if (strcmp(signer, have) != 0) {
            *check = "mrsigner";
            snprintf(msg, msz,
                     "the manifest was signed by %s, the policy expects signer %s: sign with the "
                     "approved enclave key, or change the policy's mrsigner",
                     have, signer);
            return 1;
        }
        json_t *pid = json_object_get(pol, "product_id");
        if (json_is_integer(pid) && json_integer_value(pid) != r->product_id) {
            *check = "product_id";
            snprintf(
                msg, msz,
                "product id %u, the policy expects %lld: build the manifest with --product-id %lld",
                r->product_id, (long long)json_integer_value(pid),
                (long long)json_integer_value(pid));
            return 1;
        }
        json_int_t min_svn = json_integer_value(json_object_get(pol, "min_svn"));
        if (r->svn < min_svn) {
            *check = "svn";
            snprintf(
                msg, msz,
                "security version %u is below the policy's minimum %lld: rebuild with a patched "
                "version and --svn %lld or higher",
                r->svn, (long long)min_svn, (long long)min_svn);
            return 1;
        }
    }
    return 0;
}

static void handle_release(kms_service *k, const kms_request *req, json_t *body, kms_response *resp)
{
    const char *app = json_string_value(json_object_get(body, "app"));
    const char *key = json_string_value(json_object_get(body, "key"));
    const char *ev_hex = json_string_value(json_object_get(body, "evidence"));
    uint8_t nonce[32], pub[32], rd[64], kb[32], wrapped[32 + TBML_WRAP_OVERHEAD];
    const char *check = NULL;
    char msg[600], aad[400];
    tbml_report_t rep;
    memset(&rep, 0, sizeof(rep));
    int status = 403, have_report = 0;
    uint8_t *ev = NULL;
    json_t *audit = json_pack("{s:s, s:s, s:s, s:s}", "event", "refuse", "app", app ? app : "",
                              "key", key ? key : "", "client", req->peer);
    if (!valid_name(app) || !valid_name(key) || !ev_hex ||
        tee_unhex(json_string_value(json_object_get(body, "nonce")), nonce, 32) ||
        tee_unhex(json_string_value(json_object_get(body, "public_key")), pub, 32) ||
        strlen(ev_hex) % 2 || strlen(ev_hex) > 2 * 16384) {
        status = 400, check = "request";
        snprintf(msg, sizeof(msg),
                 "need app, key (names), nonce and public_key (64 hex digits) and evidence (hex)");
        goto out;
    }
    size_t ev_size = strlen(ev_hex) / 2;
    ev = tbml_malloc(ev_size + 1);
    if (tee_unhex(ev_hex, ev, ev_size)) {
        status = 400, check = "request";
        snprintf(msg, sizeof(msg), "evidence is not lower-case hex");
        goto out;
    }
    /* Freshness first: a nonce is consumed by any attempt, so evidence is never usable twice. */
    int nr = nonce_consume(k, nonce);
    if (nr) {
        check = "nonce";
        snprintf(msg, sizeof(msg), "%s",
                 nr == 2 ? "the nonce was already used: this is replayed evidence; request a fresh "
                           "nonce and attest again"
                 : nr == 3 ? "the nonce expired: request a fresh nonce (POST /v1/attest/nonce) and "
                             "attest right away"
                           : "unknown nonce (not issued here, or long expired): request a fresh "
                             "nonce and attest again");
        goto out;
    }
    if (tbml_evidence_verify(ev, ev_size, &rep)) {
        check = "evidence";
        snprintf(msg, sizeof(msg), "%s", tbml_errmsg());
        goto out;
    }
    have_report = 1;
    if (tbml_kms_report_data(nonce, pub, rd) || !tbml_ct_equal(rd, rep.report_data, 64)) {
        check = "binding";
        snprintf(msg, sizeof(msg),
                 "the evidence's report data does not bind this request's nonce and public key "
                 "(evidence made for another client or request): attest with report data "
                 "SHA-256(prefix || nonce || "
                 "your public key)");
        goto out;
    }
    pthread_rwlock_rdlock(&k->store.lock);
    json_t *a = json_object_get(json_object_get(k->store.root, "apps"), app);
    json_t *w = a ? json_object_get(json_object_get(a, "keys"), key) : NULL;
    int bad = 0;
    if (!a) {
        check = "app", status = 404, bad = 1;
        snprintf(msg, sizeof(msg),
                 "application '%s' is not enrolled: enroll it (POST /v1/admin/apps)", app);
    } else if (!w) {
        check = "key", status = 404, bad = 1;
        snprintf(msg, sizeof(msg),
                 "application '%s' has no key '%s': create or import it (POST /v1/admin/keys)", app,
                 key);
    } else if (policy_check(json_object_get(a, "policy"), &rep, &check, msg, sizeof(msg))) {
        bad = 1;
    } else if (kms_store_unwrap(&k->store, app, key, w, kb)) {
        check = "state", status = 500, bad = 1;
        snprintf(msg, sizeof(msg), "the stored key does not unwrap");
    }
    pthread_rwlock_unlock(&k->store.lock);
    if (bad) goto out;
    tbml_kms_wrap_aad(app, key, nonce, aad, sizeof(aad));
    tbml_status st = tbml_x25519_wrap(pub, aad, strlen(aad), kb, 32, wrapped);
    tbml_wipe(kb, sizeof(kb));
    if (st) {
        check = "public_key", status = 400;
        snprintf(msg, sizeof(msg), "%s", tbml_errmsg());
        goto out;
    }
    char whex[2 * sizeof(wrapped) + 1];
    tbml_hex(wrapped, sizeof(wrapped), whex);
    status = 200;
    json_object_set_new(audit, "event", json_string("release"));
    reply(resp, 200, json_pack("{s:s, s:s, s:s}", "app", app, "key", key, "wrapped", whex));
out:
    if (have_report) {
        char h[65];
        hex32(rep.measurement, h);
        json_object_set_new(audit, "measurement", json_string(h));
        hex32(rep.mrsigner, h);
        json_object_set_new(audit, "mrsigner", json_string(h));
        json_object_set_new(audit, "simulated", json_boolean(rep.simulated));
        json_object_set_new(audit, "debug", json_boolean(rep.debug));
        json_object_set_new(audit, "svn", json_integer(rep.svn));
    }
    if (status != 200) {
        json_object_set_new(audit, "check", json_string(check));
        json_object_set_new(audit, "reason", json_string(msg));
        reply_error(resp, status, check, msg);
        TBML_LOG_I("refused key '%s' of '%s' to %s: check %s", key ? key : "?", app ? app : "?",
                   req->peer, check);
    }
    if (kms_audit_append(&k->audit, audit)) {
        /* No audit entry, no key: fail closed. */
        TBML_LOG_E("audit log append failed: %s", tbml_errmsg());
        tbml_free(resp->body);
        resp->body = NULL;
        reply_error(resp, 503, "audit", "the audit log cannot be written; nothing is released");
    }
    json_decref(audit);
    tbml_free(ev);
}

/* ---- admin
 * ---------------------------------------------------------------------------------------- */

static int admin_ok(kms_service *k, const kms_request *req)
{
    if (strncmp(req->auth, "Bearer ", 7) != 0) return 0;
    uint8_t h[32];
    char hex[65];
    const char *tok = req->auth + 7;
    if (tbml_sha256(tok, strlen(tok), h)) return 0;
    tbml_hex(h, 32, hex);
    pthread_rwlock_rdlock(&k->store.lock);
    const char *want = json_string_value(json_object_get(k->store.root, "admin_token_sha256"));
    int ok = want && strlen(want) == 64 && tbml_ct_equal(want, hex, 64);
    pthread_rwlock_unlock(&k->store.lock);
    return ok;
}

/* Validates a policy object; returns NULL if fine, else the reason. */
static const char *policy_invalid(const json_t *p)
{
    static const char *const allowed[] = {"measurements",
                                          "mrsigner",
                                          "product_id",
                                          "min_svn",
                                          "allow_debug",
                                          "insecure_allow_simulated",
                                          NULL};
    const char *key;
    json_t *v;
    uint8_t h[32];
    if (!json_is_object(p)) return "policy must be an object";
    json_object_foreach((json_t *)p, key, v)
    {
        int ok = 0;
        for (size_t i = 0; allowed[i]; i++)
            ok |= strcmp(key, allowed[i]) == 0;
        if (!ok)
            return "unknown policy member (allowed: measurements, mrsigner, product_id, min_svn, "
                   "allow_debug, insecure_allow_simulated)";
    }
    json_t *ms = json_object_get(p, "measurements");
    if (ms && !json_is_array(ms)) return "measurements must be an array of hex strings";
    for (size_t i = 0; i < json_array_size(ms); i++)
        if (tee_unhex(json_string_value(json_array_get(ms, i)), h, 32))
            return "measurements must be 64 lower-case hex digits each";
    json_t *s = json_object_get(p, "mrsigner");
    if (s && tee_unhex(json_string_value(s), h, 32))
        return "mrsigner must be 64 lower-case hex digits";
    if (json_array_size(ms) == 0 && !s) return "a policy needs allowed measurements or an mrsigner";
    json_t *pid = json_object_get(p, "product_id");
    if (pid &&
        (!json_is_integer(pid) || json_integer_value(pid) < 0 || json_integer_value(pid) > 65535))
        return "product_id must be 0..65535";
    json_t *sv = json_object_get(p, "min_svn");
    if (sv &&
        (!json_is_integer(sv) || json_integer_value(sv) < 0 || json_integer_value(sv) > 65535))
        return "min_svn must be 0..65535";
    json_t *d = json_object_get(p, "allow_debug"),
           *sim = json_object_get(p, "insecure_allow_simulated");
    if ((d && !json_is_boolean(d)) || (sim && !json_is_boolean(sim)))
        return "allow_debug and insecure_allow_simulated are true or false";
    return NULL;
}

static void handle_admin(kms_service *k, const kms_request *req, json_t *body, kms_response *resp)
{
    const char *what = req->path + strlen("/v1/admin/");
    const char *app = json_string_value(json_object_get(body, "app"));
    json_t *audit =
        json_pack("{s:s, s:s, s:s}", "event", "admin", "action", what, "client", req->peer);
    char msg[300];
    int status = 200;
    json_t *out = NULL;
    if (strcmp(req->method, "GET") == 0 && strcmp(what, "apps") == 0) {
        /* A listing without key material. */
        out = json_object();
        pthread_rwlock_rdlock(&k->store.lock);
        const char *name;
        json_t *a;
        json_object_foreach(json_object_get(k->store.root, "apps"), name, a)
        {
            json_t *keys = json_array();
            const char *kn;
            json_t *kv;
            json_object_foreach(json_object_get(a, "keys"), kn, kv)
                json_array_append_new(keys, json_string(kn));
            json_object_set_new(out, name,
                                json_pack("{s:o, s:O}", "keys", keys, "policy",
                                          json_object_get(a, "policy")
                                              ? json_object_get(a, "policy")
                                              : json_null()));
        }
        pthread_rwlock_unlock(&k->store.lock);
        json_decref(audit);
        reply(resp, 200, json_pack("{s:o}", "apps", out));
        return;
    }
    if (!valid_name(app)) {
        status = 400;
        snprintf(msg, sizeof(msg), "need \"app\": a name of [A-Za-z0-9._-]");
        goto out;
    }
    json_object_set_new(audit, "app", json_string(app));
    pthread_rwlock_wrlock(&k->store.lock);
    json_t *apps = json_object_get(k->store.root, "apps"), *a = json_object_get(apps, app);
    if (strcmp(req->method, "POST") == 0 && strcmp(what, "apps") == 0) {
        if (a) {
            status = 409;
            snprintf(msg, sizeof(msg), "application '%s' is already enrolled", app);
        } else {
            json_object_set_new(apps, app, json_pack("{s:{}, s:n}", "keys", "policy"));
        }
    } else if (!a) {
        status = 404;
        snprintf(msg, sizeof(msg), "application '%s' is not enrolled: POST /v1/admin/apps first",
                 app);
    } else if (strcmp(req->method, "POST") == 0 && strcmp(what, "keys") == 0) {
        const char *key = json_string_value(json_object_get(body, "key"));
        const char *imp = json_string_value(json_object_get(body, "import"));
        uint8_t kb[32];
        if (!valid_name(key)) {
            status = 400;
            snprintf(msg, sizeof(msg), "need \"key\": a key name");
        } else if (json_object_get(json_object_get(a, "keys"), key)) {
            status = 409;
            snprintf(msg, sizeof(msg),
                     "application '%s' already has key '%s' (keys are never overwritten)", app,
                     key);
        } else if (imp ? tee_unhex(imp, kb, 32) != 0 : tbml_random(kb, 32) != 0) {
            status = 400;
            snprintf(msg, sizeof(msg), "\"import\" must be 64 lower-case hex digits");
        } else {
            json_t *w = NULL;
            if (kms_store_wrap(&k->store, app, key, kb, &w)) {
                status = 500;
                snprintf(msg, sizeof(msg), "cannot wrap the key");
            } else {
                json_object_set_new(json_object_get(a, "keys"), key, w);
                json_object_set_new(audit, "key", json_string(key));
                json_object_set_new(audit, "imported", json_boolean(imp != NULL));
            }
        }
        tbml_wipe(kb, sizeof(kb));
        if (imp) tbml_wipe((char *)imp, strlen(imp)); /* jansson frees without wiping */
    } else if (strcmp(req->method, "PUT") == 0 && strcmp(what, "policy") == 0) {
        json_t *p = json_object_get(body, "policy");
        const char *why = policy_invalid(p);
        if (why) {
            status = 400;
            snprintf(msg, sizeof(msg), "%s", why);
        } else {
            json_object_set(a, "policy", p);
            json_object_set(audit, "policy", p);
        }
    } else {
        status = 404;
        snprintf(msg, sizeof(msg), "no such admin route: %s %s", req->method, req->path);
    }
    if (status == 200 && kms_store_save(&k->store)) {
        status = 500;
        snprintf(msg, sizeof(msg), "cannot save the state: %s", tbml_errmsg());
    }
    pthread_rwlock_unlock(&k->store.lock);
out:
    if (status != 200) json_object_set_new(audit, "error", json_string(msg));
    if (kms_audit_append(&k->audit, audit) && status == 200)
        TBML_LOG_E("audit log append failed: %s", tbml_errmsg());
    json_decref(audit);
    if (status != 200)
        reply_error(resp, status, "admin", msg);
    else
        reply(resp, 200, json_pack("{s:s}", "status", "ok"));
}

/* ---- routing
 * ----------------------------------------------------------------------------------------- */

static void handle(void *ctx, const kms_request *req, kms_response *resp)
{
    kms_service *k = ctx;
    json_t *body = NULL;
    if (req->body_size > 0) {
        json_error_t jerr;
        body = json_loadb(req->body, req->body_size, JSON_REJECT_DUPLICATES, &jerr);
        if (!json_is_object(body)) {
            json_decref(body);
            reply_error(resp, 400, "request", "the body must be a JSON object");
            return;
        }
    }
    if (!body) body = json_object();
    if (strcmp(req->path, "/v1/health") == 0 && strcmp(req->method, "GET") == 0) {
        reply(resp, 200, json_pack("{s:s, s:i}", "status", "ok", "api", TBML_KMS_API_VERSION));
    } else if (strcmp(req->path, "/v1/attest/nonce") == 0 && strcmp(req->method, "POST") == 0) {
        uint8_t n[32];
        char hex[65];
        if (nonce_issue(k, n)) {
            reply_error(resp, 503, "nonce", "too many outstanding nonces: retry shortly");
        } else {
            tbml_hex(n, 32, hex);
            reply(resp, 200, json_pack("{s:s, s:i}", "nonce", hex, "ttl", k->nonce_ttl_s));
        }
    } else if (strcmp(req->path, "/v1/keys/release") == 0 && strcmp(req->method, "POST") == 0) {
        handle_release(k, req, body, resp);
    } else if (strncmp(req->path, "/v1/admin/", 10) == 0) {
        if (!admin_ok(k, req)) {
            json_t *audit = json_pack("{s:s, s:s, s:s}", "event", "admin-denied", "action",
                                      req->path, "client", req->peer);
            if (kms_audit_append(&k->audit, audit))
                TBML_LOG_E("audit log append failed: %s", tbml_errmsg());
            json_decref(audit);
            reply_error(
                resp, 401, "admin",
                "admin routes need 'Authorization: Bearer TOKEN' with the token from admin.token");
        } else {
            handle_admin(k, req, body, resp);
        }
    } else {
        reply_error(resp, 404, "request", "no such route");
    }
    json_decref(body);
}

tbml_status tbml_kms_serve(const tbml_kms_serve_options *opt, const char *password,
                           size_t password_size)
{
    tbml_status st;
    char path[4096], cert[4096], key[4096];
    tbml_key_t *root = NULL;
    kms_http_t *http = NULL;
    kms_service *k = tbml_calloc(1, sizeof(*k));
    int store_open = 0, audit_open = 0;
    pthread_mutex_init(&k->nonce_lock, NULL);
    k->nonce_ttl_s = opt->nonce_ttl_s > 0 ? opt->nonce_ttl_s : 60;
    snprintf(path, sizeof(path), "%s/%s", opt->state_dir, KMS_ROOT_KEY_FILE);
    if ((st = tbml_keyfile_read(path, password, password_size, &root))) goto out;
    store_open = 1; /* kms_store_close undoes a partial open */
    if ((st = kms_store_open(&k->store, opt->state_dir, root))) goto out;
    tbml_key_free(root);
    root = NULL;
    snprintf(path, sizeof(path), "%s/%s", opt->state_dir, KMS_AUDIT_FILE);
    audit_open = 1;
    if ((st = kms_audit_open(&k->audit, path, opt->audit_sync >= 0))) goto out;
    snprintf(cert, sizeof(cert), "%s/%s/cert.pem", opt->state_dir, KMS_TLS_DIR);
    snprintf(key, sizeof(key), "%s/%s/key.pem", opt->state_dir, KMS_TLS_DIR);
    kms_http_config cfg = {opt->listen ? opt->listen : "127.0.0.1:8443",
                           cert,
                           key,
                           opt->max_connections > 0 ? opt->max_connections : 512,
                           opt->request_timeout_ms > 0 ? opt->request_timeout_ms : 10000,
                           opt->idle_timeout_ms > 0 ? opt->idle_timeout_ms : 15000,
                           handle,
                           k};
    int port;
    if ((st = kms_http_start(&cfg, &http, &port))) goto out;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    json_t *e = json_pack("{s:s, s:s}", "event", "start", "listen", cfg.listen);
    st = kms_audit_append(&k->audit, e);
    json_decref(e);
    if (st) goto out;
    if (opt->port_file) {
        char num[16];
        tbml_outfile_t *f;
        snprintf(num, sizeof(num), "%d\n", port);
        if ((st = tbml_outfile_open(opt->port_file, &f))) goto out;
        if ((st = tbml_outfile_write(f, num, strlen(num)))) {
            tbml_outfile_abort(f);
            goto out;
        }
        if ((st = tbml_outfile_commit(f))) goto out;
    }
    TBML_LOG_W("key service listening on port %d (TLS 1.3), state %s", port, opt->state_dir);
    st = kms_http_run(http, &g_stop);
    e = json_pack("{s:s}", "event", "stop");
    if (kms_audit_append(&k->audit, e)) TBML_LOG_E("audit log append failed: %s", tbml_errmsg());
    json_decref(e);
out:
    kms_http_free(http);
    tbml_key_free(root);
    if (audit_open) kms_audit_close(&k->audit);
    if (store_open) kms_store_close(&k->store);
    for (size_t i = 0; i < NONCE_BUCKETS; i++) {
        while (k->buckets[i]) {
            nonce_entry *n = k->buckets[i];
            k->buckets[i] = n->next;
            tbml_free(n);
        }
    }
    pthread_mutex_destroy(&k->nonce_lock);
    tbml_free(k);
    return st;
}

/* A key-service client for tests and benchmarks: normal releases, the attacks the service must
 * refuse (replayed evidence, a stale nonce, evidence bound to another client's key), and a load
 * run with many concurrent clients while others send garbage, stall mid-handshake or send
 * oversized bodies. It attests as the signed manifest it is given, with the sim backend.
 *
 *   bench_kms_client MODE URL CA APP KEY MANIFEST [ARGS]
 *   MODE: release | replay | other-key | stale SECONDS | load CLIENTS REQUESTS [ATTACKERS] */
#include "kms/client.h"
#include "tee/evidence.h"

#include "tbml/crypto.h"
#include "tbml/ecc.h"
#include "tbml/tee.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *g_url, *g_ca, *g_app, *g_key;
static tbml_report_t g_ident;
static const tbml_evidence_backend *g_sim;

static int fail(const char *what)
{
    fprintf(stderr, "bench_kms_client: %s: %s\n", what, tbml_errmsg());
    return 1;
}

/* Sends one release with explicit parts; returns the HTTP code and the answer. */
static tbml_status raw_release(tbml_kms_client_t *c, const uint8_t nonce[32], const uint8_t pub[32],
                               const uint8_t *ev, size_t ev_size, long *code, json_t **resp)
{
    char nh[65], ph[65], *eh = tbml_malloc(2 * ev_size + 1);
    tbml_hex(nonce, 32, nh);
    tbml_hex(pub, 32, ph);
    tbml_hex(ev, ev_size, eh);
    json_t *req = json_pack("{s:s, s:s, s:s, s:s, s:s}", "app", g_app, "key", g_key, "nonce", nh,
                            "public_key", ph, "evidence", eh);
    tbml_status st = tbml_kms_client_call(c, "POST", "/v1/keys/release", NULL, req, code, resp);
    json_decref(req);
    tbml_free(eh);
    return st;
}

static tbml_status get_nonce(tbml_kms_client_t *c, uint8_t nonce[32])
{
    long code;
    json_t *resp = NULL;
    tbml_status st = tbml_kms_client_call(c, "POST", "/v1/attest/nonce", NULL, NULL, &code, &resp);
    if (!st) {
        const char *h = json_string_value(json_object_get(resp, "nonce"));
        if (code != 200 || !h || strlen(h) != 64) st = tbml_error(TBML_E_NET, "no nonce");
        for (int i = 0; !st && i < 32; i++) {
            unsigned v;
            sscanf(h + 2 * i, "%2x", &v);
            nonce[i] = (uint8_t)v;
        }
    }
    json_decref(resp);
    return st;
}

static tbml_status evidence_for(const uint8_t nonce[32], const uint8_t pub[32], uint8_t **ev,
                                size_t *n)
{
    tbml_report_t r = g_ident;
    tbml_status st = tbml_kms_report_data(nonce, pub, r.report_data);
    return st ? st : g_sim->get_quote(&r, ev, n);
}

/* Prints the refusal's check and message, and returns 0 if it is the expected check. */
static int expect_refusal(long code, json_t *resp, const char *check)
{
    const char *got = json_string_value(json_object_get(resp, "check"));
    printf("HTTP %ld check %s: %s\n", code, got ? got : "-",
           json_string_value(json_object_get(resp, "message")));
    return code == 403 && got && strcmp(got, check) == 0 ? 0 : 1;
}

static int mode_attack(const char *mode, int ttl)
{
    tbml_kms_client_t *c = NULL;
    uint8_t nonce[32], priv[32], pub[32], priv2[32], pub2[32], *ev = NULL;
    size_t evn;
    long code;
    json_t *resp = NULL;
    int rc = 1;
    if (tbml_kms_client_open(g_url, g_ca, NULL, &c)) return fail("open");
    if (get_nonce(c, nonce) || tbml_x25519_keypair(priv, pub) || tbml_x25519_keypair(priv2, pub2) ||
        evidence_for(nonce, pub, &ev, &evn))
        goto out;
    if (strcmp(mode, "replay") == 0) {
        /* The first use is legitimate; the same evidence and nonce again must be refused. */
        if (raw_release(c, nonce, pub, ev, evn, &code, &resp) || code != 200) {
            printf("first release failed: HTTP %ld\n", code);
            goto out;
        }
        json_decref(resp);
        resp = NULL;
        if (raw_release(c, nonce, pub, ev, evn, &code, &resp)) goto out;
        rc = expect_refusal(code, resp, "nonce");
    } else if (strcmp(mode, "other-key") == 0) {
        /* Evidence bound to pub, sent with another client's key pub2. */
        if (raw_release(c, nonce, pub2, ev, evn, &code, &resp)) goto out;
        rc = expect_refusal(code, resp, "binding");
    } else if (strcmp(mode, "stale") == 0) {
        sleep((unsigned)ttl);
        if (raw_release(c, nonce, pub, ev, evn, &code, &resp)) goto out;
        rc = expect_refusal(code, resp, "nonce");
    } else if (strcmp(mode, "release") == 0) {
        tbml_key_t *k = NULL;
        if (tbml_kms_client_release(c, g_app, g_key, g_sim, &g_ident, &k)) {
            printf("refused: %s\n", tbml_errmsg());
        } else {
            printf("released key '%s'\n", tbml_key_name(k));
            rc = 0;
        }
        tbml_key_free(k);
    }
out:
    if (rc && !resp) fprintf(stderr, "bench_kms_client: %s\n", tbml_errmsg());
    json_decref(resp);
    tbml_free(ev);
    tbml_kms_client_free(c);
    return rc;
}

/* ---- load ------------------------------------------------------------------------------------ */

static atomic_int g_next, g_errors, g_done_workers;
static int g_total;
static double *g_lat;
static char g_host[256];
static int g_port;

static void *worker(void *arg)
{
    (void)arg;
    tbml_kms_client_t *c = NULL;
    if (tbml_kms_client_open(g_url, g_ca, NULL, &c)) {
        atomic_fetch_add(&g_errors, 1);
        return NULL;
    }
    for (;;) {
        int i = atomic_fetch_add(&g_next, 1);
        if (i >= g_total) break;
        tbml_key_t *k = NULL;
        double t0 = tbml_now();
        if (tbml_kms_client_release(c, g_app, g_key, g_sim, &g_ident, &k)) {
            if (atomic_fetch_add(&g_errors, 1) < 5)
                fprintf(stderr, "release %d: %s\n", i, tbml_errmsg());
        }
        g_lat[i] = tbml_now() - t0;
        tbml_key_free(k);
    }
    tbml_kms_client_free(c);
    atomic_fetch_add(&g_done_workers, 1);
    return NULL;
}

static int tcp_connect(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)g_port);
    inet_pton(AF_INET, g_host, &a.sin_addr);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

static atomic_int g_stop_attack, g_attacks;

/* Garbage bytes, a stalled handshake, or an oversized body, in turns, until told to stop. */
static void *attacker(void *arg)
{
    int kind = (int)(intptr_t)arg % 3;
    uint8_t junk[512];
    while (!atomic_load(&g_stop_attack)) {
        if (kind == 0) {
            int fd = tcp_connect();
            if (fd >= 0) {
                if (tbml_random(junk, sizeof(junk)) == TBML_OK &&
                    write(fd, junk, sizeof(junk)) < 0) { /* ignore */
                }
                close(fd);
            }
            usleep(20000);
        } else if (kind == 1) {
            /* The start of a TLS ClientHello, then silence: the server must time it out. */
            static const uint8_t hello[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01,
                                            0x00, 0x01, 0xfc, 0x03, 0x03};
            int fd = tcp_connect();
            if (fd >= 0) {
                if (write(fd, hello, sizeof(hello)) < 0) { /* ignore */
                }
                char b;
                while (!atomic_load(&g_stop_attack) && read(fd, &b, 1) > 0) {
                }
                close(fd);
            } else {
                usleep(100000);
            }
        } else {
            tbml_kms_client_t *c = NULL;
            if (tbml_kms_client_open(g_url, g_ca, NULL, &c) == TBML_OK) {
                json_t *big = json_pack("{s:s}", "app", "x");
                size_t n = 1u << 20;
                char *s = tbml_malloc(n + 1);
                memset(s, 'a', n);
                s[n] = '\0';
                json_object_set_new(big, "pad", json_string(s));
                long code = 0;
                json_t *resp = NULL;
                tbml_status st =
                    tbml_kms_client_call(c, "POST", "/v1/keys/release", NULL, big, &code, &resp);
                (void)st; /* 413 or a reset: either way the server must keep serving others */
                json_decref(resp);
                json_decref(big);
                tbml_free(s);
                tbml_kms_client_free(c);
            }
            usleep(20000);
        }
        atomic_fetch_add(&g_attacks, 1);
    }
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int mode_load(int clients, int requests, int attackers)
{
    if (sscanf(g_url, "https://%255[^:]:%d", g_host, &g_port) != 2) {
        fprintf(stderr, "bench_kms_client: load needs https://IP:PORT\n");
        return 2;
    }
    g_total = requests;
    g_lat = tbml_calloc((size_t)requests, sizeof(double));
    pthread_t *w = tbml_calloc((size_t)clients, sizeof(pthread_t)),
              *a = tbml_calloc((size_t)attackers + 1, sizeof(pthread_t));
    for (int i = 0; i < attackers; i++)
        pthread_create(&a[i], NULL, attacker, (void *)(intptr_t)i);
    double t0 = tbml_now();
    for (int i = 0; i < clients; i++)
        pthread_create(&w[i], NULL, worker, NULL);
    for (int i = 0; i < clients; i++)
        pthread_join(w[i], NULL);
    double wall = tbml_now() - t0;
    atomic_store(&g_stop_attack, 1);
    for (int i = 0; i < attackers; i++)
        pthread_join(a[i], NULL);
    qsort(g_lat, (size_t)requests, sizeof(double), cmp_double);
    printf("releases %d clients %d errors %d attacks %d wall_s %.3f throughput_per_s %.1f p50_ms "
           "%.3f p99_ms %.3f\n",
           requests, clients, atomic_load(&g_errors), atomic_load(&g_attacks), wall,
           requests / wall, g_lat[requests / 2] * 1e3, g_lat[(size_t)(requests * 0.99)] * 1e3);
    int rc = atomic_load(&g_errors) ? 1 : 0;
    tbml_free(g_lat);
    tbml_free(w);
    tbml_free(a);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 7) {
        fprintf(stderr, "usage: bench_kms_client MODE URL CA APP KEY MANIFEST [ARGS]\n");
        return 2;
    }
    g_url = argv[2], g_ca = argv[3], g_app = argv[4], g_key = argv[5];
    g_sim = tbml_evidence_backend_find("sim");
    tbml_manifest_t *m = NULL;
    memset(&g_ident, 0, sizeof(g_ident));
    if (tbml_manifest_load(argv[6], &m) ||
        tbml_manifest_verify(m, g_ident.measurement, g_ident.mrsigner))
        return fail(argv[6]);
    g_ident.product_id = (uint16_t)tbml_manifest_product_id(m);
    g_ident.svn = (uint16_t)tbml_manifest_svn(m);
    g_ident.debug = tbml_manifest_debug(m);
    tbml_manifest_free(m);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc;
    if (strcmp(argv[1], "load") == 0 && argc >= 9)
        rc = mode_load(atoi(argv[7]), atoi(argv[8]), argc > 9 ? atoi(argv[9]) : 0);
    else if (strcmp(argv[1], "stale") == 0 && argc >= 8)
        rc = mode_attack("stale", atoi(argv[7]));
    else
        rc = mode_attack(argv[1], 0);
    curl_global_cleanup();
    return rc;
}

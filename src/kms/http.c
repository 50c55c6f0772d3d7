/* The key service's HTTPS front: TLS 1.3 only (OpenSSL), one thread per connection up to a cap,
 * keep-alive, and a strict HTTP/1.1 parser with bounded header and body sizes and deadlines for
 * the handshake, each request and idle time, so garbage, stalled handshakes, slow senders and
 * oversized bodies cost one bounded thread each for a bounded time. */
#include "kms/http.h"

#include "tbml/crypto.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define TICK_MS 250
#define THREAD_STACK (256u << 10)

struct kms_http {
    kms_http_config cfg;
    SSL_CTX *ctx;
    int lfd;
    atomic_int active;
    volatile int *stop;
};

typedef struct {
    kms_http_t *h;
    int fd;
    SSL *ssl;
    char peer[64];
    char *buf;
    size_t len; /* bytes in buf */
} conn;

static const char *reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 411:
        return "Length Required";
    case 413:
        return "Content Too Large";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Error";
    }
}

static int stopping(const conn *c)
{
    return c->h->stop && *c->h->stop;
}

/* SSL_read until something arrives, the peer closes, or deadline passes (the socket's receive
 * timeout makes each try return within a tick). */
static int tls_read(conn *c, void *buf, int n, double deadline)
{
    for (;;) {
        int r = SSL_read(c->ssl, buf, n);
        if (r > 0) return r;
        int e = SSL_get_error(c->ssl, r);
        if ((e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) && tbml_now() < deadline &&
            !stopping(c))
            continue;
        return -1;
    }
}

static int tls_write(conn *c, const void *buf, int n, double deadline)
{
    for (;;) {
        int r = SSL_write(c->ssl, buf, n);
        if (r == n) return 0;
        int e = SSL_get_error(c->ssl, r);
        if ((e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) && tbml_now() < deadline)
            continue;
        return -1;
    }
}

static void send_response(conn *c, int status, const char *body, int keep_alive)
{
    char head[256];
    size_t blen = body ? strlen(body) : 0;
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                     "Cache-Control: no-store\r\nConnection: %s\r\n\r\n",
                     status, reason(status), blen, keep_alive ? "keep-alive" : "close");
    double deadline = tbml_now() + c->h->cfg.request_timeout_ms / 1000.0;
    char *all = tbml_malloc((size_t)n + blen + 1);
    memcpy(all, head, (size_t)n);
    if (blen) memcpy(all + n, body, blen);
    if (tls_write(c, all, (int)((size_t)n + blen), deadline) !=
        0) { /* the peer is gone: nothing to do */
    }
    tbml_free(all);
}

static void send_error(conn *c, int status, const char *msg)
{
    char body[256];
    snprintf(body, sizeof(body), "{\"error\":\"http\",\"check\":\"request\",\"message\":\"%s\"}",
             msg);
    send_response(c, status, body, 0);
}

static int ci_prefix(const char *line, size_t len, const char *name)
{
    size_t n = strlen(name);
    return len > n && strncasecmp(line, name, n) == 0 && line[n] == ':';
}

int kms_http_parse_head(const char *buf, size_t head_len, kms_request *req, size_t *content_length,
                        int *keep_alive, const char **msg)
{
    const char *p = buf, *end = buf + head_len;
    const char *eol = memchr(p, '\r', (size_t)(end - p));
    int have_len = 0;
    *content_length = 0;
    *keep_alive = 1;
    if (!eol || eol[1] != '\n') return *msg = "malformed request line", 400;
    /* request line: METHOD SP PATH SP HTTP/1.x */
    const char *sp1 = memchr(p, ' ', (size_t)(eol - p));
    const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
    if (!sp1 || !sp2 || sp1 == p || (size_t)(sp1 - p) >= sizeof(req->method) || sp2 == sp1 + 1 ||
        (size_t)(sp2 - sp1 - 1) >= sizeof(req->path))
        return *msg = "malformed request line", 400;
    /* Check the raw bytes (a NUL must not end a field early), then copy. */
    for (const char *m = p; m < sp1; m++)
        if (*m < 'A' || *m > 'Z') return *msg = "malformed method", 400;
    if (sp1[1] != '/') return *msg = "the path must start with /", 400;
    for (const char *q = sp1 + 1; q < sp2; q++)
        if ((unsigned char)*q <= 0x20 || (unsigned char)*q >= 0x7f)
            return *msg = "bad character in path", 400;
    memcpy(req->method, p, (size_t)(sp1 - p));
    req->method[sp1 - p] = '\0';
    memcpy(req->path, sp1 + 1, (size_t)(sp2 - sp1 - 1));
    req->path[sp2 - sp1 - 1] = '\0';
    size_t vlen = (size_t)(eol - sp2 - 1);
    if (vlen == 8 && memcmp(sp2 + 1, "HTTP/1.1", 8) == 0)
        *keep_alive = 1;
    else if (vlen == 8 && memcmp(sp2 + 1, "HTTP/1.0", 8) == 0)
        *keep_alive = 0;
    else
        return *msg = "only HTTP/1.1 is spoken here", 505;
    p = eol + 2;
    while (p < end) {
        eol = memchr(p, '\r', (size_t)(end - p));
        if (!eol || eol + 1 >= end || eol[1] != '\n') return *msg = "malformed header", 400;
        size_t len = (size_t)(eol - p);
        if (len == 0) break; /* the blank line */
        if (p[0] == ' ' || p[0] == '\t') return *msg = "folded headers are not accepted", 400;
        const char *colon = memchr(p, ':', len);
        if (!colon || colon == p) return *msg = "malformed header", 400;
        for (const char *q = p; q < colon; q++)
            if ((unsigned char)*q <= 0x20 || (unsigned char)*q >= 0x7f)
                return *msg = "malformed header name", 400;
        const char *v = colon + 1;
        while (v < eol && (*v == ' ' || *v == '\t'))
            v++;
        size_t vl = (size_t)(eol - v);
        while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
            vl--;
        for (const char *q = v; q < v + vl; q++)
            if ((unsigned char)*q < 0x20 && *q != '\t')
                return *msg = "control character in a header value", 400;
        if (ci_prefix(p, len, "Content-Length")) {
            if (have_len) return *msg = "repeated Content-Length", 400;
            if (vl == 0 || vl > 9)
                return vl > 9 ? (*msg = "body too large", 413) : (*msg = "bad Content-Length", 400);
            size_t n = 0;
            for (size_t i = 0; i < vl; i++) {
                if (v[i] < '0' || v[i] > '9') return *msg = "bad Content-Length", 400;
                n = n * 10 + (size_t)(v[i] - '0');
            }
            have_len = 1;
            *content_length = n;
        } else if (ci_prefix(p, len, "Transfer-Encoding")) {
            return *msg = "Transfer-Encoding is not supported: send Content-Length", 501;
        } else if (ci_prefix(p, len, "Authorization")) {
            if (vl >= sizeof(req->auth)) return *msg = "Authorization header too long", 431;
            memcpy(req->auth, v, vl);
            req->auth[vl] = '\0';
        } else if (ci_prefix(p, len, "Connection")) {
            if (vl == 5 && strncasecmp(v, "close", 5) == 0) *keep_alive = 0;
        }
        p = eol + 2;
    }
    if (!have_len && (strcmp(req->method, "POST") == 0 || strcmp(req->method, "PUT") == 0))
        return *msg = "POST and PUT need Content-Length", 411;
    if (*content_length > KMS_HTTP_MAX_BODY) return *msg = "body too large", 413;
    return 0;
}

static void serve_conn(conn *c)
{
    kms_http_t *h = c->h;
    double deadline = tbml_now() + h->cfg.request_timeout_ms / 1000.0;
    c->ssl = SSL_new(h->ctx);
    if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1) return;
    for (;;) {
        int r = SSL_accept(c->ssl);
        if (r == 1) break;
        int e = SSL_get_error(c->ssl, r);
        if ((e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) && tbml_now() < deadline &&
            !stopping(c))
            continue;
        return; /* garbage, a stalled handshake or a client that rejected our certificate */
    }
    c->buf = tbml_malloc(KMS_HTTP_MAX_HEADER + KMS_HTTP_MAX_BODY + 1);
    c->len = 0;
    for (;;) {
        /* Wait for a request head: idle time before its first byte, request time after. */
        double idle_deadline = tbml_now() + h->cfg.idle_timeout_ms / 1000.0;
        double req_deadline = 0;
        char *hend = NULL;
        for (;;) {
            if (c->len >= 4) hend = memmem(c->buf, c->len, "\r\n\r\n", 4);
            if (hend) break;
            if (c->len >= KMS_HTTP_MAX_HEADER) {
                send_error(c, 431, "request head too large");
                return;
            }
            if (c->len > 0 && req_deadline == 0)
                req_deadline = tbml_now() + h->cfg.request_timeout_ms / 1000.0;
            int n = tls_read(c, c->buf + c->len, (int)(KMS_HTTP_MAX_HEADER - c->len),
                             c->len ? req_deadline : idle_deadline);
            if (n <= 0) {
                if (c->len > 0 && !stopping(c)) send_error(c, 408, "request not completed in time");
                return;
            }
            if (req_deadline == 0) req_deadline = tbml_now() + h->cfg.request_timeout_ms / 1000.0;
            c->len += (size_t)n;
        }
        size_t head_len = (size_t)(hend - c->buf) + 4, clen;
        kms_request req;
        memset(&req, 0, sizeof(req));
        snprintf(req.peer, sizeof(req.peer), "%s", c->peer);
        int keep_alive;
        const char *msg = NULL;
        int err = kms_http_parse_head(c->buf, head_len, &req, &clen, &keep_alive, &msg);
        if (err) {
            send_error(c, err, msg);
            return;
        }
        while (c->len < head_len + clen) {
            int n = tls_read(c, c->buf + c->len, (int)(head_len + clen - c->len), req_deadline);
            if (n <= 0) {
                if (!stopping(c)) send_error(c, 408, "body not completed in time");
                return;
            }
            c->len += (size_t)n;
        }
        char saved = c->buf[head_len + clen];
        c->buf[head_len + clen] = '\0';
        req.body = c->buf + head_len;
        req.body_size = clen;
        kms_response resp = {500, NULL};
        h->cfg.handler(h->cfg.ctx, &req, &resp);
        c->buf[head_len + clen] = saved;
        if (stopping(c)) keep_alive = 0;
        send_response(c, resp.status, resp.body ? resp.body : "{}", keep_alive);
        tbml_free(resp.body);
        /* Keep pipelined bytes that followed this request. */
        memmove(c->buf, c->buf + head_len + clen, c->len - head_len - clen);
        c->len -= head_len + clen;
        if (!keep_alive) return;
    }
}

static void *conn_main(void *arg)
{
    conn *c = arg;
    kms_http_t *h = c->h;
    serve_conn(c);
    if (c->ssl) {
        SSL_shutdown(c->ssl); /* best effort close_notify */
        SSL_free(c->ssl);
    }
    ERR_clear_error();
    if (c->buf) {
        tbml_wipe(c->buf, KMS_HTTP_MAX_HEADER + KMS_HTTP_MAX_BODY + 1);
        tbml_free(c->buf);
    }
    close(c->fd);
    tbml_free(c);
    atomic_fetch_sub(&h->active, 1);
    return NULL;
}

tbml_status kms_http_start(const kms_http_config *cfg, kms_http_t **out, int *port)
{
    char host[256];
    const char *colon = strrchr(cfg->listen, ':');
    if (!colon || colon == cfg->listen || (size_t)(colon - cfg->listen) >= sizeof(host))
        return tbml_error(TBML_E_ARG, "--listen '%s' is not HOST:PORT", cfg->listen);
    memcpy(host, cfg->listen, (size_t)(colon - cfg->listen));
    host[colon - cfg->listen] = '\0';
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int gai = getaddrinfo(host, colon + 1, &hints, &ai);
    if (gai) return tbml_error(TBML_E_ARG, "--listen %s: %s", cfg->listen, gai_strerror(gai));
    tbml_status st = TBML_OK;
    kms_http_t *h = tbml_calloc(1, sizeof(*h));
    h->cfg = *cfg;
    h->lfd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (h->lfd < 0 || setsockopt(h->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(h->lfd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(h->lfd, 1024) != 0) {
        st = tbml_error(TBML_E_NET, "cannot listen on %s: %s", cfg->listen, strerror(errno));
        goto out;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    getsockname(h->lfd, (struct sockaddr *)&ss, &sl);
    *port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                           : ((struct sockaddr_in *)&ss)->sin_port);

    h->ctx = SSL_CTX_new(TLS_server_method());
    if (!h->ctx || SSL_CTX_set_min_proto_version(h->ctx, TLS1_3_VERSION) != 1 ||
        SSL_CTX_set_max_proto_version(h->ctx, TLS1_3_VERSION) != 1) {
        st = tbml_error(TBML_E_CRYPTO, "cannot set up TLS 1.3");
        goto out;
    }
    if (SSL_CTX_use_certificate_chain_file(h->ctx, cfg->cert_file) != 1 ||
        SSL_CTX_use_PrivateKey_file(h->ctx, cfg->key_file, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(h->ctx) != 1) {
        st = tbml_error(TBML_E_KEY, "%s / %s: cannot load the service's TLS certificate and key",
                        cfg->cert_file, cfg->key_file);
        goto out;
    }
    SSL_CTX_set_options(h->ctx, SSL_OP_NO_TICKET); /* no resumption state to protect or expire */
    SSL_CTX_set_session_cache_mode(h->ctx, SSL_SESS_CACHE_OFF);
out:
    freeaddrinfo(ai);
    ERR_clear_error();
    if (st) {
        kms_http_free(h);
        return st;
    }
    *out = h;
    return TBML_OK;
}

tbml_status kms_http_run(kms_http_t *h, volatile int *stop)
{
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, THREAD_STACK);
    h->stop = stop;
    while (!*stop) {
        struct pollfd pfd = {h->lfd, POLLIN, 0};
        int r = poll(&pfd, 1, TICK_MS);
        if (r <= 0) continue;
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept4(h->lfd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE) usleep(50000); /* let connections finish */
            continue;
        }
        if (atomic_load(&h->active) >= h->cfg.max_connections) {
            close(fd); /* over the cap: refuse at once rather than queue without bound */
            continue;
        }
        struct timeval rt = {0, TICK_MS * 1000}, wt = {h->cfg.request_timeout_ms / 1000,
                                                       (h->cfg.request_timeout_ms % 1000) * 1000};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &rt, sizeof(rt));
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &wt, sizeof(wt));
        conn *c = tbml_calloc(1, sizeof(*c));
        c->h = h;
        c->fd = fd;
        char addr[INET6_ADDRSTRLEN] = "?";
        int port = 0;
        if (ss.ss_family == AF_INET) {
            inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, addr, sizeof(addr));
            port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, addr, sizeof(addr));
            port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        }
        snprintf(c->peer, sizeof(c->peer), "%s:%d", addr, port);
        atomic_fetch_add(&h->active, 1);
        pthread_t t;
        if (pthread_create(&t, &attr, conn_main, c) != 0) {
            atomic_fetch_sub(&h->active, 1);
            close(fd);
            tbml_free(c);
        }
    }
    pthread_attr_destroy(&attr);
    /* Connections notice the stop within a tick and every step they take has a deadline, so this
     * ends; the service's state must outlive them. */
    while (atomic_load(&h->active) > 0)
        usleep(50000);
    return TBML_OK;
}

void kms_http_free(kms_http_t *h)
{
    if (!h) return;
    if (h->lfd >= 0) close(h->lfd);
    SSL_CTX_free(h->ctx);
    tbml_free(h);
}

/* The key service's HTTP/1.1 head parser: what it accepts and the status it answers for each
 * kind of malformed or abusive request. */
#include "check.h"

#include "kms/http.h"

static int parse(const char *head, kms_request *req, size_t *clen, int *ka)
{
    const char *msg = NULL;
    memset(req, 0, sizeof(*req));
    return kms_http_parse_head(head, strlen(head), req, clen, ka, &msg);
}

int main(void)
{
    kms_request r;
    size_t n;
    int ka;
    CHECK(parse("POST /v1/keys/release HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\n"
                "authorization:   Bearer abc  \r\n\r\n",
                &r, &n, &ka) == 0);
    CHECK(strcmp(r.method, "POST") == 0 && strcmp(r.path, "/v1/keys/release") == 0);
    CHECK(n == 12 && ka == 1 && strcmp(r.auth, "Bearer abc") == 0);
    CHECK(parse("GET /v1/health HTTP/1.0\r\n\r\n", &r, &n, &ka) == 0 && ka == 0 && n == 0);
    CHECK(parse("GET /v1/health HTTP/1.1\r\nConnection: close\r\n\r\n", &r, &n, &ka) == 0 &&
          ka == 0);
    CHECK(parse("POST /x HTTP/1.1\r\n\r\n", &r, &n, &ka) == 411);
    CHECK(parse("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", &r, &n, &ka) == 501);
    CHECK(parse("POST /x HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", &r, &n,
                &ka) == 400);
    CHECK(parse("POST /x HTTP/1.1\r\nContent-Length: 65537\r\n\r\n", &r, &n, &ka) == 413);
    CHECK(parse("POST /x HTTP/1.1\r\nContent-Length: 99999999999999\r\n\r\n", &r, &n, &ka) == 413);
    CHECK(parse("POST /x HTTP/1.1\r\nContent-Length: -1\r\n\r\n", &r, &n, &ka) == 400);
    CHECK(parse("POST /x HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", &r, &n, &ka) == 400);
    CHECK(parse("GET /x HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", &r, &n, &ka) == 400);
    CHECK(parse("GET /x HTTP/1.1\r\nno colon\r\n\r\n", &r, &n, &ka) == 400);
    CHECK(parse("GET /x HTTP/2\r\n\r\n", &r, &n, &ka) == 505);
    CHECK(parse("GET x HTTP/1.1\r\n\r\n", &r, &n, &ka) == 400);
    CHECK(parse("GET /a b HTTP/1.1\r\n\r\n", &r, &n, &ka) == 505);
    CHECK(parse("get /x HTTP/1.1\r\n\r\n", &r, &n, &ka) == 400);
    CHECK(parse("GET /x\x01 HTTP/1.1\r\n\r\n", &r, &n, &ka) == 400);
    CHECK(parse("\r\n\r\n", &r, &n, &ka) == 400);
    char longpath[400];
    snprintf(longpath, sizeof(longpath), "GET /%0300d HTTP/1.1\r\n\r\n", 0);
    CHECK(parse(longpath, &r, &n, &ka) == 400);
    char longauth[400];
    snprintf(longauth, sizeof(longauth), "GET /x HTTP/1.1\r\nAuthorization: %0300d\r\n\r\n", 0);
    CHECK(parse(longauth, &r, &n, &ka) == 431);
    /* NUL bytes must not cut a field short (found by fuzz_http) */
    static const char nul_method[] = "\0\tST /x HTTP/1.1\r\n\r\n";
    const char *msg;
    CHECK(kms_http_parse_head(nul_method, sizeof(nul_method) - 1, &r, &n, &ka, &msg) == 400);
    static const char nul_path[] = "GET /x\0y HTTP/1.1\r\n\r\n";
    CHECK(kms_http_parse_head(nul_path, sizeof(nul_path) - 1, &r, &n, &ka, &msg) == 400);
    static const char nul_auth[] = "GET /x HTTP/1.1\r\nAuthorization: Bearer a\0b\r\n\r\n";
    CHECK(kms_http_parse_head(nul_auth, sizeof(nul_auth) - 1, &r, &n, &ka, &msg) == 400);
    return check_done();
}

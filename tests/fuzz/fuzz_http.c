/* libFuzzer target for the key service's HTTP/1.1 head parser: untrusted bytes up to the first
 * blank line, as the server hands them over. Whatever it accepts must be well-formed: an upper-case
 * method, a path of visible ASCII starting with '/', and a body size within the limit. */
#include "kms/http.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *end = size >= 4 ? memmem(data, size, "\r\n\r\n", 4) : NULL;
    if (!end || (size_t)(end - data) + 4 > KMS_HTTP_MAX_HEADER) return 0;
    kms_request req;
    size_t clen = 0;
    int ka = 0;
    const char *msg = NULL;
    memset(&req, 0, sizeof(req));
    int st =
        kms_http_parse_head((const char *)data, (size_t)(end - data) + 4, &req, &clen, &ka, &msg);
    if (st != 0) {
        if (!msg || st < 400 || st > 505) __builtin_trap();
        return 0;
    }
    if (req.path[0] != '/' || clen > KMS_HTTP_MAX_BODY || req.method[0] == '\0') __builtin_trap();
    for (const char *p = req.method; *p; p++)
        if (*p < 'A' || *p > 'Z') __builtin_trap();
    for (const char *p = req.path; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) __builtin_trap();
    return 0;
}

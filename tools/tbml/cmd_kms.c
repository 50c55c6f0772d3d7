/* tbml kms: the key service. init makes a state folder, serve runs the TLS 1.3 JSON API, admin
 * talks to a running service with the admin token, audit verifies the hash-chained log. */
#include "cli.h"

#include "kms/client.h"

#include "tbml/kms.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: tbml kms init --state DIR [--san DNS:name|IP:addr]... [password options]\n"
        "       tbml kms serve --state DIR [--listen HOST:PORT] [--port-file F] [--nonce-ttl "
        "SECONDS]\n"
        "                      [--max-connections N] [--request-timeout S] [--idle-timeout S]\n"
        "                      [--no-audit-sync] [password options]\n"
        "       tbml kms admin --url https://HOST:PORT --ca CERT.pem [--pin sha256//B64] "
        "--token-file F\n"
        "                      enroll APP | create-key APP KEY | import-key APP KEYFILE |\n"
        "                      policy APP POLICY.json | list\n"
        "       tbml kms audit (--state DIR | FILE) [--anchor SEQ:HASH]\n\n"
        "The root key is sealed under a password read from --password-file F, --password-fd N or\n"
        "the terminal; never from argv or the environment. Clients verify the service against\n"
        "DIR/tls/cert.pem (or a CA that signed its certificate); there is no way to skip that.\n"
        "Policy JSON: {\"measurements\": [HEX...]} and/or {\"mrsigner\": HEX, \"product_id\": N,\n"
        "\"min_svn\": N}, plus \"allow_debug\" and \"insecure_allow_simulated\" (both false by "
        "default).\n"
        "audit prints the head as SEQ:HASH; keep it elsewhere and pass it back as --anchor to\n"
        "detect a log that was cut back or rewritten since.\n");
}

static int kms_init(int argc, char **argv)
{
    const char *state = NULL;
    const char **san = NULL;
    size_t nsan = 0;
    cli_password_source pw = {NULL, -1};
    for (int i = 2; i < argc;) {
        int r = cli_password_option(argc, argv, &i, &pw);
        if (r < 0) return 2;
        if (r) continue;
        if (strcmp(argv[i], "--state") == 0 && i + 1 < argc) {
            state = argv[i + 1];
        } else if (strcmp(argv[i], "--san") == 0 && i + 1 < argc) {
            san = tbml_realloc(san, (nsan + 1) * sizeof(*san));
            san[nsan++] = argv[i + 1];
        } else {
            tbml_free(san);
            return cli_usage_error("unknown option '%s'", argv[i]);
        }
        i += 2;
    }
    if (!state) {
        tbml_free(san);
        return cli_usage_error("--state DIR is required");
    }
    char *p;
    size_t n;
    tbml_status st = cli_password_read(&pw, "New key service password: ", 1, &p, &n);
    if (!st) {
        st = tbml_kms_init(state, p, n, TBML_PWHASH_DEFAULT, san, nsan);
        cli_password_free(p, n);
    }
    tbml_free(san);
    if (st) return cli_fail(st);
    printf(
        "key service state in %s: pin %s/tls/cert.pem in clients; admin token in %s/admin.token\n",
        state, state, state);
    return 0;
}

static int parse_int_opt(const char *v, int lo, int hi, int *out)
{
    char *end;
    long x = strtol(v, &end, 10);
    if (*v == '\0' || *end || x < lo || x > hi) return -1;
    *out = (int)x;
    return 0;
}

static int kms_serve(int argc, char **argv)
{
    tbml_kms_serve_options o;
    memset(&o, 0, sizeof(o));
    cli_password_source pw = {NULL, -1};
    for (int i = 2; i < argc;) {
        int r = cli_password_option(argc, argv, &i, &pw);
        if (r < 0) return 2;
        if (r) continue;
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--no-audit-sync") == 0) {
            o.audit_sync = -1;
            i++;
            continue;
        }
        if (!v) return cli_usage_error("unknown option or missing value '%s'", a);
        if (strcmp(a, "--state") == 0)
            o.state_dir = v;
        else if (strcmp(a, "--listen") == 0)
            o.listen = v;
        else if (strcmp(a, "--port-file") == 0)
            o.port_file = v;
        else if (strcmp(a, "--nonce-ttl") == 0) {
            if (parse_int_opt(v, 1, 3600, &o.nonce_ttl_s))
                return cli_usage_error("--nonce-ttl: 1..3600 seconds");
        } else if (strcmp(a, "--request-timeout") == 0) {
            if (parse_int_opt(v, 1, 600, &o.request_timeout_ms))
                return cli_usage_error("--request-timeout: 1..600 seconds");
            o.request_timeout_ms *= 1000;
        } else if (strcmp(a, "--idle-timeout") == 0) {
            if (parse_int_opt(v, 1, 3600, &o.idle_timeout_ms))
                return cli_usage_error("--idle-timeout: 1..3600 seconds");
            o.idle_timeout_ms *= 1000;
        } else if (strcmp(a, "--max-connections") == 0) {
            if (parse_int_opt(v, 1, 100000, &o.max_connections))
                return cli_usage_error("--max-connections: 1..100000");
        } else
            return cli_usage_error("unknown option '%s'", a);
        i += 2;
    }
    if (!o.state_dir) return cli_usage_error("--state DIR is required");
    char *p;
    size_t n;
    tbml_status st = cli_password_read(&pw, "Key service password: ", 0, &p, &n);
    if (st) return cli_fail(st);
    st = tbml_kms_serve(&o, p, n);
    cli_password_free(p, n);
    return st ? cli_fail(st) : 0;
}

static tbml_status read_token(const char *path, char tok[80])
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return tbml_error(TBML_E_IO, "%s: %s", path, strerror(errno));
    ssize_t n = read(fd, tok, 79);
    close(fd);
    if (n < 64) return tbml_error(TBML_E_KEY, "%s: not an admin token", path);
    tok[64] = '\0';
    return TBML_OK;
}

static int kms_admin(int argc, char **argv)
{
    const char *url = NULL, *ca = NULL, *pin = NULL, *token_file = NULL;
    cli_password_source pw = {NULL, -1};
    int i = 2;
    while (i < argc && argv[i][0] == '-') {
        int r = cli_password_option(argc, argv, &i, &pw);
        if (r < 0) return 2;
        if (r) continue;
        if (i + 1 >= argc) return cli_usage_error("'%s' needs a value", argv[i]);
        if (strcmp(argv[i], "--url") == 0)
            url = argv[i + 1];
        else if (strcmp(argv[i], "--ca") == 0)
            ca = argv[i + 1];
        else if (strcmp(argv[i], "--pin") == 0)
            pin = argv[i + 1];
        else if (strcmp(argv[i], "--token-file") == 0)
            token_file = argv[i + 1];
        else
            return cli_usage_error("unknown option '%s'", argv[i]);
        i += 2;
    }
    if (!url || !ca || !token_file || i >= argc)
        return cli_usage_error("need --url, --ca, --token-file and an action");
    const char *act = argv[i];
    /* Positional arguments after the action; password options may follow them too. */
    char *args[4];
    int nargs = 0;
    for (int j = i + 1; j < argc;) {
        int r = cli_password_option(argc, argv, &j, &pw);
        if (r < 0) return 2;
        if (r) continue;
        if (nargs == 4) return cli_usage_error("too many arguments for '%s'", act);
        args[nargs++] = argv[j++];
    }
    json_t *body = NULL, *resp = NULL;
    const char *method = "POST", *path = NULL;
    tbml_key_t *key = NULL;
    tbml_status st = TBML_OK;
    if (strcmp(act, "enroll") == 0 && nargs == 1) {
        path = "/v1/admin/apps";
        body = json_pack("{s:s}", "app", args[0]);
    } else if (strcmp(act, "create-key") == 0 && nargs == 2) {
        path = "/v1/admin/keys";
        body = json_pack("{s:s, s:s}", "app", args[0], "key", args[1]);
    } else if (strcmp(act, "import-key") == 0 && nargs == 2) {
        /* The data owner's primary key goes to the service once, over the pinned TLS channel. */
        if ((st = cli_load_key(args[1], &pw, &key))) return cli_fail(st);
        char hex[65];
        tbml_hex(tbml_key_bytes(key), TBML_KEY_SIZE, hex);
        path = "/v1/admin/keys";
        body =
            json_pack("{s:s, s:s, s:s}", "app", args[0], "key", tbml_key_name(key), "import", hex);
        tbml_wipe(hex, sizeof(hex));
    } else if (strcmp(act, "policy") == 0 && nargs == 2) {
        json_error_t jerr;
        json_t *p = json_load_file(args[1], JSON_REJECT_DUPLICATES, &jerr);
        if (!p) {
            tbml_error(TBML_E_FORMAT, "%s:%d:%d: %s", args[1], jerr.line, jerr.column, jerr.text);
            return cli_fail(TBML_E_FORMAT);
        }
        method = "PUT";
        path = "/v1/admin/policy";
        body = json_pack("{s:s, s:o}", "app", args[0], "policy", p);
    } else if (strcmp(act, "list") == 0 && nargs == 0) {
        method = "GET";
        path = "/v1/admin/apps";
    } else {
        return cli_usage_error("unknown admin action or wrong arguments: '%s'", act);
    }
    char tok[80];
    tbml_kms_client_t *c = NULL;
    long code = 0;
    if (!(st = read_token(token_file, tok)) && !(st = tbml_kms_client_open(url, ca, pin, &c)))
        st = tbml_kms_client_call(c, method, path, tok, body, &code, &resp);
    tbml_wipe(tok, sizeof(tok));
    if (body && strcmp(act, "import-key") == 0) {
        json_t *imp = json_object_get(body, "import");
        if (imp) tbml_wipe((char *)json_string_value(imp), 64);
    }
    json_decref(body);
    tbml_key_free(key);
    tbml_kms_client_free(c);
    if (!st && code != 200) {
        const char *msg = json_string_value(json_object_get(resp, "message"));
        st = tbml_error(code == 401 ? TBML_E_KEY : TBML_E_ARG, "key service answered HTTP %ld: %s",
                        code, msg ? msg : "?");
    }
    if (!st) {
        char *text = json_dumps(resp, JSON_INDENT(2) | JSON_SORT_KEYS);
        if (text) printf("%s\n", text);
        else st = tbml_error(TBML_E_NOMEM, "cannot format the key service's answer");
        free(text);
    }
    json_decref(resp);
    return st ? cli_fail(st) : 0;
}

static int kms_audit(int argc, char **argv)
{
    char path[4096] = "";
    const char *anchor = NULL;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--state") == 0 && i + 1 < argc)
            snprintf(path, sizeof(path), "%s/audit.log", argv[++i]);
        else if (strcmp(argv[i], "--anchor") == 0 && i + 1 < argc)
            anchor = argv[++i];
        else if (argv[i][0] != '-' && !path[0])
            snprintf(path, sizeof(path), "%s", argv[i]);
        else
            return cli_usage_error("unknown option '%s'", argv[i]);
    }
    if (!path[0]) return cli_usage_error("give --state DIR or the audit log FILE");
    uint64_t n;
    char head[65];
    tbml_status st = tbml_kms_audit_verify(path, anchor, &n, head);
    if (st) return cli_fail(st);
    printf("audit log ok: %llu entries, head %llu:%s\n", (unsigned long long)n,
           (unsigned long long)n, head);
    return 0;
}

int cmd_kms(int argc, char **argv)
{
    if (argc < 2 || cli_is_help(argv[1])) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (int i = 2; i < argc; i++)
        if (cli_is_help(argv[i])) {
            usage(stdout);
            return 0;
        }
    if (strcmp(argv[1], "init") == 0) return kms_init(argc, argv);
    if (strcmp(argv[1], "serve") == 0) return kms_serve(argc, argv);
    if (strcmp(argv[1], "admin") == 0) return kms_admin(argc, argv);
    if (strcmp(argv[1], "audit") == 0) return kms_audit(argc, argv);
    return cli_usage_error("unknown kms action '%s'", argv[1]);
}

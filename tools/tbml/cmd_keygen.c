/* tbml keygen: makes the three kinds of key a deployment needs. A named primary key in a
 * password-sealed key file (it wraps the data keys of sealed files), the RSA-3072 e = 3 key
 * that signs enclaves, and a self-signed TLS identity for service endpoints. Every output is
 * written through a temporary file and never overwrites an existing one. */
#include "cli.h"
#include "opts.h"
#include "tbml/pki.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>

static const char g_usage[] =
    "usage: tbml keygen primary --name NAME --out DIR [--password-file F | --password-fd N]\n"
    "       tbml keygen enclave --out FILE.pem\n"
    "       tbml keygen tls --out DIR [--cn NAME] [--days N] [--key-type ec|rsa] [--san SAN]...\n"
    "                       [--password-file F | --password-fd N]\n"
    "\n"
    "primary  writes DIR/NAME.key: a new 256-bit primary key sealed under a password (Argon2id +\n"
    "         AES-256-GCM). DIR is created (mode 0700) if missing. NAME is 1-64 of A-Z a-z 0-9 . _ "
    "-\n"
    "enclave  writes an RSA-3072 private key with public exponent 3 (the shape SGX requires for\n"
    "         enclave signing) as PEM, mode 0600, and prints its MRSIGNER.\n"
    "tls      writes DIR/key.pem (EC P-256 by default, or RSA-3072), DIR/cert.pem (self-signed,\n"
    "         SHA-256, subject alternative names DNS:localhost and IP:127.0.0.1 unless --san is\n"
    "         given, valid --days days, default 365) and DIR/bundle.p12 (both, under a password).\n"
    "\n"
    "Passwords are read from --password-file F (first line), --password-fd N, or the terminal\n"
    "(asked twice); never from the command line or the environment. Existing files are never\n"
    "overwritten.\n";

static int usage_help(void)
{
    fputs(g_usage, stdout);
    return 0;
}

/* mkdir -p with mode 0700 for the folders it creates: key folders hold secrets. */
static tbml_status make_dirs(const char *dir)
{
    tbml_status ret = TBML_OK;
    char *p = tbml_strdup(dir);
    struct stat sb;
    for (char *s = p + 1;; s++) {
        int end = *s == '\0';
        if (*s != '/' && !end) continue;
        *s = '\0';
        if (mkdir(p, 0700) != 0 && errno != EEXIST) {
            ret = tbml_error(TBML_E_IO, "%s: cannot create folder: %s", p, strerror(errno));
            goto out;
        }
        if (end) break;
        *s = '/';
    }
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        ret = tbml_error(TBML_E_IO, "%s: not a folder", dir);
        goto out;
    }
out:
    tbml_free(p);
    return ret;
}

static int keygen_primary(int argc, char **argv)
{
    const char *name = NULL, *dir = NULL;
    cli_password_source pw_src = {NULL, -1};
    char *pw = NULL, *path = NULL;
    size_t pw_size = 0;
    tbml_key_t *key = NULL;
    tbml_status st;
    int rc = 0;

    for (int i = 1; i < argc;) {
        int r;
        if (cli_is_help(argv[i])) return usage_help();
        if ((r = opt_value(argc, argv, &i, "--name", &name)) ||
            (r = opt_value(argc, argv, &i, "--out", &dir)) ||
            (r = cli_password_option(argc, argv, &i, &pw_src))) {
            if (r < 0) return 2;
            continue;
        }
        if (argv[i][0] == '-')
            return cli_usage_error("unknown option '%s' for 'keygen primary'", argv[i]);
        return cli_usage_error("unexpected argument '%s' for 'keygen primary'", argv[i]);
    }
    if (!name) return cli_usage_error("keygen primary needs --name NAME");
    if (!dir) return cli_usage_error("keygen primary needs --out DIR");
    if (!tbml_key_name_valid(name))
        return cli_usage_error(
            "invalid key name '%.80s': use 1-64 of A-Z a-z 0-9 . _ - (not starting with .)", name);

    size_t n = strlen(dir) + strlen(name) + 8;
    path = tbml_malloc(n);
    snprintf(path, n, "%s/%s.key", dir, name);
    /* before asking for a password, so nobody types one for nothing */
    if ((st = tbml_refuse_existing(path))) goto fail;
    char prompt[256];
    snprintf(prompt, sizeof(prompt), "New password for key '%s': ", name);
    if ((st = cli_password_read(&pw_src, prompt, 1, &pw, &pw_size))) goto fail;
    if ((st = make_dirs(dir))) goto fail;
    if ((st = tbml_key_generate(name, &key))) goto fail;
    if ((st = tbml_keyfile_write(path, key, pw, pw_size, TBML_PWHASH_DEFAULT))) goto fail;
    printf("%s: new primary key '%s'\n", path, name);
    goto out;
fail:
    rc = cli_fail(st);
out:
    if (pw) cli_password_free(pw, pw_size);
    tbml_key_free(key);
    tbml_free(path);
    return rc;
}

static int keygen_enclave(int argc, char **argv)
{
    const char *path = NULL;
    tbml_rsa_t *key = NULL;
    uint8_t mrsigner[TBML_MRSIGNER_SIZE];
    char hex[2 * TBML_MRSIGNER_SIZE + 1];
    tbml_status st;

    for (int i = 1; i < argc;) {
        int r;
        if (cli_is_help(argv[i])) return usage_help();
        if ((r = opt_value(argc, argv, &i, "--out", &path))) {
            if (r < 0) return 2;
            continue;
        }
        if (argv[i][0] == '-')
            return cli_usage_error("unknown option '%s' for 'keygen enclave'", argv[i]);
        return cli_usage_error("unexpected argument '%s' for 'keygen enclave'", argv[i]);
    }
    if (!path) return cli_usage_error("keygen enclave needs --out FILE.pem");
    if ((st = tbml_refuse_existing(path))) return cli_fail(st);
    if ((st = tbml_rsa_generate(3072, TBML_RSA_SGX_EXPONENT, &key)) ||
        (st = tbml_rsa_write_pem(key, path)) || (st = tbml_rsa_mrsigner(key, mrsigner))) {
        tbml_rsa_free(key);
        return cli_fail(st);
    }
    tbml_rsa_free(key);
    tbml_hex(mrsigner, sizeof(mrsigner), hex);
    printf("%s: new enclave signing key (RSA-3072, e = 3)\nmrsigner: %s\n", path, hex);
    return 0;
}

#define SAN_MAX 16

static int keygen_tls(int argc, char **argv)
{
    const char *dir = NULL, *cn = NULL, *days_s = NULL, *type_s = NULL, *san_v;
    const char *san[SAN_MAX];
    size_t nsan = 0;
    cli_password_source pw_src = {NULL, -1};
    tbml_tls_params params = {0};
    char *pw = NULL;
    size_t pw_size = 0;
    tbml_status st;
    int rc = 0;

    for (int i = 1; i < argc;) {
        int r;
        if (cli_is_help(argv[i])) return usage_help();
        if ((r = opt_value(argc, argv, &i, "--san", &san_v))) {
            if (r < 0) return 2;
            if (nsan == SAN_MAX) return cli_usage_error("at most %d --san options", SAN_MAX);
            if (strncmp(san_v, "DNS:", 4) != 0 && strncmp(san_v, "IP:", 3) != 0)
                return cli_usage_error("--san wants DNS:name or IP:address, not '%s'", san_v);
            san[nsan++] = san_v;
            continue;
        }
        if ((r = opt_value(argc, argv, &i, "--out", &dir)) ||
            (r = opt_value(argc, argv, &i, "--cn", &cn)) ||
            (r = opt_value(argc, argv, &i, "--days", &days_s)) ||
            (r = opt_value(argc, argv, &i, "--key-type", &type_s)) ||
            (r = cli_password_option(argc, argv, &i, &pw_src))) {
            if (r < 0) return 2;
            continue;
        }
        if (argv[i][0] == '-')
            return cli_usage_error("unknown option '%s' for 'keygen tls'", argv[i]);
        return cli_usage_error("unexpected argument '%s' for 'keygen tls'", argv[i]);
    }
    if (!dir) return cli_usage_error("keygen tls needs --out DIR");
    if (days_s) {
        uint64_t d;
        if (opt_count("--days", days_s, 36600, &d)) return 2;
        if (d == 0) return cli_usage_error("--days must be at least 1");
        params.days = (unsigned)d;
    }
    if (!type_s || strcmp(type_s, "ec") == 0)
        params.key_type = TBML_TLS_KEY_EC_P256;
    else if (strcmp(type_s, "rsa") == 0)
        params.key_type = TBML_TLS_KEY_RSA3072;
    else
        return cli_usage_error("--key-type is ec or rsa, not '%s'", type_s);
    if (cn && (cn[0] == '\0' || strlen(cn) > 64))
        return cli_usage_error("--cn needs 1 to 64 characters");
    params.common_name = cn;
    params.san = nsan ? san : NULL;
    params.san_count = nsan;

    /* fail on existing files before asking for a password */
    const char *names[] = {TBML_TLS_KEY_FILE, TBML_TLS_CERT_FILE, TBML_TLS_P12_FILE};
    for (int k = 0; k < 3; k++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, names[k]);
        if ((st = tbml_refuse_existing(path))) goto fail;
    }
    if ((st =
             cli_password_read(&pw_src, "New password for the PKCS#12 bundle: ", 1, &pw, &pw_size)))
        goto fail;
    if ((st = make_dirs(dir))) goto fail;
    if ((st = tbml_tls_create(dir, &params, pw, pw_size))) goto fail;
    printf("%s: %s, %s, %s (%s key, CN %s)\n", dir, TBML_TLS_KEY_FILE, TBML_TLS_CERT_FILE,
           TBML_TLS_P12_FILE, params.key_type == TBML_TLS_KEY_RSA3072 ? "RSA-3072" : "EC P-256",
           cn ? cn : "localhost");
    goto out;
fail:
    rc = cli_fail(st);
out:
    if (pw) cli_password_free(pw, pw_size);
    return rc;
}

int cmd_keygen(int argc, char **argv)
{
    /* with RLIMIT_FSIZE, a write past the limit fails with EFBIG instead of killing us, so the
     * temporary file is still removed */
    signal(SIGXFSZ, SIG_IGN);
    if (argc < 2) {
        fputs(g_usage, stderr);
        return 2;
    }
    const char *kind = argv[1];
    if (cli_is_help(kind)) return usage_help();
    if (strcmp(kind, "primary") == 0) return keygen_primary(argc - 1, argv + 1);
    if (strcmp(kind, "enclave") == 0) return keygen_enclave(argc - 1, argv + 1);
    if (strcmp(kind, "tls") == 0) return keygen_tls(argc - 1, argv + 1);
    if (kind[0] == '-')
        return cli_usage_error("unknown option '%s'; name a key kind first (primary, enclave, tls)",
                               kind);
    return cli_usage_error("unknown key kind '%s' (primary, enclave or tls)", kind);
}

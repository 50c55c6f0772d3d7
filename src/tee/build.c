/* Building a manifest from APP ARGS and the submit options (`tbml manifest`, `tbml submit`):
 * what the program is, which files it trusts and what the host may no longer choose. */
#include "tee_internal.h"

#include "tbml/crypto.h"
#include "tbml/seal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FIXED_PATH "/usr/local/bin:/usr/bin:/bin"

/* ---- options ----------------------------------------------------------------------------------
 */

static void list_add(const char ***list, size_t *count, const char *v)
{
    *list = tbml_realloc(*list, (*count + 1) * sizeof(**list));
    (*list)[(*count)++] = v;
}

/* Spark's memory sizes: a number with an optional b, k, m, g or t suffix (powers of 1024). */
static int parse_size(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || errno || s[0] == '-') return -1;
    uint64_t mul = 1;
    switch (*end) {
    case '\0':
    case 'b':
    case 'B':
        break;
    case 'k':
    case 'K':
        mul = 1ull << 10;
        break;
    case 'm':
    case 'M':
        mul = 1ull << 20;
        break;
    case 'g':
    case 'G':
        mul = 1ull << 30;
        break;
    case 't':
    case 'T':
        mul = 1ull << 40;
        break;
    default:
        return -1;
    }
    if (*end && end[1] && !((end[1] == 'b' || end[1] == 'B') && end[2] == '\0')) return -1;
    if (v > (1ull << 53) / mul) return -1;
    *out = v * mul;
    return 0;
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno || v < lo || v > hi) return -1;
    *out = (int)v;
    return 0;
}

int tbml_manifest_option(int argc, char **argv, int *i, tbml_manifest_options *opt)
{
    static const char *const with_value[] = {"--name",
                                             "--tee-backend",
                                             "--sgx-enabled",
                                             "--sgx-log-level",
                                             "--log-level",
                                             "--sgx-driver-memory",
                                             "--sgx-executor-memory",
                                             "--driver-memory",
                                             "--executor-memory",
                                             "--executor-cores",
                                             "--master",
                                             "--product-id",
                                             "--svn",
                                             "--trusted",
                                             "--input",
                                             "--sealed",
                                             "--output",
                                             "--env",
                                             "--conf",
                                             "--receipt",
                                             NULL};
    const char *a = argv[*i], *v = NULL;
    char name[64];
    if (strcmp(a, "--debug") == 0) {
        opt->debug = 1;
        (*i)++;
        return 1;
    }
    const char *eq = strchr(a, '=');
    size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
    if (nlen >= sizeof(name)) return 0;
    memcpy(name, a, nlen);
    name[nlen] = '\0';
    int known = 0;
    for (size_t k = 0; with_value[k] && !known; k++)
        known = strcmp(name, with_value[k]) == 0;
    if (!known) return 0;
    if (eq) {
        v = eq + 1;
    } else if (*i + 1 < argc) {
        v = argv[*i + 1];
    } else {
        return tbml_error(TBML_E_ARG, "%s needs a value", name);
    }
    int iv;
    if (strcmp(name, "--name") == 0) {
        opt->name = v;
    } else if (strcmp(name, "--tee-backend") == 0) {
        if (strcmp(v, "none") && strcmp(v, "sim") && strcmp(v, "gramine"))
            return tbml_error(TBML_E_ARG, "--tee-backend: '%s' is not none, sim or gramine", v);
        opt->backend = v;
    } else if (strcmp(name, "--sgx-enabled") == 0) {
        if (strcmp(v, "false") == 0)
            opt->backend = "none";
        else if (strcmp(v, "true") == 0) {
            /* SGX asked for: the default is the simulated enclave unless --tee-backend chose. */
            if (!opt->backend || strcmp(opt->backend, "none") == 0) opt->backend = "sim";
        } else
            return tbml_error(TBML_E_ARG, "--sgx-enabled: '%s' is not true or false", v);
    } else if (strcmp(name, "--sgx-log-level") == 0 || strcmp(name, "--log-level") == 0) {
        tbml_log_level lvl;
        if (tbml_log_level_parse(v, &lvl)) return TBML_E_ARG;
        opt->log_level = v;
    } else if (strstr(name, "memory")) {
        uint64_t sz;
        if (parse_size(v, &sz))
            return tbml_error(TBML_E_ARG, "%s: '%s' is not a size like 2g or 512m", name, v);
        if (sz > opt->memory_size)
            opt->memory_size = sz; /* the largest of the memory options wins */
    } else if (strcmp(name, "--executor-cores") == 0) {
        if (parse_int(v, 1, 4096, &iv))
            return tbml_error(TBML_E_ARG, "--executor-cores: '%s' is not 1..4096", v);
        opt->threads = iv;
    } else if (strcmp(name, "--master") == 0) {
        if (strcmp(v, "local") == 0)
            opt->threads = 1;
        else if (strcmp(v, "local[*]") == 0)
            opt->threads = tbml_ncores();
        else {
            char num[16];
            size_t n = strlen(v);
            if (strncmp(v, "local[", 6) != 0 || n < 8 || n - 7 >= sizeof(num) || v[n - 1] != ']')
                return tbml_error(TBML_E_ARG, "--master: '%s' is not local, local[N] or local[*]",
                                  v);
            memcpy(num, v + 6, n - 7);
            num[n - 7] = '\0';
            if (parse_int(num, 1, 4096, &iv))
                return tbml_error(TBML_E_ARG, "--master: '%s' is not local[1..4096]", v);
            opt->threads = iv;
        }
    } else if (strcmp(name, "--product-id") == 0) {
        if (parse_int(v, 0, 65535, &opt->product_id))
            return tbml_error(TBML_E_ARG, "--product-id: '%s' is not 0..65535", v);
    } else if (strcmp(name, "--svn") == 0) {
        if (parse_int(v, 0, 65535, &opt->svn))
            return tbml_error(TBML_E_ARG, "--svn: '%s' is not 0..65535", v);
    } else if (strcmp(name, "--trusted") == 0) {
        list_add(&opt->trusted, &opt->ntrusted, v);
    } else if (strcmp(name, "--input") == 0) {
        list_add(&opt->inputs, &opt->ninputs, v);
    } else if (strcmp(name, "--sealed") == 0) {
        list_add(&opt->sealed, &opt->nsealed, v);
    } else if (strcmp(name, "--output") == 0) {
        list_add(&opt->outputs, &opt->noutputs, v);
    } else if (strcmp(name, "--env") == 0) {
        if (!strchr(v, '=') || v[0] == '=')
            return tbml_error(TBML_E_ARG, "--env: '%s' is not NAME=VALUE", v);
        list_add(&opt->env, &opt->nenv, v);
    } else if (strcmp(name, "--conf") == 0) {
        if (!strchr(v, '=') || v[0] == '=')
            return tbml_error(TBML_E_ARG, "--conf: '%s' is not key=value", v);
        list_add(&opt->conf, &opt->nconf, v);
    } else if (strcmp(name, "--receipt") == 0) {
        opt->receipt = v;
    }
    *i += eq ? 1 : 2;
    return 1;
}

void tbml_manifest_options_free(tbml_manifest_options *opt)
{
    if (!opt) return;
    tbml_free(opt->trusted);
    tbml_free(opt->inputs);
    tbml_free(opt->sealed);
    tbml_free(opt->outputs);
    tbml_free(opt->env);
    tbml_free(opt->conf);
    opt->trusted = opt->inputs = opt->sealed = opt->outputs = opt->env = opt->conf = NULL;
    opt->ntrusted = opt->ninputs = opt->nsealed = opt->noutputs = opt->nenv = opt->nconf = 0;
}

/* ---- building -----------------------------------------------------------------------------------
 */

/* Absolute form of path (relative to the current folder), without resolving symlinks, so the
 * manifest names what the loader opens. */
static void absolute(const char *path, char out[PATH_MAX])
{
    if (path[0] == '/') {
        snprintf(out, PATH_MAX, "%s", path);
    } else {
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof(cwd))) cwd[0] = '\0';
        snprintf(out, PATH_MAX, "%s/%s", cwd, path[0] == '.' && path[1] == '/' ? path + 2 : path);
    }
}

/* Finds an executable the way execvp would, in search (a PATH value). */
static tbml_status find_program(const char *prog, const char *search, char out[PATH_MAX])
{
    if (strchr(prog, '/')) {
        absolute(prog, out);
        if (access(out, X_OK) != 0)
            return tbml_error(TBML_E_NOTFOUND, "%s: not an executable file: %s", prog,
                              strerror(errno));
        return TBML_OK;
    }
    char *copy = tbml_strdup(search), *save = NULL;
    tbml_status st = tbml_error(TBML_E_NOTFOUND, "%s: no such program on PATH %s", prog, search);
    for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        struct stat sb;
        snprintf(out, PATH_MAX, "%s/%s", d, prog);
        if (d[0] == '/' && stat(out, &sb) == 0 && S_ISREG(sb.st_mode) && access(out, X_OK) == 0) {
            tbml_error_clear();
            st = TBML_OK;
            break;
        }
    }
    tbml_free(copy);
    return st;
}

typedef struct {
    json_t *files; /* trusted_files array */
} builder;

static int has_path(const builder *b, const char *path)
{
    for (size_t i = 0; i < json_array_size(b->files); i++)
        if (strcmp(json_string_value(json_object_get(json_array_get(b->files, i), "path")), path) ==
            0)
            return 1;
    return 0;
}

static tbml_status add_hashed(builder *b, const char *path, const char *role, const char *given_hex)
{
    if (has_path(b, path)) return TBML_OK;
    char hex[65];
    if (given_hex) {
        uint8_t h[32];
        if (tee_unhex(given_hex, h, 32))
            return tbml_error(TBML_E_ARG, "%s: '%s' is not a SHA-256 in lower-case hex", path,
                              given_hex);
        snprintf(hex, sizeof(hex), "%s", given_hex);
    } else {
        uint8_t h[32];
        tbml_status st = tee_hash_file(path, h);
        if (st) return st;
        tbml_hex(h, 32, hex);
    }
    json_array_append_new(b->files,
                          json_pack("{s:s, s:s, s:s}", "path", path, "sha256", hex, "role", role));
    return TBML_OK;
}

/* Adds an executable file and everything the loader brings with it. */
static tbml_status add_program(builder *b, const char *path, const char *role)
{
    tee_strlist deps = {0};
    tbml_status st = add_hashed(b, path, role, NULL);
    if (!st) st = tee_elf_deps(path, &deps);
    for (size_t i = 0; !st && i < deps.count; i++)
        st = add_hashed(b, deps.items[i], "library", NULL);
    tee_strlist_free(&deps);
    return st;
}

/* A script's "#!" line: measures the interpreter, and for "#!/usr/bin/env prog" also prog as
 * found on the manifest's PATH. */
static tbml_status add_shebang(builder *b, const char *path)
{
    char line[PATH_MAX];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return tbml_error(TBML_E_IO, "%s: cannot open: %s", path, strerror(errno));
    ssize_t n = read(fd, line, sizeof(line) - 1);
    close(fd);
    if (n < 2 || line[0] != '#' || line[1] != '!') return TBML_OK;
    line[n] = '\0';
    line[strcspn(line, "\n")] = '\0';
    char *save = NULL, *interp = strtok_r(line + 2, " \t", &save),
         *arg = strtok_r(NULL, " \t", &save);
    if (!interp) return TBML_OK;
    tbml_status st = add_program(b, interp, "interpreter");
    if (!st && arg && strcmp(basename(interp), "env") == 0) {
        char found[PATH_MAX];
        st = find_program(arg, FIXED_PATH, found);
        if (!st) st = add_program(b, found, "interpreter");
    }
    return st;
}

#define TREE_MAX_FILES 100000

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file under dir (a Python package, a model folder), each with the libraries it
 * needs, in sorted order; symlinks are not followed out of the tree. */
static tbml_status add_tree(builder *b, const char *dir)
{
    tee_strlist stack = {0}, files = {0};
    tbml_status st = TBML_OK;
    tee_strlist_add(&stack, dir);
    while (stack.count > 0 && !st) {
        char *d = stack.items[--stack.count];
        DIR *dh = opendir(d);
        if (!dh) {
            st = tbml_error(TBML_E_IO, "--trusted %s: cannot read: %s", d, strerror(errno));
            tbml_free(d);
            break;
        }
        struct dirent *e;
        while ((e = readdir(dh)) && !st) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
            char p[PATH_MAX];
            struct stat sb;
            snprintf(p, sizeof(p), "%s/%s", d, e->d_name);
            if (lstat(p, &sb) != 0) continue;
            if (S_ISDIR(sb.st_mode))
                tee_strlist_add(&stack, p);
            else if (S_ISREG(sb.st_mode))
                tee_strlist_add(&files, p);
            if (files.count > TREE_MAX_FILES)
                st =
                    tbml_error(TBML_E_ARG, "--trusted %s: more than %d files", dir, TREE_MAX_FILES);
        }
        closedir(dh);
        tbml_free(d);
    }
    if (!st) qsort(files.items, files.count, sizeof(char *), cmp_str);
    for (size_t i = 0; i < files.count && !st; i++)
        st = add_program(b, files.items[i], "trusted");
    tee_strlist_free(&stack);
    tee_strlist_free(&files);
    return st;
}

static int cmp_path(const void *a, const void *b)
{
    const json_t *x = *(const json_t *const *)a, *y = *(const json_t *const *)b;
    return strcmp(json_string_value(json_object_get(x, "path")),
                  json_string_value(json_object_get(y, "path")));
}

/* Sorts trusted_files by path so the manifest does not depend on discovery order. */
static json_t *sorted_files(json_t *files)
{
    size_t n = json_array_size(files);
    json_t **v = tbml_malloc((n + 1) * sizeof(*v));
    for (size_t i = 0; i < n; i++)
        v[i] = json_array_get(files, i);
    qsort(v, n, sizeof(*v), cmp_path);
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append(out, v[i]);
    tbml_free(v);
    return out;
}

static int is_regular(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

static int is_sealed_file(const char *path)
{
    uint8_t head[8];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t n = read(fd, head, sizeof(head));
    close(fd);
    return n == (ssize_t)sizeof(head) && tbml_sealed_probe(head, sizeof(head));
}

static tbml_status add_sealed(json_t *sealed, const char *path, int argv_index)
{
    tbml_sealed_info info;
    uint8_t h[32];
    char hex[65];
    tbml_status st = tbml_sealed_inspect(path, &info);
    if (st) return tbml_error_prefix(st, "sealed input: ");
    st = tee_hash_file(path, h);
    if (st) return st;
    tbml_hex(h, 32, hex);
    json_array_append_new(sealed, json_pack("{s:s, s:s, s:s, s:i}", "path", path, "sha256", hex,
                                            "key", info.key_name, "argv_index", argv_index));
    return TBML_OK;
}

static const char *const g_forbidden_env[] = {
    "LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT", "PYTHONPATH",
    "PYTHONHOME", "PYTHONSTARTUP",   "PERL5LIB", NULL};

tbml_status tbml_manifest_build(const tbml_manifest_options *opt, int argc, char *const *argv,
                                tbml_manifest_t **out)
{
    tbml_status st = TBML_OK;
    char entry[PATH_MAX], cwd[PATH_MAX], abs[PATH_MAX];
    builder b = {json_array()};
    json_t *root = NULL, *env = json_object(), *conf = json_object(), *sealed = json_array(),
           *outputs = json_array(), *av = json_array();
    if (argc < 1) {
        st = tbml_error(TBML_E_ARG, "no program given");
        goto out;
    }
    if (!getcwd(cwd, sizeof(cwd))) {
        st = tbml_error(TBML_E_IO, "cannot read the current folder: %s", strerror(errno));
        goto out;
    }
    /* APP is found on the job's own fixed PATH, not the caller's: the same manifest on any host. */
    if ((st = find_program(argv[0], FIXED_PATH, entry))) goto out;
    if ((st = add_program(&b, entry, "entrypoint"))) goto out;
    if ((st = add_shebang(&b, entry))) goto out;

    /* Sealed inputs first, so an argument naming one is not also a plain trusted file. */
    for (size_t i = 0; i < opt->nsealed; i++) {
        absolute(opt->sealed[i], abs);
        int idx = -1;
        for (int a = 1; a < argc && idx < 0; a++) {
            char aa[PATH_MAX];
            absolute(argv[a], aa);
            if (strcmp(aa, abs) == 0) idx = a;
        }
        if ((st = add_sealed(sealed, abs, idx))) goto out;
    }
    for (int a = 0; a < argc; a++) {
        json_array_append_new(av, json_string(argv[a]));
        if (a == 0 || !is_regular(argv[a])) continue;
        absolute(argv[a], abs);
        int is_sealed = 0;
        for (size_t s = 0; s < json_array_size(sealed); s++)
            is_sealed |=
                strcmp(json_string_value(json_object_get(json_array_get(sealed, s), "path")),
                       abs) == 0;
        if (is_sealed) continue;
        /* An argument that is a sealed file is a sealed input even without --sealed: the job
         * could do nothing with its ciphertext. */
        if (is_sealed_file(abs)) {
            if ((st = add_sealed(sealed, abs, a))) goto out;
        } else if ((st = add_hashed(&b, abs, "argument", NULL))) {
            goto out;
        }
    }
    for (size_t i = 0; i < opt->ntrusted; i++) {
        absolute(opt->trusted[i], abs);
        struct stat sb;
        if (stat(abs, &sb) == 0 && S_ISDIR(sb.st_mode)) {
            if ((st = add_tree(&b, abs))) goto out;
        } else if (!is_regular(abs)) {
            st = tbml_error(TBML_E_NOTFOUND, "--trusted %s: not a regular file or folder",
                            opt->trusted[i]);
            goto out;
        } else if ((st = add_program(&b, abs, "trusted"))) {
            goto out;
        }
    }
    for (size_t i = 0; i < opt->ninputs; i++) {
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s", opt->inputs[i]);
        char *eq = strrchr(path, '=');
        if (eq) *eq = '\0';
        absolute(path, abs);
        if ((st = add_hashed(&b, abs, "input", eq ? eq + 1 : NULL))) goto out;
    }
    for (size_t i = 0; i < opt->noutputs; i++) {
        absolute(opt->outputs[i], abs);
        json_array_append_new(outputs, json_string(abs));
    }

    json_object_set_new(env, "PATH", json_string(FIXED_PATH));
    json_object_set_new(env, "LC_ALL", json_string("C.UTF-8"));
    json_object_set_new(env, "TBML_LOG_LEVEL",
                        json_string(opt->log_level ? opt->log_level : "warn"));
    if (opt->threads > 0) {
        char t[16];
        snprintf(t, sizeof(t), "%d", opt->threads);
        json_object_set_new(env, "OMP_NUM_THREADS", json_string(t));
        json_object_set_new(env, "OPENBLAS_NUM_THREADS", json_string(t));
        json_object_set_new(env, "TBML_THREADS", json_string(t));
    }
    for (size_t i = 0; i < opt->nenv; i++) {
        char *kv = tbml_strdup(opt->env[i]), *eq = strchr(kv, '=');
        *eq = '\0';
        for (size_t f = 0; g_forbidden_env[f]; f++)
            if (strcmp(kv, g_forbidden_env[f]) == 0)
                st = tbml_error(TBML_E_ARG,
                                "--env %s: would load code that is not measured; list the "
                                "files with --trusted instead",
                                kv);
        if (!st) json_object_set_new(env, kv, json_string(eq + 1));
        tbml_free(kv);
        if (st) goto out;
    }
    for (size_t i = 0; i < opt->nconf; i++) {
        char *kv = tbml_strdup(opt->conf[i]), *eq = strchr(kv, '=');
        *eq = '\0';
        const char *val = eq + 1;
        if (strcmp(kv, "tbml.kms.ca") == 0) {
            /* The key service's CA decides whom the job trusts with its keys: it is measured. */
            absolute(val, abs);
            val = abs;
            st = add_hashed(&b, abs, "kms-ca", NULL);
        }
        if (!st) json_object_set_new(conf, kv, json_string(val));
        tbml_free(kv);
        if (st) goto out;
    }
    char receipt[PATH_MAX] = "";
    if (opt->receipt) absolute(opt->receipt, receipt);

    const char *slash = strrchr(entry, '/');
    root =
        json_pack("{s:i, s:s, s:s, s:O, s:s, s:O, s:o, s:O, s:O, s:{s:I, s:i}, s:s, s:{s:s, s:i, "
                  "s:i, s:b}, s:O, s:s}",
                  "tbml_manifest", TBML_MANIFEST_VERSION, "name", opt->name ? opt->name : slash + 1,
                  "entrypoint", entry, "argv", av, "cwd", cwd, "env", env, "trusted_files",
                  sorted_files(b.files), "sealed_inputs", sealed, "outputs", outputs, "limits",
                  "memory_size", (json_int_t)opt->memory_size, "threads", opt->threads, "log_level",
                  opt->log_level ? opt->log_level : "warn", "tee", "backend",
                  opt->backend ? opt->backend : "none", "product_id", opt->product_id, "svn",
                  opt->svn, "debug", opt->debug, "conf", conf, "receipt", receipt);
    if (!root) {
        st = tbml_error(TBML_E_INTERNAL, "manifest: cannot assemble the JSON");
        goto out;
    }
    /* What we build must pass what we parse. */
    if ((st = tee_manifest_wrap(root, "new manifest", out))) goto out;
    root = NULL;
out:
    json_decref(root);
    json_decref(b.files);
    json_decref(env);
    json_decref(conf);
    json_decref(sealed);
    json_decref(outputs);
    json_decref(av);
    return st;
}

/* Exporting a tbml manifest as a Gramine-SGX manifest template (TOML, processed by
 * gramine-manifest, then signed by gramine-sgx-sign with the same enclave key): every trusted
 * file with its sha256, no allowed_files (nothing unmeasured loads: the opposite of the seed's
 * allow_all_but_log), argv from a file instead of the host's command line, the fixed environment,
 * enclave size, thread count, debug flag, ISV product id and SVN, DCAP attestation, and an
 * encrypted mount for each output folder. */
#include "runtime.h"

#include "tbml/crypto.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* TOML basic string: quotes, backslashes and control characters escaped. */
static void toml_str(tee_buf *b, const char *s)
{
    tee_buf_add(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char tmp[8];
        if (c == '"' || c == '\\') {
            tmp[0] = '\\', tmp[1] = (char)c, tmp[2] = '\0';
            tee_buf_str(b, tmp);
        } else if (c < 0x20 || c == 0x7f) {
            snprintf(tmp, sizeof(tmp), "\\u%04x", c);
            tee_buf_str(b, tmp);
        } else {
            tee_buf_add(b, s, 1);
        }
    }
    tee_buf_add(b, "\"", 1);
}

static void line(tee_buf *b, const char *key, const char *val)
{
    tee_buf_str(b, key);
    tee_buf_str(b, " = ");
    toml_str(b, val);
    tee_buf_str(b, "\n");
}

static tbml_status write_file(const char *dir, const char *name, const void *data, size_t size)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return tbml_write_file(path, data, size, NULL);
}

/* One sgx.trusted_files entry per element of files (trusted_files or sealed_inputs): both are
 * measured by their path and sha256. */
static void toml_trusted(tee_buf *b, const json_t *files)
{
    for (size_t i = 0; i < json_array_size(files); i++) {
        json_t *e = json_array_get(files, i);
        char uri[4200];
        snprintf(uri, sizeof(uri), "file:%s", json_string_value(json_object_get(e, "path")));
        tee_buf_str(b, "  { uri = ");
        toml_str(b, uri);
        tee_buf_str(b, ", sha256 = ");
        toml_str(b, json_string_value(json_object_get(e, "sha256")));
        tee_buf_str(b, " },\n");
    }
}

/* The smallest power of two >= v (SGX enclave sizes are powers of two). */
static uint64_t pow2_at_least(uint64_t v)
{
    uint64_t p = 1;
    while (p < v && p < (1ull << 62))
        p <<= 1;
    return p;
}

tbml_status tee_gramine_export(const tbml_manifest_t *m, const char *dir)
{
    json_t *r = tee_manifest_json(m);
    tee_buf b = {0}, argvf = {0};
    char tmp[256];
    uint8_t meas[32];
    char meas_hex[65];
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return tbml_error(TBML_E_IO, "%s: cannot create: %s", dir, strerror(errno));
    tbml_status st = tbml_manifest_measure(m, meas);
    if (st) return st;
    tbml_hex(meas, 32, meas_hex);
    tee_buf_str(
        &b,
        "# Gramine-SGX manifest template exported by tbml from a manifest with measurement\n# ");
    tee_buf_str(&b, meas_hex);
    tee_buf_str(&b, "\n# gramine-manifest tbml-job.manifest.template tbml-job.manifest\n"
                    "# gramine-sgx-sign --key enclave-key.pem --manifest tbml-job.manifest "
                    "--output tbml-job.manifest.sgx\n\n");
    line(&b, "libos.entrypoint", json_string_value(json_object_get(r, "entrypoint")));
    tee_buf_str(&b, "loader.entrypoint.uri = \"file:{{ gramine.libos }}\"\n");
    const char *lvl = json_string_value(json_object_get(r, "log_level"));
    line(&b, "loader.log_level", strcmp(lvl, "warn") == 0 ? "warning" : lvl);
    /* argv comes from this measured file, never from the host's command line. */
    tee_buf_str(&b, "loader.argv_src_file = \"file:argv\"\n");
    line(&b, "fs.start_dir", json_string_value(json_object_get(r, "cwd")));
    const char *key;
    json_t *val;
    json_object_foreach(json_object_get(r, "env"), key, val)
    {
        char k[300];
        snprintf(k, sizeof(k), "loader.env.%s", key);
        line(&b, k, json_string_value(val));
    }
    tee_buf_str(&b,
                "\nfs.mounts = [\n"
                "  { path = \"/lib\", uri = \"file:{{ gramine.runtimedir() }}\" },\n"
                "  { path = \"/lib/x86_64-linux-gnu\", uri = \"file:/lib/x86_64-linux-gnu\" },\n"
                "  { path = \"/usr\", uri = \"file:/usr\" },\n"
                "  { path = \"/etc\", uri = \"file:/etc\" },\n");
    json_t *outs = json_object_get(r, "outputs");
    for (size_t i = 0; i < json_array_size(outs); i++) {
        char d[4096];
        snprintf(d, sizeof(d), "%s", json_string_value(json_array_get(outs, i)));
        char *slash = strrchr(d, '/');
        if (slash && slash != d) *slash = '\0';
        tee_buf_str(&b, "  { type = \"encrypted\", path = ");
        toml_str(&b, d);
        tee_buf_str(&b, ", uri = ");
        char uri[4200];
        snprintf(uri, sizeof(uri), "file:%s", d);
        toml_str(&b, uri);
        tee_buf_str(&b, ", key_name = \"_sgx_mrenclave\" },\n");
    }
    tee_buf_str(&b, "]\n\n");
    json_t *lim = json_object_get(r, "limits");
    uint64_t mem = (uint64_t)json_integer_value(json_object_get(lim, "memory_size"));
    snprintf(tmp, sizeof(tmp), "sgx.enclave_size = \"%lluM\"\n",
             (unsigned long long)(pow2_at_least(mem ? mem : (1ull << 30)) >> 20));
    tee_buf_str(&b, tmp);
    int threads = (int)json_integer_value(json_object_get(lim, "threads"));
    /* the job's threads plus Gramine's own helper threads */
    snprintf(tmp, sizeof(tmp), "sgx.max_threads = %d\n", (threads > 0 ? threads : 4) + 4);
    tee_buf_str(&b, tmp);
    snprintf(tmp, sizeof(tmp), "sgx.debug = %s\nsgx.isvprodid = %d\nsgx.isvsvn = %d\n",
             tbml_manifest_debug(m) ? "true" : "false", tbml_manifest_product_id(m),
             tbml_manifest_svn(m));
    tee_buf_str(&b, tmp);
    tee_buf_str(&b, "sgx.remote_attestation = \"dcap\"\nsgx.file_check_policy = "
                    "\"strict\"\nsgx.allowed_files = []\n\n"
                    "sgx.trusted_files = [\n"
                    "  \"file:{{ gramine.libos }}\",\n  \"file:{{ gramine.runtimedir() }}/\",\n");
    toml_trusted(&b, json_object_get(r, "trusted_files"));
    toml_trusted(&b, json_object_get(r, "sealed_inputs"));
    tee_buf_str(&b, "  \"file:argv\",\n]\n");
    /* Gramine's argv file: the arguments, each followed by a NUL byte. */
    json_t *av = json_object_get(r, "argv");
    for (size_t i = 0; i < json_array_size(av); i++) {
        const char *a = json_string_value(json_array_get(av, i));
        tee_buf_add(&argvf, a, strlen(a) + 1);
    }
    static const char readme[] =
        "Exported by tbml (gramine backend). To launch on an SGX machine with Gramine installed:\n"
        "  gramine-manifest tbml-job.manifest.template tbml-job.manifest\n"
        "  gramine-sgx-sign --key enclave-key.pem --manifest tbml-job.manifest --output "
        "tbml-job.manifest.sgx\n"
        "  tbml run MANIFEST --gramine-dir THIS_FOLDER   (or: gramine-sgx tbml-job)\n"
        "Every trusted file is listed with its sha256; nothing else may be opened "
        "(file_check_policy strict).\n";
    st = write_file(dir, "tbml-job.manifest.template", b.data, b.size);
    if (!st) st = write_file(dir, "argv", argvf.data ? argvf.data : "", argvf.size);
    if (!st) st = write_file(dir, "README", readme, sizeof(readme) - 1);
    tbml_free(b.data);
    tbml_free(argvf.data);
    return st;
}

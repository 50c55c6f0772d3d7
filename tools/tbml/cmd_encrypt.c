/* tbml encrypt: seals any file (or stdin) under a named primary key into the sealed file
 * format, streaming in bounded memory. The output appears only when it is complete: it is
 * written to a temporary file and renamed after the last segment. */
#include "cli.h"
#include "opts.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#define CHUNK_SIZE ((size_t)1 << 20)

static const char g_usage[] =
    "usage: tbml encrypt --key DIR/NAME.key [--password-file F | --password-fd N]\n"
    "                    [--segment-size N] IN OUT\n"
    "\n"
    "Seals IN into OUT under the primary key in the key file: a fresh data key per file, wrapped\n"
    "by the primary key, and AES-256-GCM segments of N plaintext bytes (default 64K; K and M\n"
    "suffixes; 16 to 64M). Any change to OUT later fails decryption. '-' is stdin or stdout.\n"
    "OUT is written to a temporary file and renamed when complete; on failure nothing is left.\n"
    "\n"
    "The key file's password comes from --password-file F (first line), --password-fd N, or a\n"
    "prompt on the terminal; never from the command line or the environment.\n";

int cmd_encrypt(int argc, char **argv)
{
    const char *seg_s = NULL;
    opt_crypt_args args;
    uint64_t seg = TBML_SEAL_SEGMENT_DEFAULT;
    tbml_key_t *key = NULL;
    tbml_outfile_t *out = NULL;
    tbml_sealed_writer_t *w = NULL;
    uint8_t *buf = NULL;
    int in_fd = -1, rc = 0;
    tbml_status st;

    /* under RLIMIT_FSIZE a write past the limit must fail (EFBIG), not kill us before the
     * temporary file is removed */
    signal(SIGXFSZ, SIG_IGN);
    if ((rc = opt_crypt_parse(argc, argv, g_usage, "--segment-size", &seg_s, &args)) >= 0)
        return rc;
    rc = 0;
    const char *key_path = args.key_path;
    const cli_password_source pw_src = args.pw;
    if (seg_s) {
        if (opt_size("--segment-size", seg_s, TBML_SEAL_SEGMENT_MAX, &seg)) return 2;
        if (seg < TBML_SEAL_SEGMENT_MIN)
            return cli_usage_error("--segment-size %s is below the minimum of %u bytes", seg_s,
                                   TBML_SEAL_SEGMENT_MIN);
    }
    const char *in = args.in, *outp = args.out;
    const char *in_name = opt_input_name(in), *out_name = opt_output_name(outp);
    if (strcmp(outp, "-") == 0 && isatty(STDOUT_FILENO))
        return cli_usage_error(
            "refusing to write sealed (binary) data to a terminal; give OUT or redirect");
    if (strcmp(in, "-") == 0 && pw_src.fd == STDIN_FILENO)
        return cli_usage_error("stdin cannot carry both the input and the password");

    if ((st = opt_open_input(in, &in_fd))) goto fail;
    if ((st = opt_load_key(key_path, &pw_src, &key))) goto fail;
    if ((st = tbml_outfile_open(outp, &out))) goto fail;
    if ((st = tbml_sealed_writer_open(tbml_outfile_fd(out), out_name, key, (uint32_t)seg, &w)))
        goto fail;
    buf = tbml_malloc(CHUNK_SIZE);
    for (;;) {
        size_t n;
        if ((st = tbml_read_some(in_fd, buf, CHUNK_SIZE, in_name, &n))) goto fail;
        if (n == 0) break;
        if ((st = tbml_sealed_writer_write(w, buf, n))) goto fail;
    }
    if ((st = tbml_sealed_writer_finish(w))) goto fail;
    tbml_sealed_writer_free(w);
    w = NULL;
    st = tbml_outfile_commit(out);
    out = NULL;
    if (st) goto fail;
    goto done;
fail:
    /* most messages name their file already; the rest (a crypto failure) get the output's */
    rc = cli_fail(opt_name_in_error(st, out_name, in_name, key_path));
done:
    tbml_sealed_writer_free(w);
    tbml_outfile_abort(out);
    if (buf) {
        tbml_wipe(buf, CHUNK_SIZE); /* plaintext */
        tbml_free(buf);
    }
    tbml_key_free(key);
    if (in_fd >= 0) opt_close_input(in_fd);
    return rc;
}

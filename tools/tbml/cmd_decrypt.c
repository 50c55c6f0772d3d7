/* tbml decrypt: opens a sealed file (or stdin) with its primary key. Every byte written has
 * been authenticated, and the output file appears only after the whole input, its end
 * included, has verified: on any damage, wrong key or I/O error nothing is left behind. */
#include "cli.h"
#include "opts.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK_SIZE ((size_t)1 << 20)

static const char g_usage[] =
    "usage: tbml decrypt --key DIR/NAME.key [--password-file F | --password-fd N] IN OUT\n"
    "\n"
    "Opens the sealed file IN with the primary key in the key file and writes the plaintext to\n"
    "OUT ('-' is stdin or stdout). A tampered, truncated, extended or reordered file, the wrong\n"
    "key or password, or a file that is not sealed fails with one line naming the file and the\n"
    "cause, and leaves no OUT. (With OUT '-', bytes of authenticated segments before the damage\n"
    "may already have been written; the exit code says the output is not to be used.)\n"
    "\n"
    "The key file's password comes from --password-file F (first line), --password-fd N, or a\n"
    "prompt on the terminal; never from the command line or the environment.\n";

int cmd_decrypt(int argc, char **argv)
{
    opt_crypt_args args;
    tbml_key_t *key = NULL;
    tbml_outfile_t *out = NULL;
    tbml_sealed_reader_t *r = NULL;
    uint8_t *buf = NULL;
    int in_fd = -1, rc = 0;
    tbml_status st;
    struct stat sb;

    signal(SIGXFSZ, SIG_IGN); /* see cmd_encrypt.c */
    if ((rc = opt_crypt_parse(argc, argv, g_usage, NULL, NULL, &args)) >= 0) return rc;
    rc = 0;
    const char *key_path = args.key_path, *in = args.in, *outp = args.out;
    const cli_password_source pw_src = args.pw;
    const char *in_name = opt_input_name(in), *out_name = opt_output_name(outp);
    if (strcmp(in, "-") == 0 && pw_src.fd == STDIN_FILENO)
        return cli_usage_error("stdin cannot carry both the input and the password");

    if ((st = opt_open_input(in, &in_fd))) goto fail;
    /* a plain or damaged header fails here, before anyone is asked for a password */
    if (in_fd != STDIN_FILENO && fstat(in_fd, &sb) == 0 && S_ISREG(sb.st_mode)) {
        tbml_sealed_info info;
        if ((st = tbml_sealed_inspect(in, &info))) goto fail;
    }
    if ((st = opt_load_key(key_path, &pw_src, &key))) goto fail;
    if ((st = tbml_sealed_reader_open(in_fd, in_name, key, &r))) goto fail;
    if ((st = tbml_outfile_open(outp, &out))) goto fail;
    buf = tbml_malloc(CHUNK_SIZE);
    for (;;) {
        size_t got = 0;
        if ((st = tbml_sealed_reader_read(r, buf, CHUNK_SIZE, &got))) goto fail;
        if (got == 0) break;
        if ((st = tbml_outfile_write(out, buf, got))) goto fail;
    }
    st = tbml_outfile_commit(out);
    out = NULL;
    if (st) goto fail;
    goto done;
fail:
    /* most messages name their file already; the rest are about the sealed input */
    rc = cli_fail(opt_name_in_error(st, in_name, out_name, key_path));
done:
    tbml_sealed_reader_free(r);
    tbml_outfile_abort(out);
    if (buf) {
        tbml_wipe(buf, CHUNK_SIZE); /* plaintext */
        tbml_free(buf);
    }
    tbml_key_free(key);
    if (in_fd >= 0) opt_close_input(in_fd);
    return rc;
}

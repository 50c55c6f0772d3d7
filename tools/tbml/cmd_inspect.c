/* tbml inspect: shows what anyone holding a sealed file can see without the key (format
 * version, key name, segment size, plaintext size, segment count), as text or JSON. It
 * authenticates nothing: decrypt is what proves a file intact. */
#include "cli.h"
#include "opts.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static const char g_usage[] =
    "usage: tbml inspect [--json] FILE\n"
    "\n"
    "Prints a sealed file's header without needing its key: format version, the name of the\n"
    "primary key it is sealed under, segment size, plaintext size and number of segments.\n"
    "Nothing is authenticated here (that needs the key: tbml decrypt). --json prints one JSON\n"
    "object with the fields file, format, version, key_name, segment_size, header_size,\n"
    "plaintext_size and segments.\n";

static int print_json(const char *path, const tbml_sealed_info *info)
{
    json_t *o = json_object();
    int ok = json_object_set_new(o, "file", json_string(path)) == 0 &&
             json_object_set_new(o, "format", json_string("tbml-sealed")) == 0 &&
             json_object_set_new(o, "version", json_integer(info->version)) == 0 &&
             json_object_set_new(o, "key_name", json_string(info->key_name)) == 0 &&
             json_object_set_new(o, "segment_size", json_integer(info->segment_size)) == 0 &&
             json_object_set_new(o, "header_size", json_integer(info->header_size)) == 0 &&
             json_object_set_new(o, "plaintext_size",
                                 info->length == UINT64_MAX
                                     ? json_null()
                                     : json_integer((json_int_t)info->length)) == 0 &&
             json_object_set_new(o, "segments", json_integer((json_int_t)info->nsegments)) == 0;
    char *s = ok ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    json_decref(o);
    if (!s) return cli_fail(tbml_error(TBML_E_NOMEM, "%s: cannot format JSON", path));
    printf("%s\n", s);
    free(s);
    return 0;
}

int cmd_inspect(int argc, char **argv)
{
    const char *path = NULL;
    int json = 0, only_pos = 0;
    tbml_sealed_info info;
    tbml_status st;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!only_pos && a[0] == '-' && a[1] != '\0') {
            if (cli_is_help(a)) {
                fputs(g_usage, stdout);
                return 0;
            }
            if (strcmp(a, "--") == 0) {
                only_pos = 1;
            } else if (strcmp(a, "--json") == 0) {
                json = 1;
            } else {
                return cli_usage_error("unknown option '%s'", a);
            }
            continue;
        }
        if (path) return cli_usage_error("unexpected argument '%s': inspect takes one FILE", a);
        path = a;
    }
    if (!path) return cli_usage_error("give the sealed FILE to inspect");
    if (strcmp(path, "-") == 0) return cli_usage_error("inspect needs a file, not stdin");
    int fd;
    if ((st = opt_open_input(path, &fd))) return cli_fail(st); /* clearer than a header error */
    opt_close_input(fd);
    if ((st = tbml_sealed_inspect(path, &info)))
        return cli_fail(opt_name_in_error(st, path, NULL, NULL));
    if (json) return print_json(path, &info);
    printf("file:           %s\n"
           "format:         tbml sealed file, version %u\n"
           "key name:       %s\n"
           "segment size:   %u bytes\n"
           "header size:    %u bytes\n",
           path, info.version, info.key_name, info.segment_size, info.header_size);
    if (info.length == UINT64_MAX)
        printf("plaintext size: unknown\n");
    else
        printf("plaintext size: %llu bytes\n", (unsigned long long)info.length);
    printf("segments:       %llu\n", (unsigned long long)info.nsegments);
    return 0;
}

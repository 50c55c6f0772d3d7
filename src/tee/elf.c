/* Which shared libraries a program loads, found the way the dynamic loader finds them, by
 * reading the ELF files themselves. Running `ldd` or reading /proc after loading would mean
 * running untrusted code (ldd may execute the program) and trusting what it reports; parsing
 * PT_INTERP, DT_NEEDED, DT_RPATH and DT_RUNPATH and searching the configured folders needs
 * neither. Libraries opened later with dlopen (Python extension modules) are not seen: list
 * them with --trusted (docs/formats/manifest.md). */
#include "tee_internal.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ELF_MAX_SIZE (1u << 30)
#define MAX_LIBS 4096

void tee_strlist_add(tee_strlist *l, const char *s)
{
    l->items = tbml_realloc(l->items, (l->count + 1) * sizeof(*l->items));
    l->items[l->count++] = tbml_strdup(s);
}

int tee_strlist_has(const tee_strlist *l, const char *s)
{
    for (size_t i = 0; i < l->count; i++)
        if (strcmp(l->items[i], s) == 0) return 1;
    return 0;
}

void tee_strlist_free(tee_strlist *l)
{
    for (size_t i = 0; i < l->count; i++)
        tbml_free(l->items[i]);
    tbml_free(l->items);
    l->items = NULL;
    l->count = 0;
}

/* What one ELF file asks of the loader. */
typedef struct {
    int is_elf;
    unsigned char cls; /* ELFCLASS32/64 */
    uint16_t machine;
    char *interp; /* PT_INTERP or NULL */
    char *rpath, *runpath;
    tee_strlist needed;
} elf_info;

static void elf_info_free(elf_info *e)
{
    tbml_free(e->interp);
    tbml_free(e->rpath);
    tbml_free(e->runpath);
    tee_strlist_free(&e->needed);
}

/* Maps a virtual address to a file offset through the PT_LOAD segments; -1 if none holds it. */
static long long vaddr_to_off(const Elf64_Phdr *ph, size_t n, uint64_t va)
{
    for (size_t i = 0; i < n; i++)
        if (ph[i].p_type == PT_LOAD && va >= ph[i].p_vaddr && va < ph[i].p_vaddr + ph[i].p_filesz)
            return (long long)(va - ph[i].p_vaddr + ph[i].p_offset);
    return -1;
}

/* A NUL-terminated string at off inside buf, or NULL when it runs off the end. */
static const char *str_at(const uint8_t *buf, size_t size, uint64_t off)
{
    if (off >= size) return NULL;
    if (!memchr(buf + off, 0, size - off)) return NULL;
    return (const char *)buf + off;
}

/* Reads path's ELF header and dynamic section. Only 64-bit little-endian ELF is understood; a
 * file that is not ELF (a script, data) gives is_elf = 0 and TBML_OK. */
static tbml_status elf_read(const char *path, elf_info *e)
{
    tbml_status ret = TBML_OK;
    uint8_t *buf = NULL;
    size_t size = 0;
    memset(e, 0, sizeof(*e));
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return tbml_error(TBML_E_IO, "%s: cannot open: %s", path, strerror(errno));
    ret = tbml_read_all(fd, path, ELF_MAX_SIZE, &buf, &size);
    close(fd);
    if (ret) return ret;
    if (size < sizeof(Elf64_Ehdr) || memcmp(buf, ELFMAG, SELFMAG) != 0) goto out;
    e->is_elf = 1;
    e->cls = buf[EI_CLASS];
    if (e->cls != ELFCLASS64 || buf[EI_DATA] != ELFDATA2LSB) {
        ret =
            tbml_error(TBML_E_UNSUPPORTED, "%s: only 64-bit little-endian ELF is supported", path);
        goto out;
    }
    Elf64_Ehdr eh;
    memcpy(&eh, buf, sizeof(eh));
    e->machine = eh.e_machine;
    if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phoff > size ||
        (size - eh.e_phoff) / sizeof(Elf64_Phdr) < eh.e_phnum) {
        ret = tbml_error(TBML_E_FORMAT, "%s: damaged ELF program headers", path);
        goto out;
    }
    size_t nph = eh.e_phnum;
    Elf64_Phdr *ph = tbml_malloc(nph * sizeof(*ph) + 1);
    memcpy(ph, buf + eh.e_phoff, nph * sizeof(*ph));
    const Elf64_Phdr *dyn = NULL;
    for (size_t i = 0; i < nph; i++) {
        if (ph[i].p_type == PT_INTERP) {
            const char *s = ph[i].p_filesz > 0 ? str_at(buf, size, ph[i].p_offset) : NULL;
            if (s) e->interp = tbml_strdup(s);
        } else if (ph[i].p_type == PT_DYNAMIC) {
            dyn = &ph[i];
        }
    }
    if (dyn) {
        if (dyn->p_offset > size || dyn->p_filesz > size - dyn->p_offset) {
            ret = tbml_error(TBML_E_FORMAT, "%s: damaged ELF dynamic section", path);
            tbml_free(ph);
            goto out;
        }
        size_t nd = dyn->p_filesz / sizeof(Elf64_Dyn);
        uint64_t strtab_va = 0, strsz = 0;
        int have_strtab = 0;
        for (size_t i = 0; i < nd; i++) {
            Elf64_Dyn d;
            memcpy(&d, buf + dyn->p_offset + i * sizeof(d), sizeof(d));
            if (d.d_tag == DT_NULL) break;
            if (d.d_tag == DT_STRTAB) strtab_va = d.d_un.d_ptr, have_strtab = 1;
            if (d.d_tag == DT_STRSZ) strsz = d.d_un.d_val;
        }
        long long stroff = have_strtab ? vaddr_to_off(ph, nph, strtab_va) : -1;
        if (stroff < 0 || (uint64_t)stroff > size || strsz > size - (uint64_t)stroff) {
            if (have_strtab) {
                ret = tbml_error(TBML_E_FORMAT, "%s: damaged ELF string table", path);
                tbml_free(ph);
                goto out;
            }
        } else {
            for (size_t i = 0; i < nd; i++) {
                Elf64_Dyn d;
                memcpy(&d, buf + dyn->p_offset + i * sizeof(d), sizeof(d));
                if (d.d_tag == DT_NULL) break;
                if (d.d_tag != DT_NEEDED && d.d_tag != DT_RPATH && d.d_tag != DT_RUNPATH) continue;
                const char *s = d.d_un.d_val < strsz ? str_at(buf, (size_t)stroff + strsz,
                                                              (uint64_t)stroff + d.d_un.d_val)
                                                     : NULL;
                if (!s) {
                    ret = tbml_error(TBML_E_FORMAT, "%s: damaged ELF dynamic string", path);
                    tbml_free(ph);
                    goto out;
                }
                if (d.d_tag == DT_NEEDED) {
                    tee_strlist_add(&e->needed, s);
                } else if (d.d_tag == DT_RPATH) {
                    tbml_free(e->rpath);
                    e->rpath = tbml_strdup(s);
                } else {
                    tbml_free(e->runpath);
                    e->runpath = tbml_strdup(s);
                }
            }
        }
    }
    tbml_free(ph);
out:
    tbml_free(buf);
    if (ret) elf_info_free(e);
    return ret;
}

/* Appends the folders of an ld.so.conf file (following "include" globs) to dirs. */
static void read_ld_conf(const char *path, tee_strlist *dirs, int depth)
{
    FILE *f = depth < 8 ? fopen(path, "re") : NULL;
    if (!f) return;
    char line[PATH_MAX];
    while (fgets(line, sizeof(line), f)) {
        char *p = line, *hash = strchr(line, '#');
        if (hash) *hash = '\0';
        while (*p == ' ' || *p == '\t')
            p++;
        size_t n = strlen(p);
        while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == ' ' || p[n - 1] == '\t'))
            p[--n] = '\0';
        if (n == 0) continue;
        if (strncmp(p, "include", 7) == 0 && (p[7] == ' ' || p[7] == '\t')) {
            p += 8;
            while (*p == ' ' || *p == '\t')
                p++;
            glob_t g;
            if (glob(p, 0, NULL, &g) == 0) {
                for (size_t i = 0; i < g.gl_pathc; i++)
                    read_ld_conf(g.gl_pathv[i], dirs, depth + 1);
                globfree(&g);
            }
        } else if (p[0] == '/' && !tee_strlist_has(dirs, p)) {
            tee_strlist_add(dirs, p);
        }
    }
    fclose(f);
}

/* Splits a colon-separated search path, expanding $ORIGIN / ${ORIGIN} to origin. */
static void add_search_path(const char *spec, const char *origin, tee_strlist *dirs)
{
    if (!spec) return;
    char *copy = tbml_strdup(spec), *save = NULL;
    for (char *tok = strtok_r(copy, ":", &save); tok; tok = strtok_r(NULL, ":", &save)) {
        char out[PATH_MAX];
        size_t o = 0;
        for (const char *p = tok; *p && o < sizeof(out) - 1;) {
            size_t skip = strncmp(p, "${ORIGIN}", 9) == 0 ? 9
                          : strncmp(p, "$ORIGIN", 7) == 0 ? 7
                                                          : 0;
            if (skip) {
                o += (size_t)snprintf(out + o, sizeof(out) - o, "%s", origin);
                if (o >= sizeof(out)) o = sizeof(out) - 1;
                p += skip;
            } else {
                out[o++] = *p++;
            }
        }
        out[o] = '\0';
        if (out[0] == '/') tee_strlist_add(dirs, out);
    }
    tbml_free(copy);
}

/* 1 if path is an ELF file of the wanted class and machine (the loader skips others). */
static int elf_matches(const char *path, uint16_t machine)
{
    unsigned char h[sizeof(Elf64_Ehdr)];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t n = read(fd, h, sizeof(h));
    close(fd);
    if (n != (ssize_t)sizeof(h) || memcmp(h, ELFMAG, SELFMAG) != 0 || h[EI_CLASS] != ELFCLASS64)
        return 0;
    Elf64_Ehdr eh;
    memcpy(&eh, h, sizeof(eh));
    return eh.e_machine == machine;
}

tbml_status tee_elf_deps(const char *path, tee_strlist *out)
{
    tbml_status ret = TBML_OK;
    tee_strlist queue = {0}, seen_real = {0}, sys_dirs = {0};
    elf_info e;
    uint16_t machine = 0;
    read_ld_conf("/etc/ld.so.conf", &sys_dirs, 0);
    static const char *const defaults[] = {"/lib", "/usr/lib", "/lib64", "/usr/lib64"};
    for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
        if (!tee_strlist_has(&sys_dirs, defaults[i])) tee_strlist_add(&sys_dirs, defaults[i]);

    tee_strlist_add(&queue, path);
    for (size_t qi = 0; qi < queue.count; qi++) {
        const char *cur = queue.items[qi];
        ret = elf_read(cur, &e);
        if (ret) goto out;
        if (!e.is_elf) {
            elf_info_free(&e);
            continue;
        }
        if (qi == 0) machine = e.machine;
        if (e.interp) {
            char real[PATH_MAX];
            if (!realpath(e.interp, real)) {
                ret =
                    tbml_error(TBML_E_NOTFOUND, "%s: ELF interpreter %s not found", cur, e.interp);
                elf_info_free(&e);
                goto out;
            }
            if (!tee_strlist_has(&seen_real, real)) {
                tee_strlist_add(&seen_real, real);
                tee_strlist_add(out, e.interp);
            }
        }
        char origin_buf[PATH_MAX], real_cur[PATH_MAX];
        if (!realpath(cur, real_cur)) snprintf(real_cur, sizeof(real_cur), "%s", cur);
        snprintf(origin_buf, sizeof(origin_buf), "%s", real_cur);
        const char *origin = dirname(origin_buf);
        tee_strlist dirs = {0};
        if (!e.runpath) add_search_path(e.rpath, origin, &dirs);
        add_search_path(e.runpath, origin, &dirs);
        for (size_t d = 0; d < sys_dirs.count; d++)
            tee_strlist_add(&dirs, sys_dirs.items[d]);
        for (size_t n = 0; n < e.needed.count; n++) {
            const char *lib = e.needed.items[n];
            char found[PATH_MAX] = "";
            if (strchr(lib, '/')) {
                snprintf(found, sizeof(found), "%s", lib);
                if (!elf_matches(found, machine)) found[0] = '\0';
            } else {
                for (size_t d = 0; d < dirs.count && !found[0]; d++) {
                    snprintf(found, sizeof(found), "%s/%s", dirs.items[d], lib);
                    if (!elf_matches(found, machine)) found[0] = '\0';
                }
            }
            if (!found[0]) {
                ret = tbml_error(TBML_E_NOTFOUND,
                                 "%s: needed library %s not found in its RPATH/RUNPATH, "
                                 "/etc/ld.so.conf or /lib:/usr/lib",
                                 cur, lib);
                tee_strlist_free(&dirs);
                elf_info_free(&e);
                goto out;
            }
            char real[PATH_MAX];
            if (!realpath(found, real)) snprintf(real, sizeof(real), "%s", found);
            if (tee_strlist_has(&seen_real, real)) continue;
            if (seen_real.count >= MAX_LIBS) {
                ret = tbml_error(TBML_E_FORMAT, "%s: more than %d libraries", path, MAX_LIBS);
                tee_strlist_free(&dirs);
                elf_info_free(&e);
                goto out;
            }
            tee_strlist_add(&seen_real, real);
            tee_strlist_add(out, found);
            tee_strlist_add(&queue, found);
        }
        tee_strlist_free(&dirs);
        elf_info_free(&e);
    }
out:
    tee_strlist_free(&queue);
    tee_strlist_free(&seen_real);
    tee_strlist_free(&sys_dirs);
    return ret;
}

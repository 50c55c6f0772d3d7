/* tbml core: status codes, the per-thread error message, logging, and the thread pool.
 *
 * Every library function returns a tbml_status: 0 (TBML_OK) on success, a negative code on
 * failure. On failure it also leaves a one-line message with context (file, offset, key name,
 * line and column, rank) in a per-thread buffer that tbml_errmsg() returns. Messages never
 * contain secrets or plaintext. */
#ifndef TBML_CORE_H
#define TBML_CORE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define TBML_NODISCARD __attribute__((warn_unused_result))
#define TBML_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define TBML_NODISCARD
#define TBML_PRINTF(f, a)
#endif

typedef int tbml_status;

enum {
    TBML_OK = 0,
    TBML_E_NOMEM = -1,       /* out of memory */
    TBML_E_IO = -2,          /* read, write, open, rename failed (errno in the message) */
    TBML_E_AUTH = -3,        /* authentication failed: tampered, truncated, wrong key */
    TBML_E_FORMAT = -4,      /* malformed input: not a sealed file, bad IDX magic, bad CSV */
    TBML_E_ARG = -5,         /* invalid argument or option */
    TBML_E_KEY = -6,         /* missing key, key name mismatch, bad key file */
    TBML_E_CRYPTO = -7,      /* the crypto library failed (not an authentication failure) */
    TBML_E_NOTFOUND = -8,    /* no such file, table, column, example */
    TBML_E_UNSUPPORTED = -9, /* version or feature not supported */
    TBML_E_PASSWORD = -10,   /* wrong password for a key file */
    TBML_E_SYNTAX = -11,     /* SQL syntax error */
    TBML_E_TYPE = -12,       /* type error (SQL, CSV schema) */
    TBML_E_POLICY = -13,     /* trusted runtime / key service refused */
    TBML_E_NET = -14,        /* network or peer failure */
    TBML_E_INTERNAL = -15,   /* a bug: please report */
};

/* Short English name of a status ("authentication failed"). Never NULL. */
const char *tbml_strerror(tbml_status st);

/* The calling thread's last error message, "" if none. Valid until the next tbml call on this
 * thread. */
const char *tbml_errmsg(void);

/* Sets the calling thread's error message and returns st, so callers can write
 * `return tbml_error(TBML_E_IO, "%s: %s", path, strerror(errno));`. */
tbml_status tbml_error(tbml_status st, const char *fmt, ...) TBML_PRINTF(2, 3);

/* Prefixes context to the current message ("people.json: " + message) and returns st. */
tbml_status tbml_error_prefix(tbml_status st, const char *fmt, ...) TBML_PRINTF(2, 3);

void tbml_error_clear(void);

/* Logging. Levels follow Spark's log4j names; `--log-level` and the seed's `--sgx-log-level`
 * map here. Lines go to stderr as "LEVEL tbml: message". */
typedef enum { TBML_LOG_ERROR = 0, TBML_LOG_WARN = 1, TBML_LOG_INFO = 2, TBML_LOG_DEBUG = 3 } tbml_log_level;

void tbml_log_set_level(tbml_log_level level);
tbml_log_level tbml_log_get_level(void);
/* Parses "error", "warn", "info", "debug" (any case; also "warning", "trace" = debug,
 * "none"/"off" = error). Returns TBML_E_ARG on anything else. */
TBML_NODISCARD tbml_status tbml_log_level_parse(const char *s, tbml_log_level *out);
void tbml_log(tbml_log_level level, const char *fmt, ...) TBML_PRINTF(2, 3);

#define TBML_LOG_E(...) tbml_log(TBML_LOG_ERROR, __VA_ARGS__)
#define TBML_LOG_W(...) tbml_log(TBML_LOG_WARN, __VA_ARGS__)
#define TBML_LOG_I(...) tbml_log(TBML_LOG_INFO, __VA_ARGS__)
#define TBML_LOG_D(...)                                                                            \
    do {                                                                                           \
        if (tbml_log_get_level() >= TBML_LOG_DEBUG) tbml_log(TBML_LOG_DEBUG, __VA_ARGS__);         \
    } while (0)

/* Always-on assertion (ggml's GGML_ASSERT): prints file:line and aborts. */
void tbml_abort(const char *file, int line, const char *expr);
#define TBML_ASSERT(x)                                                                             \
    do {                                                                                           \
        if (!(x)) tbml_abort(__FILE__, __LINE__, #x);                                              \
    } while (0)

/* Allocation. tbml_malloc/tbml_calloc/tbml_realloc never return NULL for size > 0: on failure
 * they abort with a message (as SQLite's and Redis's allocators can be configured to), which
 * keeps every caller free of unreachable recovery paths. Free with tbml_free (NULL ok). */
void *tbml_malloc(size_t size);
void *tbml_calloc(size_t count, size_t size);
void *tbml_realloc(void *p, size_t size);
char *tbml_strdup(const char *s);
void tbml_free(void *p);

/* A growable byte buffer for encoders (the SQL exchange's batches, the readers' agreement over
 * ranks): start from {0}, append, then own .p (tbml_free it). Integers go little-endian. */
typedef struct {
    uint8_t *p;
    size_t n, cap;
} tbml_bytes;
void tbml_bytes_put(tbml_bytes *b, const void *p, size_t n);
void tbml_bytes_put_u32(tbml_bytes *b, uint32_t v);
void tbml_bytes_put_u64(tbml_bytes *b, uint64_t v);

/* Thread pool (ggml's ith/nth split). tbml_pool_run calls fn(ith, nth, arg) once on each of nth
 * threads (the caller is thread 0) and returns when all have finished. Kernels take no locks.
 * A pool is used by one caller at a time. */
typedef struct tbml_pool tbml_pool_t;
typedef void (*tbml_pool_fn)(int ith, int nth, void *arg);

/* nthreads <= 0 means all online cores. */
TBML_NODISCARD tbml_status tbml_pool_create(int nthreads, tbml_pool_t **out);
void tbml_pool_free(tbml_pool_t *pool);
int tbml_pool_size(const tbml_pool_t *pool);
void tbml_pool_run(tbml_pool_t *pool, tbml_pool_fn fn, void *arg);
/* Online cores of this machine. */
int tbml_ncores(void);

/* Output files that are never left half-written: data goes to a temporary file in the same
 * folder (mode 0600), and commit fsyncs and renames it over path; abort (or free without
 * commit) removes it. path "-" writes to stdout directly. */
typedef struct tbml_outfile tbml_outfile_t;
TBML_NODISCARD tbml_status tbml_outfile_open(const char *path, tbml_outfile_t **out);
int tbml_outfile_fd(const tbml_outfile_t *f);
const char *tbml_outfile_path(const tbml_outfile_t *f);
/* Writes all of buf or fails with TBML_E_IO naming the path (a full disk included). */
TBML_NODISCARD tbml_status tbml_write_all(int fd, const void *buf, size_t size, const char *path);
/* Results not written are results lost: flushes stdout and, when that or an earlier write to it
 * failed (a full disk, a closed pipe), prints "PROG: stdout: write failed: CAUSE" on stderr and
 * turns rc 0 into 1. Returns the exit code; the tool and the examples end with it. */
int tbml_stdout_finish(const char *prog, int rc);
TBML_NODISCARD tbml_status tbml_outfile_write(tbml_outfile_t *f, const void *buf, size_t size);
/* fsync + rename + fsync of the folder; frees f whatever the outcome. */
TBML_NODISCARD tbml_status tbml_outfile_commit(tbml_outfile_t *f);
/* Like commit, but fails with TBML_E_ARG if path exists, atomically (link(2) instead of rename),
 * so a key file is never replaced even by one created while it was being written. */
TBML_NODISCARD tbml_status tbml_outfile_commit_new(tbml_outfile_t *f);
/* Removes the temporary file and frees f. NULL is fine. */
void tbml_outfile_abort(tbml_outfile_t *f);

/* One read(2) of at most size bytes into buf, retried on EINTR: *got is 0 only at end of file.
 * Fails with TBML_E_IO "PATH: read failed: ..." (*got untouched). */
TBML_NODISCARD tbml_status tbml_read_some(int fd, void *buf, size_t size, const char *path,
                                          size_t *got);
/* Reads all of fd into a new buffer (tbml_free it). Fails past max_size bytes. */
TBML_NODISCARD tbml_status tbml_read_all(int fd, const char *path, size_t max_size, uint8_t **out,
                                         size_t *out_size);
/* Opens path and reads all of it, as tbml_read_all. A missing file is TBML_E_NOTFOUND, any other
 * open failure TBML_E_IO; messages name the path. */
TBML_NODISCARD tbml_status tbml_read_file(const char *path, size_t max_size, uint8_t **out,
                                          size_t *out_size);
/* Writes size bytes of buf, then the string tail unless it is NULL, to path through an outfile:
 * path is replaced whole or left as it was. */
TBML_NODISCARD tbml_status tbml_write_file(const char *path, const void *buf, size_t size,
                                           const char *tail);
/* Fails with TBML_E_ARG "PATH: already exists; refusing to overwrite" if anything (a dangling
 * link included) is at path, so a command can refuse before it asks for a password. */
TBML_NODISCARD tbml_status tbml_refuse_existing(const char *path);

/* Monotonic clock in seconds. */
double tbml_now(void);

#ifdef __cplusplus
}
#endif
#endif

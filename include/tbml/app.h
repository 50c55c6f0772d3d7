/* The application side of `tbml submit` (docs/submit.md): a program built against libtbml calls
 * tbml_app_init first thing in main() to receive the settings submit parsed (--master, --name,
 * --conf, memory limits, log level) and a thread pool sized by --master. Run without submit, an
 * application gets the defaults (local[*], log level warn) and can still be used directly.
 *
 * The settings travel in an anonymous in-memory file (memfd) whose descriptor number submit puts
 * in the environment variable TBML_SUBMIT_FD: nothing lands on disk, in argv or in the
 * environment beyond that number, so --conf values stay out of `ps` and /proc/PID/environ, and
 * programs that do not call tbml_app_init see their arguments unchanged. */
#ifndef TBML_APP_H
#define TBML_APP_H

#include "tbml/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The environment variable holding the settings' descriptor number. */
#define TBML_APP_FD_ENV "TBML_SUBMIT_FD"
/* Ranks started by mpirun inherit no descriptors: `tbml submit --master mpi` puts the settings in
 * a private file (0600, removed after the job) and its path in this variable instead. */
#define TBML_APP_FILE_ENV "TBML_SUBMIT_FILE"

typedef struct {
    char *key;
    char *value;
} tbml_conf_entry;

typedef struct tbml_app {
    char *name;                   /* --name, or the program's base name */
    char *master;                 /* "local[4]", "local[*]", ... */
    int nthreads;                 /* worker threads from --master (local[*] = all online cores) */
    tbml_pool_t *pool;            /* nthreads threads (the caller is thread 0) */
    int verbose;                  /* --verbose */
    int64_t driver_memory_size;   /* bytes; 0 = not given */
    int64_t executor_memory_size; /* bytes; 0 = not given: operators may spill past this */
    int executor_cores;           /* --executor-cores; 0 = not given */
    int nconf;
    tbml_conf_entry *conf; /* --conf and properties-file entries, in order given */
} tbml_app_t;

/* Reads submit's settings from the descriptor named by TBML_SUBMIT_FD (then closes it and unsets
 * the variable, so child processes inherit neither), sets the log level, creates the pool.
 * argc and argv are taken for future use and left unchanged. Free with tbml_app_free. Fails on
 * an unreadable or malformed settings file (TBML_E_FORMAT naming the line) or a bad master
 * (TBML_E_ARG). */
TBML_NODISCARD tbml_status tbml_app_init(int *argc, char ***argv, tbml_app_t **out);
/* The value of a --conf key (exact match; the last one given wins), or NULL. */
const char *tbml_app_conf(const tbml_app_t *app, const char *key);
void tbml_app_free(tbml_app_t *app);

/* Parses a Spark master for local runs: "local" (1 thread), "local[N]", "local[*]" (all cores).
 * Other masters (spark://, yarn, k8s) are TBML_E_UNSUPPORTED with a message saying so. */
TBML_NODISCARD tbml_status tbml_master_parse(const char *master, int *nthreads);
/* Parses a JVM-style memory size: a number with an optional unit k, m, g, t (any case, with or
 * without a trailing b); no unit means MiB, as spark-submit reads --driver-memory. */
TBML_NODISCARD tbml_status tbml_memory_parse(const char *s, int64_t *size);

#ifdef __cplusplus
}
#endif
#endif

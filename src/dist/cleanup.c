/* Removal of the job's private files and folders at exit, failure included: atexit for normal
 * ends and exit(), handlers for the fatal signals (which then re-raise, so the exit status still
 * says what killed the process). The lists are fixed arrays so the handler needs no allocation
 * and only calls unlink and rmdir, which are async-signal-safe. SIGKILL cannot be caught: files
 * that must not outlive even that are opened unnamed (O_TMPFILE, see scratch.c). */
#include "dist_internal.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_PATHS 64
#define PATH_SIZE 512

static char g_paths[MAX_PATHS][PATH_SIZE];
static volatile sig_atomic_t g_is_dir[MAX_PATHS];
static volatile sig_atomic_t g_used[MAX_PATHS];
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static int g_installed;

static void remove_all(void)
{
    /* files first, then the folders that held them */
    for (int pass = 0; pass < 2; pass++)
        for (int i = MAX_PATHS - 1; i >= 0; i--)
            if (g_used[i] && g_is_dir[i] == pass) {
                if (pass)
                    rmdir(g_paths[i]);
                else
                    unlink(g_paths[i]);
                g_used[i] = 0;
            }
}

static void on_signal(int sig)
{
    remove_all();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void install(void)
{
    /* SIGXFSZ: a spill file past the file size limit (ulimit -f) kills by default */
    static const int sigs[] = {SIGINT,  SIGTERM, SIGHUP, SIGQUIT, SIGABRT,
                               SIGSEGV, SIGBUS,  SIGFPE, SIGPIPE, SIGXFSZ};
    atexit(remove_all);
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
        struct sigaction old;
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler != SIG_DFL)
            continue; /* the app's own */
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESETHAND;
        sigaction(sigs[i], &sa, NULL);
    }
}

tbml_status dist_cleanup_add(const char *path, int is_dir)
{
    if (strlen(path) >= PATH_SIZE)
        return tbml_error(TBML_E_ARG, "%s: path too long to clean up", path);
    tbml_status st = TBML_E_INTERNAL;
    pthread_mutex_lock(&g_mu);
    if (!g_installed) {
        install();
        g_installed = 1;
    }
    for (int i = 0; i < MAX_PATHS; i++) {
        if (!g_used[i]) {
            memcpy(g_paths[i], path, strlen(path) + 1);
            g_is_dir[i] = is_dir;
            g_used[i] = 1;
            st = TBML_OK;
            break;
        }
    }
    pthread_mutex_unlock(&g_mu);
    if (st) return tbml_error(st, "%s: too many private files to clean up at exit", path);
    return TBML_OK;
}

void dist_cleanup_remove(const char *path)
{
    pthread_mutex_lock(&g_mu);
    for (int i = 0; i < MAX_PATHS; i++) {
        if (g_used[i] && strcmp(g_paths[i], path) == 0) {
            if (g_is_dir[i])
                rmdir(path);
            else
                unlink(path);
            g_used[i] = 0;
        }
    }
    pthread_mutex_unlock(&g_mu);
}

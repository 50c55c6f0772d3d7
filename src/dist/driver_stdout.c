/* The driver's output without the launcher in between. mpirun forwards a rank's stdout through
 * its own I/O forwarding (a pseudo-terminal and a pipe per rank, copied by mpirun), about 0.1 s
 * for wordcount's 9 MB of results here. So `tbml submit` lends its own stdout to rank 0: it
 * listens on a socket in the job's private folder, rank 0 connects when it runs on this machine
 * and receives the descriptor itself (SCM_RIGHTS), and writes the results straight to where the
 * user sent them. Where rank 0 cannot connect (another machine, a TEE without the socket), it
 * keeps the forwarded stdout: the output is the same, only slower. */
#include "dist_internal.h"

#include "tbml/launch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int socket_address(const char *path, struct sockaddr_un *a)
{
    memset(a, 0, sizeof(*a));
    a->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(a->sun_path)) return -1;
    memcpy(a->sun_path, path, strlen(path) + 1);
    return 0;
}

/* One byte carrying one descriptor (SCM_RIGHTS). */
typedef struct {
    char byte;
    struct iovec iov;
    union {
        struct cmsghdr h;
        char space[CMSG_SPACE(sizeof(int))];
    } ctl;
    struct msghdr m;
} fd_message;

static void fd_message_init(fd_message *f)
{
    memset(f, 0, sizeof(*f));
    f->byte = 1;
    f->iov.iov_base = &f->byte;
    f->iov.iov_len = 1;
    f->m.msg_iov = &f->iov;
    f->m.msg_iovlen = 1;
    f->m.msg_control = f->ctl.space;
    f->m.msg_controllen = sizeof(f->ctl.space);
}

tbml_status tbml_launch_stdout_listen(const char *path, int *out_fd)
{
    struct sockaddr_un a;
    if (socket_address(path, &a))
        return tbml_error(TBML_E_ARG, "%s: path too long for a socket", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return tbml_error(TBML_E_IO, "socket: %s", strerror(errno));
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 4) != 0) {
        tbml_status st = tbml_error(TBML_E_IO, "%s: %s", path, strerror(errno));
        close(fd);
        return st;
    }
    *out_fd = fd;
    return TBML_OK;
}

int tbml_launch_stdout_serve(int listen_fd)
{
    int c = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (c < 0) /* nothing waiting yet, or a broken socket: stop serving it */
        return errno == EAGAIN || errno == EINTR || errno == ECONNABORTED ? 0 : 1;
    /* the folder is ours alone (0700); a peer of another user would be a bug, not a driver */
    struct ucred cred;
    socklen_t len = sizeof(cred);
    int lent = 0;
    if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.uid == geteuid()) {
        fflush(stdout);
        fd_message f;
        fd_message_init(&f);
        struct cmsghdr *h = CMSG_FIRSTHDR(&f.m);
        h->cmsg_level = SOL_SOCKET;
        h->cmsg_type = SCM_RIGHTS;
        h->cmsg_len = CMSG_LEN(sizeof(int));
        int out = STDOUT_FILENO;
        memcpy(CMSG_DATA(h), &out, sizeof(int));
        lent = sendmsg(c, &f.m, MSG_NOSIGNAL) == 1;
    }
    close(c);
    return lent;
}

void dist_driver_take_stdout(void)
{
    const char *path = getenv(TBML_DRIVER_STDOUT_ENV);
    struct sockaddr_un a;
    if (!path || !*path || socket_address(path, &a)) return;
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) return;
    /* the submitter answers at once, but a loaded machine may keep it a while; a submitter that
     * never answers must not hold the job */
    struct timeval tv = {10, 0};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(s, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(s);
        return;
    }
    fd_message f;
    fd_message_init(&f);
    ssize_t got = recvmsg(s, &f.m, MSG_CMSG_CLOEXEC);
    close(s);
    struct cmsghdr *h = got == 1 ? CMSG_FIRSTHDR(&f.m) : NULL;
    if (!h || h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS ||
        h->cmsg_len != CMSG_LEN(sizeof(int)))
        return;
    int fd;
    memcpy(&fd, CMSG_DATA(h), sizeof(int));
    fflush(stdout);
    if (dup2(fd, STDOUT_FILENO) < 0)
        tbml_log(TBML_LOG_DEBUG, "driver stdout: %s; keeping the forwarded one", strerror(errno));
    close(fd);
}

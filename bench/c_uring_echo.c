/* The io_uring floor of bench-scale: a plain single-threaded echo server on
 * liburing, written the way one would write it by hand from liburing's examples
 * (about 130 lines), so `sockit echo --backend io_uring` has a raw-syscall
 * reference on its own engine, as c_epoll_echo is for the readiness backends.
 * One multishot accept; per connection one 4 KiB buffer and one operation in
 * flight at a time: recv -> send what arrived (the remainder again after a short
 * send) -> recv. No provided-buffer ring and no multishot receive: the simplest
 * correct io_uring server, not the fastest possible one. Because a connection
 * never has two operations in flight, its fd is closed only when none is pending,
 * so the fd in user_data cannot reach a connection that reused the number.
 * Usage: c_uring_echo unix:PATH | tcp://HOST:PORT   (same as c_epoll_echo: port 0
 * allowed; prints "sockit: listening on ADDR" on stderr; SIGINT/SIGTERM stop it
 * and remove its Unix socket file). */
#include <arpa/inet.h>
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

enum { kBufferSize = 4096, kSqEntries = 8192, kCqEntries = 65536 };
enum op { OP_ACCEPT, OP_RECV, OP_SEND };

struct conn { char *buf; unsigned len, off; };  /* indexed by fd */
static struct conn *conns;
static size_t nconns;
static struct io_uring ring;
static volatile sig_atomic_t stop;
static void on_stop(int sig) { (void)sig; stop = 1; }

static void die(const char *what, int err) { fprintf(stderr, "%s: %s\n", what, strerror(err)); exit(1); }

/* Same parsing and output as c_epoll_echo's listen_on (each baseline is one file). */
static int listen_on(const char *arg, char *shown, size_t shown_size) {
  struct sockaddr_storage ss; socklen_t sl; int fd;
  memset(&ss, 0, sizeof ss);
  if (strncmp(arg, "unix:", 5) == 0) {
    struct sockaddr_un *un = (struct sockaddr_un *)&ss;
    un->sun_family = AF_UNIX;
    snprintf(un->sun_path, sizeof un->sun_path, "%s", arg + 5);
    unlink(un->sun_path);  /* a stale file from an earlier run */
    sl = sizeof *un;
    snprintf(shown, shown_size, "%s", arg);
  } else if (strncmp(arg, "tcp://", 6) == 0) {
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    char host[64]; const char *colon = strrchr(arg + 6, ':');
    if (!colon || (size_t)(colon - arg - 6) >= sizeof host) { fprintf(stderr, "bad address %s\n", arg); exit(2); }
    memcpy(host, arg + 6, (size_t)(colon - arg - 6)); host[colon - arg - 6] = 0;
    in->sin_family = AF_INET; in->sin_port = htons((unsigned short)atoi(colon + 1));
    if (inet_pton(AF_INET, host, &in->sin_addr) != 1) { fprintf(stderr, "bad IPv4 host %s\n", host); exit(2); }
    sl = sizeof *in;
  } else { fprintf(stderr, "usage: c_uring_echo unix:PATH | tcp://HOST:PORT\n"); exit(2); }
  fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket", errno);
  int one = 1;
  if (ss.ss_family == AF_INET) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, (struct sockaddr *)&ss, sl) < 0) die("bind", errno);
  if (listen(fd, 511) < 0) die("listen", errno);  /* c_epoll_echo's backlog */
  if (ss.ss_family == AF_INET) {
    struct sockaddr_in got; socklen_t gl = sizeof got; char ip[INET_ADDRSTRLEN];
    getsockname(fd, (struct sockaddr *)&got, &gl);
    inet_ntop(AF_INET, &got.sin_addr, ip, sizeof ip);
    snprintf(shown, shown_size, "tcp://%s:%u", ip, ntohs(got.sin_port));
  }
  return fd;
}

/* A full SQ is submitted to make room: one completion batch can need more entries
 * (8,192) than the SQ holds when many connections complete at once. */
static struct io_uring_sqe *get_sqe(enum op op, int fd) {
  struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
  if (!sqe) {
    int r = io_uring_submit(&ring);
    if (r < 0) die("io_uring_submit", -r);
    if (!(sqe = io_uring_get_sqe(&ring))) die("io_uring_get_sqe", EBUSY);
  }
  io_uring_sqe_set_data64(sqe, (uint64_t)op << 32 | (uint32_t)fd);
  return sqe;
}

static void arm_accept(int lfd) { io_uring_prep_multishot_accept(get_sqe(OP_ACCEPT, lfd), lfd, NULL, NULL, SOCK_CLOEXEC); }
static void arm_recv(int fd) { io_uring_prep_recv(get_sqe(OP_RECV, fd), fd, conns[fd].buf, kBufferSize, 0); }
static void arm_send(int fd) {
  struct conn *c = &conns[fd];
  io_uring_prep_send(get_sqe(OP_SEND, fd), fd, c->buf + c->off, c->len - c->off, MSG_NOSIGNAL);
}

static void drop(int fd) {  /* nothing of this connection is in flight here */
  close(fd);
  free(conns[fd].buf);
  memset(&conns[fd], 0, sizeof conns[fd]);
}

static void complete(int lfd, const struct io_uring_cqe *cqe) {
  enum op op = (enum op)(cqe->user_data >> 32);
  int fd = (int)(uint32_t)cqe->user_data, res = cqe->res;
  if (op == OP_ACCEPT) {
    if (!(cqe->flags & IORING_CQE_F_MORE)) arm_accept(lfd);  /* the kernel ended the multishot */
    if (res < 0) return;  /* ECONNABORTED, EMFILE: the next connection may do better */
    if ((size_t)res >= nconns || !(conns[res].buf = malloc(kBufferSize))) { close(res); return; }
    arm_recv(res);
  } else if (op == OP_RECV) {
    if (res <= 0) { drop(fd); return; }  /* end of stream or an error */
    conns[fd].len = (unsigned)res;
    conns[fd].off = 0;
    arm_send(fd);
  } else {
    if (res < 0) { drop(fd); return; }
    conns[fd].off += (unsigned)res;
    if (conns[fd].off < conns[fd].len) arm_send(fd); else arm_recv(fd);
  }
}

int main(int argc, char **argv) {
  char shown[160];
  struct rlimit rl;
  if (argc != 2) { fprintf(stderr, "usage: c_uring_echo unix:PATH | tcp://HOST:PORT\n"); return 2; }
  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa = {.sa_handler = on_stop};  /* no SA_RESTART: io_uring_enter returns EINTR */
  sigaction(SIGINT, &sa, NULL); sigaction(SIGTERM, &sa, NULL);
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) { rl.rlim_cur = rl.rlim_max; setrlimit(RLIMIT_NOFILE, &rl); }
  nconns = rl.rlim_cur;
  if (!(conns = calloc(nconns, sizeof *conns))) die("calloc", errno);
  /* CQ 65,536: one completion per connection at most, plus accepts, so it cannot
   * overflow below that many connections. SINGLE_ISSUER|DEFER_TASKRUN (6.1+) run
   * completions only when this thread waits; older kernels refuse them: plain ring. */
  struct io_uring_params p = {.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
                              .cq_entries = kCqEntries};
  int r = io_uring_queue_init_params(kSqEntries, &ring, &p);
  const char *mode = "single-issuer defer-taskrun";
  if (r == -EINVAL) {
    memset(&p, 0, sizeof p);
    p.flags = IORING_SETUP_CQSIZE;
    p.cq_entries = kCqEntries;
    r = io_uring_queue_init_params(kSqEntries, &ring, &p);
    mode = "plain";
  }
  if (r < 0) die("io_uring_queue_init_params", -r);
  int lfd = listen_on(argv[1], shown, sizeof shown);
  arm_accept(lfd);
  fprintf(stderr, "c_uring_echo: ring %s, sq %u, cq %u\n", mode, p.sq_entries, p.cq_entries);
  fprintf(stderr, "sockit: listening on %s\n", shown);
  while (!stop) {
    r = io_uring_submit_and_wait(&ring, 1);
    if (r < 0 && r != -EINTR) die("io_uring_submit_and_wait", -r);
    unsigned head, seen = 0;
    struct io_uring_cqe *cqe;
    io_uring_for_each_cqe(&ring, head, cqe) {
      complete(lfd, cqe);
      ++seen;
    }
    io_uring_cq_advance(&ring, seen);
  }
  if (strncmp(argv[1], "unix:", 5) == 0) unlink(argv[1] + 5);
  return 0;
}

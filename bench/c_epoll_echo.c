/* The baseline of bench-echo: a plain single-threaded echo server on level-triggered
 * epoll, written the way anyone would write one by hand (about 100 lines). It echoes
 * every byte back, keeps what a short write left over in a per-connection buffer
 * and stops reading that connection until the buffer is drained; no framing.
 * Usage: c_epoll_echo unix:PATH | tcp://HOST:PORT   (port 0 allowed; prints
 * "sockit: listening on ADDR" on stderr like `sockit echo`, so one driver reads both;
 * SIGINT/SIGTERM stop it and remove its Unix socket file). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

struct conn { char *pending; size_t len, cap; };  /* indexed by fd; idle = 24 bytes */
static struct conn *conns;
static size_t nconns;
static volatile sig_atomic_t stop;
static void on_stop(int sig) { (void)sig; stop = 1; }

static void die(const char *what) { perror(what); exit(1); }

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
  } else { fprintf(stderr, "usage: c_epoll_echo unix:PATH | tcp://HOST:PORT\n"); exit(2); }
  fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  int one = 1;
  if (ss.ss_family == AF_INET) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, (struct sockaddr *)&ss, sl) < 0) die("bind");
  if (listen(fd, 511) < 0) die("listen");
  if (ss.ss_family == AF_INET) {
    struct sockaddr_in got; socklen_t gl = sizeof got; char ip[INET_ADDRSTRLEN];
    getsockname(fd, (struct sockaddr *)&got, &gl);
    inet_ntop(AF_INET, &got.sin_addr, ip, sizeof ip);
    snprintf(shown, shown_size, "tcp://%s:%u", ip, ntohs(got.sin_port));
  }
  return fd;
}

static void set_events(int ep, int fd, unsigned events) {
  struct epoll_event ev = {.events = events, .data.fd = fd};
  if (epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev) < 0) die("epoll_ctl");
}

static void drop(int ep, int fd) {
  epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
  close(fd);
  free(conns[fd].pending);
  memset(&conns[fd], 0, sizeof conns[fd]);
}

/* Sends buf; whatever the kernel does not take is kept and EPOLLOUT replaces EPOLLIN. */
static void send_or_keep(int ep, int fd, const char *buf, size_t len) {
  struct conn *c = &conns[fd];
  ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
  if (n < 0 && errno != EAGAIN) { drop(ep, fd); return; }
  size_t left = len - (n < 0 ? 0 : (size_t)n);
  if (left == 0) return;
  if (c->cap < left) { c->pending = realloc(c->pending, left); c->cap = left; if (!c->pending) die("realloc"); }
  memmove(c->pending, buf + (len - left), left);
  c->len = left;
  set_events(ep, fd, EPOLLOUT);
}

int main(int argc, char **argv) {
  char shown[160]; static char buf[65536];
  struct epoll_event events[256];
  struct rlimit rl;
  if (argc != 2) { fprintf(stderr, "usage: c_epoll_echo unix:PATH | tcp://HOST:PORT\n"); return 2; }
  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa = {.sa_handler = on_stop};  /* no SA_RESTART: epoll_wait returns EINTR */
  sigaction(SIGINT, &sa, NULL); sigaction(SIGTERM, &sa, NULL);
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) { rl.rlim_cur = rl.rlim_max; setrlimit(RLIMIT_NOFILE, &rl); }
  nconns = rl.rlim_cur;
  if (!(conns = calloc(nconns, sizeof *conns))) die("calloc");
  int lfd = listen_on(argv[1], shown, sizeof shown);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event lev = {.events = EPOLLIN, .data.fd = lfd};
  if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev) < 0) die("epoll");
  fprintf(stderr, "sockit: listening on %s\n", shown);
  while (!stop) {
    int n = epoll_wait(ep, events, 256, -1);
    if (n < 0) { if (errno == EINTR) continue; die("epoll_wait"); }
    for (int i = 0; i < n; i++) {
      int fd = events[i].data.fd;
      if (fd == lfd) {
        int cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) continue;  /* EAGAIN, ECONNABORTED, EMFILE: try again next turn */
        struct epoll_event cev = {.events = EPOLLIN, .data.fd = cfd};
        if ((size_t)cfd >= nconns || epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &cev) < 0) close(cfd);
      } else if (conns[fd].len > 0) {  /* only EPOLLOUT is armed while output waits */
        struct conn *c = &conns[fd];
        ssize_t w = send(fd, c->pending, c->len, MSG_NOSIGNAL);
        if (w < 0) { if (errno != EAGAIN) drop(ep, fd); continue; }
        memmove(c->pending, c->pending + w, c->len - (size_t)w);
        c->len -= (size_t)w;
        if (c->len == 0) set_events(ep, fd, EPOLLIN);
      } else {
        ssize_t r = recv(fd, buf, sizeof buf, 0);
        if (r == 0 || (r < 0 && errno != EAGAIN)) drop(ep, fd);
        else if (r > 0) send_or_keep(ep, fd, buf, (size_t)r);
      }
    }
  }
  if (strncmp(argv[1], "unix:", 5) == 0) unlink(argv[1] + 5);
  return 0;
}

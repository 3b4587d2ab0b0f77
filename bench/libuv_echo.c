/* A peer of bench-echo: the echo server as the libuv guide writes it (Debian's
 * libuv1-dev), not tuned beyond it. Idioms followed, from the guide's "Networking"
 * and "Processes / Pipes" chapters (docs/code/tcp-echo-server/main.c and
 * docs/code/pipe-echo-server/main.c) and the uv_stream_t reference:
 *  - one loop (uv_default_loop()), uv_run(UV_RUN_DEFAULT) on the main thread;
 *  - uv_tcp_init + uv_tcp_bind, or uv_pipe_init + uv_pipe_bind for a Unix socket,
 *    then uv_listen(on_new_connection);
 *  - on_new_connection: malloc a uv_tcp_t / uv_pipe_t client, init it, uv_accept,
 *    uv_read_start(alloc_buffer, echo_read); uv_close(on_close -> free) on failure;
 *  - alloc_buffer: malloc(suggested_size) for every read (libuv suggests 64 KiB);
 *  - echo_read: nread > 0 -> a heap-allocated write_req_t { uv_write_t req; uv_buf_t
 *    buf; } that takes over the read buffer, uv_write(echo_write); nread < 0 (EOF or
 *    an error) -> uv_close; echo_write frees the request and its buffer;
 *  - uv_signal_t handlers for SIGINT/SIGTERM stop the loop.
 * Departures, harness only (not libuv tuning): listen backlog 511 like c_epoll_echo.c
 * instead of the guide's 128 (idle_rss connects in batches of 250); SIGPIPE ignored
 * (libuv writes with write(2), and a peer that closes must not kill the server);
 * RLIMIT_NOFILE raised to its hard limit (10,000 idle connections); the same
 * command line and "sockit: listening on ADDR" line as c_epoll_echo.c; the Unix
 * socket file removed before binding and on exit.
 * Usage: libuv_echo unix:PATH | tcp://HOST:PORT   (port 0 allowed) */
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <uv.h>

#define BACKLOG 511

static uv_loop_t *loop;
static int is_pipe;

typedef struct {
  uv_write_t req;
  uv_buf_t buf;
} write_req_t;

static void free_write_req(uv_write_t *req) {
  write_req_t *wr = (write_req_t *)req;
  free(wr->buf.base);
  free(wr);
}

static void alloc_buffer(uv_handle_t *handle, size_t suggested_size, uv_buf_t *buf) {
  (void)handle;
  buf->base = malloc(suggested_size);
  buf->len = buf->base ? suggested_size : 0;
}

static void on_close(uv_handle_t *handle) { free(handle); }

static void echo_write(uv_write_t *req, int status) {
  /* EPIPE/ECONNRESET/ECANCELED: the client left with echoes still queued (the end of
   * every load run); the guide prints every error, that would flood the log here. */
  if (status && status != UV_EPIPE && status != UV_ECONNRESET && status != UV_ECANCELED) fprintf(stderr, "Write error %s\n", uv_strerror(status));
  free_write_req(req);
}

static void echo_read(uv_stream_t *client, ssize_t nread, const uv_buf_t *buf) {
  if (nread > 0) {
    write_req_t *req = malloc(sizeof *req);
    if (!req) { perror("malloc"); exit(1); }
    req->buf = uv_buf_init(buf->base, (unsigned int)nread);
    uv_write(&req->req, client, &req->buf, 1, echo_write);
    return;
  }
  if (nread < 0) {
    if (nread != UV_EOF && nread != UV_ECONNRESET) fprintf(stderr, "Read error %s\n", uv_err_name((int)nread));
    uv_close((uv_handle_t *)client, on_close);
  }
  free(buf->base);
}

static void on_new_connection(uv_stream_t *server, int status) {
  if (status < 0) {
    fprintf(stderr, "New connection error %s\n", uv_strerror(status));
    return;
  }
  uv_stream_t *client;
  if (is_pipe) {
    uv_pipe_t *p = malloc(sizeof *p);
    if (!p) { perror("malloc"); exit(1); }
    uv_pipe_init(loop, p, 0);
    client = (uv_stream_t *)p;
  } else {
    uv_tcp_t *t = malloc(sizeof *t);
    if (!t) { perror("malloc"); exit(1); }
    uv_tcp_init(loop, t);
    client = (uv_stream_t *)t;
  }
  if (uv_accept(server, client) == 0)
    uv_read_start(client, alloc_buffer, echo_read);
  else
    uv_close((uv_handle_t *)client, on_close);
}

static void on_signal(uv_signal_t *handle, int signum) {
  (void)signum;
  uv_stop(handle->loop);
}

static void check(int r, const char *what) {
  if (r) { fprintf(stderr, "libuv_echo: %s: %s\n", what, uv_strerror(r)); exit(1); }
}

static _Noreturn void usage(void) {
  fprintf(stderr, "usage: libuv_echo unix:PATH | tcp://HOST:PORT\n");
  exit(2);
}

int main(int argc, char **argv) {
  static uv_pipe_t pipe_server;
  static uv_tcp_t tcp_server;
  static uv_signal_t sigint, sigterm;
  char shown[160];
  struct rlimit rl;
  uv_stream_t *server;
  if (argc != 2) usage();
  signal(SIGPIPE, SIG_IGN);
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) { rl.rlim_cur = rl.rlim_max; setrlimit(RLIMIT_NOFILE, &rl); }
  loop = uv_default_loop();

  if (strncmp(argv[1], "unix:", 5) == 0) {
    is_pipe = 1;
    unlink(argv[1] + 5);  /* a stale file from an earlier run */
    uv_pipe_init(loop, &pipe_server, 0);
    check(uv_pipe_bind(&pipe_server, argv[1] + 5), "bind");
    server = (uv_stream_t *)&pipe_server;
    snprintf(shown, sizeof shown, "%s", argv[1]);
  } else if (strncmp(argv[1], "tcp://", 6) == 0) {
    char host[64];
    struct sockaddr_in addr;
    const char *colon = strrchr(argv[1] + 6, ':');
    if (!colon || (size_t)(colon - argv[1] - 6) >= sizeof host) usage();
    memcpy(host, argv[1] + 6, (size_t)(colon - argv[1] - 6));
    host[colon - argv[1] - 6] = 0;
    check(uv_ip4_addr(host, atoi(colon + 1), &addr), "address");
    uv_tcp_init(loop, &tcp_server);
    check(uv_tcp_bind(&tcp_server, (const struct sockaddr *)&addr, 0), "bind");
    server = (uv_stream_t *)&tcp_server;
  } else {
    usage();
    return 2;
  }
  check(uv_listen(server, BACKLOG, on_new_connection), "listen");
  if (!is_pipe) {
    struct sockaddr_in got;
    int len = sizeof got;
    char ip[64];
    check(uv_tcp_getsockname(&tcp_server, (struct sockaddr *)&got, &len), "getsockname");
    uv_ip4_name(&got, ip, sizeof ip);
    snprintf(shown, sizeof shown, "tcp://%s:%d", ip, ntohs(got.sin_port));
  }
  uv_signal_init(loop, &sigint);
  uv_signal_start(&sigint, on_signal, SIGINT);
  uv_signal_init(loop, &sigterm);
  uv_signal_start(&sigterm, on_signal, SIGTERM);
  fprintf(stderr, "sockit: listening on %s\n", shown);

  uv_run(loop, UV_RUN_DEFAULT);
  if (is_pipe) unlink(argv[1] + 5);
  return 0;
}

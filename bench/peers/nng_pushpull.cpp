// nng_pushpull: nng's side of `make bench-peers` (peers_common.hpp has the
// arrangement and the checks). push0 dials, pull0 listens; ipc:// for Unix,
// tcp://127.0.0.1 for TCP.
// Settings: nng's defaults (nng 1.5 as Debian 12 ships it): the library's own
// thread pool, no send or receive buffer option set (NNG_OPT_SENDBUF and
// NNG_OPT_RECVBUF at their defaults), blocking nng_send/nng_recv with a caller
// buffer (the synchronous API nng's docs show first; nng copies into an nng_msg).
#include <nng/nng.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>

#include <future>
#include <thread>

#include "peers_common.hpp"

namespace {

constexpr const char* kSettings = "nng defaults: SENDBUF/RECVBUF unset, blocking nng_send/nng_recv";

void check(int rv, const char* what) {
  if (rv != 0) peers::fail(std::string(what) + ": " + nng_strerror(rv));
}

}  // namespace

int main(int argc, char** argv) {
  const peers::Args args = peers::parse_args(argc, argv, "nng_pushpull");
  const peers::TempDir dir;

  nng_socket pull;
  check(nng_pull0_open(&pull), "nng_pull0_open");
  const std::string url = args.transport == "unix" ? "ipc://" + dir.path() + "/nng.ipc" : "tcp://127.0.0.1:0";
  nng_listener listener;
  check(nng_listen(pull, url.c_str(), &listener, 0), "nng_listen");
  std::string dial_to = url;
  if (args.transport == "tcp") {  // port 0: ask which port the listener got
    nng_sockaddr sa;
    check(nng_listener_get_addr(listener, NNG_OPT_LOCADDR, &sa), "NNG_OPT_LOCADDR");
    dial_to = "tcp://127.0.0.1:" + std::to_string(ntohs(sa.s_in.sa_port));
  }
  check(nng_socket_set_ms(pull, NNG_OPT_RECVTIMEO, 10'000), "NNG_OPT_RECVTIMEO");  // a stall fails the run

  std::promise<void> received_all;
  std::uint64_t sent = 0;
  std::thread sender([&, done = received_all.get_future()] {
    nng_socket push;
    check(nng_push0_open(&push), "nng_push0_open");
    check(nng_socket_set_ms(push, NNG_OPT_SENDTIMEO, 10'000), "NNG_OPT_SENDTIMEO");
    check(nng_dial(push, dial_to.c_str(), nullptr, 0), "nng_dial");
    sent = peers::send_for(args.seconds, [&](std::span<const std::byte> m) {
      check(nng_send(push, const_cast<std::byte*>(m.data()), m.size(), 0), "nng_send");
    });
    done.wait();  // nng_close drops what is still queued: close once everything arrived
    nng_close(push);
  });

  peers::Checker checker;
  for (;;) {
    std::byte b[peers::kMessageSize + 1];  // one byte more, so a longer message shows
    size_t n = sizeof b;
    check(nng_recv(pull, b, &n, 0), "nng_recv");
    if (checker.accept(std::span<const std::byte>(b, n))) break;
  }
  received_all.set_value();
  sender.join();
  nng_close(pull);
  return peers::report("nng", args, kSettings, checker, sent);
}

#include "keep_server.hpp"

#include <fmt/core.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <optional>
#include <vector>

#include "channel.hpp"
#include "connection_note.hpp"
#include "errors.hpp"
#include "exec_session.hpp"
#include "log.hpp"
#include "signals.hpp"

namespace sockit::cli {
namespace {

// One client: relayed with stdio (Session) or served by a command (ExecSession).
struct Client {
  unsigned id = 0;
  std::optional<Session> relay;
  std::optional<ExecSession> exec;
  bool ended = false;

  [[nodiscard]] int fd() const { return relay ? relay->fd() : exec->fd(); }
  [[nodiscard]] short poll_events() const { return relay ? relay->poll_events() : exec->poll_events(); }
  [[nodiscard]] Deadline deadline() const { return relay ? relay->deadline() : exec->deadline(); }
  [[nodiscard]] Step advance() { return relay ? relay->advance() : exec->advance(); }
  [[nodiscard]] Step on_ready(short revents) { return relay ? relay->on_socket(revents) : exec->on_ready(revents); }
};

class KeepServer {
 public:
  KeepServer(Listener& listener, const KeepOptions& options, std::string_view address_text)
      : listener_(listener),
        options_(options),
        address_(address_text),
        from_stdin_(send_chunk_size(listener.transport())) {}

  int run() {
    for (;;) {
      for (auto& client : clients_) {
        if (auto end = client->advance()) finish(*client, *end);
      }
      if (stdout_closed_) return stop("stdout closed");
      std::erase_if(clients_, [](const auto& c) { return c->ended; });

      // The poll set: listener, signal, stdin (maybe), then one entry per client.
      std::vector<pollfd> fds = {{listener_.native_handle(), POLLIN, 0}, {options_.signal_fd, POLLIN, 0}};
      const bool read_stdin = wants_stdin();
      fds.push_back({read_stdin ? 0 : -1, POLLIN, 0});  // poll skips a negative fd
      constexpr std::size_t kFirstClient = 3;
      Deadline next = Deadline::never();
      for (const auto& client : clients_) {
        fds.push_back({client->fd(), client->poll_events(), 0});
        next = earliest(next, client->deadline());
      }
      if (::poll(fds.data(), fds.size(), next.poll_timeout_ms()) < 0) {
        if (errno == EINTR) continue;
        print_error("listen", address_, "poll", std::error_code(errno, std::system_category()));
        terminate_all();
        return kExitFailure;
      }
      if (fds[1].revents != 0) {
        take_signal(options_.signal_fd);
        return stop("stopped by a signal");
      }
      // Clients first, by index: accepting appends to clients_, which is fine after.
      const std::size_t polled = clients_.size();
      for (std::size_t i = 0; i < polled; ++i) {
        if (fds[kFirstClient + i].revents == 0 || clients_[i]->ended) continue;
        if (auto end = clients_[i]->on_ready(fds[kFirstClient + i].revents)) finish(*clients_[i], *end);
      }
      if (read_stdin && fds[2].revents != 0) {
        if (int status = broadcast_stdin(fds[2].revents); status != kExitOk) return status;
      }
      if (fds[0].revents != 0) accept_one();
    }
  }

 private:
  [[nodiscard]] bool wants_stdin() const {
    if (!options_.exec.empty() || !stdin_.open) return false;
    bool any = false;
    for (const auto& client : clients_) {
      if (!client->relay || client->ended) continue;
      if (client->relay->above_high_water()) return false;
      any = any || client->relay->takes_input();
    }
    return any;
  }

  int broadcast_stdin(short revents) {
    auto n = read_input(stdin_, revents, from_stdin_);
    if (!n) {
      print_error("listen", address_, "read stdin", n.error());
      terminate_all();
      return kExitFailure;
    }
    for (auto& client : clients_) {
      if (client->ended || !client->relay || !client->relay->takes_input()) continue;
      if (auto end = client->relay->push(std::span(from_stdin_).first(*n))) finish(*client, *end);
    }
    return kExitOk;
  }

  void accept_one() {
    auto channel = accept_channel(listener_, try_once(), false);
    if (!channel) {
      if (!would_block(channel.error())) print_error("listen", address_, "accept", channel.error());
      return;  // would_block: the connection went away before accept
    }
    const unsigned id = next_id_++;
    const std::string from = verbose() ? describe_peer(*channel) : std::string();
    if (clients_.size() >= options_.max_connections) {
      ++refused_;
      note("connection #{} from {} refused: {} already open (--max-conns)", id, from, clients_.size());
      return;  // closed here, as the channel goes out of scope
    }
    note("connection #{} from {}", id, from);
    auto client = std::make_unique<Client>();
    client->id = id;
    if (options_.exec.empty()) {
      client->relay.emplace(std::move(*channel), stdin_, options_.session, fmt::format("#{}", id));
    } else {
      auto exec = ExecSession::start(std::move(*channel), options_.exec, options_.session.quit_after);
      if (!exec) {
        print_error("listen", address_, fmt::format("connection #{}: --exec", id), exec.error());
        return;
      }
      client->exec.emplace(std::move(*exec));
    }
    clients_.push_back(std::move(client));
  }

  void finish(Client& client, const PumpResult& end) {
    client.ended = true;
    if (!end) {
      print_error("listen", address_, fmt::format("connection #{}: {}", client.id, end.error().detail),
                  end.error().ec);
      return;
    }
    switch (*end) {
      case PumpEnd::stdout_closed:
        stdout_closed_ = true;
        break;
      case PumpEnd::idle_timeout:
        note("connection #{} closed: idle for longer than --idle-timeout", client.id);
        break;
      case PumpEnd::quit_after:
        note("connection #{} closed: --quit-after passed", client.id);
        break;
      default:
        note("connection #{} closed", client.id);
    }
  }

  void terminate_all() {
    std::vector<ExecChild*> children;
    for (auto& client : clients_) {
      if (client->exec) children.push_back(&client->exec->child());
    }
    if (!children.empty()) terminate_children(children, kChildGrace);
  }

  int stop(std::string_view why) {
    terminate_all();
    note("{}: {} connections served, {} refused over --max-conns", why, next_id_ - 1 - refused_, refused_);
    return kExitOk;
  }

  Listener& listener_;
  const KeepOptions& options_;
  std::string_view address_;
  StdinState stdin_;
  std::vector<std::byte> from_stdin_;
  std::vector<std::unique_ptr<Client>> clients_;
  unsigned next_id_ = 1;
  std::uint64_t refused_ = 0;
  bool stdout_closed_ = false;
};

}  // namespace

int serve_keep(Listener& listener, const KeepOptions& options, std::string_view address_text) {
  return KeepServer(listener, options, address_text).run();
}

}  // namespace sockit::cli

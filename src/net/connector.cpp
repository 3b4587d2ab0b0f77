#include "sockit/net/connector.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <span>

#include "sys/error.hpp"
#include "sys/syscalls.hpp"

namespace sockit::net {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::nanoseconds;
using namespace std::chrono_literals;

// A retry is only worth making with at least this long (or attempt_timeout, if
// shorter) before the total deadline.
constexpr nanoseconds kShortestAttempt = 20ms;

// Errors a later attempt can cure. Everything else (EINVAL, EACCES, EAFNOSUPPORT,
// a path that is not a socket, ...) would fail the same way every time.
bool worth_retrying(const std::error_code& ec) {
  if (ec == errc::timed_out) return true;
  if (ec.category() == std::system_category() && ec.value() == EHOSTDOWN) return true;
  static constexpr std::array kRetry = {
      std::errc::connection_refused,
      std::errc::timed_out,
      std::errc::host_unreachable,
      std::errc::network_unreachable,
      std::errc::network_down,
      std::errc::connection_reset,
      std::errc::connection_aborted,
      std::errc::resource_unavailable_try_again,  // Unix backlog full
      std::errc::no_such_file_or_directory,       // the Unix socket file is not there yet
      std::errc::address_not_available,           // ephemeral ports exhausted
      std::errc::no_buffer_space,
      std::errc::not_enough_memory,
      std::errc::too_many_files_open,
      std::errc::too_many_files_open_in_system,
  };
  return std::ranges::any_of(kRetry, [&](std::errc e) { return ec == e; });
}

}  // namespace

Result<std::unique_ptr<Connector>> Connector::create(event::EventLoop& loop, const Address& address,
                                                     ConnectorOptions options) {
  if (address.is_datagram()) return fail(errc::wrong_transport);
  auto endpoints = address.resolve();
  if (!endpoints) return fail(endpoints.error());
  if (endpoints->empty()) return fail(errc::name_not_resolved);
  return std::unique_ptr<Connector>(new Connector(loop, address, std::move(*endpoints), std::move(options)));
}

Connector::Connector(event::EventLoop& loop, Address address, std::vector<Endpoint> endpoints,
                     ConnectorOptions options)
    : loop_(loop),
      address_(std::move(address)),
      endpoints_(std::move(endpoints)),
      options_(std::move(options)) {
  // Seeded per connector from the OS: connectors started together must not draw
  // the same delays, which is the whole point of the jitter.
  std::random_device device;
  random_.seed((std::uint64_t{device()} << 32) | device());
}

Connector::~Connector() {
  io_.reset();  // cancels the attempt's operations before its descriptor closes
}

void Connector::start(DoneFn done) {
  if (state_ != State::idle) return;
  done_ = std::move(done);
  started_at_ = Clock::now();
  deadline_ = started_at_ + options_.total_timeout;
  state_ = State::backing_off;
  // The first attempt can fail at once; running it from the loop keeps the promise
  // that `done` never runs inside start().
  retry_timer_ = loop_.run_after(nanoseconds::zero(), [this] { begin_attempt(); });
}

// --- one attempt -------------------------------------------------------------------------

void Connector::begin_attempt() {
  state_ = State::connecting;
  ++stats_.attempts;
  const Endpoint& endpoint = endpoints_[(stats_.attempts - 1) % endpoints_.size()];
  const auto left = deadline_ - Clock::now();
  if (left <= nanoseconds::zero()) return attempt_failed(make_error_code(errc::timed_out));
  auto fd = sys::socket(endpoint.family(), address_.socket_type() | SOCK_NONBLOCK);
  if (!fd) return attempt_failed(fd.error());
  fd_ = std::move(*fd);
  auto io = loop_.watch(fd_.get());
  if (!io) return attempt_failed(io.error());
  io_ = std::move(*io);
  attempt_timer_ = loop_.run_after(std::min<nanoseconds>(options_.attempt_timeout, left),
                                   [this] { attempt_failed(make_error_code(errc::timed_out)); });
  if (endpoint.family() == AF_UNIX) {
    // A Unix connect completes or fails at once (EAGAIN: the backlog is full); that
    // is a retry decision for this class, with its backoff, not a wait for an engine.
    if (auto c = sys::connect(fd_.get(), endpoint); !c) return attempt_failed(c.error());
    return on_connected();
  }
  if (auto s = start_tcp(endpoint); !s) attempt_failed(s.error());
}

Status Connector::start_tcp(const Endpoint& endpoint) {
  const int fd = fd_.get();
  if (options_.no_delay) {
    if (auto s = sys::set_option(fd, IPPROTO_TCP, TCP_NODELAY, 1); !s) return s;
  }
  const std::string& data = options_.fast_open_data;
  if (options_.fast_open && data.empty()) {
    // Best effort: a kernel without client Fast Open refuses it; connect normally.
    (void)sys::set_option(fd, IPPROTO_TCP, TCP_FASTOPEN_CONNECT, 1);
  }
  if (options_.fast_open && !data.empty()) {
    auto sent = sys::send_to(fd, data.data(), data.size(), MSG_FASTOPEN, &endpoint);
    if (sent || sent.error() == std::errc::operation_in_progress || sys::is_would_block(sent.error())) {
      fast_open_sent_ = sent ? *sent : 0;  // in the SYN, if the kernel had a cookie
      wait_connected();
      return {};
    }
    if (sent.error() != std::errc::operation_not_supported) return fail(sent.error());
    // Client Fast Open is off (net.ipv4.tcp_fastopen): a plain connect, data after.
  }
  io_.connect(endpoint, [this](Status s) {
    if (!s) return attempt_failed(s.error());
    on_connected();
  });
  return {};
}

// After a MSG_FASTOPEN sendto the handshake is under way; writability ends it and
// SO_ERROR says how (the same test a plain non-blocking connect uses).
void Connector::wait_connected() {
  io_.wait_writable([this](Status) {
    auto err = sys::get_option<int>(fd_.get(), SOL_SOCKET, SO_ERROR);
    if (!err) return attempt_failed(err.error());
    if (*err != 0) return attempt_failed(sys::error_from_errno(*err));
    on_connected();
  });
}

void Connector::on_connected() {
  if (fast_open_sent_ < options_.fast_open_data.size()) return send_initial_data();
  attempt_timer_.cancel();
  io_.reset();  // the new owner registers the descriptor itself
  finish(std::move(fd_));
}

// What did not ride the SYN; the attempt's deadline covers it too.
void Connector::send_initial_data() {
  const std::string& data = options_.fast_open_data;
  const std::array<std::span<const std::byte>, 1> rest{
      std::as_bytes(std::span(data.data(), data.size())).subspan(fast_open_sent_)};
  io_.send(rest, [this](Result<std::size_t> sent) {
    if (!sent) return attempt_failed(sent.error());
    fast_open_sent_ += *sent;
    on_connected();
  });
}

void Connector::end_attempt() {
  attempt_timer_.cancel();
  io_.reset();
  fd_.reset();
  fast_open_sent_ = 0;
}

// --- retrying --------------------------------------------------------------------------

void Connector::attempt_failed(std::error_code ec) {
  end_attempt();
  stats_.last_error = ec;
  if (!worth_retrying(ec)) return finish(fail(ec));
  if (options_.max_attempts != 0 && stats_.attempts >= options_.max_attempts) return finish(fail(ec));
  const nanoseconds delay = next_backoff();
  // Waiting only to make an attempt the deadline cuts off at once would tell the
  // caller nothing new, and would replace a telling error (refused) with timed_out.
  const nanoseconds shortest = std::min<nanoseconds>(options_.attempt_timeout, kShortestAttempt);
  if (Clock::now() + delay + shortest > deadline_) return finish(fail(ec));
  stats_.total_backoff += delay;
  state_ = State::backing_off;
  retry_timer_ = loop_.run_after(delay, [this] { begin_attempt(); });
  if (on_retry_) on_retry_(stats_.attempts, ec, delay);  // last: it may destroy us
}

nanoseconds Connector::next_backoff() {
  const double initial = std::chrono::duration<double, std::nano>(options_.initial_backoff).count();
  const double cap = std::chrono::duration<double, std::nano>(options_.max_backoff).count();
  const double grown = initial * std::pow(std::max(options_.backoff_multiplier, 1.0), stats_.attempts - 1);
  const auto backoff = nanoseconds(static_cast<std::int64_t>(std::min(grown, cap)));
  if (!options_.jitter || backoff <= nanoseconds::zero()) return std::max(backoff, nanoseconds::zero());
  std::uniform_int_distribution<std::int64_t> pick(0, backoff.count());
  return nanoseconds(pick(random_));
}

void Connector::finish(Result<Fd> result) {
  state_ = State::finished;
  finished_at_ = Clock::now();
  end_attempt();
  retry_timer_.cancel();
  if (!result) stats_.last_error = result.error();
  DoneFn fn = std::move(done_);
  if (fn) fn(std::move(result));  // may destroy *this: nothing after this line
}

std::string Connector::failure_context() const {
  const auto end = state_ == State::finished ? finished_at_ : Clock::now();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(end - started_at_).count();
  std::string text = "connect to " + address_.to_string() + " failed after " +
                     std::to_string(stats_.attempts) + (stats_.attempts == 1 ? " attempt" : " attempts") +
                     " in " + std::to_string(ms) + " ms";
  if (stats_.last_error) text += ": " + stats_.last_error.message();
  return text;
}

Result<std::shared_ptr<Connection>> make_connection(event::EventLoop& loop, Result<Fd> fd,
                                                    ConnectionOptions options) {
  if (!fd) return fail(fd.error());
  return Connection::create(loop, std::move(*fd), options);
}

}  // namespace sockit::net

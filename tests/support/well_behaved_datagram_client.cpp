#include "support/well_behaved_datagram_client.hpp"

#include <algorithm>
#include <cstring>
#include <random>
#include <set>
#include <vector>

#include "sockit/datagram_socket.hpp"
#include "support/bytes.hpp"

namespace sockit::test {

using Clock = std::chrono::steady_clock;

WellBehavedDatagramClient::WellBehavedDatagramClient(const Address& server, WellBehavedDatagramOptions options)
    : options_(options) {
  result().resends = 0;
  start([this, server] { run_round_trips(server); });
}

WellBehavedDatagramClient::~WellBehavedDatagramClient() { (void)finish(); }

void WellBehavedDatagramClient::run_round_trips(const Address& server) {
  WellBehavedResult& result = this->result();
  auto socket = DatagramSocket::connect(server);
  if (!socket) {
    result.error = "connect: " + socket.error().message();
    return;
  }
  std::mt19937_64 rng(options_.seed);
  std::uniform_int_distribution<std::size_t> size(1, kMaxRequest - sizeof(std::uint64_t));
  std::vector<std::byte> back(64 * 1024 + 1);  // any datagram the server could send, whole
  std::set<std::uint64_t> resent;  // requests sent more than once: a second reply may come
  for (int i = 0; keep_going(i, options_.max_round_trips); ++i) {
    const auto seq = static_cast<std::uint64_t>(i);
    auto request = random_bytes(sizeof seq + size(rng), rng());
    std::memcpy(request.data(), &seq, sizeof seq);
    const auto began = Clock::now();
    const auto until = began + options_.deadline;
    const std::string which = "round trip " + std::to_string(i) + ": ";
    const auto fail = [&](const std::string& what) {
      result.error = which + what;
      result.bytes_lost += request.size();
    };
    if (auto sent = socket->send(request, Deadline::at(until)); !sent) {
      return fail("send: " + sent.error().message());
    }
    auto next_resend = options_.resend_after.count() > 0 ? began + options_.resend_after : until;
    for (bool answered = false; !answered;) {
      auto got = socket->recv(back, Deadline::at(std::min(next_resend, until)));
      if (!got && got.error() == errc::timed_out) {
        if (Clock::now() >= until) return fail("no reply in " + std::to_string(options_.deadline.count()) + " ms");
        if (auto sent = socket->send(request, Deadline::at(until)); !sent) {
          return fail("resend: " + sent.error().message());
        }
        resent.insert(seq);
        ++*result.resends;
        next_resend = Clock::now() + options_.resend_after;
        continue;
      }
      if (!got) return fail("receive: " + got.error().message());
      std::uint64_t reply_seq = ~0ull;
      if (*got >= sizeof reply_seq) std::memcpy(&reply_seq, back.data(), sizeof reply_seq);
      if (reply_seq < seq && resent.contains(reply_seq)) continue;  // a late second reply
      if (reply_seq != seq) return fail("a reply to no request in flight (" + std::to_string(*got) + " bytes)");
      if (*got != request.size() || !std::equal(request.begin(), request.end(), back.begin())) {
        return fail("the echo differs");
      }
      answered = true;
    }
    result.slowest = std::max(result.slowest, std::chrono::duration_cast<std::chrono::microseconds>(
                                                  Clock::now() - began));
    result.bytes_verified += request.size();
    ++result.round_trips;
    counted();
    std::this_thread::sleep_for(options_.pause);
  }
}

}  // namespace sockit::test

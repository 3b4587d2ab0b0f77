// WellBehavedDatagramClient: the well-behaved client of the battery's datagram
// cases (support/well_behaved_client.hpp is the stream one; the thread, progress
// and finish() are theirs in common).
//
// On one connected datagram socket (UDP, or Unix datagram auto-bound to a fresh
// abstract name), on a thread of its own, it sends numbered requests — an 8-byte
// sequence number and seeded random bytes, 9..2048 bytes in all — one at a time,
// each with a deadline, and checks that the reply is the request, byte for byte.
//
// Loss: loopback loses a datagram only where a receive queue is full, and the
// kernel, not the server, drops it there (the server never sees it). So by
// default (resend_after 0) a request unanswered by its deadline is a failure:
// right for a server under a load it keeps up with. Under a flood the server's
// receive queue overflows in the kernel, the good client's requests among the
// flood's, and a UDP client's answer to that is to ask again: with resend_after
// set, a request unanswered for that long is sent again (counted in resends) until
// the deadline; a late reply to a request sent twice is then expected and skipped.
// Whatever the setting, a reply that differs from its request, or answers a
// request never sent (or one answered already and not resent), is a failure.
//
// Written on sockit's blocking DatagramSocket (no EventLoop), so the loop under
// test cannot hide its own bug in the client.
#pragma once

#include <chrono>
#include <cstdint>

#include "sockit/address.hpp"
#include "support/well_behaved_client.hpp"

namespace sockit::test {

struct WellBehavedDatagramOptions {
  std::chrono::milliseconds deadline{3000};     // each round trip's, resends included
  std::chrono::milliseconds resend_after{0};    // 0: never resend; a lost request fails
  std::chrono::milliseconds pause{2};           // between round trips: a client, not a load
  int max_round_trips = 20000;
  std::uint64_t seed = 42;
};

class WellBehavedDatagramClient : public RoundTripClient {
 public:
  WellBehavedDatagramClient(const Address& server, WellBehavedDatagramOptions options = {});
  ~WellBehavedDatagramClient();  // finish() if not yet done

  // The largest request it sends: a server must echo at least this much.
  static constexpr std::size_t kMaxRequest = 2048;

 private:
  void run_round_trips(const Address& server);

  WellBehavedDatagramOptions options_;
};

}  // namespace sockit::test

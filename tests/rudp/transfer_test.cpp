// Reliable UDP end to end over the simulated network (tests/support/
// rudp_network.hpp), in simulated time: at 0, 1, 5, 10 and 20% loss, with
// reordering, duplication and jitter, messages of random sizes from 1 byte to
// 1 MiB go both ways and arrive complete, exactly once, in order on the ordered
// channels; both sides then close gracefully and nothing is lost on the way out.
// Also: unreliable-sequenced drops late messages and never delivers one twice
// or out of order.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <random>
#include <vector>

#include "support/rudp_network.hpp"

namespace sockit::rudp {
namespace {

using namespace std::chrono_literals;
using test::RudpPair;
using test::SimFaults;

using Bytes = std::vector<std::byte>;

// Sizes from 1 byte to 1 MiB, mostly small (as real traffic is), until `budget`
// bytes: the total stays a few MiB so that each case runs in well under a second.
std::vector<Bytes> make_messages(std::uint64_t seed, std::size_t budget) {
  std::mt19937_64 rng(seed);
  std::vector<Bytes> out;
  std::size_t total = 0;
  while (total < budget) {
    const unsigned kind = rng() % 100;
    std::size_t size = kind < 80 ? 1 + rng() % 2000 : kind < 95 ? 2000 + rng() % 64000 : 64000 + rng() % (1 << 20);
    size = std::min<std::size_t>(size, 1 << 20);
    Bytes m(size);
    for (auto& b : m) b = static_cast<std::byte>(rng());
    total += size;
    out.push_back(std::move(m));
  }
  return out;
}

EndpointConfig three_channel_config() {
  EndpointConfig c;
  c.connection.channels = {DeliveryMode::reliable_ordered, DeliveryMode::reliable_ordered,
                           DeliveryMode::reliable_unordered};
  return c;
}

// What one side sent and received, per channel.
struct Traffic {
  std::map<int, std::vector<Bytes>> sent;
  std::map<int, std::vector<Bytes>> received;
};

void send_all(ConnectionCore& c, const std::vector<Bytes>& messages, Traffic& t) {
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const int channel = static_cast<int>(i % 3);
    ASSERT_TRUE(c.send(messages[i], static_cast<std::uint8_t>(channel)).has_value());
    t.sent[channel].push_back(messages[i]);
  }
}

void drain(ConnectionCore* c, Traffic& t) {
  if (c == nullptr) return;
  while (auto m = c->receive()) t.received[m->channel].push_back(std::move(m->data));
}

void expect_delivered(const Traffic& from, const Traffic& to) {
  for (int channel : {0, 1}) {  // ordered: the same messages in the same order
    const auto& sent = from.sent.at(channel);
    const auto& got = to.received.count(channel) ? to.received.at(channel) : std::vector<Bytes>{};
    ASSERT_EQ(got.size(), sent.size()) << "channel " << channel;
    for (std::size_t i = 0; i < sent.size(); ++i) ASSERT_TRUE(got[i] == sent[i]) << "channel " << channel << " #" << i;
  }
  // unordered: the same messages, each once
  auto sent = from.sent.at(2);
  auto got = to.received.count(2) ? to.received.at(2) : std::vector<Bytes>{};
  std::sort(sent.begin(), sent.end());
  std::sort(got.begin(), got.end());
  EXPECT_TRUE(got == sent) << "unordered channel: " << got.size() << " received of " << sent.size();
}

class RudpTransfer : public ::testing::TestWithParam<int> {};

TEST_P(RudpTransfer, MessagesArriveCompleteOnceInOrderAndCloseFlushesEverything) {
  const int loss_percent = GetParam();
  SimFaults faults;
  faults.loss = loss_percent / 100.0;
  faults.duplicate = 0.02;
  faults.reorder = 0.05;
  faults.delay = 10ms;
  faults.jitter = 4ms;
  const std::uint64_t seed = 1000 + static_cast<std::uint64_t>(loss_percent);
  RudpPair pair(three_channel_config(), three_channel_config(), faults, seed);
  ASSERT_TRUE(pair.handshake());

  Traffic client, server;
  const auto upstream = make_messages(seed, 3u << 20);
  const auto downstream = make_messages(seed + 7, 1u << 20);
  send_all(*pair.client_connection, upstream, client);
  send_all(*pair.server_connection, downstream, server);
  // Close at once, with everything still queued: the close must flush it.
  pair.client_connection->close(pair.net->now());

  const bool done = pair.net->run_until(
      [&] {
        pair.take_events();
        drain(pair.client_connection, client);
        drain(pair.server_connection, server);
        return pair.client_closed.has_value() && pair.server_closed.has_value();
      },
      600s);
  ASSERT_FALSE(pair.net->livelocked());
  ASSERT_TRUE(done) << "not closed after 600 simulated seconds";
  drain(pair.client_connection, client);
  drain(pair.server_connection, server);

  EXPECT_EQ(*pair.client_closed, std::error_code{}) << pair.client_closed->message();
  EXPECT_EQ(*pair.server_closed, make_error_code(errc::end_of_stream)) << pair.server_closed->message();
  expect_delivered(client, server);
  expect_delivered(server, client);

  const ConnectionStats up = pair.client_connection->stats();
  const ConnectionStats down = pair.server_connection->stats();
  EXPECT_EQ(down.messages_delivered, upstream.size());
  EXPECT_EQ(up.messages_delivered, downstream.size());
  EXPECT_GE(up.min_rtt, 20ms);  // two 10 ms hops
  EXPECT_LT(up.min_rtt, 60ms);
  if (loss_percent > 0) {
    EXPECT_GT(up.packets_lost, 0u);
    EXPECT_GT(up.packets_retransmitted, 0u);
  }
  EXPECT_GT(down.duplicate_packets + up.duplicate_packets, 0u);  // 2% duplication happened and was caught
  EXPECT_EQ(pair.client->stats().reassembly_bytes, 0u);
  EXPECT_EQ(pair.server->stats().reassembly_bytes, 0u);
  EXPECT_EQ(pair.client->stats().malformed_packets + pair.server->stats().malformed_packets, 0u);
}

INSTANTIATE_TEST_SUITE_P(Loss, RudpTransfer, ::testing::Values(0, 1, 5, 10, 20),
                         [](const ::testing::TestParamInfo<int>& p) { return "loss" + std::to_string(p.param) + "pct"; });

TEST(RudpDelivery, ACleanPathLosesNothingAndMeasuresItsRoundTripInMicroseconds) {
  SimFaults faults;
  faults.delay = 10ms;  // no jitter, no reordering: nothing may look lost
  RudpPair pair(three_channel_config(), three_channel_config(), faults, 21);
  ASSERT_TRUE(pair.handshake());
  Traffic client, server;
  send_all(*pair.client_connection, make_messages(21, 1u << 20), client);
  ASSERT_TRUE(pair.net->run_until(
      [&] {
        drain(pair.server_connection, server);
        return pair.server_connection->stats().messages_delivered == pair.client_connection->stats().messages_sent &&
               pair.client_connection->stats().bytes_in_flight == 0;
      },
      60s));
  expect_delivered(client, server);
  const ConnectionStats s = pair.client_connection->stats();
  EXPECT_EQ(s.packets_lost, 0u);
  EXPECT_EQ(s.spurious_retransmits, 0u);
  EXPECT_EQ(s.packets_retransmitted, 0u);
  // 20 ms exactly on the wire; what the ACK delay adds is subtracted as reported.
  EXPECT_GE(s.min_rtt, 20ms);
  EXPECT_LE(s.min_rtt, 20ms + 100us);
  EXPECT_GE(s.srtt, 20ms);
  EXPECT_LE(s.srtt, 26ms);
  EXPECT_GT(s.cwnd, 12000u);  // slow start grew it from the initial 10 datagrams
}

TEST(RudpDelivery, UnreliableSequencedDropsLateMessagesAndNeverRepeats) {
  EndpointConfig config;
  config.connection.channels = {DeliveryMode::unreliable_sequenced, DeliveryMode::unreliable};
  SimFaults faults;
  faults.loss = 0.05;
  faults.reorder = 0.2;
  faults.duplicate = 0.1;
  RudpPair pair(config, config, faults, 77);
  ASSERT_TRUE(pair.handshake());

  // 600-byte messages: one per packet, so packet reordering reorders messages.
  constexpr std::uint32_t kCount = 300;
  for (std::uint32_t i = 0; i < kCount; ++i) {
    Bytes m(600, std::byte{0});
    for (int b = 0; b < 4; ++b) m[b] = static_cast<std::byte>(i >> (8 * b));
    ASSERT_TRUE(pair.client_connection->send(m, 0).has_value());
    ASSERT_TRUE(pair.client_connection->send(m, 1).has_value());
    pair.net->run_for(10ms);  // 100 per second each: within what the path carries
  }
  std::map<int, std::vector<std::uint32_t>> ids;
  const auto take = [&] {
    while (auto m = pair.server_connection->receive()) {
      std::uint32_t id = 0;
      for (int b = 0; b < 4; ++b) id |= std::to_integer<std::uint32_t>(m->data[b]) << (8 * b);
      ids[m->channel].push_back(id);
    }
  };
  pair.net->run_for(5s, take);
  take();
  ASSERT_FALSE(pair.net->livelocked());
  const auto& seq = ids[0];
  ASSERT_FALSE(seq.empty());
  EXPECT_TRUE(std::is_sorted(seq.begin(), seq.end()));
  EXPECT_EQ(std::adjacent_find(seq.begin(), seq.end()), seq.end()) << "a message delivered twice";
  EXPECT_LT(seq.size(), kCount);  // losses and late ones are gone
  EXPECT_GT(pair.server_connection->stats().late_fragments_dropped, 0u);

  auto plain = ids[1];  // unreliable: any order, each at most once
  std::sort(plain.begin(), plain.end());
  EXPECT_EQ(std::adjacent_find(plain.begin(), plain.end()), plain.end()) << "a message delivered twice";
  EXPECT_LT(plain.size(), kCount);
  EXPECT_GT(plain.size(), kCount / 2);
}

}  // namespace
}  // namespace sockit::rudp

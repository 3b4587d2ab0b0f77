// The reliable-UDP packet parser and the state machine behind it, fed arbitrary
// datagrams. Two stages per input:
//  1. the codec alone: decode_header, then decode_hello / decode_challenge / the
//     FrameReader. Checked: every decoded span lies inside the input; ACK
//     ranges descend and never wrap; a decoded frame re-encodes to the same
//     bytes (so decode accepts exactly what encode writes).
//  2. the whole receive path: a fresh client/server pair completes a handshake,
//     then the input is delivered to the server (as-is, and with its
//     destination id patched to the live connection's so it reaches the frame
//     handling), followed by timers and transmits. Checked: nothing crashes or
//     trips a sanitizer, and the reassembly accounting stays within its bound.
// Input: the datagram itself.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "rudp/packet.hpp"
#include "sockit/rudp/endpoint_core.hpp"

namespace {

using namespace sockit::rudp;

void check(bool condition) {
  if (!condition) std::abort();
}

bool inside(std::span<const std::byte> part, std::span<const std::byte> whole) {
  return part.empty() || (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

void check_codec(std::span<const std::byte> input) {
  auto header = wire::decode_header(input);
  if (!header) return;
  const auto body = input.subspan(wire::kHeaderSize);
  if (header->type == wire::PacketType::hello) {
    (void)wire::decode_hello(body);
    return;
  }
  if (header->type == wire::PacketType::challenge) {
    check(wire::decode_challenge(body).has_value());  // the header already checked its size
    return;
  }
  wire::FrameReader reader(body);
  wire::Frame f;
  std::vector<std::byte> again(2048);
  while (reader.next(f)) {
    sockit::rudp::ByteWriter w(again);
    switch (f.type) {
      case wire::FrameType::ack: {
        check(inside(f.ack_more_ranges, body));
        std::vector<wire::AckRange> ranges;
        wire::for_each_ack_range(f, [&](wire::AckRange r) {
          check(r.smallest <= r.largest);
          if (!ranges.empty()) check(r.largest + 1 < ranges.back().smallest);
          ranges.push_back(r);
        });
        wire::encode_ack(ranges, f.ack_delay, w);
        break;
      }
      case wire::FrameType::fragment:
        check(inside(f.payload, body));
        check(std::uint64_t{f.offset} + f.payload.size() <= f.total);
        wire::encode_fragment(f.mode, f.channel, f.message_id, f.offset, f.total, f.payload, w);
        break;
      case wire::FrameType::ping: wire::encode_ping(w); break;
      case wire::FrameType::max_data: wire::encode_max_data(f.max_data, w); break;
      case wire::FrameType::accept:
        wire::encode_accept(f.accept_server_id, f.accept_max_message, f.accept_window, f.accept_max_ack_delay_ms, w);
        break;
      case wire::FrameType::close: wire::encode_close(f.close_code, w); break;
    }
    check(!w.failed());
    // Re-decoding the re-encoding gives one frame that encodes the same again.
    wire::FrameReader round(std::span<const std::byte>(again).first(w.size()));
    wire::Frame g;
    check(round.next(g));
    check(g.type == f.type);
    check(!round.next(g) && !round.malformed());
  }
}

struct Pair {
  std::unique_ptr<EndpointCore> client, server;
  ConnectionCore* server_connection = nullptr;
  PeerAddress client_address, server_address;
  Instant now{std::chrono::seconds(100)};
  std::vector<std::byte> buffer = std::vector<std::byte>(65536);

  Pair() {
    EndpointConfig c;
    c.connection.channels = {DeliveryMode::reliable_ordered, DeliveryMode::reliable_unordered,
                             DeliveryMode::unreliable_sequenced, DeliveryMode::unreliable};
    c.max_reassembly_bytes = 1u << 20;
    client = std::move(*EndpointCore::create(c));
    c.accept = true;
    server = std::move(*EndpointCore::create(c));
    const std::byte a[] = {std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4}};
    const std::byte b[] = {std::byte{5}, std::byte{6}, std::byte{7}, std::byte{8}};
    client_address = *PeerAddress::from(a);
    server_address = *PeerAddress::from(b);
    (void)client->connect(server_address, now);
    for (int round = 0; round < 8 && server_connection == nullptr; ++round) {
      exchange();
      while (auto e = server->poll_event()) {
        if (e->kind == EndpointEvent::Kind::accepted) server_connection = e->connection;
      }
    }
  }

  void exchange() {
    while (auto t = client->poll_transmit(now, buffer)) {
      server->on_datagram(client_address, std::span(buffer).first(t->size), now);
    }
    while (auto t = server->poll_transmit(now, buffer)) {
      client->on_datagram(server_address, std::span(buffer).first(t->size), now);
    }
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> input(reinterpret_cast<const std::byte*>(data), size);
  check_codec(input);

  Pair pair;
  check(pair.server_connection != nullptr);
  pair.server->on_datagram(pair.client_address, input, pair.now);
  if (size >= wire::kHeaderSize) {
    std::vector<std::byte> routed(input.begin(), input.end());
    const std::uint64_t id = pair.server_connection->id();
    for (int i = 0; i < 8; ++i) routed[1 + i] = static_cast<std::byte>(id >> (56 - 8 * i));
    pair.server->on_datagram(pair.client_address, routed, pair.now);
  }
  for (int i = 0; i < 3; ++i) {
    pair.now += std::chrono::milliseconds(50);
    pair.server->on_timer(pair.now);
    pair.client->on_timer(pair.now);
    pair.exchange();
  }
  check(pair.server->stats().reassembly_bytes <= (1u << 20));
  return 0;
}

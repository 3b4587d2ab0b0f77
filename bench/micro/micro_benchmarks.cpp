// Google Benchmark micro-benchmarks (issue 12) for the pieces every message or
// connection passes through: the framing codecs, Buffer, address parsing, timers
// and the shared-memory ring. `make bench-micro` runs them; they are never run by
// the tests (a speed is measured, not asserted). Each benchmark checks its result
// once, so a broken codec cannot report a rate.
#include <benchmark/benchmark.h>

#include <array>
#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include "sockit/event/event_loop.hpp"
#include "sockit/net/buffer.hpp"
#include "sockit/net/framing.hpp"
#include "sockit/shm_ring.hpp"
#include "sockit/socket_pair.hpp"
#include "sockit/sockit.hpp"

namespace {

using namespace std::chrono_literals;
using sockit::net::Buffer;
using sockit::net::Framing;

void require(bool ok, const char* what, benchmark::State& state) {
  if (!ok) state.SkipWithError(what);
}

std::vector<std::byte> payload(std::size_t size) { return std::vector<std::byte>(size, std::byte{'x'}); }

// Encode then decode one message per iteration, through one reused buffer.
void framing_round_trip(benchmark::State& state, const Framing& framing) {
  const auto message = payload(static_cast<std::size_t>(state.range(0)));
  Buffer wire;
  for (auto _ : state) {
    wire.clear();
    if (!sockit::net::encode(framing, message, wire)) return require(false, "encode failed", state);
    auto frame = sockit::net::decode(framing, wire.readable());
    if (!frame || !*frame || (*frame)->payload.size() != message.size()) return require(false, "decode failed", state);
    benchmark::DoNotOptimize((*frame)->payload.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
void BM_LengthPrefixRoundTrip(benchmark::State& state) { framing_round_trip(state, Framing::length_prefix()); }
void BM_LineRoundTrip(benchmark::State& state) { framing_round_trip(state, Framing::line()); }
BENCHMARK(BM_LengthPrefixRoundTrip)->Arg(64)->Arg(1024)->Arg(64 * 1024);
BENCHMARK(BM_LineRoundTrip)->Arg(64)->Arg(1024)->Arg(64 * 1024);

// Many small frames arriving in one chunk: the decoder's per-frame cost.
void BM_LengthPrefixDecodeBatch(benchmark::State& state) {
  const Framing framing = Framing::length_prefix();
  Buffer wire;
  const auto message = payload(64);
  for (int i = 0; i < 256; ++i) (void)sockit::net::encode(framing, message, wire);
  for (auto _ : state) {
    auto input = wire.readable();
    int frames = 0;
    while (auto frame = sockit::net::decode(framing, input)) {
      if (!*frame) break;
      input = input.subspan((*frame)->consumed);
      ++frames;
    }
    if (frames != 256) return require(false, "decoded the wrong number of frames", state);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * 256);
}
BENCHMARK(BM_LengthPrefixDecodeBatch);

void BM_BufferAppendConsume(benchmark::State& state) {
  const auto chunk = payload(static_cast<std::size_t>(state.range(0)));
  Buffer buffer;
  for (auto _ : state) {
    buffer.append(chunk);
    buffer.consume(chunk.size());
  }
  require(buffer.empty(), "buffer not empty", state);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_BufferAppendConsume)->Arg(64)->Arg(4096);

void BM_AddressParse(benchmark::State& state, const char* text) {
  for (auto _ : state) {
    auto address = sockit::Address::parse(text);
    if (!address) return require(false, "parse failed", state);
    benchmark::DoNotOptimize(address);
  }
}
BENCHMARK_CAPTURE(BM_AddressParse, tcp_v4, "tcp://127.0.0.1:8080");
BENCHMARK_CAPTURE(BM_AddressParse, tcp_v6, "tcp://[::1]:8080");
BENCHMARK_CAPTURE(BM_AddressParse, unix_path, "unix:/run/sockit/app.sock");
BENCHMARK_CAPTURE(BM_AddressParse, unix_abstract, "unix:@sockit-app");

// Arming and cancelling a timer (the idle-timeout pattern), no turn of the loop.
void BM_TimerArmCancel(benchmark::State& state) {
  auto loop = sockit::event::EventLoop::create({.backend = "epoll"});
  if (!loop) return require(false, "no loop", state);
  for (auto _ : state) {
    sockit::event::TimerHandle timer = (*loop)->run_after(1s, [] {});
    timer.cancel();
  }
}
BENCHMARK(BM_TimerArmCancel);

// One message into the ring and out again on the same thread: the ring's own
// cost (copies and the shared indices), without a second process or a wake-up.
void BM_ShmRingSendReceive(benchmark::State& state) {
  auto sockets = sockit::stream_socket_pair();
  if (!sockets) return require(false, "socketpair", state);
  auto creator = sockit::ShmRing::create(std::move(sockets->first), {.capacity = 1 << 16});
  auto joiner = sockit::ShmRing::join(std::move(sockets->second));
  if (!creator || !joiner) return require(false, "ring set-up", state);
  const auto message = payload(static_cast<std::size_t>(state.range(0)));
  std::vector<std::byte> out(message.size());
  for (auto _ : state) {
    if (!creator->send(message, 1s)) return require(false, "send", state);
    auto n = joiner->receive(out, 1s);
    if (!n || *n != message.size()) return require(false, "receive", state);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_ShmRingSendReceive)->Arg(64)->Arg(1024)->Arg(16 * 1024);

}  // namespace

BENCHMARK_MAIN();

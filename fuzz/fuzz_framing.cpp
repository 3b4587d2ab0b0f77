// The length-prefix and line decoders (net::decode) fed arbitrary bytes in
// arbitrary chunkings, as a connection meets them: the stream is cut into chunks
// of sizes the input chooses, each chunk is appended to what is buffered, and
// complete frames are taken out after every chunk. Checked:
//  - the frames (and a frame_too_large error, and where it happens) are exactly
//    those of decoding the whole stream at once: chunking never changes meaning;
//  - every frame lies inside its input, consumes at least its payload, and obeys
//    the framing (length prefix: payload == declared length <= max_frame; line:
//    no delimiter inside, payload <= max_frame);
//  - encode() then decode() gives the payload back, and encode refuses what a
//    peer would have to reject.
// Input: [kind][max_frame byte][n chunk sizes...][0][stream bytes].
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <span>
#include <vector>

#include "sockit/net/buffer.hpp"
#include "sockit/net/framing.hpp"

namespace {

using sockit::net::Framing;

void check(bool condition) {
  if (!condition) std::abort();
}

struct Decoded {
  std::vector<std::vector<std::byte>> frames;
  bool too_large = false;  // the stream ended in errc::frame_too_large
};

// Takes every complete frame out of `input`; returns the bytes consumed.
std::size_t take_frames(const Framing& framing, std::span<const std::byte> input, Decoded& out) {
  std::size_t consumed = 0;
  while (!out.too_large) {
    auto frame = sockit::net::decode(framing, input.subspan(consumed));
    if (!frame) {
      check(frame.error() == sockit::make_error_code(sockit::errc::frame_too_large));
      out.too_large = true;
      break;
    }
    if (!frame->has_value()) break;
    const sockit::net::Frame& f = **frame;
    const std::span<const std::byte> rest = input.subspan(consumed);
    check(f.consumed > 0 && f.consumed <= rest.size());
    check(f.payload.data() >= rest.data() && f.payload.data() + f.payload.size() <= rest.data() + f.consumed);
    check(f.payload.size() <= framing.max_frame);
    if (framing.kind == Framing::Kind::length_prefix) check(f.consumed == f.payload.size() + 4);
    if (framing.kind == Framing::Kind::line) {
      check(f.consumed == f.payload.size() + 1);
      for (std::byte b : f.payload) check(b != framing.delimiter);
      check(rest[f.consumed - 1] == framing.delimiter);
    }
    out.frames.emplace_back(f.payload.begin(), f.payload.end());
    consumed += f.consumed;
  }
  return consumed;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  Framing framing = (data[0] % 2 == 0) ? Framing::length_prefix(data[1] + 1u) : Framing::line(data[1] + 1u, '\n');
  data += 2;
  size -= 2;
  std::vector<std::size_t> chunk_sizes;
  while (size > 0 && data[0] != 0 && chunk_sizes.size() < 64) {
    chunk_sizes.push_back(data[0]);
    ++data;
    --size;
  }
  if (size > 0) {  // the terminating 0
    ++data;
    --size;
  }
  const std::span<const std::byte> stream(reinterpret_cast<const std::byte*>(data), size);

  Decoded whole;
  const std::size_t whole_consumed = take_frames(framing, stream, whole);

  Decoded chunked;
  sockit::net::Buffer buffered;
  std::size_t offset = 0;
  std::size_t next_chunk = 0;
  while (offset < stream.size() && !chunked.too_large) {
    std::size_t n = chunk_sizes.empty() ? stream.size() : chunk_sizes[next_chunk++ % chunk_sizes.size()];
    n = std::min(n, stream.size() - offset);
    buffered.append(stream.subspan(offset, n));
    offset += n;
    buffered.consume(take_frames(framing, buffered.readable(), chunked));
  }
  check(chunked.frames == whole.frames);
  check(chunked.too_large == whole.too_large);
  if (!whole.too_large) check(buffered.size() == stream.size() - whole_consumed);

  // encode -> decode gives the payload back (the stream's bytes as a payload).
  sockit::net::Buffer encoded;
  std::span<const std::byte> payload = stream;
  if (framing.kind == Framing::Kind::line) {
    // A line payload cannot hold the delimiter: take the part before the first.
    for (std::size_t i = 0; i < payload.size(); ++i) {
      if (payload[i] == framing.delimiter) {
        payload = payload.first(i);
        break;
      }
    }
  }
  auto status = sockit::net::encode(framing, payload, encoded);
  if (payload.size() > framing.max_frame) {
    if (framing.kind == Framing::Kind::length_prefix) check(!status);
    return 0;
  }
  check(status.has_value());
  auto frame = sockit::net::decode(framing, encoded.readable());
  check(frame && frame->has_value());
  check((*frame)->consumed == encoded.size());
  check(std::vector<std::byte>((*frame)->payload.begin(), (*frame)->payload.end()) ==
        std::vector<std::byte>(payload.begin(), payload.end()));
  return 0;
}

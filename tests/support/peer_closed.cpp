#include "support/peer_closed.hpp"

#include <system_error>

namespace sockit::test {

::testing::AssertionResult closed_by_peer(const Result<std::size_t>& read) {
  if (read) {
    if (*read == 0) return ::testing::AssertionSuccess() << "end of stream";
    return ::testing::AssertionFailure() << "the peer is still sending: read " << *read << " bytes";
  }
  const std::error_code& e = read.error();
  if (e == std::errc::connection_reset || e == std::errc::broken_pipe || e == std::errc::connection_aborted) {
    return ::testing::AssertionSuccess() << "reset: " << e.message();
  }
  return ::testing::AssertionFailure() << "not closed: " << e.message();
}

}  // namespace sockit::test

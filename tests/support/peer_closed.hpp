// Asserting that the other side closed a connection, from the result of a read
// with a deadline: end of stream (0 bytes) or a reset both mean "closed"; a
// timeout means the peer never closed, and bytes mean it is still talking.
// Neither may pass as a close: `!r || *r == 0` would let a hang count as success.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>

#include "sockit/result.hpp"

namespace sockit::test {

::testing::AssertionResult closed_by_peer(const Result<std::size_t>& read);

}  // namespace sockit::test

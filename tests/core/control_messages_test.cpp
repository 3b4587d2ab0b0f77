// The control-message reader behind recv_fds, on buffers the kernel would never
// write: what a cmsg_len claims is trusted only as far as the buffer reaches.
#include "core/control_messages.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <cstring>
#include <vector>

namespace sockit::detail {
namespace {

// A control buffer of exactly `size` bytes holding one SOL_SOCKET cmsg of `type`
// whose cmsg_len claims `claimed_payload` bytes, with `ints` written after it.
std::vector<unsigned char> control_buffer(std::size_t size, int type, std::size_t claimed_payload,
                                          const std::vector<int>& ints) {
  std::vector<unsigned char> bytes(size);
  cmsghdr header{};
  header.cmsg_len = CMSG_LEN(claimed_payload);
  header.cmsg_level = SOL_SOCKET;
  header.cmsg_type = type;
  std::memcpy(bytes.data(), &header, sizeof header);
  std::memcpy(bytes.data() + CMSG_LEN(0), ints.data(), ints.size() * sizeof(int));
  return bytes;
}

ControlContents read(std::vector<unsigned char>& bytes) {
  msghdr message{};
  message.msg_control = bytes.data();
  message.msg_controllen = bytes.size();
  ControlContents contents;
  read_control_messages(message, contents);
  return contents;
}

TEST(ControlMessages, ReadsTheDescriptorsOfAWellFormedRightsMessage) {
  auto bytes = control_buffer(CMSG_SPACE(3 * sizeof(int)), SCM_RIGHTS, 3 * sizeof(int), {7, 8, 9});
  EXPECT_EQ(read(bytes).fds, (std::vector<int>{7, 8, 9}));
}

// The old reader took the count from cmsg_len alone and read past the buffer.
TEST(ControlMessages, ACmsgLenLongerThanTheBufferIsReadOnlyAsFarAsTheBufferGoes) {
  auto bytes = control_buffer(CMSG_LEN(2 * sizeof(int)), SCM_RIGHTS, 1000 * sizeof(int), {7, 8});
  EXPECT_EQ(read(bytes).fds, (std::vector<int>{7, 8}));
}

TEST(ControlMessages, CredentialsShorterThanAUcredAreIgnored) {
  auto bytes = control_buffer(CMSG_SPACE(sizeof(int)), SCM_CREDENTIALS, sizeof(int), {42});
  EXPECT_FALSE(read(bytes).credentials.has_value());
}

TEST(ControlMessages, AHeaderShorterThanItselfEndsTheWalk) {
  auto bytes = control_buffer(CMSG_SPACE(sizeof(int)), SCM_RIGHTS, 0, {5});
  cmsghdr header{};
  std::memcpy(&header, bytes.data(), sizeof header);
  header.cmsg_len = 1;  // less than a cmsghdr
  std::memcpy(bytes.data(), &header, sizeof header);
  EXPECT_TRUE(read(bytes).fds.empty());
}

}  // namespace
}  // namespace sockit::detail

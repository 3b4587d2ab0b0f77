// The sock_diag reply parser on crafted buffers: well-formed replies give the
// right values, and every malformed one (lengths that lie, short attributes, a
// foreign sequence number) is errc::malformed_reply, never a read out of bounds
// (the asan preset runs these too).
#include <gtest/gtest.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "diag/diag_parse.hpp"

namespace sockit::diag::detail {
namespace {

constexpr std::uint32_t kSeq = 7;

// Builds netlink datagrams byte by byte, padding as the kernel does.
class Reply {
 public:
  // Starts a message of `type`; its length is fixed up by end_message().
  Reply& begin_message(std::uint16_t type, std::uint32_t seq = kSeq) {
    start_ = bytes_.size();
    nlmsghdr header{};
    header.nlmsg_type = type;
    header.nlmsg_seq = seq;
    append(&header, sizeof header);
    return *this;
  }
  template <typename T>
  Reply& body(const T& value) {
    append(&value, sizeof value);
    pad();
    return *this;
  }
  Reply& attribute(std::uint16_t type, const void* data, std::size_t size) {
    rtattr attribute{};
    attribute.rta_len = static_cast<unsigned short>(RTA_LENGTH(size));
    attribute.rta_type = type;
    append(&attribute, sizeof attribute);
    append(data, size);
    pad();
    return *this;
  }
  Reply& end_message() {
    const auto length = static_cast<std::uint32_t>(bytes_.size() - start_);
    std::memcpy(bytes_.data() + start_ + offsetof(nlmsghdr, nlmsg_len), &length, sizeof length);
    return *this;
  }
  Reply& done() { return begin_message(NLMSG_DONE).body(0).end_message(); }

  std::vector<std::byte>& bytes() { return bytes_; }
  [[nodiscard]] std::span<const std::byte> span() const { return bytes_; }

 private:
  void append(const void* data, std::size_t size) {
    const auto* p = static_cast<const std::byte*>(data);
    bytes_.insert(bytes_.end(), p, p + size);
  }
  void pad() {
    while (bytes_.size() % NLMSG_ALIGNTO != 0) bytes_.push_back(std::byte{0});
  }
  std::vector<std::byte> bytes_;
  std::size_t start_ = 0;
};

unix_diag_msg unix_message(std::uint8_t type, std::uint8_t state, std::uint32_t inode) {
  unix_diag_msg message{};
  message.udiag_family = AF_UNIX;
  message.udiag_type = type;
  message.udiag_state = state;
  message.udiag_ino = inode;
  return message;
}

Reply unix_listener(const std::string& name) {
  Reply reply;
  const unix_diag_rqlen lengths{3, 5};
  const std::uint32_t pending[3] = {101, 102, 103};
  reply.begin_message(SOCK_DIAG_BY_FAMILY)
      .body(unix_message(SOCK_STREAM, 10 /* TCP_LISTEN */, 42))
      .attribute(UNIX_DIAG_NAME, name.data(), name.size())
      .attribute(UNIX_DIAG_RQLEN, &lengths, sizeof lengths)
      .attribute(UNIX_DIAG_ICONS, pending, sizeof pending)
      .end_message();
  return reply;
}

Result<DumpStep> parse_unix(std::span<const std::byte> bytes, std::vector<UnixSocketInfo>& out) {
  return parse_unix_reply(bytes, kSeq, out);
}

void expect_malformed(const Result<DumpStep>& step) {
  ASSERT_FALSE(step);
  EXPECT_EQ(step.error(), make_error_code(errc::malformed_reply)) << step.error().message();
}

TEST(DiagParse, UnixListenerGivesNameQueuesAndPendingConnections) {
  Reply reply = unix_listener(std::string("/tmp/a.sock\0", 12));
  reply.done();
  std::vector<UnixSocketInfo> sockets;
  auto step = parse_unix(reply.span(), sockets);
  ASSERT_TRUE(step) << step.error().message();
  EXPECT_EQ(*step, DumpStep::done);
  ASSERT_EQ(sockets.size(), 1U);
  const UnixSocketInfo& s = sockets[0];
  EXPECT_EQ(s.name, "/tmp/a.sock");  // the terminating NUL is not part of the path
  EXPECT_EQ(s.display_name(), "/tmp/a.sock");
  EXPECT_EQ(s.type, SOCK_STREAM);
  EXPECT_EQ(s.state, SocketState::listen);
  EXPECT_EQ(s.inode, 42U);
  EXPECT_TRUE(s.has_queue_lengths);
  EXPECT_EQ(s.rqueue, 3U);
  EXPECT_EQ(s.wqueue, 5U);
  EXPECT_EQ(s.pending_inodes, (std::vector<std::uint64_t>{101, 102, 103}));
}

TEST(DiagParse, AbstractNameKeepsEveryByte) {
  const std::string name("\0odd\0name\"\\", 11);
  Reply reply = unix_listener(name);
  std::vector<UnixSocketInfo> sockets;
  auto step = parse_unix(reply.span(), sockets);
  ASSERT_TRUE(step);
  EXPECT_EQ(*step, DumpStep::more);  // no NLMSG_DONE in this datagram
  ASSERT_EQ(sockets.size(), 1U);
  EXPECT_TRUE(sockets[0].is_abstract());
  EXPECT_EQ(sockets[0].name, name);
  EXPECT_EQ(sockets[0].display_name(), std::string("@odd\0name\"\\", 11));
}

TEST(DiagParse, ConnectedUnixSocketHasItsPeer) {
  Reply reply;
  const std::uint32_t peer = 77;
  reply.begin_message(SOCK_DIAG_BY_FAMILY)
      .body(unix_message(SOCK_SEQPACKET, 1, 9))
      .attribute(UNIX_DIAG_PEER, &peer, sizeof peer)
      .attribute(99, "future", 6)  // an attribute newer than us is skipped
      .end_message();
  std::vector<UnixSocketInfo> sockets;
  ASSERT_TRUE(parse_unix(reply.span(), sockets));
  ASSERT_EQ(sockets.size(), 1U);
  EXPECT_EQ(sockets[0].peer_inode, 77U);
  EXPECT_EQ(sockets[0].state, SocketState::established);
  EXPECT_TRUE(sockets[0].name.empty());
  EXPECT_FALSE(sockets[0].has_queue_lengths);
}

TEST(DiagParse, NetlinkErrorBecomesTheSystemError) {
  Reply reply;
  nlmsgerr error{};
  error.error = -EPERM;
  reply.begin_message(NLMSG_ERROR).body(error).end_message();
  std::vector<UnixSocketInfo> sockets;
  auto step = parse_unix(reply.span(), sockets);
  ASSERT_FALSE(step);
  EXPECT_EQ(step.error(), std::errc::operation_not_permitted);
}

TEST(DiagParse, EveryTruncationOfAMessageIsMalformed) {
  Reply reply = unix_listener("/tmp/b.sock");
  const auto full = reply.span();
  for (std::size_t size = 1; size < full.size(); ++size) {
    std::vector<UnixSocketInfo> sockets;
    SCOPED_TRACE(size);
    expect_malformed(parse_unix(full.first(size), sockets));
    EXPECT_TRUE(sockets.empty());
  }
  // The same cuts with nlmsg_len telling the truth, so the cut lands inside the
  // body or an attribute: short of the body is malformed; a cut at an attribute
  // boundary is a socket with fewer attributes; anywhere else is malformed.
  std::size_t parsed = 0;
  for (std::size_t size = NLMSG_HDRLEN; size < full.size(); ++size) {
    std::vector<std::byte> cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(size));
    const auto length = static_cast<std::uint32_t>(size);
    std::memcpy(cut.data(), &length, sizeof length);
    std::vector<UnixSocketInfo> sockets;
    SCOPED_TRACE(size);
    auto step = parse_unix(cut, sockets);
    if (size < NLMSG_HDRLEN + sizeof(unix_diag_msg)) {
      expect_malformed(step);
    } else if (step) {
      ++parsed;
      ASSERT_EQ(sockets.size(), 1U);
      EXPECT_EQ(sockets[0].inode, 42U);
    }
  }
  // Cut after the body, after the queue lengths, and after the 11-byte name both
  // with and without its padding (a last attribute need not be padded).
  EXPECT_EQ(parsed, 4U);
}

TEST(DiagParse, LengthsThatLieAreMalformed) {
  std::vector<UnixSocketInfo> sockets;
  {
    Reply reply = unix_listener("/x");
    const std::uint32_t too_long = static_cast<std::uint32_t>(reply.bytes().size() + 4);
    std::memcpy(reply.bytes().data(), &too_long, sizeof too_long);
    expect_malformed(parse_unix(reply.span(), sockets));
  }
  {
    Reply reply = unix_listener("/x");
    const std::uint32_t shorter_than_header = 8;
    std::memcpy(reply.bytes().data(), &shorter_than_header, sizeof shorter_than_header);
    expect_malformed(parse_unix(reply.span(), sockets));
  }
  {
    // The first attribute (the name) claims more bytes than the message holds.
    Reply reply = unix_listener("/x");
    const unsigned short huge = 0xfff0;
    std::memcpy(reply.bytes().data() + NLMSG_HDRLEN + sizeof(unix_diag_msg), &huge, sizeof huge);
    expect_malformed(parse_unix(reply.span(), sockets));
  }
  {
    // An attribute whose length is below its own header.
    Reply reply = unix_listener("/x");
    const unsigned short tiny = 2;
    std::memcpy(reply.bytes().data() + NLMSG_HDRLEN + sizeof(unix_diag_msg), &tiny, sizeof tiny);
    expect_malformed(parse_unix(reply.span(), sockets));
  }
  EXPECT_TRUE(sockets.empty());
}

TEST(DiagParse, AttributesShorterThanTheirTypeAreMalformed) {
  const std::uint16_t two_bytes = 1;
  for (const std::uint16_t type : {std::uint16_t{UNIX_DIAG_PEER}, std::uint16_t{UNIX_DIAG_RQLEN},
                                   std::uint16_t{UNIX_DIAG_ICONS}}) {
    Reply reply;
    reply.begin_message(SOCK_DIAG_BY_FAMILY).body(unix_message(SOCK_STREAM, 1, 1));
    reply.attribute(type, &two_bytes, sizeof two_bytes).end_message();
    std::vector<UnixSocketInfo> sockets;
    SCOPED_TRACE(type);
    expect_malformed(parse_unix(reply.span(), sockets));
  }
}

TEST(DiagParse, ForeignSequenceUnknownTypeAndWrongFamilyAreMalformed) {
  std::vector<UnixSocketInfo> sockets;
  {
    Reply reply;
    reply.begin_message(SOCK_DIAG_BY_FAMILY, kSeq + 1).body(unix_message(SOCK_STREAM, 1, 1)).end_message();
    expect_malformed(parse_unix(reply.span(), sockets));
  }
  {
    Reply reply;
    reply.begin_message(0x1234).body(unix_message(SOCK_STREAM, 1, 1)).end_message();
    expect_malformed(parse_unix(reply.span(), sockets));
  }
  {
    Reply reply;
    unix_diag_msg message = unix_message(SOCK_STREAM, 1, 1);
    message.udiag_family = AF_INET;
    reply.begin_message(SOCK_DIAG_BY_FAMILY).body(message).end_message();
    expect_malformed(parse_unix(reply.span(), sockets));
  }
  {
    Reply reply;
    nlmsgerr ack{};  // error 0 is an acknowledgement, which a dump never sends
    reply.begin_message(NLMSG_ERROR).body(ack).end_message();
    expect_malformed(parse_unix(reply.span(), sockets));
  }
  for (const int impossible : {INT_MIN, -4096}) {  // INT_MIN: found by fuzz_diag (negating it overflowed)
    Reply reply;
    nlmsgerr error{};
    error.error = impossible;
    reply.begin_message(NLMSG_ERROR).body(error).end_message();
    expect_malformed(parse_unix(reply.span(), sockets));
  }
}

TEST(DiagParse, FlippedBytesNeverCrash) {
  // Not a proof, a net: every single-byte corruption of a valid reply parses or
  // fails cleanly (asan would catch a read out of bounds).
  Reply reply = unix_listener(std::string("\0abstract", 9));
  reply.done();
  for (std::size_t at = 0; at < reply.bytes().size(); ++at) {
    for (const std::byte value : {std::byte{0x00}, std::byte{0xff}, std::byte{0x7f}}) {
      std::vector<std::byte> corrupt = reply.bytes();
      corrupt[at] = value;
      std::vector<UnixSocketInfo> sockets;
      (void)parse_unix(corrupt, sockets);
      EXPECT_LE(sockets.size(), 1U);
    }
  }
}

inet_diag_msg inet_message(int family, std::uint8_t state) {
  inet_diag_msg message{};
  message.idiag_family = static_cast<std::uint8_t>(family);
  message.idiag_state = state;
  message.id.idiag_sport = htons(8080);
  message.id.idiag_dport = htons(40000);
  message.id.idiag_src[0] = htonl(0x7f000001);
  message.id.idiag_dst[0] = htonl(0x7f000002);
  message.idiag_rqueue = 1;
  message.idiag_wqueue = 2;
  message.idiag_uid = 1000;
  message.idiag_inode = 555;
  return message;
}

TEST(DiagParse, TcpSocketGivesAddressesAndTcpInfo) {
  tcp_info info{};
  info.tcpi_rtt = 120;
  info.tcpi_rttvar = 30;
  info.tcpi_snd_cwnd = 10;
  info.tcpi_retransmits = 1;
  info.tcpi_total_retrans = 4;
  info.tcpi_delivery_rate = 123456;
  Reply reply;
  reply.begin_message(SOCK_DIAG_BY_FAMILY)
      .body(inet_message(AF_INET, 8 /* CLOSE_WAIT */))
      .attribute(INET_DIAG_INFO, &info, sizeof info)
      .end_message()
      .done();
  std::vector<InetSocketInfo> sockets;
  auto step = parse_inet_reply(reply.span(), kSeq, IPPROTO_TCP, sockets);
  ASSERT_TRUE(step) << step.error().message();
  EXPECT_EQ(*step, DumpStep::done);
  ASSERT_EQ(sockets.size(), 1U);
  const InetSocketInfo& s = sockets[0];
  EXPECT_EQ(s.state, SocketState::close_wait);
  EXPECT_EQ(s.local.to_string(), "127.0.0.1:8080");
  EXPECT_EQ(s.peer.to_string(), "127.0.0.2:40000");
  EXPECT_EQ(s.rqueue, 1U);
  EXPECT_EQ(s.wqueue, 2U);
  EXPECT_EQ(s.uid, 1000U);
  EXPECT_EQ(s.inode, 555U);
  ASSERT_TRUE(s.tcp);
  EXPECT_EQ(s.tcp->rtt_us, 120U);
  EXPECT_EQ(s.tcp->rttvar_us, 30U);
  EXPECT_EQ(s.tcp->snd_cwnd, 10U);
  EXPECT_EQ(s.tcp->retransmits, 1U);
  EXPECT_EQ(s.tcp->total_retrans, 4U);
  EXPECT_EQ(s.tcp->delivery_rate, 123456U);
}

TEST(DiagParse, OlderKernelsShorterTcpInfoLacksDeliveryRate) {
  tcp_info info{};
  info.tcpi_rtt = 5;
  Reply reply;
  reply.begin_message(SOCK_DIAG_BY_FAMILY)
      .body(inet_message(AF_INET6, 1))
      .attribute(INET_DIAG_INFO, &info, offsetof(tcp_info, tcpi_delivery_rate))
      .end_message();
  std::vector<InetSocketInfo> sockets;
  ASSERT_TRUE(parse_inet_reply(reply.span(), kSeq, IPPROTO_TCP, sockets));
  ASSERT_EQ(sockets.size(), 1U);
  ASSERT_TRUE(sockets[0].tcp);
  EXPECT_EQ(sockets[0].tcp->rtt_us, 5U);
  EXPECT_FALSE(sockets[0].tcp->delivery_rate);

  Reply too_short;
  too_short.begin_message(SOCK_DIAG_BY_FAMILY)
      .body(inet_message(AF_INET, 1))
      .attribute(INET_DIAG_INFO, &info, 16)
      .end_message();
  expect_malformed(parse_inet_reply(too_short.span(), kSeq, IPPROTO_TCP, sockets));
}

TEST(DiagParse, UdpSocketGivesDropsFromMeminfo) {
  std::uint32_t meminfo[SK_MEMINFO_VARS] = {};
  meminfo[SK_MEMINFO_DROPS] = 9;
  Reply reply;
  reply.begin_message(SOCK_DIAG_BY_FAMILY)
      .body(inet_message(AF_INET, 7 /* CLOSE: unconnected */))
      .attribute(INET_DIAG_SKMEMINFO, meminfo, sizeof meminfo)
      .end_message();
  std::vector<InetSocketInfo> sockets;
  ASSERT_TRUE(parse_inet_reply(reply.span(), kSeq, IPPROTO_UDP, sockets));
  ASSERT_EQ(sockets.size(), 1U);
  EXPECT_EQ(sockets[0].drops, 9U);
  EXPECT_FALSE(sockets[0].tcp);

  Reply odd;  // a meminfo array that is not whole u32s
  odd.begin_message(SOCK_DIAG_BY_FAMILY)
      .body(inet_message(AF_INET, 7))
      .attribute(INET_DIAG_SKMEMINFO, meminfo, 6)
      .end_message();
  expect_malformed(parse_inet_reply(odd.span(), kSeq, IPPROTO_UDP, sockets));
}

TEST(DiagParse, InetMessageShorterThanItsHeaderOrOfAnotherFamilyIsMalformed) {
  std::vector<InetSocketInfo> sockets;
  Reply short_body;
  short_body.begin_message(SOCK_DIAG_BY_FAMILY).body(std::uint64_t{0}).end_message();
  expect_malformed(parse_inet_reply(short_body.span(), kSeq, IPPROTO_TCP, sockets));
  Reply wrong_family;
  wrong_family.begin_message(SOCK_DIAG_BY_FAMILY).body(inet_message(AF_UNIX, 1)).end_message();
  expect_malformed(parse_inet_reply(wrong_family.span(), kSeq, IPPROTO_TCP, sockets));
  EXPECT_TRUE(sockets.empty());
}

TEST(DiagState, NamesParseInSsAndKernelSpelling) {
  EXPECT_EQ(parse_state("close-wait"), SocketState::close_wait);
  EXPECT_EQ(parse_state("CLOSE_WAIT"), SocketState::close_wait);
  EXPECT_EQ(parse_state("estab"), SocketState::established);
  EXPECT_EQ(parse_state("Established"), SocketState::established);
  EXPECT_EQ(parse_state("fin-wait-1"), SocketState::fin_wait1);
  EXPECT_EQ(parse_state("FIN_WAIT1"), SocketState::fin_wait1);
  EXPECT_EQ(parse_state("unconn"), SocketState::close);
  EXPECT_EQ(parse_state("listen"), SocketState::listen);
  EXPECT_FALSE(parse_state("listening"));
  EXPECT_FALSE(parse_state(""));
  EXPECT_STREQ(state_name(SocketState::close_wait), "CLOSE-WAIT");
}

}  // namespace
}  // namespace sockit::diag::detail

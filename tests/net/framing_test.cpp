#include "sockit/net/framing.hpp"

#include <gtest/gtest.h>

#include "support/bytes.hpp"

namespace sockit::net {
namespace {

using test::bytes_of;
using test::string_of;

std::vector<std::byte> wire(std::initializer_list<int> bytes) {
  std::vector<std::byte> v;
  for (int b : bytes) v.push_back(static_cast<std::byte>(b));
  return v;
}

TEST(Framing, LengthPrefixRoundTripsAndWaitsForTheWholeFrame) {
  const auto f = Framing::length_prefix();
  Buffer out;
  ASSERT_TRUE(encode(f, bytes_of("hello"), out));
  ASSERT_TRUE(encode(f, bytes_of(""), out));
  const auto all = out.readable();
  EXPECT_EQ(all.size(), 4u + 5u + 4u);
  for (std::size_t cut = 0; cut < 9; ++cut) {
    auto partial = decode(f, all.first(cut));
    ASSERT_TRUE(partial);
    EXPECT_FALSE(partial->has_value()) << "cut at " << cut;
  }
  auto first = decode(f, all);
  ASSERT_TRUE(first && first->has_value());
  EXPECT_EQ(string_of((*first)->payload), "hello");
  EXPECT_EQ((*first)->consumed, 9u);
  auto second = decode(f, all.subspan(9));
  ASSERT_TRUE(second && second->has_value());
  EXPECT_TRUE((*second)->payload.empty()) << "an empty message is a legal frame";
}

TEST(Framing, ADeclaredLengthAboveTheMaximumIsRefusedBeforeTheBodyArrives) {
  const auto f = Framing::length_prefix(1024);
  const auto header = wire({0, 0, 4, 1});  // 1025
  auto r = decode(f, header);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::frame_too_large);
  const auto at_limit = wire({0, 0, 4, 0});  // 1024: fine, waits for the body
  auto ok = decode(f, at_limit);
  ASSERT_TRUE(ok);
  EXPECT_FALSE(ok->has_value());
  const auto huge = wire({0xff, 0xff, 0xff, 0xff});
  EXPECT_FALSE(decode(Framing::length_prefix(), huge));
}

TEST(Framing, EncodeRefusesAnOversizedPayload) {
  Buffer out;
  std::vector<std::byte> big(2000);
  auto r = encode(Framing::length_prefix(1000), big, out);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::frame_too_large);
  EXPECT_TRUE(out.empty()) << "nothing half-written";
}

TEST(Framing, LinesSplitOnTheDelimiterWhichIsNotPartOfThePayload) {
  const auto f = Framing::line();
  const auto input = bytes_of("one\ntwo\npartial");
  auto a = decode(f, input);
  ASSERT_TRUE(a && a->has_value());
  EXPECT_EQ(string_of((*a)->payload), "one");
  auto b = decode(f, input.subspan((*a)->consumed));
  ASSERT_TRUE(b && b->has_value());
  EXPECT_EQ(string_of((*b)->payload), "two");
  auto c = decode(f, input.subspan((*a)->consumed + (*b)->consumed));
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->has_value());
}

TEST(Framing, ALineLongerThanTheMaximumIsAnErrorEvenBeforeItsEnd) {
  const auto f = Framing::line(8);
  EXPECT_TRUE(decode(f, bytes_of("12345678")).has_value()) << "8 bytes without newline: still waiting";
  auto r = decode(f, bytes_of("123456789"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::frame_too_large);
  auto exact = decode(f, bytes_of("12345678\n"));
  ASSERT_TRUE(exact && exact->has_value());
  EXPECT_EQ(string_of((*exact)->payload), "12345678");
}

TEST(Framing, RawTakesWhateverArrived) {
  auto r = decode(Framing::raw(), bytes_of("abc"));
  ASSERT_TRUE(r && r->has_value());
  EXPECT_EQ((*r)->consumed, 3u);
  auto none = decode(Framing::raw(), {});
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_value());
}

}  // namespace
}  // namespace sockit::net

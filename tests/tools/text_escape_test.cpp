// The escaping `sockit inspect` puts every outside name through: a table line
// stays one line, and JSON stays valid whatever bytes a socket name holds.
#include "text_escape.hpp"

#include <gtest/gtest.h>

#include <string>

namespace sockit::cli {
namespace {

TEST(TextEscape, PrintableEscapesControlBytesOnly) {
  EXPECT_EQ(printable("/tmp/a b.sock"), "/tmp/a b.sock");
  EXPECT_EQ(printable(std::string("@x\0y\n\x1b[2J\x7f", 10)), "@x\\x00y\\x0a\\x1b[2J\\x7f");
  EXPECT_EQ(printable("caf\xc3\xa9"), "caf\xc3\xa9");  // UTF-8 passes
}

TEST(TextEscape, JsonStringEscapesQuotesBackslashesAndControls) {
  EXPECT_EQ(json_string(""), "\"\"");
  EXPECT_EQ(json_string("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(json_string(std::string("\0\n\t\x01\x7f", 5)), "\"\\u0000\\n\\t\\u0001\\u007f\"");
}

TEST(TextEscape, JsonStringKeepsValidUtf8AndReplacesInvalidBytes) {
  EXPECT_EQ(json_string("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
            "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
  EXPECT_EQ(json_string("\xff"), "\"\\ufffd\"");
  EXPECT_EQ(json_string("\xc3"), "\"\\ufffd\"");              // cut short
  EXPECT_EQ(json_string("\xc0\xaf"), "\"\\ufffd\\ufffd\"");    // overlong '/'
  EXPECT_EQ(json_string("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\"");  // a surrogate
  EXPECT_EQ(json_string("\xf4\x90\x80\x80"), "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");  // past U+10FFFF
}

}  // namespace
}  // namespace sockit::cli

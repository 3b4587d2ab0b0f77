// Showing bytes that come from outside (socket names: a Unix path or an abstract
// name may hold any byte, NUL and newlines included) without letting them break
// the output: one line per socket in a table, valid JSON in --json.
#pragma once

#include <string>
#include <string_view>

namespace sockit::cli {

// For a terminal or a log line: control characters (and DEL) become \xNN, so a
// name cannot start a new line or send escape sequences. Other bytes pass.
[[nodiscard]] std::string printable(std::string_view bytes);

// A JSON string literal, quotes included: ", \ and control characters escaped as
// RFC 8259 says; bytes that are not valid UTF-8 become U+FFFD, so the document
// always parses (a name's exact bytes are not recoverable from JSON text).
[[nodiscard]] std::string json_string(std::string_view bytes);

}  // namespace sockit::cli

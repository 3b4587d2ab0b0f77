// Printing an InspectSnapshot: an ss-like table with a warnings section, or one
// JSON object (on one line, so --watch --json is JSON Lines).
//
// JSON is written here with fmt and text_escape's json_string rather than with a
// JSON library: the project has none (nlohmann-json is not a dependency), the
// document is write-only and flat, and every string in it goes through the one
// escaping function, which a test feeds hostile names.
#pragma once

#include <string>

#include "inspect_snapshot.hpp"

namespace sockit::cli {

[[nodiscard]] std::string format_table(const InspectSnapshot& snapshot);
[[nodiscard]] std::string format_json(const InspectSnapshot& snapshot);

}  // namespace sockit::cli

// The layer rule (docs/ARCHITECTURE.md), checked on the source tree: no file in
// include/ or src/ includes a header of a higher layer. In particular the base
// layer (Result/errc, Fd, Deadline, the Address and Endpoint values) includes
// nothing of the library but itself, so sys can build on it without a cycle.
//
// The compiler enforces part of this: src/base/ is compiled with only include/ on
// its include path (CMakeLists.txt), so it cannot reach sys/ or core's internals.
// It cannot tell a base public header from a core one; this test can.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

namespace sockit {
namespace {

namespace fs = std::filesystem;

// In dependency order: each may include only its own layer and those before it.
// diag (sock_diag netlink and /proc) builds on base, sys and core only.
enum class Layer { base, sys, core, diag, event, net, rudp };

const char* layer_name(Layer layer) {
  constexpr std::array<const char*, 7> kNames = {"base", "sys", "core", "diag", "event", "net", "rudp"};
  return kNames[static_cast<std::size_t>(layer)];
}

// The base layer's public headers; every other include/sockit/*.hpp is core's.
constexpr std::array<std::string_view, 4> kBaseHeaders = {"sockit/result.hpp", "sockit/fd.hpp",
                                                          "sockit/deadline.hpp", "sockit/address.hpp"};

// `path` is relative to include/ or src/, as an #include names it.
std::optional<Layer> layer_of(std::string_view path) {
  if (std::ranges::find(kBaseHeaders, path) != kBaseHeaders.end() || path.starts_with("base/")) {
    return Layer::base;
  }
  if (path.starts_with("sys/")) return Layer::sys;
  if (path.starts_with("sockit/diag/") || path.starts_with("diag/")) return Layer::diag;
  if (path.starts_with("sockit/event/") || path.starts_with("event/")) return Layer::event;
  if (path.starts_with("sockit/net/") || path.starts_with("net/")) return Layer::net;
  if (path.starts_with("sockit/rudp/") || path.starts_with("rudp/")) return Layer::rudp;
  if (path.starts_with("sockit/") || path.starts_with("core/")) return Layer::core;
  return std::nullopt;
}

struct SourceFile {
  std::string path;  // relative to include/ or src/
  Layer layer;
  std::vector<std::string> includes;  // the "..." ones, relative to include/ or src/
};

// Every header and source under include/ and src/ with its quoted includes. A
// name without a directory is the file's neighbour (how src/base/ includes its own).
std::vector<SourceFile> library_files(const fs::path& root, std::vector<std::string>& unplaced) {
  static const std::regex kInclude(R"re(^\s*#\s*include\s*"([^"]+)")re");
  std::vector<SourceFile> files;
  for (const char* top : {"include", "src"}) {
    for (const auto& entry : fs::recursive_directory_iterator(root / top)) {
      const auto ext = entry.path().extension();
      if (!entry.is_regular_file() || (ext != ".hpp" && ext != ".cpp")) continue;
      const std::string path = entry.path().lexically_relative(root / top).generic_string();
      const auto layer = layer_of(path);
      if (!layer) {
        unplaced.push_back(path);
        continue;
      }
      SourceFile file{path, *layer, {}};
      std::ifstream in(entry.path());
      std::string line;
      std::smatch match;
      while (std::getline(in, line)) {
        if (!std::regex_search(line, match, kInclude)) continue;
        std::string name = match[1];
        if (name.find('/') == std::string::npos) {
          name = fs::path(path).parent_path().generic_string() + "/" + name;
        }
        file.includes.push_back(name);
      }
      files.push_back(std::move(file));
    }
  }
  return files;
}

// $SOCKIT_SOURCE_DIR, else the tree this file was compiled from (tests/core/..).
fs::path source_root() {
  if (const char* dir = std::getenv("SOCKIT_SOURCE_DIR"); dir != nullptr && *dir != '\0') return dir;
  return fs::path(__FILE__).parent_path().parent_path().parent_path();
}

TEST(Layering, NoLayerIncludesAHigherOne) {
  const fs::path root = source_root();
  ASSERT_TRUE(fs::is_directory(root / "include") && fs::is_directory(root / "src"))
      << root << " is not the source tree: set SOCKIT_SOURCE_DIR";
  std::vector<std::string> unplaced;
  const auto files = library_files(root, unplaced);
  for (const std::string& path : unplaced) {
    ADD_FAILURE() << "no layer for " << path << ": add it to layer_of()";
  }

  std::map<Layer, int> per_layer;
  for (const SourceFile& file : files) {
    ++per_layer[file.layer];
    for (const std::string& name : file.includes) {
      const auto included = layer_of(name);
      if (!included) {
        ADD_FAILURE() << file.path << " includes \"" << name << "\", which is in no layer";
      } else if (*included > file.layer) {
        ADD_FAILURE() << file.path << " (" << layer_name(file.layer) << ") includes " << name << " ("
                      << layer_name(*included) << ")";
      }
    }
  }
  // A wrong root or a renamed directory must not pass by finding nothing.
  for (Layer layer : {Layer::base, Layer::sys, Layer::core, Layer::diag, Layer::event, Layer::net}) {
    EXPECT_GT(per_layer[layer], 0) << "no files found for layer " << layer_name(layer);
  }
  EXPECT_GE(per_layer[Layer::base], static_cast<int>(kBaseHeaders.size()));
}

}  // namespace
}  // namespace sockit

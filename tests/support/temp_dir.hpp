// TempDir: a fresh private directory for one test's socket files, removed
// (with everything in it) when the test ends. Paths stay short: sun_path is 108 bytes.
#pragma once

#include <string>
#include <string_view>

namespace sockit::test {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  [[nodiscard]] const std::string& path() const { return path_; }
  // path()/name
  [[nodiscard]] std::string file(std::string_view name) const;

 private:
  std::string path_;
};

// A fresh abstract-namespace name, unique to this process and call.
std::string unique_abstract_name();

}  // namespace sockit::test

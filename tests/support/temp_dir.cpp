#include "support/temp_dir.hpp"

#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <stdexcept>

namespace sockit::test {

TempDir::TempDir() {
  std::string pattern = "/tmp/sockit-test-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string TempDir::file(std::string_view name) const { return path_ + "/" + std::string(name); }

std::string unique_abstract_name() {
  static std::atomic<int> counter{0};
  return "sockit-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

}  // namespace sockit::test

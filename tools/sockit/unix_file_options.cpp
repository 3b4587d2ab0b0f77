#include "unix_file_options.hpp"

#include <fmt/core.h>
#include <grp.h>
#include <pwd.h>

#include <charconv>
#include <string_view>

namespace sockit::cli {
namespace {

// Ids are looked up once, while parsing; getpwnam/getgrnam are fine in this
// single-threaded moment (no other thread exists yet).
template <typename Id>
std::optional<Id> parse_number(std::string_view text) {
  Id value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  // -1 is chown's "leave unchanged", never an id.
  if (ec != std::errc{} || end != text.data() + text.size() || text.empty() || value == static_cast<Id>(-1)) {
    return std::nullopt;
  }
  return value;
}

// Octal digits only: "660", "0660". Signs, spaces and symbolic modes are refused.
mode_t parse_mode(const std::string& text) {
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, 8);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || value > 07777) {
    throw CLI::ValidationError("--mode", fmt::format("'{}' is not an octal mode from 0 to 7777 (e.g. 660)", text));
  }
  return static_cast<mode_t>(value);
}

uid_t parse_owner(const std::string& text) {
  if (auto uid = parse_number<uid_t>(text)) return *uid;
  if (const passwd* user = ::getpwnam(text.c_str())) return user->pw_uid;
  throw CLI::ValidationError("--owner", fmt::format("no user named '{}'", text));
}

gid_t parse_group(const std::string& text) {
  if (auto gid = parse_number<gid_t>(text)) return *gid;
  if (const group* entry = ::getgrnam(text.c_str())) return entry->gr_gid;
  throw CLI::ValidationError("--group", fmt::format("no group named '{}'", text));
}

}  // namespace

std::string UnixFileOptionSet::misuse(const Address& address) const {
  const bool makes_file = address.is_unix() && !address.is_abstract();
  if (makes_file) return {};
  for (const CLI::Option* option : options_) {
    if (option->count() == 0) continue;
    const char* where = address.is_abstract() ? "an abstract name has no file" : "this address has no socket file";
    return fmt::format("{} applies to Unix socket paths (unix:PATH, unix-dgram:PATH, unix-seqpacket:PATH); {}",
                       option->get_name(), where);
  }
  return {};
}

UnixFileOptionSet add_unix_file_options(CLI::App& command, UnixFileOptions& into) {
  std::vector<CLI::Option*> options;
  options.push_back(
      command
          .add_option_function<std::string>(
              "--mode", [&into](const std::string& text) { into.mode = parse_mode(text); },
              "Unix path: the socket file's permissions, in octal (default 600)")
          ->type_name("OCTAL"));
  options.push_back(command
                        .add_option_function<std::string>(
                            "--owner", [&into](const std::string& text) { into.owner = parse_owner(text); },
                            "Unix path: chown the socket file to this user")
                        ->type_name("USER|UID"));
  options.push_back(command
                        .add_option_function<std::string>(
                            "--group", [&into](const std::string& text) { into.group = parse_group(text); },
                            "Unix path: chown the socket file to this group")
                        ->type_name("GROUP|GID"));
  options.push_back(command.add_flag("--create-parent", into.create_parent_directory,
                                     "Unix path: create the missing parent directories (mode 0700)"));
  return UnixFileOptionSet(std::move(options));
}

}  // namespace sockit::cli

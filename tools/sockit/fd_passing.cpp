#include "fd_passing.hpp"

#include "errors.hpp"

namespace sockit::cli {

bool check_fd_passing_address(std::string_view command, std::string_view text, const Address& address) {
  if (address.is_unix()) return true;
  usage_error(command, text,
              "descriptors pass only over Unix sockets (unix:, unix-seqpacket:, unix-dgram:, path or @abstract)");
  return false;
}

}  // namespace sockit::cli

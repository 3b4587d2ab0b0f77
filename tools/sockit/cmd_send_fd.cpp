// `sockit send-fd ADDR FILE...`: opens each FILE (read-only) and hands the open
// descriptors to the process listening on ADDR (`sockit recv-fd`) over a Unix
// socket. The receiver gets the open file itself, with the sender's access: it can
// read a file it could not open by path (see scripts/fd-passing-demo.sh).
#include <fcntl.h>

#include <cerrno>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "address_arg.hpp"
#include "channel.hpp"
#include "commands.hpp"
#include "errors.hpp"
#include "option_checks.hpp"
#include "fd_passing.hpp"
#include "log.hpp"

namespace sockit::cli {
namespace {

struct SendFdArgs {
  std::string address;
  std::vector<std::string> files;
  double timeout_seconds = 10;
};

// "-" is our stdin, passed on as it is (a file, a pipe, a terminal...).
Result<Fd> open_for_passing(const std::string& file) {
  if (file == "-") {
    const int copy = ::fcntl(0, F_DUPFD_CLOEXEC, 3);
    if (copy < 0) return fail(std::error_code(errno, std::system_category()));
    return Fd(copy);
  }
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return fail(std::error_code(errno, std::system_category()));
  return Fd(fd);
}

int run_send_fd(const SendFdArgs& args) {
  auto address = parse_address_arg(args.address);
  if (!address) return kExitUsage;
  if (!check_fd_passing_address("send-fd", args.address, *address)) return kExitUsage;

  const auto deadline = Deadline::after(std::chrono::milliseconds(static_cast<long long>(args.timeout_seconds * 1000)));
  // Batches of at most kMaxFdsPerMessage, opened just before they go, so that any
  // number of files fits under the process's descriptor limit. The first batch is
  // opened before connecting: a missing file must not cost the receiver its one sender.
  std::optional<Channel> channel;
  const std::byte data[] = {kFdBatchByte};
  for (std::size_t first = 0; first < args.files.size(); first += kMaxFdsPerMessage) {
    std::vector<Fd> batch;
    std::vector<int> numbers;
    for (std::size_t i = first; i < std::min(args.files.size(), first + kMaxFdsPerMessage); ++i) {
      auto fd = open_for_passing(args.files[i]);
      if (!fd) {
        print_error("send-fd", args.files[i], "open", fd.error());
        return kExitFailure;
      }
      numbers.push_back(fd->get());
      batch.push_back(std::move(*fd));
    }
    if (!channel) {
      auto connected = connect_channel(*address, deadline);
      if (!connected) {
        print_error("connect", args.address, connected.error());
        return kExitFailure;
      }
      channel.emplace(std::move(*connected));
    }
    auto sent = send_fds(channel->socket(), data, numbers, deadline);
    if (!sent) {
      print_error("send-fd", args.address, "send", sent.error());
      return kExitFailure;
    }
    note("sent {} descriptor{} to {}", numbers.size(), numbers.size() == 1 ? "" : "s", address->to_string());
  }
  return kExitOk;
}

}  // namespace

Command add_send_fd_command(CLI::App& parent) {
  auto args = std::make_shared<SendFdArgs>();
  CLI::App* app = parent.add_subcommand("send-fd", "Pass open files to a process over a Unix socket (SCM_RIGHTS)");
  app->add_option("ADDR", args->address, "Unix address of the receiver (sockit recv-fd)")->required();
  app->add_option("FILE", args->files, "Files to open read-only and pass; - passes stdin as it is")->required();
  app->add_option("--timeout", args->timeout_seconds, "Seconds to wait for the connection and the send (default 10)")
      ->transform(seconds_in(0.001, 86400));
  add_verbose_flag(*app);
  app->footer(std::string("Opens every FILE read-only and sends the open descriptors to ADDR, which must be\n"
                          "a Unix socket (unix:, unix-seqpacket:, unix-dgram:; path or @abstract; anything\n"
                          "else is a usage error, exit 2). The receiver gets the open files themselves:\n"
                          "it reads them with this process's access, even where it could not open the path.\n"
                          "Up to 253 descriptors go in one message (the kernel's limit); more go in several.\n"
                          "Exits 0 once all are sent, 1 if a file cannot be opened or the send fails.\n"
                          "\n"
                          "Examples:\n"
                          "  sockit recv-fd unix:/tmp/fds.sock --cat &      # the receiver\n"
                          "  sockit send-fd unix:/tmp/fds.sock /etc/hostname\n"
                          "  sockit send-fd unix:@fds a.log b.log c.log\n"
                          "  some-command | sockit send-fd unix:/tmp/fds.sock -   # hand over the pipe\n"
                          "\n") +
              kAddressHelp);
  return {app, [args] { return run_send_fd(*args); }};
}

}  // namespace sockit::cli

// The fixture of the hostile-client battery (issue 11): each case runs once per
// backend against a net::Server (support/server_process) or a datagram echo
// (support/datagram_echo_process) alone in a child process, with a well-behaved
// client served beside the attack (support/well_behaved_client, and its datagram
// sibling) and the server's memory and descriptors measured from outside
// (support/battery).
//
// The figures of every case go to one "HOSTILE|..." line on stdout (and a test
// property): docs/RELIABILITY.md is filled from them.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>

#include "sockit/net/server.hpp"
#include "support/temp_dir.hpp"
#include "sockit/sockit.hpp"
#include "support/battery.hpp"
#include "support/datagram_echo_process.hpp"
#include "support/loop_helpers.hpp"
#include "support/server_process.hpp"
#include "support/well_behaved_client.hpp"
#include "support/well_behaved_datagram_client.hpp"

namespace sockit::test {

class Hostile : public ::testing::TestWithParam<std::string> {
 protected:
  // The backend must be creatable here (a skip only where the kernel refuses io_uring).
  void SetUp() override {
    if (!make_loop_or_skip({.backend = GetParam()}) && !IsSkipped()) FAIL() << "no loop for " << GetParam();
  }

  // A started server in its child process, or nullptr after recording why not.
  std::unique_ptr<ServerProcess> serve(const std::string& address, net::ServerOptions options,
                                       net::Server::ConnectionHandler handler = echo_messages,
                                       rlim_t descriptor_limit = 0) {
    options.backend = GetParam();
    auto parsed = Address::parse(address);
    EXPECT_TRUE(parsed) << address;
    if (!parsed) return nullptr;
    auto server = std::make_unique<ServerProcess>(*parsed, std::move(options), std::move(handler), descriptor_limit);
    if (!server->started()) {
      ADD_FAILURE() << "the server did not start: " << server->error();
      return nullptr;
    }
    return server;
  }

  // A started datagram echo in its child process, or nullptr after recording why not.
  std::unique_ptr<DatagramEchoProcess> serve_datagrams(const std::string& address,
                                                       std::size_t max_datagram_size = 64 * 1024) {
    auto parsed = Address::parse(address);
    EXPECT_TRUE(parsed) << address;
    if (!parsed) return nullptr;
    auto server = std::make_unique<DatagramEchoProcess>(*parsed, GetParam(), max_datagram_size);
    if (!server->started()) {
      ADD_FAILURE() << "the datagram echo did not start: " << server->error();
      return nullptr;
    }
    return server;
  }

  // The case's figures, checked and reported: `load` applied since `started`, RSS
  // growth bound in KiB, peak descriptors allowed above the baseline. Returns the
  // well-behaved client's tally (it has stopped).
  WellBehavedResult conclude(std::string load, std::int64_t rss_bound_kib, int fd_bound,
                std::chrono::steady_clock::time_point started, const Measurement& measured,
                RoundTripClient& client) {
    CaseFigures figures;
    figures.load = std::move(load);
    figures.rss_bound_kib = rss_bound_kib;
    figures.fd_bound = fd_bound;
    figures.duration =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    figures.held = measured.held();
    figures.client = client.finish();
    figures.backend = GetParam();
    figures.name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    figures.name = figures.name.substr(0, figures.name.find('/'));
    report_case(figures);
    EXPECT_TRUE(bounds_held(figures));
    return figures.client;
  }
};

}  // namespace sockit::test

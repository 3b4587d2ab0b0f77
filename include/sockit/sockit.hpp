// The whole core API in one include.
#pragma once

#include "sockit/address.hpp"
#include "sockit/ancillary.hpp"
#include "sockit/connect.hpp"
#include "sockit/datagram_socket.hpp"
#include "sockit/deadline.hpp"
#include "sockit/fd.hpp"
#include "sockit/listener.hpp"
#include "sockit/metrics.hpp"
#include "sockit/result.hpp"
#include "sockit/seqpacket_socket.hpp"
#include "sockit/socket.hpp"
#include "sockit/socket_pair.hpp"
#include "sockit/stream_socket.hpp"
#include "sockit/tcp_options.hpp"
#include "sockit/unix_file_options.hpp"

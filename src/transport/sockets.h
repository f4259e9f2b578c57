// Opening and configuring the listening sockets; the one place that deals with setsockopt.
#pragma once

#include <string>

#include "strowger/expected.h"
#include "strowger/net/socket_address.h"

namespace strowger::transport {

// The text of an errno value, thread-safe.
std::string errnoText(int error);

// A bound, non-blocking UDP socket. On a wildcard address the socket reports each datagram's
// destination (IP_PKTINFO / IPV6_RECVPKTINFO), so that ReceivedMessage::local is the address the
// peer actually used.
struct UdpSocket {
  int fd = -1;
  net::SocketAddress bound;  // with the real port when 0 was asked for
};
Expected<UdpSocket, std::string> openUdpSocket(const net::SocketAddress& address);

// The first address of the family on an interface that is up, not loopback and, for IPv6, not
// link-local (a Via cannot carry a zone); empty when there is none.
std::string firstInterfaceAddress(bool ipv6);

}  // namespace strowger::transport

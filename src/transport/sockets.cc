#include "sockets.h"

#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

namespace strowger::transport {
namespace {

// Datagrams queue here while every worker is busy; the kernel's default (about 200 KiB) drops a
// burst of a few hundred messages. Best effort: the kernel caps SO_RCVBUF at net.core.rmem_max
// unless the process may use SO_RCVBUFFORCE.
constexpr int kUdpReceiveBuffer = 4 << 20;
constexpr int kUdpSendBuffer = 1 << 20;

void setBuffer(int fd, int forceOption, int option, int bytes) {
  if (::setsockopt(fd, SOL_SOCKET, forceOption, &bytes, sizeof bytes) == 0) return;
  (void)::setsockopt(fd, SOL_SOCKET, option, &bytes, sizeof bytes);
}

}  // namespace

std::string errnoText(int error) {
  return std::generic_category().message(error);
}

Expected<UdpSocket, std::string> openUdpSocket(const net::SocketAddress& address) {
  const int family = address.isIpv6() ? AF_INET6 : AF_INET;
  int fd = ::socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
  if (fd < 0) return unexpected("cannot open a UDP socket: " + errnoText(errno));
  auto fail = [fd](std::string what) {
    int error = errno;
    ::close(fd);
    return unexpected(std::move(what) + ": " + errnoText(error));
  };
  // No SO_REUSEADDR: on UDP it would let a second daemon bind the same port and silently take
  // part of the traffic; a port in use must be an error at start.
  const int one = 1;
  if (address.isIpv6() && ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) != 0) {
    return fail("cannot set IPV6_V6ONLY");
  }
  setBuffer(fd, SO_RCVBUFFORCE, SO_RCVBUF, kUdpReceiveBuffer);
  setBuffer(fd, SO_SNDBUFFORCE, SO_SNDBUF, kUdpSendBuffer);
  if (address.isUnspecified()) {
    int r = address.isIpv6() ? ::setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one)
                             : ::setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one);
    if (r != 0) return fail("cannot ask for the destination address of datagrams");
  }
  if (::bind(fd, address.sockaddrPtr(), address.length()) != 0) return fail("cannot bind");
  UdpSocket out;
  out.fd = fd;
  socklen_t length = net::SocketAddress::capacity();
  if (::getsockname(fd, out.bound.sockaddrPtr(), &length) != 0) return fail("getsockname");
  out.bound.setLength(length);
  return out;
}

std::string firstInterfaceAddress(bool ipv6) {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return {};
  std::string found;
  for (ifaddrs* i = list; i != nullptr && found.empty(); i = i->ifa_next) {
    if (i->ifa_addr == nullptr || (i->ifa_flags & IFF_UP) == 0) continue;
    if ((i->ifa_flags & IFF_LOOPBACK) != 0) continue;
    if (i->ifa_addr->sa_family != (ipv6 ? AF_INET6 : AF_INET)) continue;
    auto a = net::SocketAddress::fromSockaddr(i->ifa_addr,
                                              ipv6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in));
    if (!a.valid() || a.isLoopback() || a.isUnspecified()) continue;
    if (ipv6) {
      const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(a.sockaddrPtr());
      if (IN6_IS_ADDR_LINKLOCAL(&sin6->sin6_addr)) continue;
    }
    found = a.ip();
  }
  ::freeifaddrs(list);
  return found;
}

}  // namespace strowger::transport

// Numeric address parsing and formatting, and the classifications the transport and the proxy
// rely on (RFC 4291 §2.5.5.2 for v4-mapped addresses, §2.7 for multicast).
#include "strowger/net/socket_address.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <sys/un.h>

#include <cstring>
#include <unordered_set>

namespace strowger::net {
namespace {

SocketAddress must(std::string_view ip, uint16_t port = 5060) {
  auto a = SocketAddress::parse(ip, port);
  EXPECT_TRUE(a.has_value()) << ip;
  return a.value_or(SocketAddress());
}

TEST(SocketAddress, DefaultIsInvalid) {
  SocketAddress a;
  EXPECT_FALSE(a.valid());
  EXPECT_EQ(a.port(), 0);
  EXPECT_EQ(a.ip(), "");
  EXPECT_EQ(a.toString(), "-");
  EXPECT_FALSE(a.isUnspecified());
  EXPECT_FALSE(a.isBroadcastOrMulticast());
  EXPECT_EQ(a, SocketAddress());
}

TEST(SocketAddress, ParsesIpv4) {
  SocketAddress a = must("192.0.2.1", 5060);
  EXPECT_TRUE(a.valid());
  EXPECT_FALSE(a.isIpv6());
  EXPECT_EQ(a.length(), sizeof(sockaddr_in));
  EXPECT_EQ(a.sockaddrPtr()->sa_family, AF_INET);
  EXPECT_EQ(a.port(), 5060);
  EXPECT_EQ(a.ip(), "192.0.2.1");
  EXPECT_EQ(a.sipHost(), "192.0.2.1");
  EXPECT_EQ(a.toString(), "192.0.2.1:5060");
}

TEST(SocketAddress, ParsesIpv6WithAndWithoutBrackets) {
  SocketAddress a = must("2001:db8::1", 5061);
  SocketAddress b = must("[2001:db8::1]", 5061);
  EXPECT_TRUE(a.isIpv6());
  EXPECT_EQ(a.length(), sizeof(sockaddr_in6));
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.ip(), "2001:db8::1");
  EXPECT_EQ(a.sipHost(), "[2001:db8::1]");
  EXPECT_EQ(a.toString(), "[2001:db8::1]:5061");
  EXPECT_EQ(must("::1", 0).toString(), "[::1]:0");
  // The canonical text form (RFC 5952) whatever was written.
  EXPECT_EQ(must("2001:0DB8:0000:0000:0000:0000:0000:0001").ip(), "2001:db8::1");
}

TEST(SocketAddress, ParsesNumericZone) {
  SocketAddress a = must("fe80::1%1");
  EXPECT_TRUE(a.isIpv6());
  EXPECT_EQ(reinterpret_cast<const sockaddr_in6*>(a.sockaddrPtr())->sin6_scope_id, 1u);
  EXPECT_NE(a, must("fe80::1"));
  EXPECT_EQ(a.ip(), "fe80::1");
}

TEST(SocketAddress, RejectsWhatIsNotANumericAddress) {
  for (std::string_view bad :
       {"", "example.com", "192.0.2", "192.0.2.256", "192.0.2.1:5060", "::g", "[::1", "::1]", "[]",
        "1.2.3.4 ", " 1.2.3.4", "2001:db8::1%", "fe80::1%no-such-interface0", "[192.0.2.1]x"}) {
    EXPECT_FALSE(SocketAddress::parse(bad, 5060).has_value()) << bad;
  }
  std::string longText(200, '1');
  EXPECT_FALSE(SocketAddress::parse(longText, 5060).has_value());
}

TEST(SocketAddress, PortCanBeChanged) {
  SocketAddress a = must("192.0.2.1", 1);
  a.setPort(65535);
  EXPECT_EQ(a.port(), 65535);
  SocketAddress b = must("::1", 1);
  b.setPort(5062);
  EXPECT_EQ(b.toString(), "[::1]:5062");
  SocketAddress invalid;
  invalid.setPort(5060);
  EXPECT_FALSE(invalid.valid());
}

TEST(SocketAddress, V4MappedAndUnmapped) {
  SocketAddress mapped = must("::ffff:192.0.2.7", 5070);
  EXPECT_TRUE(mapped.isV4Mapped());
  EXPECT_FALSE(must("192.0.2.7").isV4Mapped());
  EXPECT_FALSE(must("2001:db8::1").isV4Mapped());
  SocketAddress plain = mapped.unmapped();
  EXPECT_FALSE(plain.isIpv6());
  EXPECT_EQ(plain.toString(), "192.0.2.7:5070");
  EXPECT_EQ(must("2001:db8::1").unmapped(), must("2001:db8::1"));
  // Distinct socket addresses: an IPv6 socket and an IPv4 socket see them differently.
  EXPECT_NE(mapped, plain);
}

TEST(SocketAddress, Unspecified) {
  EXPECT_TRUE(must("0.0.0.0").isUnspecified());
  EXPECT_TRUE(must("::").isUnspecified());
  EXPECT_TRUE(must("::ffff:0.0.0.0").isUnspecified());
  EXPECT_FALSE(must("127.0.0.1").isUnspecified());
  EXPECT_FALSE(must("::1").isUnspecified());
}

TEST(SocketAddress, BroadcastAndMulticast) {
  for (std::string_view yes :
       {"255.255.255.255", "224.0.0.1", "224.0.1.75", "239.255.255.255", "ff02::1", "ff05::1:3",
        "::ffff:255.255.255.255", "::ffff:224.0.0.1"}) {
    EXPECT_TRUE(must(yes).isBroadcastOrMulticast()) << yes;
  }
  for (std::string_view no : {"223.255.255.255", "240.0.0.1", "192.0.2.255", "127.0.0.1",
                              "2001:db8::1", "fe80::1", "::ffff:192.0.2.1", "::"}) {
    EXPECT_FALSE(must(no).isBroadcastOrMulticast()) << no;
  }
}

TEST(SocketAddress, Loopback) {
  EXPECT_TRUE(must("127.0.0.1").isLoopback());
  EXPECT_TRUE(must("127.1.2.3").isLoopback());
  EXPECT_TRUE(must("::1").isLoopback());
  EXPECT_TRUE(must("::ffff:127.0.0.1").isLoopback());
  EXPECT_FALSE(must("192.0.2.1").isLoopback());
  EXPECT_FALSE(must("::").isLoopback());
}

TEST(SocketAddress, EqualityAndHash) {
  EXPECT_EQ(must("192.0.2.1", 5060), must("192.0.2.1", 5060));
  EXPECT_NE(must("192.0.2.1", 5060), must("192.0.2.1", 5061));
  EXPECT_NE(must("192.0.2.1", 5060), must("192.0.2.2", 5060));
  EXPECT_TRUE(must("192.0.2.1", 5060).sameIp(must("192.0.2.1", 1)));
  EXPECT_FALSE(must("192.0.2.1").sameIp(must("::ffff:192.0.2.1")));
  EXPECT_EQ(must("192.0.2.1").hash(), must("192.0.2.1").hash());
  EXPECT_EQ(must("::1", 5).hash(), must("[::1]", 5).hash());

  std::unordered_set<SocketAddress> set;
  set.insert(must("192.0.2.1", 5060));
  set.insert(must("192.0.2.1", 5060));
  set.insert(must("192.0.2.1", 5061));
  set.insert(must("2001:db8::1", 5060));
  EXPECT_EQ(set.size(), 3u);
  EXPECT_EQ(set.count(must("[2001:db8::1]", 5060)), 1u);
}

TEST(SocketAddress, FromSockaddr) {
  sockaddr_in6 sin6{};
  sin6.sin6_family = AF_INET6;
  sin6.sin6_port = htons(5080);
  ASSERT_EQ(inet_pton(AF_INET6, "2001:db8::5", &sin6.sin6_addr), 1);
  auto a = SocketAddress::fromSockaddr(reinterpret_cast<const sockaddr*>(&sin6), sizeof sin6);
  EXPECT_EQ(a.toString(), "[2001:db8::5]:5080");
  EXPECT_EQ(a, must("2001:db8::5", 5080));

  // A shorter length than the family needs, or another family, gives an invalid address.
  EXPECT_FALSE(SocketAddress::fromSockaddr(reinterpret_cast<const sockaddr*>(&sin6), 8).valid());
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  EXPECT_FALSE(
      SocketAddress::fromSockaddr(reinterpret_cast<const sockaddr*>(&un), sizeof un).valid());
  EXPECT_FALSE(SocketAddress::fromSockaddr(nullptr, 0).valid());

  // Room for whatever the kernel writes (recvmmsg, accept).
  SocketAddress out;
  std::memcpy(out.sockaddrPtr(), &sin6, sizeof sin6);
  out.setLength(sizeof sin6);
  EXPECT_EQ(out, a);
  EXPECT_GE(SocketAddress::capacity(), sizeof(sockaddr_in6));
}

}  // namespace
}  // namespace strowger::net

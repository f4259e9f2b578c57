// Trusted address ranges (modules/auth/cidr.h).
#include "cidr.h"

#include <gtest/gtest.h>

namespace strowger::auth {
namespace {

net::SocketAddress addr(const char* ip) {
  auto parsed = net::SocketAddress::parse(ip, 5060);
  EXPECT_TRUE(parsed.has_value()) << ip;
  return parsed.value_or(net::SocketAddress());
}

CidrRange range(const char* text) {
  std::string error;
  auto parsed = CidrRange::parse(text, &error);
  EXPECT_TRUE(parsed.has_value()) << text << ": " << error;
  return parsed.value_or(CidrRange{});
}

TEST(CidrTest, Ipv4Prefixes) {
  const CidrRange ten = range("10.0.0.0/8");
  EXPECT_TRUE(ten.contains(addr("10.0.0.1")));
  EXPECT_TRUE(ten.contains(addr("10.255.255.255")));
  EXPECT_FALSE(ten.contains(addr("11.0.0.1")));
  EXPECT_FALSE(ten.contains(addr("9.255.255.255")));
  const CidrRange odd = range("192.0.2.128/25");
  EXPECT_TRUE(odd.contains(addr("192.0.2.200")));
  EXPECT_FALSE(odd.contains(addr("192.0.2.127")));
  const CidrRange all = range("0.0.0.0/0");
  EXPECT_TRUE(all.contains(addr("203.0.113.9")));
  EXPECT_FALSE(all.contains(addr("::1")));
}

TEST(CidrTest, SingleAddresses) {
  const CidrRange one = range("192.0.2.10");
  EXPECT_EQ(one.prefixLength, 32);
  EXPECT_TRUE(one.contains(addr("192.0.2.10")));
  EXPECT_FALSE(one.contains(addr("192.0.2.11")));
  const CidrRange loop6 = range("::1");
  EXPECT_EQ(loop6.prefixLength, 128);
  EXPECT_TRUE(loop6.contains(addr("::1")));
  EXPECT_FALSE(loop6.contains(addr("::2")));
}

TEST(CidrTest, Ipv6Prefixes) {
  const CidrRange doc = range("2001:db8::/32");
  EXPECT_TRUE(doc.contains(addr("2001:db8:1:2::3")));
  EXPECT_FALSE(doc.contains(addr("2001:db9::1")));
  EXPECT_FALSE(doc.contains(addr("10.0.0.1")));
  const CidrRange nibble = range("2001:db8:abcd:12::/63");
  EXPECT_TRUE(nibble.contains(addr("2001:db8:abcd:13::1")));
  EXPECT_FALSE(nibble.contains(addr("2001:db8:abcd:14::1")));
}

TEST(CidrTest, V4MappedSourcesMatchIpv4Ranges) {
  const CidrRange ten = range("10.0.0.0/8");
  EXPECT_TRUE(ten.contains(addr("::ffff:10.1.2.3")));
  EXPECT_FALSE(ten.contains(addr("::ffff:11.1.2.3")));
  // A range written in the mapped form is the IPv4 range.
  const CidrRange mapped = range("::ffff:192.0.2.0/120");
  EXPECT_FALSE(mapped.ipv6);
  EXPECT_EQ(mapped.prefixLength, 24);
  EXPECT_TRUE(mapped.contains(addr("192.0.2.77")));
  EXPECT_TRUE(mapped.contains(addr("::ffff:192.0.2.77")));
}

TEST(CidrTest, RefusesMalformed) {
  for (const char* bad : {"", "10.0.0.0/", "10.0.0.0/33", "::/129", "10.0.0/8", "example.com",
                          "10.0.0.0/8x", "10.1.2.3/8", "10.0.0.0/-1", "1.2.3.4/ 8"}) {
    std::string error;
    EXPECT_FALSE(CidrRange::parse(bad, &error).has_value()) << bad;
    EXPECT_FALSE(error.empty()) << bad;
  }
}

TEST(CidrTest, ListMatchesAnyRange) {
  CidrList list;
  EXPECT_FALSE(list.contains(addr("10.0.0.1")));
  list.add(range("10.0.0.0/8"));
  list.add(range("2001:db8::/32"));
  EXPECT_TRUE(list.contains(addr("10.9.9.9")));
  EXPECT_TRUE(list.contains(addr("2001:db8::5")));
  EXPECT_FALSE(list.contains(addr("127.0.0.1")));
  EXPECT_FALSE(list.contains(net::SocketAddress()));
}

}  // namespace
}  // namespace strowger::auth

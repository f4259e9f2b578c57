// A Binding as the text columns of table `location` and back, without a database.
#include <gtest/gtest.h>

#include <string>

#include "pg_codec.h"

namespace strowger::location::pg {
namespace {

Binding full() {
  Binding b;
  b.id = "0123456789abcdef";
  b.aor = "alice@example.com";
  b.contact = "sip:alice@192.0.2.10:5062;transport=tcp";
  b.path = "<sip:edge1.example.com;lr>, <sip:edge2.example.com;lr>";
  b.callId = "a84b4c76e66710@pc33";
  b.cseq = 4294967295u;
  b.qMilli = 700;
  b.instance = "<urn:uuid:00000000-0000-1000-8000-000A95A0E128>";
  b.regId = 4294967295u;
  b.userAgent = "Phone/1.0 (\"quoted\"; 'single'; back\\slash)";
  b.protocol = transport::Protocol::kTcp;
  b.source = *net::SocketAddress::parse("192.0.2.10", 40123);
  b.listener = 3;
  b.connection = 18446744073709551615ull;
  b.node = "node-a";
  b.expiresAt = 1700003600;
  b.updatedAt = 1700000000;
  b.natted = true;
  return b;
}

RowView viewOf(const Row& row) {
  RowView view;
  for (int i = 0; i < kColumnCount; ++i) {
    if (row[i]) view[i] = *row[i];
  }
  return view;
}

TEST(PgCodecTest, RoundTripsEveryField) {
  const Binding b = full();
  auto back = fromRow(viewOf(toRow(b)));
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(*back, b);
}

TEST(PgCodecTest, NoRegIdIsNull) {
  Binding b = full();
  b.regId.reset();
  b.natted = false;
  b.protocol = transport::Protocol::kUdp;
  Row row = toRow(b);
  EXPECT_FALSE(row[8].has_value()) << "reg_id";
  auto back = fromRow(viewOf(row));
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(*back, b);
}

TEST(PgCodecTest, ReadsPostgresBooleans) {
  Row row = toRow(full());
  row[17] = "f";
  auto back = fromRow(viewOf(row));
  ASSERT_TRUE(back);
  EXPECT_FALSE(back->natted);
}

TEST(PgCodecTest, RejectsWhatItCouldNotHaveWritten) {
  const Row good = toRow(full());
  const auto withColumn = [&good](int column, std::optional<std::string> value) {
    Row row = good;
    row[column] = std::move(value);
    return fromRow(viewOf(row));
  };
  auto r = withColumn(5, "4294967296");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("cseq"), std::string::npos) << r.error();
  EXPECT_FALSE(withColumn(6, "abc"));
  EXPECT_FALSE(withColumn(10, "SCTP"));
  EXPECT_FALSE(withColumn(11, "not an address"));
  EXPECT_FALSE(withColumn(15, std::nullopt));
  EXPECT_FALSE(withColumn(17, "maybe"));
}

TEST(PgCodecTest, SourceAddresses) {
  EXPECT_EQ(formatSource(net::SocketAddress()), "");
  EXPECT_EQ(parseSource(""), net::SocketAddress());

  auto v4 = *net::SocketAddress::parse("198.51.100.7", 5060);
  EXPECT_EQ(formatSource(v4), "198.51.100.7:5060");
  EXPECT_EQ(parseSource("198.51.100.7:5060"), v4);

  auto v6 = *net::SocketAddress::parse("2001:db8::1", 5061);
  EXPECT_EQ(formatSource(v6), "[2001:db8::1]:5061");
  EXPECT_EQ(parseSource("[2001:db8::1]:5061"), v6);

  auto zoned = *net::SocketAddress::parse("fe80::1%1", 5060);
  EXPECT_EQ(formatSource(zoned), "[fe80::1%1]:5060");
  EXPECT_EQ(parseSource(formatSource(zoned)), zoned);

  EXPECT_FALSE(parseSource("2001:db8::1:5060")) << "IPv6 without brackets";
  EXPECT_FALSE(parseSource("192.0.2.1"));
  EXPECT_FALSE(parseSource("192.0.2.1:99999"));
  EXPECT_FALSE(parseSource("example.com:5060"));
}

}  // namespace
}  // namespace strowger::location::pg

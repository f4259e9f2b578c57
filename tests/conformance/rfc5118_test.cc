// RFC 5118 "SIP Torture Test Messages for IPv6": the sendable (CRLF) versions in wire/, through
// Message::parse and checkRequest, with the IPv6 references the RFC is about.
#include <gtest/gtest.h>

#include <algorithm>
#include <ostream>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "corpus.h"
#include "exercise.h"
#include "strowger/sip/message.h"
#include "strowger/sip/sanity.h"

namespace strowger::conformance {
namespace {

using sip::Framing;
using sip::HostKind;
using sip::Message;
using sip::Method;
using sip::ParseErrc;

using Check = void (*)(const Message& m);

struct Case {
  const char* file;
  bool accepted;  // false: checkRequest answers 400 kBadUri
  Check check;
};

// The body is exactly Content-Length octets (the wire versions fixed the archive's lengths).
void expectBodyIntact(const Message& m) {
  const auto& contentLength = m.contentLength();
  STROWGER_ASSERT_OK(contentLength);
  EXPECT_EQ(m.body().size(), *contentLength);
  EXPECT_TRUE(m.body().starts_with("v=0\r\n")) << m.body();
  EXPECT_EQ(m.trailingBytes(), 0u);
}

void checkIpv6Good(const Message& m) {
  EXPECT_EQ(m.method(), Method::kRegister);
  const auto& ruri = m.requestUri();
  STROWGER_ASSERT_OK(ruri);
  EXPECT_EQ(ruri->host(), "2001:db8::10");
  EXPECT_EQ(ruri->hostPort.kind, HostKind::kIpv6);
  EXPECT_FALSE(ruri->hostPort.hasPort);
  const auto& top = m.topVia();
  STROWGER_ASSERT_OK(top);
  EXPECT_EQ(top->sentBy.host, "2001:db8::9:1");
  EXPECT_EQ(top->sentBy.kind, HostKind::kIpv6);
  const auto& contacts = m.contacts();
  STROWGER_ASSERT_OK(contacts);
  ASSERT_EQ(contacts->contacts.size(), 1u);
  EXPECT_EQ(contacts->contacts[0].address.uri.host(), "2001:db8::1");
  EXPECT_EQ(contacts->contacts[0].address.uri.hostPort.kind, HostKind::kIpv6);
}

void checkIpv6Bad(const Message& m) {
  // sip:2001:db8::10 without [ ]: not a valid Request-URI.
  EXPECT_EQ(m.requestUriText(), "sip:2001:db8::10");
  EXPECT_FALSE(m.requestUri().hasValue());
}

void checkPortAmbiguous(const Message& m) {
  // [2001:db8::10:5070]: well formed, and 5070 is part of the address, not a port.
  const auto& ruri = m.requestUri();
  STROWGER_ASSERT_OK(ruri);
  EXPECT_EQ(ruri->host(), "2001:db8::10:5070");
  EXPECT_EQ(ruri->hostPort.kind, HostKind::kIpv6);
  EXPECT_FALSE(ruri->hostPort.hasPort);
  EXPECT_EQ(ruri->port(), 0);
}

void checkPortUnambiguous(const Message& m) {
  const auto& ruri = m.requestUri();
  STROWGER_ASSERT_OK(ruri);
  EXPECT_EQ(ruri->host(), "2001:db8::10");
  EXPECT_EQ(ruri->hostPort.kind, HostKind::kIpv6);
  EXPECT_TRUE(ruri->hostPort.hasPort);
  EXPECT_EQ(ruri->port(), 5070);
}

void checkReceived(const Message& m) {
  // received= with or without [ ] gives the same address (RFC 5118 §4.5).
  const auto& top = m.topVia();
  STROWGER_ASSERT_OK(top);
  EXPECT_EQ(top->sentBy.host, "2001:db8::9:1");
  EXPECT_EQ(top->received, "2001:db8::9:255");
  EXPECT_EQ(top->branch.substr(0, 7), "z9hG4bK");
}

void checkIpv6InSdp(const Message& m) {
  EXPECT_EQ(m.method(), Method::kInvite);
  const auto& ruri = m.requestUri();
  STROWGER_ASSERT_OK(ruri);
  EXPECT_EQ(ruri->host(), "2001:db8::10");
  expectBodyIntact(m);
  EXPECT_EQ(m.body().size(), 251u);
  EXPECT_NE(m.body().find("c=IN IP6 2001:db8::20\r\n"), std::string_view::npos);
}

void checkMultIpInHeader(const Message& m) {
  EXPECT_EQ(m.method(), Method::kBye);
  const auto& vias = m.vias();
  STROWGER_ASSERT_OK(vias);
  ASSERT_EQ(vias->size(), 3u);
  EXPECT_EQ((*vias)[0].sentBy.host, "2001:db8::9:1");
  EXPECT_EQ((*vias)[0].sentBy.kind, HostKind::kIpv6);
  EXPECT_EQ((*vias)[0].sentBy.port, 6050);
  EXPECT_EQ((*vias)[1].sentBy.host, "192.0.2.1");
  EXPECT_EQ((*vias)[1].sentBy.kind, HostKind::kIpv4);
  EXPECT_FALSE((*vias)[1].sentBy.hasPort);
  EXPECT_EQ((*vias)[2].sentBy.host, "2001:db8::9:255");
  EXPECT_EQ((*vias)[2].sentBy.kind, HostKind::kIpv6);
  EXPECT_EQ((*vias)[2].received, "192.0.2.200");
  EXPECT_EQ((*vias)[2].transportId, sip::Transport::kTcp);
}

void checkMultIpInSdp(const Message& m) {
  expectBodyIntact(m);
  EXPECT_EQ(m.body().size(), 189u);
  EXPECT_NE(m.body().find("c=IN IP4 192.0.2.1\r\n"), std::string_view::npos);
  EXPECT_NE(m.body().find("c=IN IP6 2001:db8::1\r\n"), std::string_view::npos);
}

void checkIpv4Mapped(const Message& m) {
  const auto& top = m.topVia();
  STROWGER_ASSERT_OK(top);
  EXPECT_EQ(top->sentBy.host, "::ffff:192.0.2.10");
  EXPECT_EQ(top->sentBy.kind, HostKind::kIpv6);
  EXPECT_TRUE(top->sentBy.hasPort);
  EXPECT_EQ(top->sentBy.port, 19823);
  const auto& vias = m.vias();
  STROWGER_ASSERT_OK(vias);
  ASSERT_EQ(vias->size(), 2u);
  EXPECT_EQ((*vias)[1].sentBy.host, "::ffff:192.0.2.2");
  const auto& contacts = m.contacts();
  STROWGER_ASSERT_OK(contacts);
  ASSERT_EQ(contacts->contacts.size(), 1u);
  EXPECT_EQ(contacts->contacts[0].address.uri.host(), "::ffff:192.0.2.2");
  EXPECT_EQ(contacts->contacts[0].address.displayName, "T. desk phone");
  expectBodyIntact(m);
  EXPECT_EQ(m.body().size(), 245u);
}

void checkThreeColons(const Message& m) {
  // RFC 3261's ABNF allows it, RFC 4291 does not: tolerated.
  const auto& ruri = m.requestUri();
  STROWGER_ASSERT_OK(ruri);
  EXPECT_EQ(ruri->host(), "2001:db8:::192.0.2.1");
  EXPECT_EQ(ruri->hostPort.kind, HostKind::kIpv6);
  const auto& to = m.to();
  STROWGER_ASSERT_OK(to);
  EXPECT_EQ(to->uri.host(), "2001:db8:::192.0.2.1");
}

void checkTwoColons(const Message& m) {
  const auto& ruri = m.requestUri();
  STROWGER_ASSERT_OK(ruri);
  EXPECT_EQ(ruri->host(), "2001:db8::192.0.2.1");
  EXPECT_EQ(ruri->hostPort.kind, HostKind::kIpv6);
  const auto& to = m.to();
  STROWGER_ASSERT_OK(to);
  EXPECT_EQ(to->uri.host(), "2001:db8::192.0.2.1");
}

const Case kCases[] = {
    {"ipv6-good.sip", true, checkIpv6Good},
    {"ipv6-bad.sip", false, checkIpv6Bad},
    {"port-ambiguous.sip", true, checkPortAmbiguous},
    {"port-unambiguous.sip", true, checkPortUnambiguous},
    {"via-received-param-with-delim.sip", true, checkReceived},
    {"via-received-param-no-delim.sip", true, checkReceived},
    {"ipv6-in-sdp.sip", true, checkIpv6InSdp},
    {"mult-ip-in-header.sip", true, checkMultIpInHeader},
    {"mult-ip-in-sdp.sip", true, checkMultIpInSdp},
    {"ipv4-mapped-ipv6.sip", true, checkIpv4Mapped},
    {"ipv6-bug-abnf-3-colons.sip", true, checkThreeColons},
    {"ipv6-correct-abnf-2-colons.sip", true, checkTwoColons},
};

class Rfc5118Test : public ::testing::TestWithParam<Case> {};

TEST_P(Rfc5118Test, Message) {
  const Case& c = GetParam();
  STROWGER_SHARED_DIR_OR_SKIP(dir, "rfc5118/wire");
  const auto bytes = readFile(dir / c.file);
  ASSERT_TRUE(bytes.has_value()) << "cannot read " << (dir / c.file).string();

  Message m;
  STROWGER_ASSERT_OK(m.parse(view(*bytes), Framing::kDatagram));
  ASSERT_TRUE(m.isRequest());
  if (c.accepted) {
    EXPECT_TRUE(isOk(sip::checkRequest(m))) << "checkRequest";
  } else {
    EXPECT_TRUE(isError(sip::checkRequest(m), ParseErrc::kBadUri, 400)) << "checkRequest";
  }
  c.check(m);
}

TEST_P(Rfc5118Test, ApiInvariants) {
  const Case& c = GetParam();
  STROWGER_SHARED_DIR_OR_SKIP(dir, "rfc5118/wire");
  const auto bytes = readFile(dir / c.file);
  ASSERT_TRUE(bytes.has_value());
  Message m;
  for (sip::Framing framing : {Framing::kDatagram, Framing::kStream}) {
    const ExerciseResult result = exercise(m, view(*bytes), framing);
    EXPECT_TRUE(result.parsed) << describe(result.parseError);
    for (const std::string& violation : result.violations) {
      ADD_FAILURE() << (framing == Framing::kDatagram ? "datagram: " : "stream: ") << violation;
    }
  }
}

// Names the file in the ctest test name ("... # GetParam() = wsinv.dat").
void PrintTo(const Case& c, std::ostream* os) {
  *os << c.file;
}

std::string paramName(const ::testing::TestParamInfo<Case>& p) {
  return testNameOf(p.param.file);
}

INSTANTIATE_TEST_SUITE_P(Rfc5118, Rfc5118Test, ::testing::ValuesIn(kCases), paramName);

TEST(Rfc5118Table, CoversEveryFile) {
  std::set<std::string> table;
  for (const Case& c : kCases) {
    EXPECT_TRUE(table.insert(c.file).second) << c.file << " is in the table twice";
  }
  EXPECT_EQ(table.size(), 12u);
  STROWGER_SHARED_DIR_OR_SKIP(dir, "rfc5118/wire");
  const std::vector<std::string> files = listFiles(dir, ".sip");
  EXPECT_EQ(files.size(), 12u);
  for (const std::string& file : files) {
    EXPECT_TRUE(table.contains(file)) << file << " has no entry in the table";
  }
  for (const std::string& entry : table) {
    EXPECT_TRUE(std::binary_search(files.begin(), files.end(), entry))
        << entry << " is in the table but not in " << dir.string();
  }
}

}  // namespace
}  // namespace strowger::conformance

// Typed header values (RFC 3261 §20, §25.1; RFC 3581, RFC 5118, RFC 5626, RFC 7616).
#include "strowger/sip/headers.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace strowger::sip {
namespace {

using namespace std::string_view_literals;

Via viaOk(std::string_view text) {
  auto r = parseVia(text);
  EXPECT_TRUE(r.hasValue()) << "parseVia failed for: " << text;
  return r ? *r : Via{};
}

void expectBadVia(std::string_view text) {
  auto r = parseVia(text);
  ASSERT_FALSE(r.hasValue()) << "parseVia accepted: " << text;
  EXPECT_EQ(r.error().code, ParseErrc::kBadVia) << text;
  EXPECT_EQ(r.error().status, 400) << text;
}

NameAddr nameAddrOk(std::string_view text) {
  auto r = parseNameAddr(text);
  EXPECT_TRUE(r.hasValue()) << "parseNameAddr failed for: " << text;
  return r ? *r : NameAddr{};
}

void expectBadNameAddr(std::string_view text) {
  auto r = parseNameAddr(text);
  ASSERT_FALSE(r.hasValue()) << "parseNameAddr accepted: " << text;
  EXPECT_EQ(r.error().code, ParseErrc::kBadNameAddr) << text;
  EXPECT_EQ(r.error().status, 400) << text;
}

ContactList contactsOk(std::string_view text) {
  ContactList list;
  auto r = parseContactList(text, list);
  EXPECT_TRUE(r.hasValue()) << "parseContactList failed for: " << text;
  return list;
}

void expectBadContact(std::string_view text) {
  ContactList list;
  auto r = parseContactList(text, list);
  ASSERT_FALSE(r.hasValue()) << "parseContactList accepted: " << text;
  EXPECT_EQ(r.error().code, ParseErrc::kBadContact) << text;
  EXPECT_EQ(r.error().status, 400) << text;
}

std::optional<uint16_t> qOf(std::string_view param) {
  std::string text = "<sip:a@example.com>;q=" + std::string(param);
  ContactList list;
  auto r = parseContactList(text, list);
  if (!r) return std::nullopt;
  EXPECT_EQ(list.contacts.size(), 1u);
  if (list.contacts.empty() || !list.contacts[0].qMilli) return uint16_t{0xFFFF};
  return list.contacts[0].qMilli;
}

// --- Via -------------------------------------------------------------------------------------

TEST(SipVia, AllParameters) {
  Via v = viaOk(
      "SIP/2.0/UDP pc33.atlanta.example.com:5066;branch=z9hG4bK776asdhds;received=192.0.2.101;"
      "rport=5070;maddr=224.2.0.1;ttl=16");
  EXPECT_EQ(v.protocol, "SIP");
  EXPECT_EQ(v.version, "2.0");
  EXPECT_EQ(v.transport, "UDP");
  EXPECT_EQ(v.transportId, Transport::kUdp);
  EXPECT_EQ(v.sentBy.host, "pc33.atlanta.example.com");
  EXPECT_EQ(v.sentBy.kind, HostKind::kDomain);
  EXPECT_EQ(v.sentBy.port, 5066);
  EXPECT_TRUE(v.sentBy.hasPort);
  EXPECT_EQ(v.branch, "z9hG4bK776asdhds");
  EXPECT_TRUE(v.hasRfc3261Branch());
  EXPECT_EQ(v.received, "192.0.2.101");
  EXPECT_TRUE(v.hasRport);
  ASSERT_TRUE(v.rport.has_value());
  EXPECT_EQ(*v.rport, 5070);
  EXPECT_EQ(v.maddr, "224.2.0.1");
  EXPECT_EQ(v.params.get("ttl"), "16");
  EXPECT_EQ(v.params.raw(),
            "branch=z9hG4bK776asdhds;received=192.0.2.101;rport=5070;maddr=224.2.0.1;ttl=16");
  EXPECT_EQ(v.raw,
            "SIP/2.0/UDP pc33.atlanta.example.com:5066;branch=z9hG4bK776asdhds;"
            "received=192.0.2.101;rport=5070;maddr=224.2.0.1;ttl=16");
}

TEST(SipVia, MinimalViaHasNoOptionalParts) {
  Via v = viaOk("SIP/2.0/TCP 192.0.2.4");
  EXPECT_EQ(v.transportId, Transport::kTcp);
  EXPECT_EQ(v.sentBy.host, "192.0.2.4");
  EXPECT_EQ(v.sentBy.kind, HostKind::kIpv4);
  EXPECT_FALSE(v.sentBy.hasPort);
  EXPECT_EQ(v.sentBy.port, 0);
  EXPECT_TRUE(v.params.empty());
  EXPECT_EQ(v.branch, "");
  EXPECT_FALSE(v.hasRfc3261Branch());
  EXPECT_EQ(v.received, "");
  EXPECT_FALSE(v.hasRport);
  EXPECT_FALSE(v.rport.has_value());
  EXPECT_EQ(v.maddr, "");
}

TEST(SipVia, Rfc2543BranchIsNotMagic) {
  Via v = viaOk("SIP/2.0/UDP host.example.com;branch=776asdhds");
  EXPECT_EQ(v.branch, "776asdhds");
  EXPECT_FALSE(v.hasRfc3261Branch());
  Via lower = viaOk("SIP/2.0/UDP host.example.com;branch=z9hg4bk776");
  EXPECT_FALSE(lower.hasRfc3261Branch());  // the cookie is compared exactly
}

TEST(SipVia, ReceivedIpv6WithAndWithoutBrackets) {
  // RFC 5118 §4.5: received may carry an IPv6 address with or without brackets.
  Via bracketed =
      viaOk("SIP/2.0/UDP [2001:db8::9:1]:5070;branch=z9hG4bKas3;received=[2001:db8::9:255]");
  EXPECT_EQ(bracketed.sentBy.host, "2001:db8::9:1");
  EXPECT_EQ(bracketed.sentBy.kind, HostKind::kIpv6);
  EXPECT_EQ(bracketed.sentBy.port, 5070);
  EXPECT_TRUE(bracketed.sentBy.hasPort);
  EXPECT_EQ(bracketed.received, "2001:db8::9:255");
  EXPECT_EQ(bracketed.branch, "z9hG4bKas3");

  Via bare = viaOk("SIP/2.0/UDP [2001:db8::9:1];received=2001:db8::9:255;branch=z9hG4bKas3");
  EXPECT_EQ(bare.sentBy.host, "2001:db8::9:1");
  EXPECT_FALSE(bare.sentBy.hasPort);
  EXPECT_EQ(bare.received, "2001:db8::9:255");
  EXPECT_EQ(bare.branch, "z9hG4bKas3");
}

TEST(SipVia, RportWithAndWithoutValue) {
  Via none = viaOk("SIP/2.0/UDP 192.0.2.1:5060;rport;branch=z9hG4bK1");
  EXPECT_TRUE(none.hasRport);
  EXPECT_FALSE(none.rport.has_value());
  EXPECT_EQ(none.branch, "z9hG4bK1");

  Via value = viaOk("SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1;rport=65535");
  EXPECT_TRUE(value.hasRport);
  ASSERT_TRUE(value.rport.has_value());
  EXPECT_EQ(*value.rport, 65535);

  Via upper = viaOk("SIP/2.0/UDP 192.0.2.1;RPORT=1;BRANCH=z9hG4bK9;Received=192.0.2.9");
  EXPECT_TRUE(upper.hasRport);
  EXPECT_EQ(upper.rport.value_or(0), 1);
  EXPECT_EQ(upper.branch, "z9hG4bK9");
  EXPECT_EQ(upper.received, "192.0.2.9");

  expectBadVia("SIP/2.0/UDP 192.0.2.1;rport=65536");
  expectBadVia("SIP/2.0/UDP 192.0.2.1;rport=abc");
}

TEST(SipVia, SeparatorsMayHaveWhitespace) {
  // SLASH, COLON, SEMI and EQUAL are SWS-wrapped (RFC 3261 §25.1).
  Via v = viaOk("SIP / 2.0 / TCP example.com : 5061 ; branch = z9hG4bK1 ; rport");
  EXPECT_EQ(v.protocol, "SIP");
  EXPECT_EQ(v.version, "2.0");
  EXPECT_EQ(v.transport, "TCP");
  EXPECT_EQ(v.transportId, Transport::kTcp);
  EXPECT_EQ(v.sentBy.host, "example.com");
  EXPECT_EQ(v.sentBy.port, 5061);
  EXPECT_EQ(v.branch, "z9hG4bK1");
  EXPECT_TRUE(v.hasRport);
  EXPECT_FALSE(v.rport.has_value());
}

TEST(SipVia, FoldedLinearWhitespace) {
  Via v = viaOk("SIP/2.0/UDP\r\n  host.example.com;\r\n\tbranch=z9hG4bK2");
  EXPECT_EQ(v.transport, "UDP");
  EXPECT_EQ(v.sentBy.host, "host.example.com");
  EXPECT_EQ(v.branch, "z9hG4bK2");
}

TEST(SipVia, TransportTokensAsWritten) {
  Via lower = viaOk("sip/2.0/udp host.example.com");
  EXPECT_EQ(lower.protocol, "sip");
  EXPECT_EQ(lower.transport, "udp");
  EXPECT_EQ(lower.transportId, Transport::kUdp);
  Via other = viaOk("SIP/2.0/TLS-SCTP host.example.com");
  EXPECT_EQ(other.transport, "TLS-SCTP");
  EXPECT_EQ(other.transportId, Transport::kOther);
  Via ws = viaOk("SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bK56sdasks");
  EXPECT_EQ(ws.transportId, Transport::kWss);
  EXPECT_EQ(ws.sentBy.host, "df7jal23ls0d.invalid");
}

TEST(SipVia, Errors) {
  expectBadVia("");
  expectBadVia("SIP/2.0 host.example.com;branch=z9hG4bK1");   // missing transport
  expectBadVia("SIP/2.0/ host.example.com;branch=z9hG4bK1");  // empty transport
  expectBadVia("SIP/2.0/UDP");                                // no sent-by
  expectBadVia("SIP/2.0/UDPhost.example.com");
  expectBadVia("/2.0/UDP host.example.com");
  expectBadVia("SIP//UDP host.example.com");
  expectBadVia("SIP/2.0/UDP ;branch=z9hG4bK1");
  expectBadVia("SIP/2.0/UDP host.example.com;;branch=z9hG4bK1");  // empty parameter
  expectBadVia("SIP/2.0/UDP host.example.com;branch=z9hG4bK1;");
  expectBadVia("SIP/2.0/UDP host.example.com;branch=z9hG4bK1;;rport");
  expectBadVia("SIP/2.0/UDP host.example.com;branch");  // branch needs a value
  expectBadVia("SIP/2.0/UDP host.example.com:99999;branch=z9hG4bK1");
  expectBadVia("SIP/2.0/UDP host.example.com:65536");
  expectBadVia("SIP/2.0/UDP host.example.com:;branch=z9hG4bK1");
  expectBadVia("SIP/2.0/UDP host.example.com:abc");
  expectBadVia("SIP/2.0/UDP [2001:db8::1;branch=z9hG4bK1");
  expectBadVia("SIP/2.0/UDP 2001:db8::1;branch=z9hG4bK1");
  expectBadVia("SIP/2.0/UDP host.example.com junk");
  expectBadVia("SIP/2.0/UDP host@example.com");
  expectBadVia("SIP/2.0/UDP host.example.com;branch=");
}

TEST(SipVia, PortBoundInSentBy) {
  Via v = viaOk("SIP/2.0/UDP host.example.com:65535");
  EXPECT_EQ(v.sentBy.port, 65535);
}

TEST(SipVia, SeveralViaParmsInOneLine) {
  std::vector<Via> list;
  auto r = parseViaList(
      "SIP/2.0/UDP first.example.com;branch=z9hG4bKa, SIP/2.0/TCP second.example.com:5061;"
      "branch=z9hG4bKb ,\r\n SIP/2.0/UDP [2001:db8::1];branch=z9hG4bKc",
      list);
  ASSERT_TRUE(r.hasValue());
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0].sentBy.host, "first.example.com");
  EXPECT_EQ(list[0].branch, "z9hG4bKa");
  EXPECT_EQ(list[0].raw, "SIP/2.0/UDP first.example.com;branch=z9hG4bKa");
  EXPECT_EQ(list[1].transportId, Transport::kTcp);
  EXPECT_EQ(list[1].sentBy.host, "second.example.com");
  EXPECT_EQ(list[1].sentBy.port, 5061);
  EXPECT_EQ(list[1].branch, "z9hG4bKb");
  EXPECT_EQ(list[1].raw, "SIP/2.0/TCP second.example.com:5061;branch=z9hG4bKb");
  EXPECT_EQ(list[2].sentBy.host, "2001:db8::1");
  EXPECT_EQ(list[2].sentBy.kind, HostKind::kIpv6);
  EXPECT_EQ(list[2].branch, "z9hG4bKc");

  // A list parser appends.
  ASSERT_TRUE(parseViaList("SIP/2.0/SCTP fourth.example.com", list).hasValue());
  ASSERT_EQ(list.size(), 4u);
  EXPECT_EQ(list[3].transportId, Transport::kSctp);
}

TEST(SipVia, ListErrors) {
  std::vector<Via> list;
  auto bad = parseViaList("SIP/2.0/UDP a.example.com;branch=z9hG4bK1, SIP/2.0 b.example.com", list);
  ASSERT_FALSE(bad.hasValue());
  EXPECT_EQ(bad.error().code, ParseErrc::kBadVia);

  std::vector<Via> empty;
  auto gap = parseViaList("SIP/2.0/UDP a.example.com,,SIP/2.0/UDP b.example.com", empty);
  ASSERT_FALSE(gap.hasValue());
  EXPECT_EQ(gap.error().code, ParseErrc::kBadVia);

  std::vector<Via> quoted;
  auto unbalanced = parseViaList("SIP/2.0/UDP a.example.com;x=\"abc", quoted);
  ASSERT_FALSE(unbalanced.hasValue());
  EXPECT_EQ(unbalanced.error().code, ParseErrc::kBadVia);
}

// --- name-addr -------------------------------------------------------------------------------

TEST(SipNameAddr, QuotedDisplayNameWithEscapedQuotes) {
  NameAddr na =
      nameAddrOk(R"("Bob \"the builder\" Smith" <sip:bob@biloxi.example.com>;tag=a6c85cf)");
  EXPECT_EQ(na.displayName, R"(Bob \"the builder\" Smith)");
  EXPECT_TRUE(na.displayNameQuoted);
  EXPECT_TRUE(na.bracketed);
  EXPECT_EQ(na.uri.scheme, UriScheme::kSip);
  EXPECT_EQ(na.uri.user, "bob");
  EXPECT_EQ(na.uri.host(), "biloxi.example.com");
  EXPECT_EQ(na.uri.raw, "sip:bob@biloxi.example.com");
  EXPECT_EQ(na.params.raw(), "tag=a6c85cf");
  EXPECT_EQ(na.tag, "a6c85cf");
  EXPECT_EQ(na.raw, R"("Bob \"the builder\" Smith" <sip:bob@biloxi.example.com>;tag=a6c85cf)");
}

TEST(SipNameAddr, EmptyQuotedDisplayName) {
  NameAddr na = nameAddrOk(R"("" <sip:anonymous@anonymous.invalid>)");
  EXPECT_EQ(na.displayName, "");
  EXPECT_TRUE(na.displayNameQuoted);
  EXPECT_EQ(na.uri.host(), "anonymous.invalid");
  EXPECT_EQ(na.tag, "");
}

TEST(SipNameAddr, UnquotedDisplayName) {
  NameAddr na = nameAddrOk("Bob  Smith\t<sip:bob@biloxi.example.com>");
  EXPECT_EQ(na.displayName, "Bob  Smith");
  EXPECT_FALSE(na.displayNameQuoted);
  EXPECT_TRUE(na.bracketed);
  EXPECT_EQ(na.uri.raw, "sip:bob@biloxi.example.com");
  EXPECT_TRUE(na.params.empty());
}

TEST(SipNameAddr, NoWhitespaceBeforeLaquot) {
  NameAddr unquoted = nameAddrOk("Bob<sip:bob@biloxi.example.com>;tag=1");
  EXPECT_EQ(unquoted.displayName, "Bob");
  EXPECT_EQ(unquoted.uri.raw, "sip:bob@biloxi.example.com");
  EXPECT_EQ(unquoted.tag, "1");
  NameAddr quoted = nameAddrOk(R"("Bob"<sip:bob@biloxi.example.com>)");
  EXPECT_EQ(quoted.displayName, "Bob");
  EXPECT_TRUE(quoted.displayNameQuoted);
}

TEST(SipNameAddr, BracketsWithoutDisplayName) {
  NameAddr na = nameAddrOk("<sip:p1.example.com;lr>;x=y");
  EXPECT_EQ(na.displayName, "");
  EXPECT_FALSE(na.displayNameQuoted);
  EXPECT_TRUE(na.bracketed);
  EXPECT_TRUE(na.uri.params.has("lr"));
  EXPECT_EQ(na.params.raw(), "x=y");
  EXPECT_EQ(na.params.get("x"), "y");
  EXPECT_FALSE(na.params.has("lr"));
}

TEST(SipNameAddr, AddrSpecParamsBelongToTheHeader) {
  // RFC 3261 §20.10: without <>, everything after the first ';' is a header parameter.
  NameAddr na = nameAddrOk("sip:bob@biloxi.example.com;tag=1928301774;transport=tcp");
  EXPECT_FALSE(na.bracketed);
  EXPECT_EQ(na.displayName, "");
  EXPECT_EQ(na.uri.raw, "sip:bob@biloxi.example.com");
  EXPECT_TRUE(na.uri.params.empty());
  EXPECT_EQ(na.params.raw(), "tag=1928301774;transport=tcp");
  EXPECT_EQ(na.tag, "1928301774");
  EXPECT_EQ(na.params.get("transport"), "tcp");

  NameAddr tel = nameAddrOk("tel:+12125551212;tag=x");
  EXPECT_EQ(tel.uri.scheme, UriScheme::kTel);
  EXPECT_EQ(tel.uri.user, "+12125551212");
  EXPECT_EQ(tel.tag, "x");
}

TEST(SipNameAddr, SpacesInsideBrackets) {
  // RFC 4475 §3.1.2.14 asks for tolerance of LWS inside <>.
  NameAddr na = nameAddrOk("< sip:bob@biloxi.example.com >;tag=1");
  EXPECT_EQ(na.uri.raw, "sip:bob@biloxi.example.com");
  EXPECT_EQ(na.uri.host(), "biloxi.example.com");
  EXPECT_EQ(na.tag, "1");
}

TEST(SipNameAddr, HeaderParamsWithWhitespaceAndQuotes) {
  NameAddr na = nameAddrOk(R"(<sip:x@example.com> ; TAG = 7 ; foo="a b;c")");
  EXPECT_EQ(na.tag, "7");
  auto foo = na.params.find("foo");
  ASSERT_TRUE(foo.has_value());
  EXPECT_EQ(foo->value, R"("a b;c")");
  EXPECT_EQ(foo->unquoted(), "a b;c");
}

TEST(SipNameAddr, ValuelessTag) {
  NameAddr na = nameAddrOk("<sip:x@example.com>;tag");
  EXPECT_TRUE(na.params.has("tag"));
  EXPECT_EQ(na.tag, "");
}

TEST(SipNameAddr, UnterminatedQuoteIsAnError) {
  auto r = parseNameAddr(R"("Bob <sip:bob@biloxi.example.com>)");
  ASSERT_FALSE(r.hasValue());
  EXPECT_EQ(r.error().code, ParseErrc::kBadNameAddr);
  EXPECT_EQ(r.error().reason, "Unterminated quoted string");
  EXPECT_EQ(r.error().status, 400);
  expectBadNameAddr(R"("Bob \" <sip:bob@biloxi.example.com>)");
}

TEST(SipNameAddr, UnquotedCommaIsAnError) {
  expectBadNameAddr("Bob, Smith <sip:bob@biloxi.example.com>");
  std::vector<NameAddr> list;
  // Split at the comma, the first element has no URI at all.
  EXPECT_FALSE(parseNameAddrList("Bob, Smith <sip:bob@biloxi.example.com>", list).hasValue());
}

TEST(SipNameAddr, Errors) {
  expectBadNameAddr("");
  expectBadNameAddr("   ");
  expectBadNameAddr("<sip:bob@biloxi.example.com");
  expectBadNameAddr("<sip:bob@biloxi.example.com>junk");
  expectBadNameAddr("bob@biloxi.example.com");
  expectBadNameAddr("<sip:@biloxi.example.com>");
  expectBadNameAddr("<sip:bob@biloxi.example.com>;;tag=1");
  expectBadNameAddr("<sip:bob@biloxi.example.com>;tag=1;");
  expectBadNameAddr("sip:bob@biloxi.example.com?subject=x");  // needs brackets
  expectBadNameAddr(R"("Bob" sip:bob@biloxi.example.com)");
  expectBadNameAddr("Bob@home <sip:bob@biloxi.example.com>");
  expectBadNameAddr("<>");
  auto r = parseNameAddr("<sip:@biloxi.example.com>");
  ASSERT_FALSE(r.hasValue());
  EXPECT_EQ(r.error().reason, "Bad URI in name-addr");
}

TEST(SipNameAddr, List) {
  std::vector<NameAddr> list;
  auto r = parseNameAddrList(
      R"(<sip:p1.example.com;lr>, <sip:p2.example.com;lr>,"Proxy, 3" <sip:p3.example.com;lr>)",
      list);
  ASSERT_TRUE(r.hasValue());
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0].raw, "<sip:p1.example.com;lr>");
  EXPECT_EQ(list[0].uri.host(), "p1.example.com");
  EXPECT_EQ(list[1].raw, "<sip:p2.example.com;lr>");
  EXPECT_EQ(list[2].raw, R"("Proxy, 3" <sip:p3.example.com;lr>)");
  EXPECT_EQ(list[2].displayName, "Proxy, 3");
  EXPECT_TRUE(list[2].uri.params.has("lr"));
}

// --- Contact ---------------------------------------------------------------------------------

TEST(SipContact, Star) {
  ContactList star = contactsOk("*");
  EXPECT_TRUE(star.star);
  EXPECT_TRUE(star.contacts.empty());
  ContactList spaced = contactsOk("  * ");
  EXPECT_TRUE(spaced.star);
}

TEST(SipContact, StarMixedWithAddressesIsAnError) {
  expectBadContact("*, <sip:a@example.com>");
  expectBadContact("<sip:a@example.com>, *");
  ContactList list;
  ASSERT_TRUE(parseContactList("<sip:a@example.com>", list).hasValue());
  auto r = parseContactList("*", list);
  ASSERT_FALSE(r.hasValue());
  EXPECT_EQ(r.error().code, ParseErrc::kBadContact);
  ContactList starFirst;
  ASSERT_TRUE(parseContactList("*", starFirst).hasValue());
  EXPECT_FALSE(parseContactList("<sip:a@example.com>", starFirst).hasValue());
}

TEST(SipContact, Rfc3261Example) {
  ContactList list =
      contactsOk(R"("Mr. Watson" <sip:watson@worcester.bell-telephone.com>;q=0.7; expires=3600, )"
                 R"("Mr. Watson" <mailto:watson@bell-telephone.com> ;q=0.1)");
  EXPECT_FALSE(list.star);
  ASSERT_EQ(list.contacts.size(), 2u);
  const Contact& a = list.contacts[0];
  EXPECT_EQ(a.address.displayName, "Mr. Watson");
  EXPECT_EQ(a.address.uri.host(), "worcester.bell-telephone.com");
  EXPECT_EQ(a.qMilli, std::optional<uint16_t>(700));
  EXPECT_EQ(a.expires, std::optional<uint32_t>(3600));
  EXPECT_FALSE(a.regId.has_value());
  EXPECT_EQ(a.instance, "");
  const Contact& b = list.contacts[1];
  EXPECT_EQ(b.address.uri.scheme, UriScheme::kOther);
  EXPECT_EQ(b.address.uri.opaque, "watson@bell-telephone.com");
  EXPECT_EQ(b.qMilli, std::optional<uint16_t>(100));
  EXPECT_FALSE(b.expires.has_value());
}

TEST(SipContact, QValues) {
  EXPECT_EQ(qOf("0"), std::optional<uint16_t>(0));
  EXPECT_EQ(qOf("0.5"), std::optional<uint16_t>(500));
  EXPECT_EQ(qOf("0.05"), std::optional<uint16_t>(50));
  EXPECT_EQ(qOf("0.123"), std::optional<uint16_t>(123));
  EXPECT_EQ(qOf("0.000"), std::optional<uint16_t>(0));
  EXPECT_EQ(qOf("1"), std::optional<uint16_t>(1000));
  EXPECT_EQ(qOf("1.0"), std::optional<uint16_t>(1000));
  EXPECT_EQ(qOf("1.000"), std::optional<uint16_t>(1000));
  EXPECT_EQ(qOf("1.5"), std::nullopt);
  EXPECT_EQ(qOf("1.001"), std::nullopt);
  EXPECT_EQ(qOf("2"), std::nullopt);
  EXPECT_EQ(qOf("0.1234"), std::nullopt);
  EXPECT_EQ(qOf("abc"), std::nullopt);
  EXPECT_EQ(qOf("0,5"), std::nullopt);
  EXPECT_EQ(qOf("01"), std::nullopt);
  expectBadContact("<sip:a@example.com>;q=1.5");
}

TEST(SipContact, OutboundParameters) {
  // RFC 5626 §4.2: +sip.instance is a quoted URN in <>, reg-id a number.
  ContactList list =
      contactsOk(R"(<sip:line1@192.0.2.2;transport=tcp>;reg-id=1;)"
                 R"(+sip.instance="<urn:uuid:00000000-0000-1000-8000-000A95A0E128>";expires=600)");
  ASSERT_EQ(list.contacts.size(), 1u);
  const Contact& c = list.contacts[0];
  EXPECT_EQ(c.instance, "<urn:uuid:00000000-0000-1000-8000-000A95A0E128>");
  EXPECT_EQ(c.regId, std::optional<uint32_t>(1));
  EXPECT_EQ(c.expires, std::optional<uint32_t>(600));
  EXPECT_FALSE(c.qMilli.has_value());
  EXPECT_EQ(c.address.uri.params.get("transport"), "tcp");
  expectBadContact("<sip:line1@192.0.2.2>;reg-id=x");
}

TEST(SipContact, UnusableExpiresCountsAsAbsent) {
  ContactList list = contactsOk("<sip:a@example.com>;expires=soon, <sip:b@example.com>;expires=0");
  ASSERT_EQ(list.contacts.size(), 2u);
  EXPECT_FALSE(list.contacts[0].expires.has_value());
  EXPECT_EQ(list.contacts[1].expires, std::optional<uint32_t>(0));
  ContactList big = contactsOk("<sip:a@example.com>;expires=4294967296");
  ASSERT_EQ(big.contacts.size(), 1u);
  EXPECT_FALSE(big.contacts[0].expires.has_value());
}

TEST(SipContact, SeveralInOneLine) {
  ContactList list = contactsOk(
      R"(<sip:a@x.example.com>;q=0.1, "B" <sip:b@y.example.com>;expires=60,sip:c@z.example.com)");
  ASSERT_EQ(list.contacts.size(), 3u);
  EXPECT_EQ(list.contacts[0].address.uri.user, "a");
  EXPECT_EQ(list.contacts[0].qMilli, std::optional<uint16_t>(100));
  EXPECT_EQ(list.contacts[1].address.displayName, "B");
  EXPECT_EQ(list.contacts[1].expires, std::optional<uint32_t>(60));
  EXPECT_EQ(list.contacts[2].address.uri.user, "c");
  EXPECT_FALSE(list.contacts[2].address.bracketed);
}

TEST(SipContact, Errors) {
  expectBadContact("");
  expectBadContact("<sip:a@example.com");
  expectBadContact("<sip:a@example.com>;;q=1");
  expectBadContact("\"unterminated <sip:a@example.com>");
}

// --- CSeq, numbers, Call-ID, Content-Type ----------------------------------------------------

TEST(SipCSeq, Values) {
  auto a = parseCSeq("4711 INVITE");
  ASSERT_TRUE(a.hasValue());
  EXPECT_EQ(a->number, 4711u);
  EXPECT_EQ(a->method, Method::kInvite);
  EXPECT_EQ(a->methodText, "INVITE");

  auto max = parseCSeq("4294967295 REGISTER");
  ASSERT_TRUE(max.hasValue());
  EXPECT_EQ(max->number, 4294967295u);
  EXPECT_EQ(max->method, Method::kRegister);

  auto zeros = parseCSeq("0001 ACK");
  ASSERT_TRUE(zeros.hasValue());
  EXPECT_EQ(zeros->number, 1u);

  auto lower = parseCSeq("1 invite");
  ASSERT_TRUE(lower.hasValue());
  EXPECT_EQ(lower->method, Method::kUnknown);
  EXPECT_EQ(lower->methodText, "invite");

  auto ext = parseCSeq("2 NEWMETHOD");
  ASSERT_TRUE(ext.hasValue());
  EXPECT_EQ(ext->method, Method::kUnknown);
  EXPECT_EQ(ext->methodText, "NEWMETHOD");
}

TEST(SipCSeq, LinearWhitespaceAndFolding) {
  auto r = parseCSeq("  42\r\n  INVITE \t");
  ASSERT_TRUE(r.hasValue());
  EXPECT_EQ(r->number, 42u);
  EXPECT_EQ(r->methodText, "INVITE");
  auto tabs = parseCSeq("7\t\tBYE");
  ASSERT_TRUE(tabs.hasValue());
  EXPECT_EQ(tabs->method, Method::kBye);
}

TEST(SipCSeq, Errors) {
  for (std::string_view bad : {"4294967296 INVITE"sv, "99999999999999999999999 INVITE"sv, "1"sv,
                               "1 "sv, "INVITE"sv, ""sv, "-1 INVITE"sv, "1INVITE"sv,
                               "1 INVITE extra"sv, "1 INV@ITE"sv, "1.5 INVITE"sv, "0x1 INVITE"sv}) {
    auto r = parseCSeq(bad);
    ASSERT_FALSE(r.hasValue()) << bad;
    EXPECT_EQ(r.error().code, ParseErrc::kBadCSeq) << bad;
    EXPECT_EQ(r.error().status, 400);
  }
}

TEST(SipMaxForwards, Bounds) {
  EXPECT_EQ(parseMaxForwards("0").valueOr(999u), 0u);
  EXPECT_EQ(parseMaxForwards("70").valueOr(999u), 70u);
  EXPECT_EQ(parseMaxForwards("255").valueOr(999u), 255u);
  EXPECT_EQ(parseMaxForwards(" 255 ").valueOr(999u), 255u);
  for (std::string_view bad : {"256"sv, ""sv, "-1"sv, "1a"sv, "1 2"sv, "99999999999"sv}) {
    auto r = parseMaxForwards(bad);
    ASSERT_FALSE(r.hasValue()) << bad;
    EXPECT_EQ(r.error().code, ParseErrc::kBadMaxForwards) << bad;
  }
}

TEST(SipExpires, Values) {
  EXPECT_EQ(parseExpires("0").valueOr(1u), 0u);
  EXPECT_EQ(parseExpires("3600").valueOr(1u), 3600u);
  EXPECT_EQ(parseExpires("4294967295").valueOr(1u), 4294967295u);
  for (std::string_view bad : {"4294967296"sv, ""sv, "abc"sv, "-5"sv, "60 s"sv}) {
    auto r = parseExpires(bad);
    ASSERT_FALSE(r.hasValue()) << bad;
    EXPECT_EQ(r.error().code, ParseErrc::kBadExpires) << bad;
  }
}

TEST(SipContentLength, Values) {
  EXPECT_EQ(parseContentLength("0").valueOr(1u), 0u);
  EXPECT_EQ(parseContentLength(" 349 ").valueOr(1u), 349u);
  EXPECT_EQ(parseContentLength("4294967295").valueOr(1u), 4294967295u);
  for (std::string_view bad : {"-1"sv, ""sv, "1.0"sv, "+1"sv, "4294967296"sv, "0x10"sv}) {
    auto r = parseContentLength(bad);
    ASSERT_FALSE(r.hasValue()) << bad;
    EXPECT_EQ(r.error().code, ParseErrc::kBadContentLength) << bad;
  }
}

TEST(SipCallId, Values) {
  EXPECT_EQ(parseCallId("a84b4c76e66710@pc33.atlanta.example.com").valueOr(""sv),
            "a84b4c76e66710@pc33.atlanta.example.com");
  EXPECT_EQ(parseCallId(" f81d4fae-7dec-11d0-a765-00a0c91e6bf6@foo.bar.com\t").valueOr(""sv),
            "f81d4fae-7dec-11d0-a765-00a0c91e6bf6@foo.bar.com");
  for (std::string_view bad : {""sv, "  "sv, "a b"sv,
                               "a\x01"
                               "b"sv}) {
    auto r = parseCallId(bad);
    ASSERT_FALSE(r.hasValue());
    EXPECT_EQ(r.error().code, ParseErrc::kBadCallId);
  }
}

TEST(SipContentType, TypeSubtypeParams) {
  auto sdp = parseContentType("application/sdp");
  ASSERT_TRUE(sdp.hasValue());
  EXPECT_EQ(sdp->type, "application");
  EXPECT_EQ(sdp->subtype, "sdp");
  EXPECT_TRUE(sdp->params.empty());

  auto mixed = parseContentType("multipart/mixed;boundary=unique-boundary-1");
  ASSERT_TRUE(mixed.hasValue());
  EXPECT_EQ(mixed->type, "multipart");
  EXPECT_EQ(mixed->subtype, "mixed");
  EXPECT_EQ(mixed->params.get("boundary"), "unique-boundary-1");

  auto spaced = parseContentType("text / plain ; Charset = UTF-8");
  ASSERT_TRUE(spaced.hasValue());
  EXPECT_EQ(spaced->type, "text");
  EXPECT_EQ(spaced->subtype, "plain");
  EXPECT_EQ(spaced->params.get("charset"), "UTF-8");

  auto quoted =
      parseContentType(R"(multipart/signed; protocol="application/pkcs7-signature"; micalg=sha1)");
  ASSERT_TRUE(quoted.hasValue());
  auto protocol = quoted->params.find("protocol");
  ASSERT_TRUE(protocol.has_value());
  EXPECT_EQ(protocol->unquoted(), "application/pkcs7-signature");
  EXPECT_EQ(quoted->params.get("micalg"), "sha1");
}

TEST(SipContentType, Errors) {
  for (std::string_view bad :
       {"application"sv, "application/"sv, "/sdp"sv, ""sv, "application/sdp;"sv,
        "application/sdp junk"sv, "application/sdp;;x=1"sv}) {
    auto r = parseContentType(bad);
    ASSERT_FALSE(r.hasValue()) << bad;
    EXPECT_EQ(r.error().code, ParseErrc::kBadContentType) << bad;
  }
}

// --- Authorization and challenges ------------------------------------------------------------

TEST(SipCredentials, DigestWithQuotedAndUnquotedParams) {
  auto r = parseCredentials(
      R"(Digest username="bob", realm="biloxi.example.com", )"
      R"(nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="sip:bob@biloxi.example.com", qop=auth,)"
      "\r\n"
      R"( nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", )"
      R"(opaque="5ccc069c403ebaf9f0171e9517f40e41", algorithm=MD5, userhash=true)");
  ASSERT_TRUE(r.hasValue());
  const Credentials& c = *r;
  EXPECT_EQ(c.scheme, "Digest");
  EXPECT_EQ(c.username, "bob");
  EXPECT_EQ(c.realm, "biloxi.example.com");
  EXPECT_EQ(c.nonce, "dcd98b7102dd2f0e8b11d0f600bfb0c093");
  EXPECT_EQ(c.uri, "sip:bob@biloxi.example.com");
  EXPECT_EQ(c.qop, "auth");
  EXPECT_EQ(c.nc, "00000001");
  EXPECT_EQ(c.cnonce, "0a4f113b");
  EXPECT_EQ(c.response, "6629fae49393a05397450978507c4ef1");
  EXPECT_EQ(c.opaque, "5ccc069c403ebaf9f0171e9517f40e41");
  EXPECT_EQ(c.algorithm, "MD5");
  EXPECT_TRUE(c.userhash);
  ASSERT_EQ(c.params.size(), 11u);
  EXPECT_EQ(c.params[0].name, "username");
  EXPECT_EQ(c.params[0].value, "bob");
  EXPECT_TRUE(c.params[0].quoted);
  EXPECT_EQ(c.params[4].name, "qop");
  EXPECT_EQ(c.params[4].value, "auth");
  EXPECT_FALSE(c.params[4].quoted);
  EXPECT_EQ(c.params[10].name, "userhash");
  EXPECT_FALSE(c.params[10].quoted);
}

TEST(SipCredentials, QuotedValuesKeepEscapesAndCommas) {
  auto r = parseCredentials(R"(digest USERNAME="bo\"b", Realm="a, b", nonce="", uri=sip:x)");
  ASSERT_TRUE(r.hasValue());
  EXPECT_EQ(r->scheme, "digest");
  EXPECT_EQ(r->username, R"(bo\"b)");
  EXPECT_EQ(r->realm, "a, b");
  EXPECT_EQ(r->nonce, "");
  EXPECT_EQ(r->uri, "sip:x");
  EXPECT_FALSE(r->userhash);
  ASSERT_EQ(r->params.size(), 4u);
  EXPECT_TRUE(r->params[2].quoted);
  EXPECT_FALSE(r->params[3].quoted);
}

TEST(SipCredentials, UserhashFalse) {
  auto r = parseCredentials(R"(Digest username="x", userhash=false)");
  ASSERT_TRUE(r.hasValue());
  EXPECT_FALSE(r->userhash);
}

TEST(SipCredentials, UnknownSchemeIsKept) {
  // RFC 4475 §3.3.7: credentials of a scheme this element does not know pass through untouched.
  auto r = parseCredentials("NoOneKnowsThisScheme opaque-data=here, and more");
  ASSERT_TRUE(r.hasValue());
  EXPECT_EQ(r->scheme, "NoOneKnowsThisScheme");
  EXPECT_EQ(r->raw, "NoOneKnowsThisScheme opaque-data=here, and more");
  EXPECT_EQ(r->username, "");
  auto basic = parseCredentials("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
  ASSERT_TRUE(basic.hasValue());
  EXPECT_EQ(basic->scheme, "Basic");
  EXPECT_EQ(basic->raw, "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
}

TEST(SipCredentials, Errors) {
  for (std::string_view bad : {""sv, R"(Digest user name="bob")"sv, R"(Digest username="bob)"sv,
                               R"(Digest,username="bob")"sv, R"(Digest username="bob", stale)"sv}) {
    auto r = parseCredentials(bad);
    ASSERT_FALSE(r.hasValue()) << bad;
    EXPECT_EQ(r.error().code, ParseErrc::kBadAuthorization) << bad;
    EXPECT_EQ(r.error().status, 400);
  }
}

TEST(SipChallenge, DigestChallenge) {
  auto r = parseChallenge(
      R"(Digest realm="atlanta.example.com", domain="sip:ss1.carrier.example.com", qop="auth", )"
      R"(nonce="f84f1cec41e6cbe5aea9c8e88d359", opaque="", stale=FALSE, algorithm=MD5)");
  ASSERT_TRUE(r.hasValue());
  EXPECT_EQ(r->scheme, "Digest");
  EXPECT_EQ(r->realm, "atlanta.example.com");
  EXPECT_EQ(r->domain, "sip:ss1.carrier.example.com");
  EXPECT_EQ(r->qop, "auth");
  EXPECT_EQ(r->nonce, "f84f1cec41e6cbe5aea9c8e88d359");
  EXPECT_EQ(r->opaque, "");
  EXPECT_FALSE(r->stale);
  EXPECT_EQ(r->algorithm, "MD5");
  EXPECT_EQ(r->params.size(), 7u);
}

TEST(SipChallenge, Stale) {
  for (std::string_view text : {R"(Digest realm="a", nonce="n", stale=true)"sv,
                                R"(Digest realm="a", nonce="n", stale=TRUE)"sv,
                                R"(Digest realm="a", stale="true", nonce="n")"sv}) {
    auto r = parseChallenge(text);
    ASSERT_TRUE(r.hasValue()) << text;
    EXPECT_TRUE(r->stale) << text;
    EXPECT_EQ(r->realm, "a");
    EXPECT_EQ(r->nonce, "n");
  }
}

TEST(SipChallenge, Algorithms) {
  // RFC 8760 §2.4: one challenge per algorithm, most preferred first.
  auto sha =
      parseChallenge(R"(Digest realm="a", algorithm=SHA-256, qop="auth,auth-int", nonce="1")");
  auto md5 = parseChallenge(R"(Digest realm="a", algorithm=MD5, nonce="1")");
  ASSERT_TRUE(sha.hasValue());
  ASSERT_TRUE(md5.hasValue());
  EXPECT_EQ(sha->algorithm, "SHA-256");
  EXPECT_EQ(sha->qop, "auth,auth-int");
  EXPECT_EQ(md5->algorithm, "MD5");
}

TEST(SipChallenge, Errors) {
  for (std::string_view bad : {""sv, R"(Digest realm="a)"sv, R"(Digest re alm="a")"sv}) {
    auto r = parseChallenge(bad);
    ASSERT_FALSE(r.hasValue()) << bad;
    EXPECT_EQ(r.error().code, ParseErrc::kBadChallenge) << bad;
  }
}

// --- option tags and helpers -----------------------------------------------------------------

TEST(SipOptionTags, Lists) {
  std::vector<std::string_view> tags;
  ASSERT_TRUE(parseOptionTags("100rel, timer ,path", tags).hasValue());
  EXPECT_EQ(tags, (std::vector<std::string_view>{"100rel", "timer", "path"}));
  ASSERT_TRUE(parseOptionTags("gruu", tags).hasValue());
  EXPECT_EQ(tags, (std::vector<std::string_view>{"100rel", "timer", "path", "gruu"}));
  std::vector<std::string_view> none;
  ASSERT_TRUE(parseOptionTags("", none).hasValue());
  ASSERT_TRUE(parseOptionTags("  ", none).hasValue());
  EXPECT_TRUE(none.empty());
}

TEST(SipOptionTags, Errors) {
  for (std::string_view bad : {"foo bar"sv, "a,,b"sv, "a, b@c"sv, "a,"sv}) {
    std::vector<std::string_view> tags;
    auto r = parseOptionTags(bad, tags);
    ASSERT_FALSE(r.hasValue()) << bad;
    EXPECT_EQ(r.error().code, ParseErrc::kBadOptionTag) << bad;
  }
}

TEST(SipHelpers, TrimLws) {
  EXPECT_EQ(trimLws("  \r\n\tabc \r\n "), "abc");
  EXPECT_EQ(trimLws("a b"), "a b");
  EXPECT_EQ(trimLws(""), "");
  EXPECT_EQ(trimLws(" \t "), "");
}

TEST(SipHelpers, ParseUnsigned) {
  EXPECT_EQ(parseUnsigned("0", 10), std::optional<uint64_t>(0));
  EXPECT_EQ(parseUnsigned("10", 10), std::optional<uint64_t>(10));
  EXPECT_EQ(parseUnsigned("11", 10), std::nullopt);
  EXPECT_EQ(parseUnsigned("255", 255), std::optional<uint64_t>(255));
  EXPECT_EQ(parseUnsigned("256", 255), std::nullopt);
  EXPECT_EQ(parseUnsigned("65535", 65535), std::optional<uint64_t>(65535));
  EXPECT_EQ(parseUnsigned("65536", 65535), std::nullopt);
  EXPECT_EQ(parseUnsigned("", 10), std::nullopt);
  EXPECT_EQ(parseUnsigned("+1", 10), std::nullopt);
  EXPECT_EQ(parseUnsigned(" 1", 10), std::nullopt);
  EXPECT_EQ(parseUnsigned("1 ", 10), std::nullopt);
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  EXPECT_EQ(parseUnsigned("18446744073709551615", kMax), std::optional<uint64_t>(kMax));
  EXPECT_EQ(parseUnsigned("18446744073709551616", kMax), std::nullopt);
}

TEST(SipHelpers, ParseUnsignedHonoursSmallMaximum) {
  // A single digit above a maximum below 10 must be refused like any other value above it.
  EXPECT_EQ(parseUnsigned("5", 5), std::optional<uint64_t>(5));
  EXPECT_EQ(parseUnsigned("7", 5), std::nullopt);
  EXPECT_EQ(parseUnsigned("1", 0), std::nullopt);
  EXPECT_EQ(parseUnsigned("0", 0), std::optional<uint64_t>(0));
}

TEST(SipHelpers, ForEachListElement) {
  std::vector<std::string_view> seen;
  auto collect = [&seen](std::string_view e) { seen.push_back(e); };
  EXPECT_TRUE(forEachListElement(R"(a, "b,c" , <d,e>,f,"g\",h")", collect));
  EXPECT_EQ(seen, (std::vector<std::string_view>{"a", R"("b,c")", "<d,e>", "f", R"("g\",h")"}));
  seen.clear();
  EXPECT_TRUE(forEachListElement("", collect));
  EXPECT_EQ(seen, (std::vector<std::string_view>{""}));
  seen.clear();
  EXPECT_FALSE(forEachListElement(R"("abc)", collect));
  seen.clear();
  EXPECT_FALSE(forEachListElement("<a", collect));
  seen.clear();
  EXPECT_FALSE(forEachListElement("a>", collect));
}

}  // namespace
}  // namespace strowger::sip

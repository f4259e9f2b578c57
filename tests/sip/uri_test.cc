// SIP, SIPS, tel and other URIs (RFC 3261 §19.1, RFC 3966, RFC 4475 §3.1.1, RFC 5118).
#include "strowger/sip/uri.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace strowger::sip {
namespace {

using namespace std::string_view_literals;

Uri parseOk(std::string_view text) {
  auto r = parseUri(text);
  EXPECT_TRUE(r.hasValue()) << "parseUri failed for: " << text;
  return r ? *r : Uri{};
}

void expectBadUri(std::string_view text) {
  auto r = parseUri(text);
  ASSERT_FALSE(r.hasValue()) << "parseUri accepted: " << text;
  EXPECT_EQ(r.error().code, ParseErrc::kBadUri) << text;
  EXPECT_EQ(r.error().status, 400) << text;
}

TEST(SipUri, FullSipUri) {
  Uri u = parseOk("sip:alice:secret@atlanta.example.com:5070;transport=tcp;lr?Subject=hi&X=1");
  EXPECT_EQ(u.scheme, UriScheme::kSip);
  EXPECT_EQ(u.schemeText, "sip");
  EXPECT_TRUE(u.isSip());
  EXPECT_TRUE(u.hasUserInfo);
  EXPECT_EQ(u.user, "alice");
  EXPECT_EQ(u.password, "secret");
  EXPECT_EQ(u.host(), "atlanta.example.com");
  EXPECT_EQ(u.hostPort.kind, HostKind::kDomain);
  EXPECT_EQ(u.port(), 5070);
  EXPECT_TRUE(u.hostPort.hasPort);
  EXPECT_EQ(u.params.raw(), "transport=tcp;lr");
  EXPECT_EQ(u.params.get("transport"), "tcp");
  EXPECT_TRUE(u.params.has("lr"));
  EXPECT_EQ(u.headers, "Subject=hi&X=1");
  EXPECT_EQ(u.opaque, "");
  EXPECT_EQ(u.raw, "sip:alice:secret@atlanta.example.com:5070;transport=tcp;lr?Subject=hi&X=1");
}

TEST(SipUri, HostOnly) {
  Uri u = parseOk("sip:example.com");
  EXPECT_FALSE(u.hasUserInfo);
  EXPECT_EQ(u.user, "");
  EXPECT_EQ(u.password, "");
  EXPECT_EQ(u.host(), "example.com");
  EXPECT_EQ(u.port(), 0);
  EXPECT_FALSE(u.hostPort.hasPort);
  EXPECT_TRUE(u.params.empty());
  EXPECT_EQ(u.headers, "");
}

TEST(SipUri, SchemesAreCaseInsensitive) {
  Uri sips = parseOk("sips:bob@biloxi.example.com");
  EXPECT_EQ(sips.scheme, UriScheme::kSips);
  EXPECT_TRUE(sips.isSip());
  Uri upper = parseOk("SIP:bob@biloxi.example.com");
  EXPECT_EQ(upper.scheme, UriScheme::kSip);
  EXPECT_EQ(upper.schemeText, "SIP");
  Uri mixed = parseOk("SiPs:bob@biloxi.example.com");
  EXPECT_EQ(mixed.scheme, UriScheme::kSips);
}

TEST(SipUri, TelUri) {
  Uri u = parseOk("tel:+1-201-555-0123");
  EXPECT_EQ(u.scheme, UriScheme::kTel);
  EXPECT_FALSE(u.isSip());
  EXPECT_EQ(u.user, "+1-201-555-0123");
  EXPECT_TRUE(u.params.empty());
  EXPECT_EQ(u.host(), "");
}

TEST(SipUri, TelUriWithParams) {
  Uri u = parseOk("tel:7042;phone-context=example.com;ext=22");
  EXPECT_EQ(u.scheme, UriScheme::kTel);
  EXPECT_EQ(u.user, "7042");
  EXPECT_EQ(u.params.raw(), "phone-context=example.com;ext=22");
  EXPECT_EQ(u.params.get("phone-context"), "example.com");
  EXPECT_EQ(u.params.get("EXT"), "22");
}

TEST(SipUri, TelErrors) {
  expectBadUri("tel:");
  expectBadUri("tel:;phone-context=x");
  expectBadUri("tel:123;;x=1");
}

TEST(SipUri, OtherSchemesAreOpaque) {
  Uri mailto = parseOk("mailto:watson@bell-telephone.com");
  EXPECT_EQ(mailto.scheme, UriScheme::kOther);
  EXPECT_EQ(mailto.schemeText, "mailto");
  EXPECT_EQ(mailto.opaque, "watson@bell-telephone.com");
  EXPECT_EQ(mailto.host(), "");
  Uri http = parseOk("http://example.com/a?b=c");
  EXPECT_EQ(http.scheme, UriScheme::kOther);
  EXPECT_EQ(http.opaque, "//example.com/a?b=c");
  Uri urn = parseOk("urn:service:sos");
  EXPECT_EQ(urn.scheme, UriScheme::kOther);
  EXPECT_EQ(urn.schemeText, "urn");
  EXPECT_EQ(urn.opaque, "service:sos");
  Uri plus = parseOk("a1+-.b:x");
  EXPECT_EQ(plus.scheme, UriScheme::kOther);
  EXPECT_EQ(plus.schemeText, "a1+-.b");
}

TEST(SipUri, BadSchemes) {
  expectBadUri("");
  expectBadUri("sip");
  expectBadUri(":alice@example.com");
  expectBadUri("1sip:alice@example.com");
  expectBadUri("s_p:alice@example.com");
  expectBadUri("si p:alice@example.com");
  expectBadUri("-sip:x");
  expectBadUri("sip:");
  expectBadUri("mailto:");
}

TEST(SipUri, HostKinds) {
  Uri v4 = parseOk("sip:alice@192.0.2.4");
  EXPECT_EQ(v4.host(), "192.0.2.4");
  EXPECT_EQ(v4.hostPort.kind, HostKind::kIpv4);
  EXPECT_FALSE(v4.hostPort.hasPort);

  Uri v4port = parseOk("sip:192.0.2.4:5060");
  EXPECT_EQ(v4port.host(), "192.0.2.4");
  EXPECT_EQ(v4port.hostPort.kind, HostKind::kIpv4);
  EXPECT_EQ(v4port.port(), 5060);

  Uri v6 = parseOk("sip:alice@[2001:db8::10]");
  EXPECT_EQ(v6.host(), "2001:db8::10");
  EXPECT_EQ(v6.hostPort.kind, HostKind::kIpv6);
  EXPECT_FALSE(v6.hostPort.hasPort);
  EXPECT_EQ(v6.port(), 0);

  Uri v6port = parseOk("sip:[2001:db8::10]:5070;lr");
  EXPECT_EQ(v6port.host(), "2001:db8::10");
  EXPECT_EQ(v6port.hostPort.kind, HostKind::kIpv6);
  EXPECT_TRUE(v6port.hostPort.hasPort);
  EXPECT_EQ(v6port.port(), 5070);
  EXPECT_TRUE(v6port.params.has("lr"));

  Uri v4mapped = parseOk("sip:[::ffff:192.0.2.1]");
  EXPECT_EQ(v4mapped.host(), "::ffff:192.0.2.1");
  EXPECT_EQ(v4mapped.hostPort.kind, HostKind::kIpv6);

  Uri domain = parseOk("sip:alice@sub-1.example.com.");
  EXPECT_EQ(domain.host(), "sub-1.example.com.");
  EXPECT_EQ(domain.hostPort.kind, HostKind::kDomain);
}

TEST(SipUri, UnbracketedIpv6IsAnError) {
  // RFC 3261 §19.1.1 and RFC 5118 §4.10: an IPv6 host must be an IPv6reference in brackets.
  expectBadUri("sip:2001:db8::10");
  expectBadUri("sip:alice@2001:db8::10");
}

TEST(SipUri, BadIpv6References) {
  expectBadUri("sip:[2001:db8::10");
  expectBadUri("sip:[2001:db8::10]x");
  expectBadUri("sip:[2001:db8::10]:");
  expectBadUri("sip:[]");
  expectBadUri("sip:[example.com]");
  expectBadUri("sip:[12:34]");  // an IPv6 address has at least two colons
  expectBadUri("sip:[2001:db8::g]");
}

TEST(SipUri, Ipv4NeedsFourOctetsUpTo255) {
  for (std::string_view host :
       {"192.0.2.256", "256.0.0.1", "1.2.3", "1.2.3.4.5", "1..2.3", "1.2.3.4."}) {
    auto r = parseHostPort(host);
    EXPECT_FALSE(r.hasValue() && r->kind == HostKind::kIpv4) << host;
  }
  auto max = parseHostPort("255.255.255.255");
  ASSERT_TRUE(max.hasValue());
  EXPECT_EQ(max->kind, HostKind::kIpv4);
  auto zero = parseHostPort("0.0.0.0:1");
  ASSERT_TRUE(zero.hasValue());
  EXPECT_EQ(zero->kind, HostKind::kIpv4);
  EXPECT_EQ(zero->port, 1);
}

TEST(SipUri, PortBounds) {
  EXPECT_EQ(parseOk("sip:example.com:65535").port(), 65535);
  EXPECT_EQ(parseOk("sip:example.com:0").port(), 0);
  EXPECT_TRUE(parseOk("sip:example.com:0").hostPort.hasPort);
  EXPECT_EQ(parseOk("sip:example.com:1").port(), 1);
  expectBadUri("sip:example.com:65536");
  expectBadUri("sip:example.com:99999999999999999999999");
  expectBadUri("sip:example.com:");
  expectBadUri("sip:example.com:-1");
  expectBadUri("sip:example.com:50a");
  expectBadUri("sip:[2001:db8::1]:65536");
}

TEST(SipUri, EmptyUserIsAnError) {
  auto r = parseUri("sip:@example.com");
  ASSERT_FALSE(r.hasValue());
  EXPECT_EQ(r.error().code, ParseErrc::kBadUri);
  EXPECT_EQ(r.error().status, 400);
  expectBadUri("sip::password@example.com");
}

TEST(SipUri, MissingHostIsAnError) {
  expectBadUri("sip:alice@");
  expectBadUri("sip:alice@;lr");
  expectBadUri("sip:;lr");
}

TEST(SipUri, WhitespaceAndControlCharactersAreErrors) {
  expectBadUri("sip:alice @example.com");
  expectBadUri("sip:alice@example.com ");
  expectBadUri(" sip:alice@example.com");
  expectBadUri("sip:alice@exa\tmple.com");
  expectBadUri("sip:alice@example.com\r\n");
  expectBadUri(
      "sip:ali\x7f"
      "ce@example.com");
  expectBadUri("sip:alice@example.com;x=\x01");
}

TEST(SipUri, ForbiddenCharactersInUserinfo) {
  expectBadUri("sip:al<ice@example.com");
  expectBadUri("sip:al\"ice@example.com");
  expectBadUri("sip:alice>@example.com");
}

TEST(SipUri, BadHosts) {
  expectBadUri("sip:alice@-example.com");
  expectBadUri("sip:alice@.example.com");
  expectBadUri("sip:alice@exa!mple.com");
}

TEST(SipUri, PasswordMayBeEmpty) {
  Uri u = parseOk("sip:alice:@example.com");
  EXPECT_EQ(u.user, "alice");
  EXPECT_EQ(u.password, "");
  EXPECT_TRUE(u.hasUserInfo);
}

TEST(SipUri, UserWithSemicolonParts) {
  // RFC 4475 §3.1.1.9: the user part may hold ';' (telephone-subscriber parameters).
  Uri u = parseOk("sip:user;par=u%40example.net@example.com");
  EXPECT_EQ(u.user, "user;par=u%40example.net");
  EXPECT_EQ(u.password, "");
  EXPECT_EQ(u.host(), "example.com");
  EXPECT_TRUE(u.params.empty());
  EXPECT_EQ(u.unescapedUser(), "user;par=u@example.net");

  Uri v = parseOk("sip:1234;isub=56@gw.example.com");
  EXPECT_EQ(v.user, "1234;isub=56");
  EXPECT_EQ(v.host(), "gw.example.com");
  EXPECT_TRUE(v.params.empty());
}

TEST(SipUri, EscapesAreDecodedOnce) {
  Uri once = parseOk("sip:%2541@example.com");
  EXPECT_EQ(once.user, "%2541");  // the view is as written
  EXPECT_EQ(once.unescapedUser(), "%41");

  Uri alice = parseOk("sip:%61lice@example.com");
  EXPECT_EQ(alice.unescapedUser(), "alice");

  Uri nul = parseOk("sip:a%00b@example.com");
  std::string decoded = nul.unescapedUser();
  ASSERT_EQ(decoded.size(), 3u);
  EXPECT_EQ(decoded, std::string("a\0b", 3));

  Uri space = parseOk("sip:sips%3A%20user@example.com");
  EXPECT_EQ(space.unescapedUser(), "sips: user");
}

TEST(SipUri, MalformedEscapesAreKept) {
  // RFC 4475 §3.1.1.5: a '%' not followed by two hex digits is taken literally.
  EXPECT_EQ(unescape("a%zzb"), "a%zzb");
  EXPECT_EQ(unescape("a%4"), "a%4");
  EXPECT_EQ(unescape("%"), "%");
  EXPECT_EQ(unescape("%4g1"), "%4g1");
  EXPECT_EQ(unescape("%41"), "A");
  EXPECT_EQ(unescape("x%41"), "xA");
  EXPECT_EQ(unescape("%41%42"), "AB");
  EXPECT_EQ(unescape("%4a%4A"), "JJ");
  EXPECT_EQ(unescape("%%41"), "%A");
  EXPECT_EQ(unescape(""), "");
}

TEST(SipUri, ValuelessAndCaseInsensitiveParams) {
  Uri u = parseOk("sip:p1.example.com;lr;Transport=TCP;maddr=239.255.255.1;TTL=15");
  EXPECT_TRUE(u.params.has("lr"));
  EXPECT_TRUE(u.params.has("LR"));
  auto lr = u.params.find("lr");
  ASSERT_TRUE(lr.has_value());
  EXPECT_FALSE(lr->hasValue);
  EXPECT_EQ(lr->value, "");
  EXPECT_EQ(u.params.get("transport"),
            "TCP");  // names compare case-insensitively, values as written
  EXPECT_EQ(u.params.get("TRANSPORT"), "TCP");
  EXPECT_EQ(u.params.get("maddr"), "239.255.255.1");
  EXPECT_EQ(u.params.get("ttl"), "15");
  EXPECT_FALSE(u.params.has("user"));
  EXPECT_EQ(u.params.get("user"), "");
  EXPECT_FALSE(u.params.find("l").has_value());
  EXPECT_FALSE(u.params.find("lrx").has_value());
}

TEST(SipUri, ParamsIterateInOrder) {
  Uri u = parseOk("sip:alice@example.com;transport=udp;lr;user=phone;method=INVITE");
  std::vector<std::string> seen;
  for (const Param& p : u.params) {
    seen.push_back(std::string(p.name) + (p.hasValue ? "=" + std::string(p.value) : ""));
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"transport=udp", "lr", "user=phone", "method=INVITE"}));
}

TEST(SipUri, BadParams) {
  expectBadUri("sip:alice@example.com;;lr");
  expectBadUri("sip:alice@example.com;lr;");
  expectBadUri("sip:alice@example.com;");
  expectBadUri("sip:alice@example.com;=x");
  expectBadUri("sip:alice@example.com;maddr=");
  expectBadUri("sip:alice@example.com;a,b=1");
}

TEST(SipUri, HeadersAfterQuestionMark) {
  Uri u = parseOk("sip:alice@example.com;transport=tcp?Subject=project%20x&priority=urgent");
  EXPECT_EQ(u.host(), "example.com");
  EXPECT_EQ(u.params.raw(), "transport=tcp");
  EXPECT_EQ(u.headers, "Subject=project%20x&priority=urgent");

  Uri noParams = parseOk("sip:alice@example.com?Route=%3Csip:p.example.com%3E");
  EXPECT_TRUE(noParams.params.empty());
  EXPECT_EQ(noParams.headers, "Route=%3Csip:p.example.com%3E");
}

TEST(SipParams, ViewOverRawText) {
  ParamsView empty;
  EXPECT_TRUE(empty.empty());
  EXPECT_TRUE(empty.begin() == empty.end());
  EXPECT_FALSE(empty.has("x"));

  ParamsView p("a=1; B = 2 ;c;d=\"x;y\"");
  std::vector<std::string> names, values;
  for (const Param& param : p) {
    names.emplace_back(param.name);
    values.emplace_back(param.value);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"a", "B", "c", "d"}));
  EXPECT_EQ(values, (std::vector<std::string>{"1", "2", "", "\"x;y\""}));
  EXPECT_EQ(p.get("b"), "2");
  auto d = p.find("D");
  ASSERT_TRUE(d.has_value());
  EXPECT_TRUE(d->hasValue);
  EXPECT_EQ(d->unquoted(), "x;y");
  auto c = p.find("c");
  ASSERT_TRUE(c.has_value());
  EXPECT_FALSE(c->hasValue);
}

TEST(SipParams, EmptyPiecesAreSkippedWhenWalking) {
  // A ParamsView over text nobody validated must still terminate and skip the gaps.
  ParamsView p(";;a=1;; ;b;");
  std::vector<std::string> names;
  for (const Param& param : p)
    names.emplace_back(param.name);
  EXPECT_EQ(names, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(p.get("a"), "1");
  EXPECT_TRUE(p.has("b"));
}

TEST(SipParams, UnquotedLeavesEscapesAsWritten) {
  Param p{"name", "\"a\\\"b\"", true};
  EXPECT_EQ(p.unquoted(), "a\\\"b");
  Param plain{"name", "token", true};
  EXPECT_EQ(plain.unquoted(), "token");
  Param lone{"name", "\"", true};
  EXPECT_EQ(lone.unquoted(), "\"");
}

TEST(SipHostPort, ParsesAllForms) {
  auto d = parseHostPort("example.com:5061");
  ASSERT_TRUE(d.hasValue());
  EXPECT_EQ(d->host, "example.com");
  EXPECT_EQ(d->kind, HostKind::kDomain);
  EXPECT_EQ(d->port, 5061);
  EXPECT_TRUE(d->hasPort);

  auto v6 = parseHostPort("[::1]");
  ASSERT_TRUE(v6.hasValue());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->kind, HostKind::kIpv6);
  EXPECT_FALSE(v6->hasPort);

  auto v4 = parseHostPort("10.0.0.1");
  ASSERT_TRUE(v4.hasValue());
  EXPECT_EQ(v4->kind, HostKind::kIpv4);

  EXPECT_FALSE(parseHostPort("").hasValue());
  EXPECT_FALSE(parseHostPort(":5060").hasValue());
  EXPECT_FALSE(parseHostPort("example.com:5060:1").hasValue());
  EXPECT_FALSE(parseHostPort("[::1]5060").hasValue());
}

}  // namespace
}  // namespace strowger::sip

// The checks before routing (RFC 3261 §8.2, §16.3; RFC 4475 §3.3): every rejection and its status.
#include "strowger/sip/sanity.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace strowger::sip {
namespace {

using namespace std::string_view_literals;

constexpr std::string_view kGood =
    "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n"
    "Max-Forwards: 70\r\n"
    "To: Bob <sip:bob@biloxi.example.com>\r\n"
    "From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
    "Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
    "CSeq: 314159 INVITE\r\n"
    "Contact: <sip:alice@pc33.atlanta.example.com>\r\n"
    "Content-Length: 0\r\n"
    "\r\n";

// kGood with the first occurrence of `what` replaced by `with` ("" removes it).
std::string goodWith(std::string_view what, std::string_view with) {
  std::string s(kGood);
  auto at = s.find(what);
  EXPECT_NE(at, std::string::npos) << what;
  if (at != std::string::npos) s.replace(at, what.size(), with);
  return s;
}

// kGood with `line` (with its CRLF) added before Content-Length.
std::string goodPlus(std::string_view line) {
  return goodWith("Content-Length: 0\r\n", std::string(line) + "Content-Length: 0\r\n");
}

struct Checked {
  bool parsed = false;
  bool ok = false;
  ParseError error;
};

Checked check(const std::string& bytes, const SanityOptions& options = {}) {
  Checked c;
  Message m;
  auto p = m.parse(bytes);
  EXPECT_TRUE(p.hasValue()) << "did not parse:\n" << bytes;
  if (!p) return c;
  c.parsed = true;
  auto r = checkRequest(m, options);
  c.ok = r.hasValue();
  if (!r) c.error = r.error();
  return c;
}

void expectRejected(const std::string& bytes, ParseErrc code, uint16_t status,
                    const SanityOptions& options = {}) {
  Checked c = check(bytes, options);
  ASSERT_TRUE(c.parsed);
  ASSERT_FALSE(c.ok) << "accepted:\n" << bytes;
  EXPECT_EQ(c.error.code, code) << bytes;
  EXPECT_EQ(c.error.status, status) << bytes;
  EXPECT_FALSE(c.error.reason.empty());
}

TEST(SipSanity, GoodRequestPasses) {
  Checked c = check(std::string(kGood));
  EXPECT_TRUE(c.ok) << c.error.reason;
}

TEST(SipSanity, MaxForwardsIsOptional) {
  EXPECT_TRUE(check(goodWith("Max-Forwards: 70\r\n", "")).ok);
  EXPECT_TRUE(check(goodWith("Max-Forwards: 70\r\n", "Max-Forwards: 0\r\n")).ok);
}

TEST(SipSanity, MissingMandatoryHeaders) {
  for (std::string_view line :
       {"Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n"sv,
        "To: Bob <sip:bob@biloxi.example.com>\r\n"sv,
        "From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"sv,
        "Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"sv, "CSeq: 314159 INVITE\r\n"sv}) {
    SCOPED_TRACE(line);
    expectRejected(goodWith(line, ""), ParseErrc::kMissingHeader, 400);
  }
}

TEST(SipSanity, DuplicateSingleHeaders) {
  expectRejected(goodPlus("From: Eve <sip:eve@example.com>;tag=2\r\n"), ParseErrc::kDuplicateHeader,
                 400);
  expectRejected(goodPlus("t: <sip:carol@example.com>\r\n"), ParseErrc::kDuplicateHeader, 400);
  expectRejected(goodPlus("i: another-call-id\r\n"), ParseErrc::kDuplicateHeader, 400);
  expectRejected(goodPlus("CSeq: 314159 INVITE\r\n"), ParseErrc::kDuplicateHeader, 400);
}

TEST(SipSanity, BadVia) {
  expectRejected(goodWith("SIP/2.0/UDP pc33", "SIP/2.0 pc33"), ParseErrc::kBadVia, 400);
  // A later via-parm is checked too.
  expectRejected(goodPlus("Via: SIP/2.0/UDP ok.example.com;;branch=z9hG4bK2\r\n"),
                 ParseErrc::kBadVia, 400);
}

TEST(SipSanity, BadFromToCallIdCSeq) {
  expectRejected(goodWith("From: Alice <sip:alice@atlanta.example.com>",
                          "From: Alice <sip:alice@atlanta.example.com"),
                 ParseErrc::kBadNameAddr, 400);
  expectRejected(
      goodWith("To: Bob <sip:bob@biloxi.example.com>", "To: Bob, Jr <sip:bob@biloxi.example.com>"),
      ParseErrc::kBadNameAddr, 400);
  expectRejected(goodWith("Call-ID: a84b4c76e66710@pc33.atlanta.example.com",
                          "Call-ID: a84b4c76e66710 @pc33.atlanta.example.com"),
                 ParseErrc::kBadCallId, 400);
  expectRejected(goodWith("CSeq: 314159 INVITE", "CSeq: -1 INVITE"), ParseErrc::kBadCSeq, 400);
  expectRejected(goodWith("CSeq: 314159 INVITE", "CSeq: 4294967296 INVITE"), ParseErrc::kBadCSeq,
                 400);
}

TEST(SipSanity, UnsupportedUriScheme) {
  // RFC 3261 §16.3 / RFC 4475 §3.3.2: 416, never a fall back to routing on To.
  for (std::string_view uri : {"http://example.com/"sv, "mailto:bob@example.com"sv,
                               "urn:service:sos"sv, "im:bob@example.com"sv}) {
    SCOPED_TRACE(uri);
    expectRejected(goodWith("sip:bob@biloxi.example.com SIP/2.0", std::string(uri) + " SIP/2.0"),
                   ParseErrc::kUnsupportedUriScheme, 416);
  }
  EXPECT_TRUE(
      check(goodWith("sip:bob@biloxi.example.com SIP/2.0", "sips:bob@biloxi.example.com SIP/2.0"))
          .ok);
  EXPECT_TRUE(check(goodWith("sip:bob@biloxi.example.com SIP/2.0", "tel:+12125551212 SIP/2.0")).ok);
}

TEST(SipSanity, BadRequestUri) {
  expectRejected(goodWith("sip:bob@biloxi.example.com SIP/2.0", "sip:@biloxi.example.com SIP/2.0"),
                 ParseErrc::kBadUri, 400);
  expectRejected(goodWith("sip:bob@biloxi.example.com SIP/2.0",
                          "sip:bob@biloxi.example.com?Subject=x SIP/2.0"),
                 ParseErrc::kBadUri, 400);
  expectRejected(
      goodWith("sip:bob@biloxi.example.com SIP/2.0", "sip:bob@biloxi.example.com:65536 SIP/2.0"),
      ParseErrc::kBadUri, 400);
}

TEST(SipSanity, CSeqMethodMismatch) {
  expectRejected(goodWith("CSeq: 314159 INVITE", "CSeq: 314159 ACK"),
                 ParseErrc::kCSeqMethodMismatch, 400);
  // Methods are case-sensitive (RFC 3261 §7.1).
  expectRejected(goodWith("CSeq: 314159 INVITE", "CSeq: 314159 invite"),
                 ParseErrc::kCSeqMethodMismatch, 400);
  // RFC 4475 §3.1.2.18: an unknown method with a mismatching CSeq is better answered with 501.
  std::string unknown = goodWith("INVITE sip:", "NEWMETHOD sip:");
  expectRejected(unknown, ParseErrc::kCSeqMethodMismatch, 501);
  // An unknown method with a matching CSeq is fine.
  std::string matching = goodWith("CSeq: 314159 INVITE", "CSeq: 7 NEWMETHOD");
  matching.replace(0, 6, "NEWMETHOD");
  Checked c = check(matching);
  EXPECT_TRUE(c.ok) << c.error.reason;
}

TEST(SipSanity, BadMaxForwards) {
  expectRejected(goodWith("Max-Forwards: 70", "Max-Forwards: 256"), ParseErrc::kBadMaxForwards,
                 400);
  expectRejected(goodWith("Max-Forwards: 70", "Max-Forwards: many"), ParseErrc::kBadMaxForwards,
                 400);
  expectRejected(goodPlus("Max-Forwards: 69\r\n"), ParseErrc::kDuplicateHeader, 400);
}

TEST(SipSanity, ProxyRequire) {
  const std::string request = goodPlus(
      "Proxy-Require: foo, sec-agree\r\n"
      "Proxy-Require: bar\r\n");
  Message m;
  ASSERT_TRUE(m.parse(request).hasValue());

  // Nothing supported: every tag is listed, in order.
  auto none = checkRequest(m);
  ASSERT_FALSE(none.hasValue());
  EXPECT_EQ(none.error().code, ParseErrc::kBadExtension);
  EXPECT_EQ(none.error().status, 420);
  EXPECT_EQ(unsupportedProxyRequire(m, {}),
            (std::vector<std::string_view>{"foo", "sec-agree", "bar"}));

  // Some supported: exactly the others are listed.
  const std::string_view someTags[] = {"sec-agree"};
  SanityOptions some;
  some.supportedProxyRequire = someTags;
  auto partly = checkRequest(m, some);
  ASSERT_FALSE(partly.hasValue());
  EXPECT_EQ(partly.error().status, 420);
  EXPECT_EQ(unsupportedProxyRequire(m, someTags), (std::vector<std::string_view>{"foo", "bar"}));

  // All supported: the request passes.
  const std::string_view allTags[] = {"bar", "foo", "sec-agree", "path"};
  SanityOptions all;
  all.supportedProxyRequire = allTags;
  EXPECT_TRUE(checkRequest(m, all).hasValue());
  EXPECT_TRUE(unsupportedProxyRequire(m, allTags).empty());
}

TEST(SipSanity, RequireIsNotTheProxysBusiness) {
  // Require is for the UAS (RFC 3261 §16.3 checks only Proxy-Require).
  EXPECT_TRUE(check(goodPlus("Require: foo\r\n")).ok);
  EXPECT_TRUE(check(goodPlus("Proxy-Require:\r\n")).ok);
}

TEST(SipSanity, BadProxyRequireSyntax) {
  expectRejected(goodPlus("Proxy-Require: foo bar\r\n"), ParseErrc::kBadOptionTag, 400);
}

TEST(SipSanity, CheckResponse) {
  constexpr std::string_view kResponse =
      "SIP/2.0 180 Ringing\r\n"
      "Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds;received=192.0.2.1\r\n"
      "To: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf\r\n"
      "From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
      "Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
      "CSeq: 314159 INVITE\r\n"
      "Content-Length: 0\r\n"
      "\r\n";
  Message good;
  ASSERT_TRUE(good.parse(kResponse).hasValue());
  EXPECT_TRUE(checkResponse(good).hasValue());

  struct Case {
    std::string_view what;
    std::string_view with;
    ParseErrc code;
  };
  for (Case c :
       {Case{"Via: SIP/2.0/UDP pc33", "X-Via: SIP/2.0/UDP pc33", ParseErrc::kMissingHeader},
        Case{"SIP/2.0/UDP pc33", "SIP/2.0/ pc33", ParseErrc::kBadVia},
        Case{"From: Alice", "X-From: Alice", ParseErrc::kMissingHeader},
        Case{"To: Bob <sip", "To: Bob <<sip", ParseErrc::kBadNameAddr},
        Case{"Call-ID: a84b4c76e66710@", "Call-ID: a84b4c76e66710 @", ParseErrc::kBadCallId},
        Case{"CSeq: 314159 INVITE", "CSeq: INVITE", ParseErrc::kBadCSeq}}) {
    std::string bytes(kResponse);
    bytes.replace(bytes.find(c.what), c.what.size(), c.with);
    Message m;
    ASSERT_TRUE(m.parse(bytes).hasValue()) << bytes;
    auto r = checkResponse(m);
    ASSERT_FALSE(r.hasValue()) << bytes;
    EXPECT_EQ(r.error().code, c.code) << bytes;
  }
}

}  // namespace
}  // namespace strowger::sip

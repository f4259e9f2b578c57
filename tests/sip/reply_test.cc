// Locally generated replies (RFC 3261 §8.2.6, §18.2.1; RFC 3581 §4).
#include "strowger/sip/reply.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "strowger/sip/message.h"
#include "strowger/sip/sanity.h"

namespace strowger::sip {
namespace {

using namespace std::string_view_literals;

constexpr std::string_view kInvite =
    "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK776asdhds;rport\r\n"
    "Via: SIP/2.0/TCP proxy.example.com;branch=z9hG4bK1;received=192.0.2.7\r\n"
    "Max-Forwards: 70\r\n"
    "To: Bob <sip:bob@biloxi.example.com>\r\n"
    "From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
    "Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
    "CSeq: 314159 INVITE\r\n"
    "Contact: <sip:alice@pc33.atlanta.example.com>\r\n"
    "Content-Length: 0\r\n"
    "\r\n";

std::string reply(std::string_view request, uint16_t status, std::string_view reason = {},
                  const ReplyOptions& options = {}) {
  Message m;
  auto r = m.parse(request);
  EXPECT_TRUE(r.hasValue()) << "request did not parse:\n" << request;
  std::string out;
  if (r) buildReply(m, status, reason, options, out);
  return out;
}

// A request whose top Via line is `via`.
std::string requestWithVia(std::string_view via) {
  return "OPTIONS sip:example.com SIP/2.0\r\n"
         "Via: " +
         std::string(via) +
         "\r\n"
         "To: <sip:example.com>\r\n"
         "From: <sip:alice@example.com>;tag=1\r\n"
         "Call-ID: via-test\r\n"
         "CSeq: 1 OPTIONS\r\n"
         "\r\n";
}

// The first Via line of a built reply.
std::string topViaLine(const std::string& built) {
  auto begin = built.find("\r\nVia: ");
  if (begin == std::string::npos) return {};
  begin += 2;
  return built.substr(begin, built.find("\r\n", begin) - begin);
}

ReplyOptions receivedFrom(std::string_view ip, std::optional<uint16_t> port) {
  ReplyOptions o;
  o.receivedIp = ip;
  o.receivedPort = port;
  return o;
}

TEST(SipReply, CopiesViasFromToCallIdCSeqAndAddsTheToTag) {
  ReplyOptions options;
  options.toTag = "abc";
  EXPECT_EQ(reply(kInvite, 404, {}, options),
            "SIP/2.0 404 Not Found\r\n"
            "Via: SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK776asdhds;rport\r\n"
            "Via: SIP/2.0/TCP proxy.example.com;branch=z9hG4bK1;received=192.0.2.7\r\n"
            "From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
            "To: Bob <sip:bob@biloxi.example.com>;tag=abc\r\n"
            "Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
            "CSeq: 314159 INVITE\r\n"
            "Content-Length: 0\r\n"
            "\r\n");
}

TEST(SipReply, NoTagOn100Trying) {
  ReplyOptions options;
  options.toTag = "abc";
  EXPECT_EQ(reply(kInvite, 100, {}, options),
            "SIP/2.0 100 Trying\r\n"
            "Via: SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK776asdhds;rport\r\n"
            "Via: SIP/2.0/TCP proxy.example.com;branch=z9hG4bK1;received=192.0.2.7\r\n"
            "From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
            "To: Bob <sip:bob@biloxi.example.com>\r\n"
            "Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
            "CSeq: 314159 INVITE\r\n"
            "Content-Length: 0\r\n"
            "\r\n");
}

TEST(SipReply, ExistingToTagIsKept) {
  const std::string request =
      "BYE sip:alice@pc33.atlanta.example.com SIP/2.0\r\n"
      "Via: SIP/2.0/UDP 192.0.2.4;branch=z9hG4bKnashds7\r\n"
      "From: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf\r\n"
      "To: Alice <sip:alice@atlanta.example.com>;TAG=1928301774\r\n"
      "Call-ID: a84b4c76e66710\r\n"
      "CSeq: 231 BYE\r\n"
      "\r\n";
  ReplyOptions options;
  options.toTag = "new";
  EXPECT_EQ(reply(request, 481, {}, options),
            "SIP/2.0 481 Call/Transaction Does Not Exist\r\n"
            "Via: SIP/2.0/UDP 192.0.2.4;branch=z9hG4bKnashds7\r\n"
            "From: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf\r\n"
            "To: Alice <sip:alice@atlanta.example.com>;TAG=1928301774\r\n"
            "Call-ID: a84b4c76e66710\r\n"
            "CSeq: 231 BYE\r\n"
            "Content-Length: 0\r\n"
            "\r\n");
}

TEST(SipReply, WithoutToTagOptionNoTagIsAdded) {
  const std::string built = reply(kInvite, 486);
  EXPECT_NE(built.find("\r\nTo: Bob <sip:bob@biloxi.example.com>\r\n"), std::string::npos) << built;
}

TEST(SipReply, ExplicitReasonPhrase) {
  const std::string built = reply(kInvite, 403, "Go Away Please");
  EXPECT_TRUE(built.starts_with("SIP/2.0 403 Go Away Please\r\nVia: ")) << built;
  const std::string unknown = reply(kInvite, 499);
  EXPECT_TRUE(unknown.starts_with("SIP/2.0 499 Unknown\r\n")) << unknown;
}

TEST(SipReply, ValuelessRportIsFilledAndReceivedAdded) {
  // RFC 3581 §4: with rport present, received is added even if it equals the sent-by host.
  const std::string built = reply(kInvite, 200, {}, receivedFrom("192.0.2.1", 5070));
  EXPECT_EQ(topViaLine(built),
            "Via: SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK776asdhds;rport=5070;"
            "received=192.0.2.1");
  // Only the top Via is touched.
  EXPECT_NE(built.find("\r\nVia: SIP/2.0/TCP proxy.example.com;branch=z9hG4bK1;"
                       "received=192.0.2.7\r\n"),
            std::string::npos);

  const std::string sameHost =
      reply(requestWithVia("SIP/2.0/UDP 192.0.2.1:5060;rport;branch=z9hG4bK2"), 200, {},
            receivedFrom("192.0.2.1", 5060));
  EXPECT_EQ(topViaLine(sameHost),
            "Via: SIP/2.0/UDP 192.0.2.1:5060;rport=5060;branch=z9hG4bK2;received=192.0.2.1");
}

TEST(SipReply, ReceivedAddedWhenTheHostDiffers) {
  const std::string built =
      reply(requestWithVia("SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK1"), 200, {},
            receivedFrom("192.0.2.1", 5060));
  EXPECT_EQ(topViaLine(built),
            "Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK1;received=192.0.2.1");
}

TEST(SipReply, ReceivedNotAddedWhenTheHostMatches) {
  const std::string built = reply(requestWithVia("SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1"), 200,
                                  {}, receivedFrom("192.0.2.1", 5060));
  EXPECT_EQ(topViaLine(built), "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1");

  const std::string v6 = reply(requestWithVia("SIP/2.0/UDP [2001:db8::9:1]:5060;branch=z9hG4bK1"),
                               200, {}, receivedFrom("2001:db8::9:1", 5060));
  EXPECT_EQ(topViaLine(v6), "Via: SIP/2.0/UDP [2001:db8::9:1]:5060;branch=z9hG4bK1");
}

TEST(SipReply, ReceivedNotAddedWhenAlreadyThere) {
  const std::string built =
      reply(requestWithVia(
                "SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK1;received=192.0.2.9;rport"),
            200, {}, receivedFrom("192.0.2.1", 5070));
  EXPECT_EQ(topViaLine(built),
            "Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK1;received=192.0.2.9;"
            "rport=5070");
}

TEST(SipReply, WithoutReceivedIpTheViaIsCopiedAsWritten) {
  ReplyOptions options;
  options.receivedPort = 5070;
  const std::string built = reply(kInvite, 200, {}, options);
  EXPECT_EQ(topViaLine(built),
            "Via: SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK776asdhds;rport");
}

TEST(SipReply, OnlyTheFirstViaParmOfTheTopLineIsTouched) {
  const std::string built = reply(requestWithVia("SIP/2.0/UDP a.example.com;branch=z9hG4bK1;rport, "
                                                 "SIP/2.0/UDP b.example.com;branch=z9hG4bK2"),
                                  200, {}, receivedFrom("192.0.2.1", 5070));
  EXPECT_EQ(topViaLine(built),
            "Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1;rport=5070;received=192.0.2.1, "
            "SIP/2.0/UDP b.example.com;branch=z9hG4bK2");
}

TEST(SipReply, ExtraHeadersAndBody) {
  const std::string_view extra[] = {"Retry-After: 5", "Warning: 399 proxy.example.com \"Busy\""};
  ReplyOptions options;
  options.toTag = "t9";
  options.extraHeaders = extra;
  options.body = "hello";
  options.contentType = "text/plain";
  EXPECT_EQ(reply(kInvite, 503, "Service Unavailable", options),
            "SIP/2.0 503 Service Unavailable\r\n"
            "Via: SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK776asdhds;rport\r\n"
            "Via: SIP/2.0/TCP proxy.example.com;branch=z9hG4bK1;received=192.0.2.7\r\n"
            "From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
            "To: Bob <sip:bob@biloxi.example.com>;tag=t9\r\n"
            "Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
            "CSeq: 314159 INVITE\r\n"
            "Retry-After: 5\r\n"
            "Warning: 399 proxy.example.com \"Busy\"\r\n"
            "Content-Type: text/plain\r\n"
            "Content-Length: 5\r\n"
            "\r\n"
            "hello");
}

TEST(SipReply, CompactNamesBecomeLongNames) {
  constexpr std::string_view kRegister =
      "REGISTER sip:registrar.example.com SIP/2.0\r\n"
      "v: SIP/2.0/UDP 192.0.2.4:5060;branch=z9hG4bKnashds7\r\n"
      "f: <sip:alice@example.com>;tag=456248\r\n"
      "t: <sip:alice@example.com>\r\n"
      "i: 843817637684230@998sdasdh09\r\n"
      "CSeq: 1826 REGISTER\r\n"
      "m: <sip:alice@192.0.2.4>\r\n"
      "l: 0\r\n"
      "\r\n";
  ReplyOptions options;
  options.toTag = "t1";
  EXPECT_EQ(reply(kRegister, 200, {}, options),
            "SIP/2.0 200 OK\r\n"
            "Via: SIP/2.0/UDP 192.0.2.4:5060;branch=z9hG4bKnashds7\r\n"
            "From: <sip:alice@example.com>;tag=456248\r\n"
            "To: <sip:alice@example.com>;tag=t1\r\n"
            "Call-ID: 843817637684230@998sdasdh09\r\n"
            "CSeq: 1826 REGISTER\r\n"
            "Content-Length: 0\r\n"
            "\r\n");
}

TEST(SipReply, ReplyParsesAsAResponseAndPassesTheChecks) {
  const std::string_view extra[] = {"Retry-After: 30"};
  ReplyOptions options;
  options.toTag = "8321234356";
  options.extraHeaders = extra;
  options.body = "v=0\r\n";
  options.contentType = "application/sdp";
  options.receivedIp = "192.0.2.1";
  options.receivedPort = 5070;
  const std::string built = reply(kInvite, 486, {}, options);
  Message response;
  ASSERT_TRUE(response.parse(built, Framing::kStream).hasValue()) << built;
  EXPECT_TRUE(response.isResponse());
  EXPECT_EQ(response.statusCode(), 486);
  EXPECT_EQ(response.reasonPhrase(), "Busy Here");
  EXPECT_TRUE(checkResponse(response).hasValue());
  ASSERT_TRUE(response.to().hasValue());
  EXPECT_EQ(response.to()->tag, "8321234356");
  ASSERT_TRUE(response.from().hasValue());
  EXPECT_EQ(response.from()->tag, "1928301774");
  ASSERT_TRUE(response.cseq().hasValue());
  EXPECT_EQ(response.cseq()->method, Method::kInvite);
  EXPECT_EQ(response.cseq()->number, 314159u);
  ASSERT_TRUE(response.vias().hasValue());
  ASSERT_EQ(response.vias()->size(), 2u);
  EXPECT_EQ((*response.vias())[0].received, "192.0.2.1");
  EXPECT_EQ((*response.vias())[0].rport, std::optional<uint16_t>(5070));
  EXPECT_EQ((*response.vias())[0].branch, "z9hG4bK776asdhds");
  EXPECT_EQ(response.body(), "v=0\r\n");
  ASSERT_TRUE(response.contentType().hasValue());
  EXPECT_EQ(response.contentType()->subtype, "sdp");
  ASSERT_NE(response.find(HeaderId::kRetryAfter), nullptr);
  EXPECT_EQ(response.find(HeaderId::kRetryAfter)->value, "30");
}

TEST(SipReply, RequestMissingHeadersStillGetsAReply) {
  const std::string request =
      "OPTIONS sip:example.com SIP/2.0\r\n"
      "Via: SIP/2.0/UDP 192.0.2.4;branch=z9hG4bK77\r\n"
      "CSeq: 1 OPTIONS\r\n"
      "\r\n";
  ReplyOptions options;
  options.toTag = "x";
  EXPECT_EQ(reply(request, 400, "Missing Call-ID", options),
            "SIP/2.0 400 Missing Call-ID\r\n"
            "Via: SIP/2.0/UDP 192.0.2.4;branch=z9hG4bK77\r\n"
            "CSeq: 1 OPTIONS\r\n"
            "Content-Length: 0\r\n"
            "\r\n");
}

TEST(SipReply, AppendsToTheOutput) {
  Message m;
  ASSERT_TRUE(m.parse(kInvite).hasValue());
  std::string out = "previous";
  buildReply(m, 180, {}, {}, out);
  EXPECT_TRUE(out.starts_with("previousSIP/2.0 180 Ringing\r\n")) << out;
  EXPECT_TRUE(out.ends_with("Content-Length: 0\r\n\r\n")) << out;
}

TEST(SipReply, ReplyToARequestThatFailedToParse) {
  // parse() refuses the request (bad Content-Length); the 400 still copies what it needs.
  constexpr std::string_view kBad =
      "OPTIONS sip:example.com SIP/2.0\r\n"
      "Via: SIP/2.0/UDP 192.0.2.4:5060;branch=z9hG4bK5;rport\r\n"
      "From: <sip:alice@example.com>;tag=9\r\n"
      "To: <sip:example.com>\r\n"
      "Call-ID: bad-length\r\n"
      "CSeq: 3 OPTIONS\r\n"
      "Content-Length: -4\r\n"
      "\r\n";
  Message m;
  ASSERT_FALSE(m.parse(kBad).hasValue());
  ASSERT_TRUE(m.parseForReply(kBad).hasValue());
  ReplyOptions options;
  options.toTag = "z";
  options.receivedIp = "198.51.100.7";
  options.receivedPort = 40000;
  std::string out;
  buildReply(m, 400, "Bad Content-Length", options, out);
  EXPECT_EQ(out,
            "SIP/2.0 400 Bad Content-Length\r\n"
            "Via: SIP/2.0/UDP 192.0.2.4:5060;branch=z9hG4bK5;rport=40000;received=198.51.100.7\r\n"
            "From: <sip:alice@example.com>;tag=9\r\n"
            "To: <sip:example.com>;tag=z\r\n"
            "Call-ID: bad-length\r\n"
            "CSeq: 3 OPTIONS\r\n"
            "Content-Length: 0\r\n"
            "\r\n");
}

TEST(SipTopViaAsReceived, NothingToChange) {
  Message m;
  const std::string request = requestWithVia("SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1");
  ASSERT_TRUE(m.parse(request).hasValue());
  std::string out = "untouched";
  EXPECT_FALSE(topViaAsReceived(m, "192.0.2.1", 5060, out));
  EXPECT_EQ(out, "untouched");
}

TEST(SipTopViaAsReceived, ReceivedAndRport) {
  struct Case {
    std::string_view via;
    uint16_t port;
    bool forceRport;
    std::string_view expected;
  };
  const Case kCases[] = {
      {"SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK1", 5060, false,
       "SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK1;received=192.0.2.1"},
      {"SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1;rport", 5070, false,
       "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1;rport=5070;received=192.0.2.1"},
      // Port 0: rport is left as it is, received is still due (RFC 3581 §4).
      {"SIP/2.0/UDP 192.0.2.1:5060;rport;branch=z9hG4bK1", 0, false,
       "SIP/2.0/UDP 192.0.2.1:5060;rport;branch=z9hG4bK1;received=192.0.2.1"},
      // A stream transport asks for rport even when the sender did not.
      {"SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bK1", 49152, true,
       "SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bK1;received=192.0.2.1;rport=49152"},
      {"SIP/2.0/TCP 192.0.2.1;branch=z9hG4bK1;rport=5060", 49152, true,
       "SIP/2.0/TCP 192.0.2.1;branch=z9hG4bK1;rport=5060;received=192.0.2.1"},
      // Later via-parms of the line are kept as they are.
      {"SIP/2.0/UDP a.example.com;branch=z9hG4bK1;rport ,SIP/2.0/UDP b.example.com", 5070, false,
       "SIP/2.0/UDP a.example.com;branch=z9hG4bK1;rport=5070;received=192.0.2.1 ,SIP/2.0/UDP "
       "b.example.com"},
  };
  for (const Case& c : kCases) {
    Message m;
    const std::string request = requestWithVia(c.via);
    ASSERT_TRUE(m.parse(request).hasValue()) << c.via;
    std::string out;
    EXPECT_TRUE(topViaAsReceived(m, "192.0.2.1", c.port, out, c.forceRport)) << c.via;
    EXPECT_EQ(out, c.expected) << c.via;
  }
}

TEST(SipTopViaAsReceived, NoViaOrABadOne) {
  Message none;
  ASSERT_TRUE(none.parse("OPTIONS sip:example.com SIP/2.0\r\nCall-ID: x\r\n\r\n").hasValue());
  std::string out;
  EXPECT_FALSE(topViaAsReceived(none, "192.0.2.1", 5060, out));
  EXPECT_EQ(out, "");
  Message bad;
  const std::string request = requestWithVia("SIP/2.0 192.0.2.9;branch=z9hG4bK1");
  ASSERT_TRUE(bad.parse(request).hasValue());
  EXPECT_FALSE(topViaAsReceived(bad, "192.0.2.1", 5060, out));
  EXPECT_EQ(out, "");
}

TEST(SipReply, DefaultReasonPhrases) {
  EXPECT_EQ(defaultReasonPhrase(100), "Trying");
  EXPECT_EQ(defaultReasonPhrase(180), "Ringing");
  EXPECT_EQ(defaultReasonPhrase(183), "Session Progress");
  EXPECT_EQ(defaultReasonPhrase(200), "OK");
  EXPECT_EQ(defaultReasonPhrase(302), "Moved Temporarily");
  EXPECT_EQ(defaultReasonPhrase(400), "Bad Request");
  EXPECT_EQ(defaultReasonPhrase(404), "Not Found");
  EXPECT_EQ(defaultReasonPhrase(407), "Proxy Authentication Required");
  EXPECT_EQ(defaultReasonPhrase(408), "Request Timeout");
  EXPECT_EQ(defaultReasonPhrase(416), "Unsupported URI Scheme");
  EXPECT_EQ(defaultReasonPhrase(420), "Bad Extension");
  EXPECT_EQ(defaultReasonPhrase(423), "Interval Too Brief");
  EXPECT_EQ(defaultReasonPhrase(481), "Call/Transaction Does Not Exist");
  EXPECT_EQ(defaultReasonPhrase(482), "Loop Detected");
  EXPECT_EQ(defaultReasonPhrase(483), "Too Many Hops");
  EXPECT_EQ(defaultReasonPhrase(500), "Server Internal Error");
  EXPECT_EQ(defaultReasonPhrase(501), "Not Implemented");
  EXPECT_EQ(defaultReasonPhrase(503), "Service Unavailable");
  EXPECT_EQ(defaultReasonPhrase(504), "Server Time-out");
  EXPECT_EQ(defaultReasonPhrase(505), "Version Not Supported");
  EXPECT_EQ(defaultReasonPhrase(513), "Message Too Large");
  EXPECT_EQ(defaultReasonPhrase(603), "Decline");
  EXPECT_EQ(defaultReasonPhrase(0), "Unknown");
  EXPECT_EQ(defaultReasonPhrase(299), "Unknown");
  EXPECT_EQ(defaultReasonPhrase(999), "Unknown");
}

}  // namespace
}  // namespace strowger::sip

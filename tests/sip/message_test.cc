// The message index: start line, header lines, body, limits and the cached typed values
// (RFC 3261 §7, §18.3; RFC 4475).
#include "strowger/sip/message.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace strowger::sip {
namespace {

using namespace std::string_view_literals;

constexpr std::string_view kInvite =
    "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n"
    "Max-Forwards: 70\r\n"
    "To: Bob <sip:bob@biloxi.example.com>\r\n"
    "From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
    "Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
    "CSeq: 314159 INVITE\r\n"
    "Contact: <sip:alice@pc33.atlanta.example.com>\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length: 5\r\n"
    "\r\n"
    "v=0\r\n";

ParseError parseError(std::string_view bytes, Framing framing = Framing::kDatagram,
                      const ParseLimits& limits = {}) {
  Message m;
  auto r = m.parse(bytes, framing, limits);
  EXPECT_FALSE(r.hasValue()) << "parse accepted:\n" << bytes;
  return r ? ParseError{} : r.error();
}

// A request with `count` extra header lines named X-H<i>.
std::string requestWithHeaders(int count) {
  std::string s = "OPTIONS sip:example.com SIP/2.0\r\n";
  for (int i = 0; i < count; ++i)
    s += "X-H" + std::to_string(i) + ": v\r\n";
  s += "\r\n";
  return s;
}

TEST(SipMessage, RequestStartLine) {
  Message m;
  ASSERT_TRUE(m.parse(kInvite).hasValue());
  EXPECT_TRUE(m.isRequest());
  EXPECT_FALSE(m.isResponse());
  EXPECT_EQ(m.method(), Method::kInvite);
  EXPECT_EQ(m.methodText(), "INVITE");
  EXPECT_EQ(m.requestUriText(), "sip:bob@biloxi.example.com");
  EXPECT_EQ(m.version(), "SIP/2.0");
  EXPECT_EQ(m.startLine(), "INVITE sip:bob@biloxi.example.com SIP/2.0");
  EXPECT_EQ(m.statusCode(), 0);
  EXPECT_EQ(m.bytes(), kInvite);
  EXPECT_EQ(m.body(), "v=0\r\n");
  EXPECT_EQ(m.trailingBytes(), 0u);
  EXPECT_EQ(m.headers().size(), 9u);
  const auto& uri = m.requestUri();
  ASSERT_TRUE(uri.hasValue());
  EXPECT_EQ(uri->user, "bob");
  EXPECT_EQ(uri->host(), "biloxi.example.com");
}

TEST(SipMessage, ExtensionMethodIsUnknown) {
  Message m;
  ASSERT_TRUE(m.parse("NEWMETHOD sip:example.com SIP/2.0\r\nCall-ID: x\r\n\r\n").hasValue());
  EXPECT_EQ(m.method(), Method::kUnknown);
  EXPECT_EQ(m.methodText(), "NEWMETHOD");
  Message lower;
  ASSERT_TRUE(lower.parse("invite sip:example.com SIP/2.0\r\n\r\n").hasValue());
  EXPECT_EQ(lower.method(), Method::kUnknown);
  EXPECT_EQ(lower.methodText(), "invite");
}

TEST(SipMessage, ResponseStartLineWithSpacesInReason) {
  Message m;
  ASSERT_TRUE(m.parse("SIP/2.0 180 Ringing Now  Please\r\n"
                      "Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\r\n"
                      "Content-Length: 0\r\n"
                      "\r\n")
                  .hasValue());
  EXPECT_TRUE(m.isResponse());
  EXPECT_FALSE(m.isRequest());
  EXPECT_EQ(m.statusCode(), 180);
  EXPECT_EQ(m.reasonPhrase(), "Ringing Now  Please");
  EXPECT_EQ(m.version(), "SIP/2.0");
  EXPECT_EQ(m.method(), Method::kUnknown);
  EXPECT_EQ(m.methodText(), "");
  EXPECT_EQ(m.requestUriText(), "");
  const auto& uri = m.requestUri();
  ASSERT_FALSE(uri.hasValue());
  EXPECT_EQ(uri.error().code, ParseErrc::kBadStartLine);
}

TEST(SipMessage, EmptyReasonPhrase) {
  Message withSpace;
  ASSERT_TRUE(withSpace.parse("SIP/2.0 200 \r\nContent-Length: 0\r\n\r\n").hasValue());
  EXPECT_EQ(withSpace.statusCode(), 200);
  EXPECT_EQ(withSpace.reasonPhrase(), "");
  Message without;
  ASSERT_TRUE(without.parse("SIP/2.0 404\r\nContent-Length: 0\r\n\r\n").hasValue());
  EXPECT_EQ(without.statusCode(), 404);
  EXPECT_EQ(without.reasonPhrase(), "");
}

TEST(SipMessage, StatusCodeIsThreeDigits) {
  for (std::string_view line :
       {"SIP/2.0 2000 OK\r\n\r\n"sv, "SIP/2.0 20 OK\r\n\r\n"sv, "SIP/2.0 099 Low\r\n\r\n"sv,
        "SIP/2.0 700 High\r\n\r\n"sv, "SIP/2.0 2x0 OK\r\n\r\n"sv, "SIP/2.0  200 OK\r\n\r\n"sv,
        "SIP/2.0 200OK\r\n\r\n"sv}) {
    ParseError e = parseError(line);
    EXPECT_EQ(e.code, ParseErrc::kBadStatusCode) << line;
    EXPECT_EQ(e.status, 400) << line;
  }
  Message low;
  ASSERT_TRUE(low.parse("SIP/2.0 100 Trying\r\n\r\n").hasValue());
  EXPECT_EQ(low.statusCode(), 100);
  Message high;
  ASSERT_TRUE(high.parse("SIP/2.0 699 Whatever\r\n\r\n").hasValue());
  EXPECT_EQ(high.statusCode(), 699);
}

TEST(SipMessage, Versions) {
  ParseError response = parseError("SIP/3.0 200 OK\r\n\r\n");
  EXPECT_EQ(response.code, ParseErrc::kBadVersion);
  ParseError request = parseError("INVITE sip:example.com SIP/7.0\r\n\r\n");
  EXPECT_EQ(request.code, ParseErrc::kBadVersion);
  EXPECT_EQ(request.status, 505);
  ParseError http = parseError("INVITE sip:example.com HTTP/1.1\r\n\r\n");
  EXPECT_EQ(http.code, ParseErrc::kBadStartLine);
  EXPECT_EQ(http.status, 400);
  Message lower;
  ASSERT_TRUE(lower.parse("OPTIONS sip:example.com sip/2.0\r\n\r\n").hasValue());
  EXPECT_EQ(lower.version(), "sip/2.0");
}

TEST(SipMessage, BadRequestLines) {
  for (std::string_view line :
       {"INVITE  sip:example.com SIP/2.0\r\n\r\n"sv, "INVITE sip:example.com  SIP/2.0\r\n\r\n"sv,
        "INVITE sip:example.com SIP/2.0 \r\n\r\n"sv, "INVITE sip:example.com\r\n\r\n"sv,
        "INVITE\r\n\r\n"sv, " INVITE sip:example.com SIP/2.0\r\n\r\n"sv,
        "INV@ITE sip:example.com SIP/2.0\r\n\r\n"sv}) {
    ParseError e = parseError(line);
    EXPECT_EQ(e.code, ParseErrc::kBadStartLine) << line;
    EXPECT_EQ(e.status, 400) << line;
  }
}

TEST(SipMessage, ControlCharacterInRequestUri) {
  // The start line splits at SP; the Request-URI's own characters are checked when it is parsed.
  Message m;
  auto r = m.parse("INVITE sip:exa\x01mple.com SIP/2.0\r\n\r\n");
  if (r) {
    ASSERT_FALSE(m.requestUri().hasValue());
    EXPECT_EQ(m.requestUri().error().code, ParseErrc::kBadUri);
    EXPECT_EQ(m.requestUri().error().status, 400);
  } else {
    EXPECT_EQ(r.error().code, ParseErrc::kBadStartLine);
  }
}

TEST(SipMessage, EmptyAndUnterminatedInput) {
  EXPECT_EQ(parseError("").code, ParseErrc::kEmpty);
  EXPECT_EQ(parseError("\r\n\r\n\n").code, ParseErrc::kEmpty);
  EXPECT_EQ(parseError("OPTIONS sip:example.com SIP/2.0").code, ParseErrc::kTruncated);
}

TEST(SipMessage, LeadingCrlfsAreSkipped) {
  constexpr std::string_view kInput =
      "\r\n\r\n"
      "OPTIONS sip:example.com SIP/2.0\r\n"
      "Call-ID: abc\r\n"
      "Content-Length: 0\r\n"
      "\r\n";
  Message m;
  ASSERT_TRUE(m.parse(kInput).hasValue());
  EXPECT_EQ(m.method(), Method::kOptions);
  EXPECT_EQ(m.bytes(), kInput.substr(4));
  EXPECT_EQ(m.bytes().data(), kInput.data() + 4);
  EXPECT_EQ(m.startLine(), "OPTIONS sip:example.com SIP/2.0");
  // Offsets are relative to bytes(), not to the input.
  const HeaderField* callId = m.find(HeaderId::kCallId);
  ASSERT_NE(callId, nullptr);
  EXPECT_EQ(m.bytes().substr(callId->lineBegin, callId->lineEnd - callId->lineBegin),
            "Call-ID: abc\r\n");
}

TEST(SipMessage, CompactHeadersAreIndexedUnderTheirIds) {
  constexpr std::string_view kCompact =
      "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
      "v: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKnashds8\r\n"
      "t: <sip:bob@biloxi.example.com>\r\n"
      "f: <sip:alice@atlanta.example.com>;tag=1\r\n"
      "i: compact@pc33\r\n"
      "CSeq: 1 INVITE\r\n"
      "m: <sip:alice@pc33.atlanta.example.com>\r\n"
      "k: 100rel\r\n"
      "s: hello\r\n"
      "c: text/plain\r\n"
      "l: 2\r\n"
      "\r\n"
      "hi";
  Message m;
  ASSERT_TRUE(m.parse(kCompact).hasValue());
  struct Expect {
    HeaderId id;
    std::string_view name;
  };
  for (Expect e :
       {Expect{HeaderId::kVia, "v"}, Expect{HeaderId::kTo, "t"}, Expect{HeaderId::kFrom, "f"},
        Expect{HeaderId::kCallId, "i"}, Expect{HeaderId::kContact, "m"},
        Expect{HeaderId::kSupported, "k"}, Expect{HeaderId::kSubject, "s"},
        Expect{HeaderId::kContentType, "c"}, Expect{HeaderId::kContentLength, "l"}}) {
    const HeaderField* h = m.find(e.id);
    ASSERT_NE(h, nullptr) << e.name;
    EXPECT_EQ(h->name, e.name);
    EXPECT_EQ(h->id, e.id);
  }
  EXPECT_EQ(m.find("Call-ID"), m.find(HeaderId::kCallId));
  EXPECT_EQ(m.find("content-length"), m.find(HeaderId::kContentLength));
  ASSERT_TRUE(m.callId().hasValue());
  EXPECT_EQ(*m.callId(), "compact@pc33");
  ASSERT_TRUE(m.from().hasValue());
  EXPECT_EQ(m.from()->tag, "1");
  ASSERT_TRUE(m.topVia().hasValue());
  EXPECT_EQ(m.topVia()->branch, "z9hG4bKnashds8");
  EXPECT_EQ(m.body(), "hi");
  ASSERT_TRUE(m.contentType().hasValue());
  EXPECT_EQ(m.contentType()->subtype, "plain");
  ASSERT_TRUE(m.optionTags(HeaderId::kSupported).hasValue());
  EXPECT_EQ(*m.optionTags(HeaderId::kSupported), (std::vector<std::string_view>{"100rel"}));
}

TEST(SipMessage, HeaderOrderAndSameIdChains) {
  Message m;
  ASSERT_TRUE(m.parse("OPTIONS sip:example.com SIP/2.0\r\n"
                      "Via: SIP/2.0/UDP a.example.com;branch=z9hG4bKa\r\n"
                      "To: <sip:example.com>\r\n"
                      "v: SIP/2.0/UDP b.example.com;branch=z9hG4bKb\r\n"
                      "X-A: 1\r\n"
                      "VIA: SIP/2.0/UDP c.example.com;branch=z9hG4bKc\r\n"
                      "\r\n")
                  .hasValue());
  auto headers = m.headers();
  ASSERT_EQ(headers.size(), 5u);
  EXPECT_EQ(headers[0].id, HeaderId::kVia);
  EXPECT_EQ(headers[1].id, HeaderId::kTo);
  EXPECT_EQ(headers[2].id, HeaderId::kVia);
  EXPECT_EQ(headers[3].id, HeaderId::kOther);
  EXPECT_EQ(headers[4].id, HeaderId::kVia);
  EXPECT_EQ(headers[0].nextSame, 2);
  EXPECT_EQ(headers[2].nextSame, 4);
  EXPECT_EQ(headers[4].nextSame, kNoHeader);
  EXPECT_EQ(headers[1].nextSame, kNoHeader);
  EXPECT_EQ(headers[3].nextSame, kNoHeader);
  EXPECT_EQ(headers[3].name, "X-A");
  EXPECT_EQ(headers[3].value, "1");

  std::vector<std::string_view> viaValues;
  for (const HeaderField& h : m.all(HeaderId::kVia))
    viaValues.push_back(h.value);
  EXPECT_EQ(viaValues,
            (std::vector<std::string_view>{"SIP/2.0/UDP a.example.com;branch=z9hG4bKa",
                                           "SIP/2.0/UDP b.example.com;branch=z9hG4bKb",
                                           "SIP/2.0/UDP c.example.com;branch=z9hG4bKc"}));
  EXPECT_EQ(m.count(HeaderId::kVia), 3u);
  EXPECT_EQ(m.count(HeaderId::kTo), 1u);
  EXPECT_EQ(m.count(HeaderId::kFrom), 0u);
  EXPECT_TRUE(m.has(HeaderId::kTo));
  EXPECT_FALSE(m.has(HeaderId::kFrom));
  EXPECT_TRUE(m.all(HeaderId::kFrom).empty());
  EXPECT_FALSE(m.all(HeaderId::kVia).empty());
  EXPECT_EQ(m.find(HeaderId::kFrom), nullptr);
  EXPECT_EQ(m.next(headers[0]), &headers[2]);
  EXPECT_EQ(m.next(headers[2]), &headers[4]);
  EXPECT_EQ(m.next(headers[4]), nullptr);

  const auto& vias = m.vias();
  ASSERT_TRUE(vias.hasValue());
  ASSERT_EQ(vias->size(), 3u);
  EXPECT_EQ((*vias)[0].sentBy.host, "a.example.com");
  EXPECT_EQ((*vias)[1].sentBy.host, "b.example.com");
  EXPECT_EQ((*vias)[2].sentBy.host, "c.example.com");
}

TEST(SipMessage, UnknownHeadersByName) {
  Message m;
  ASSERT_TRUE(m.parse("OPTIONS sip:example.com SIP/2.0\r\n"
                      "X-Foo: 1\r\n"
                      "X-Bar: 2\r\n"
                      "Call-ID: id\r\n"
                      "x-foo: 3\r\n"
                      "X-Baz: 4\r\n"
                      "X-FOO: 5\r\n"
                      "\r\n")
                  .hasValue());
  const HeaderField* foo = m.find("X-FOO");
  ASSERT_NE(foo, nullptr);
  EXPECT_EQ(foo->value, "1");
  EXPECT_EQ(foo->id, HeaderId::kOther);
  const HeaderField* foo2 = m.next(*foo);
  ASSERT_NE(foo2, nullptr);
  EXPECT_EQ(foo2->value, "3");
  EXPECT_EQ(foo2->name, "x-foo");
  const HeaderField* foo3 = m.next(*foo2);
  ASSERT_NE(foo3, nullptr);
  EXPECT_EQ(foo3->value, "5");
  EXPECT_EQ(m.next(*foo3), nullptr);

  const HeaderField* bar = m.find("x-bar");
  ASSERT_NE(bar, nullptr);
  EXPECT_EQ(bar->value, "2");
  EXPECT_EQ(m.next(*bar), nullptr);
  EXPECT_EQ(m.find("X-Qux"), nullptr);
  EXPECT_EQ(m.count(HeaderId::kOther), 5u);
  ASSERT_NE(m.find("i"), nullptr);
  EXPECT_EQ(m.find("i")->value, "id");
}

TEST(SipMessage, FoldingIsKeptInsideTheValue) {
  Message m;
  ASSERT_TRUE(m.parse("OPTIONS sip:example.com SIP/2.0\r\n"
                      "Subject: I know you're there,\r\n"
                      "\tpick up the phone\r\n"
                      "   and talk to me!\r\n"
                      "X-Trim:    v  \r\n"
                      "X-Colon : w\r\n"
                      "X-Empty:\r\n"
                      "\r\n")
                  .hasValue());
  ASSERT_EQ(m.headers().size(), 4u);
  const HeaderField* subject = m.find(HeaderId::kSubject);
  ASSERT_NE(subject, nullptr);
  EXPECT_EQ(subject->value, "I know you're there,\r\n\tpick up the phone\r\n   and talk to me!");
  EXPECT_EQ(m.bytes().substr(subject->lineBegin, subject->lineEnd - subject->lineBegin),
            "Subject: I know you're there,\r\n\tpick up the phone\r\n   and talk to me!\r\n");
  EXPECT_EQ(m.find("X-Trim")->value, "v");
  EXPECT_EQ(m.find("X-Colon")->name, "X-Colon");
  EXPECT_EQ(m.find("X-Colon")->value, "w");
  EXPECT_EQ(m.find("X-Empty")->value, "");
}

TEST(SipMessage, FoldedTypedValues) {
  Message m;
  ASSERT_TRUE(m.parse("INVITE sip:example.com SIP/2.0\r\n"
                      "Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1,\r\n"
                      " SIP/2.0/TCP b.example.com;branch=z9hG4bK2\r\n"
                      "CSeq: 8\r\n"
                      "   INVITE\r\n"
                      "Max-Forwards:\r\n"
                      "  69\r\n"
                      "\r\n")
                  .hasValue());
  ASSERT_TRUE(m.cseq().hasValue());
  EXPECT_EQ(m.cseq()->number, 8u);
  EXPECT_EQ(m.cseq()->method, Method::kInvite);
  ASSERT_TRUE(m.maxForwards().hasValue());
  EXPECT_EQ(*m.maxForwards(), 69u);
  ASSERT_TRUE(m.vias().hasValue());
  ASSERT_EQ(m.vias()->size(), 2u);
  EXPECT_EQ((*m.vias())[1].branch, "z9hG4bK2");
}

TEST(SipMessage, BodyByContentLengthIgnoresTrailingBytes) {
  constexpr std::string_view kInput =
      "MESSAGE sip:bob@example.com SIP/2.0\r\n"
      "Content-Length: 5\r\n"
      "\r\n"
      "helloEXTRA";
  Message m;
  ASSERT_TRUE(m.parse(kInput).hasValue());
  EXPECT_EQ(m.body(), "hello");
  EXPECT_EQ(m.trailingBytes(), 5u);
  EXPECT_EQ(m.bytes(), kInput.substr(0, kInput.size() - 5));
  EXPECT_TRUE(m.hasContentLength());
  ASSERT_TRUE(m.contentLength().hasValue());
  EXPECT_EQ(*m.contentLength(), 5u);
  EXPECT_EQ(m.bodyOffset(), kInput.find("hello"));
  EXPECT_EQ(m.headersEndOffset(), kInput.find("\r\n\r\n") + 2);
}

TEST(SipMessage, DatagramWithoutContentLengthRunsToTheEnd) {
  constexpr std::string_view kInput =
      "MESSAGE sip:bob@example.com SIP/2.0\r\n"
      "Call-ID: x\r\n"
      "\r\n"
      "all of\r\nthis";
  Message m;
  ASSERT_TRUE(m.parse(kInput, Framing::kDatagram).hasValue());
  EXPECT_EQ(m.body(), "all of\r\nthis");
  EXPECT_EQ(m.trailingBytes(), 0u);
  EXPECT_FALSE(m.hasContentLength());
  ASSERT_FALSE(m.contentLength().hasValue());
  EXPECT_EQ(m.contentLength().error().code, ParseErrc::kMissingHeader);
}

TEST(SipMessage, StreamFramingNeedsContentLength) {
  ParseError missing =
      parseError("MESSAGE sip:bob@example.com SIP/2.0\r\nCall-ID: x\r\n\r\nbody", Framing::kStream);
  EXPECT_EQ(missing.code, ParseErrc::kBadContentLength);
  EXPECT_EQ(missing.status, 400);
  ParseError unterminated =
      parseError("MESSAGE sip:bob@example.com SIP/2.0\r\nContent-Length: 0\r\n", Framing::kStream);
  EXPECT_EQ(unterminated.code, ParseErrc::kTruncated);
  Message ok;
  ASSERT_TRUE(ok.parse("MESSAGE sip:bob@example.com SIP/2.0\r\nContent-Length: 4\r\n\r\nbody",
                       Framing::kStream)
                  .hasValue());
  EXPECT_EQ(ok.body(), "body");
}

TEST(SipMessage, ContentLengthErrors) {
  EXPECT_EQ(parseError("MESSAGE sip:b@example.com SIP/2.0\r\nContent-Length: 10\r\n\r\nshort").code,
            ParseErrc::kTruncated);
  EXPECT_EQ(parseError("MESSAGE sip:b@example.com SIP/2.0\r\nContent-Length: x\r\n\r\n").code,
            ParseErrc::kBadContentLength);
  EXPECT_EQ(parseError("MESSAGE sip:b@example.com SIP/2.0\r\nContent-Length: -1\r\n\r\n").code,
            ParseErrc::kBadContentLength);
  // RFC 4475 §3.3.9: two different Content-Length values make the framing ambiguous.
  EXPECT_EQ(parseError("MESSAGE sip:b@example.com SIP/2.0\r\n"
                       "Content-Length: 3\r\n"
                       "l: 4\r\n"
                       "\r\n"
                       "abcd")
                .code,
            ParseErrc::kMultipleContentLength);
}

TEST(SipMessage, DatagramWithoutEmptyLine) {
  // RFC 4475 §3.1.2.15 style: the last header of a datagram may lack its line end.
  constexpr std::string_view kInput =
      "OPTIONS sip:example.com SIP/2.0\r\n"
      "Call-ID: x\r\n"
      "CSeq: 1 OPTIONS";
  Message m;
  ASSERT_TRUE(m.parse(kInput).hasValue());
  ASSERT_EQ(m.headers().size(), 2u);
  EXPECT_EQ(m.headers()[1].value, "1 OPTIONS");
  EXPECT_EQ(m.body(), "");
  EXPECT_EQ(m.headersEndOffset(), kInput.size());
  EXPECT_EQ(m.bodyOffset(), kInput.size());
}

TEST(SipMessage, BareLineFeeds) {
  Message m;
  ASSERT_TRUE(m.parse("OPTIONS sip:example.com SIP/2.0\n"
                      "Call-ID: lf\n"
                      "Content-Length: 4\n"
                      "\n"
                      "body")
                  .hasValue());
  EXPECT_EQ(m.startLine(), "OPTIONS sip:example.com SIP/2.0");
  ASSERT_TRUE(m.callId().hasValue());
  EXPECT_EQ(*m.callId(), "lf");
  EXPECT_EQ(m.body(), "body");
}

TEST(SipMessage, MessageSizeLimit) {
  ParseLimits limits;
  limits.maxMessageBytes = static_cast<uint32_t>(kInvite.size() - 1);
  ParseError e = parseError(kInvite, Framing::kDatagram, limits);
  EXPECT_EQ(e.code, ParseErrc::kTooLarge);
  EXPECT_EQ(e.status, 513);
  limits.maxMessageBytes = static_cast<uint32_t>(kInvite.size());
  Message m;
  EXPECT_TRUE(m.parse(kInvite, Framing::kDatagram, limits).hasValue());
}

TEST(SipMessage, HeaderCountLimit) {
  ParseLimits limits;
  limits.maxHeaders = 3;
  Message m;
  std::string three = requestWithHeaders(3);
  EXPECT_TRUE(m.parse(three, Framing::kDatagram, limits).hasValue());
  std::string four = requestWithHeaders(4);
  ParseError e = parseError(four, Framing::kDatagram, limits);
  EXPECT_EQ(e.code, ParseErrc::kTooManyHeaders);
  EXPECT_EQ(e.status, 400);
  // Folded continuations belong to their header line.
  constexpr std::string_view kFolded =
      "OPTIONS sip:example.com SIP/2.0\r\n"
      "X-A: 1\r\n 2\r\n 3\r\n"
      "X-B: 1\r\n"
      "X-C: 1\r\n"
      "\r\n";
  EXPECT_TRUE(m.parse(kFolded, Framing::kDatagram, limits).hasValue());
}

TEST(SipMessage, LineLengthLimit) {
  ParseLimits limits;
  limits.maxLineBytes = 20;
  Message m;
  // Exactly 20 octets per line (line ends not counted) is within the limit.
  EXPECT_TRUE(m.parse("BYE sip:a.ex SIP/2.0\r\n"
                      "X-Twenty-Chars: 1234\r\n"
                      "X-A: 1234\r\n 12345678\r\n"
                      "\r\n",
                      Framing::kDatagram, limits)
                  .hasValue());
  ParseError header =
      parseError("BYE sip:a SIP/2.0\r\nX-Twenty-Chars: 12345\r\n\r\n", Framing::kDatagram, limits);
  EXPECT_EQ(header.code, ParseErrc::kLineTooLong);
  // A header and its folded continuations count as one line.
  ParseError folded = parseError("BYE sip:a SIP/2.0\r\nX-A: 1234\r\n 123456789\r\n\r\n",
                                 Framing::kDatagram, limits);
  EXPECT_EQ(folded.code, ParseErrc::kLineTooLong);
  ParseError start =
      parseError("OPTIONS sip:example.com SIP/2.0\r\n\r\n", Framing::kDatagram, limits);
  EXPECT_EQ(start.code, ParseErrc::kLineTooLong);
}

TEST(SipMessage, BadHeaderLines) {
  for (std::string_view input : {
           "OPTIONS sip:a SIP/2.0\r\nNo colon here\r\n\r\n"sv,
           "OPTIONS sip:a SIP/2.0\r\nNoColon\r\n\r\n"sv,
           "OPTIONS sip:a SIP/2.0\r\n: value\r\n\r\n"sv,
           "OPTIONS sip:a SIP/2.0\r\nBad Name: value\r\n\r\n"sv,
           "OPTIONS sip:a SIP/2.0\r\nX-A@: value\r\n\r\n"sv,
           // A CR inside a name is no token; it must not turn into a known header's '-'.
           "OPTIONS sip:a SIP/2.0\r\nContent\rLength: 0\r\n\r\n"sv,
           "OPTIONS sip:a SIP/2.0\r\nCall\rID: x\r\n\r\n"sv,
           "OPTIONS sip:a SIP/2.0\r\n Via: SIP/2.0/UDP a.example.com\r\n\r\n"sv,
           "OPTIONS sip:a SIP/2.0\r\n\tVia: SIP/2.0/UDP a.example.com\r\n\r\n"sv,
       }) {
    ParseError e = parseError(input);
    EXPECT_EQ(e.code, ParseErrc::kBadHeaderLine) << input;
    EXPECT_EQ(e.status, 400) << input;
  }
}

TEST(SipMessage, FailedParseLeavesTheMessageEmpty) {
  Message m;
  ASSERT_TRUE(m.parse(kInvite).hasValue());
  ASSERT_TRUE(m.cseq().hasValue());
  ASSERT_FALSE(m.parse("OPTIONS sip:a SIP/2.0\r\nNoColon\r\n\r\n").hasValue());
  EXPECT_TRUE(m.headers().empty());
  EXPECT_TRUE(m.bytes().empty());
  EXPECT_FALSE(m.isRequest());
  EXPECT_EQ(m.method(), Method::kUnknown);
  EXPECT_EQ(m.find(HeaderId::kVia), nullptr);
  EXPECT_FALSE(m.has(HeaderId::kCSeq));
  ASSERT_FALSE(m.cseq().hasValue());
  EXPECT_EQ(m.cseq().error().code, ParseErrc::kMissingHeader);
}

TEST(SipMessage, TypedValuesAreCached) {
  Message m;
  ASSERT_TRUE(m.parse(kInvite).hasValue());
  const auto* cseq = &m.cseq();
  ASSERT_TRUE(cseq->hasValue());
  EXPECT_EQ((*cseq)->number, 314159u);
  EXPECT_EQ((*cseq)->method, Method::kInvite);
  EXPECT_EQ(&m.cseq(), cseq);
  EXPECT_EQ(&m.topVia(), &m.topVia());
  EXPECT_EQ(&m.vias(), &m.vias());
  EXPECT_EQ(&m.from(), &m.from());
  EXPECT_EQ(&m.to(), &m.to());
  EXPECT_EQ(&m.callId(), &m.callId());
  EXPECT_EQ(&m.requestUri(), &m.requestUri());
  EXPECT_EQ(&m.contacts(), &m.contacts());
  EXPECT_EQ(&m.optionTags(HeaderId::kRequire), &m.optionTags(HeaderId::kRequire));
  // Views point into the parsed bytes.
  EXPECT_EQ(m.callId()->data(), kInvite.data() + kInvite.find("a84b4c76e66710"));
}

TEST(SipMessage, ErrorsAreReturnedOnEveryCall) {
  Message m;
  ASSERT_TRUE(m.parse("OPTIONS sip:example.com SIP/2.0\r\n"
                      "Max-Forwards: many\r\n"
                      "CSeq: x OPTIONS\r\n"
                      "\r\n")
                  .hasValue());
  for (int i = 0; i < 2; ++i) {
    const auto& mf = m.maxForwards();
    ASSERT_FALSE(mf.hasValue());
    EXPECT_EQ(mf.error().code, ParseErrc::kBadMaxForwards);
    const auto& cseq = m.cseq();
    ASSERT_FALSE(cseq.hasValue());
    EXPECT_EQ(cseq.error().code, ParseErrc::kBadCSeq);
    const auto& via = m.topVia();
    ASSERT_FALSE(via.hasValue());
    EXPECT_EQ(via.error().code, ParseErrc::kMissingHeader);
  }
}

TEST(SipMessage, MissingAndDuplicateHeaders) {
  Message m;
  ASSERT_TRUE(m.parse("INVITE sip:example.com SIP/2.0\r\n"
                      "CSeq: 1 INVITE\r\n"
                      "CSeq: 2 INVITE\r\n"
                      "From: <sip:a@example.com>;tag=1\r\n"
                      "f: <sip:b@example.com>;tag=2\r\n"
                      "To: <sip:a@example.com>, <sip:b@example.com>\r\n"
                      "\r\n")
                  .hasValue());
  ASSERT_FALSE(m.callId().hasValue());
  EXPECT_EQ(m.callId().error().code, ParseErrc::kMissingHeader);
  EXPECT_EQ(m.callId().error().status, 400);
  ASSERT_FALSE(m.cseq().hasValue());
  EXPECT_EQ(m.cseq().error().code, ParseErrc::kDuplicateHeader);
  EXPECT_EQ(m.cseq().error().status, 400);
  ASSERT_FALSE(m.from().hasValue());
  EXPECT_EQ(m.from().error().code, ParseErrc::kDuplicateHeader);
  // Two name-addrs in one To line (RFC 4475 §3.3.8).
  ASSERT_FALSE(m.to().hasValue());
  EXPECT_EQ(m.to().error().code, ParseErrc::kBadNameAddr);
  ASSERT_FALSE(m.expires().hasValue());
  EXPECT_EQ(m.expires().error().code, ParseErrc::kMissingHeader);
  ASSERT_FALSE(m.maxForwards().hasValue());
  EXPECT_EQ(m.maxForwards().error().code, ParseErrc::kMissingHeader);
  ASSERT_FALSE(m.contentType().hasValue());
  EXPECT_EQ(m.contentType().error().code, ParseErrc::kMissingHeader);
  ASSERT_FALSE(m.vias().hasValue());
  EXPECT_EQ(m.vias().error().code, ParseErrc::kMissingHeader);
}

TEST(SipMessage, ReuseDoesNotKeepStaleValues) {
  Message m;
  ASSERT_TRUE(m.parse(kInvite).hasValue());
  ASSERT_TRUE(m.cseq().hasValue());
  ASSERT_TRUE(m.callId().hasValue());
  ASSERT_TRUE(m.topVia().hasValue());
  ASSERT_TRUE(m.from().hasValue());
  ASSERT_TRUE(m.contacts().hasValue());
  ASSERT_EQ(m.contacts()->contacts.size(), 1u);
  ASSERT_TRUE(m.maxForwards().hasValue());
  ASSERT_TRUE(m.requestUri().hasValue());

  const std::string second =
      "BYE sip:alice@pc33.atlanta.example.com SIP/2.0\r\n"
      "Via: SIP/2.0/TCP bob.biloxi.example.com;branch=z9hG4bKnashds7\r\n"
      "From: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf\r\n"
      "To: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
      "Call-ID: second-call\r\n"
      "CSeq: 231 BYE\r\n"
      "Content-Length: 0\r\n"
      "\r\n";
  ASSERT_TRUE(m.parse(second).hasValue());
  EXPECT_EQ(m.method(), Method::kBye);
  ASSERT_TRUE(m.cseq().hasValue());
  EXPECT_EQ(m.cseq()->number, 231u);
  EXPECT_EQ(m.cseq()->method, Method::kBye);
  ASSERT_TRUE(m.callId().hasValue());
  EXPECT_EQ(*m.callId(), "second-call");
  ASSERT_TRUE(m.topVia().hasValue());
  EXPECT_EQ(m.topVia()->branch, "z9hG4bKnashds7");
  EXPECT_EQ(m.topVia()->transportId, Transport::kTcp);
  ASSERT_TRUE(m.from().hasValue());
  EXPECT_EQ(m.from()->tag, "a6c85cf");
  ASSERT_TRUE(m.contacts().hasValue());
  EXPECT_TRUE(m.contacts()->contacts.empty());
  ASSERT_FALSE(m.maxForwards().hasValue());
  EXPECT_EQ(m.maxForwards().error().code, ParseErrc::kMissingHeader);
  ASSERT_TRUE(m.requestUri().hasValue());
  EXPECT_EQ(m.requestUri()->user, "alice");
  EXPECT_EQ(m.body(), "");
}

TEST(SipMessage, TopViaParsesOnlyTheFirstViaParm) {
  Message m;
  ASSERT_TRUE(m.parse("OPTIONS sip:example.com SIP/2.0\r\n"
                      "Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1, garbage\r\n"
                      "\r\n")
                  .hasValue());
  ASSERT_TRUE(m.topVia().hasValue());
  EXPECT_EQ(m.topVia()->sentBy.host, "a.example.com");
  EXPECT_EQ(m.topVia()->branch, "z9hG4bK1");
  ASSERT_FALSE(m.vias().hasValue());
  EXPECT_EQ(m.vias().error().code, ParseErrc::kBadVia);

  Message lines;
  ASSERT_TRUE(lines
                  .parse("OPTIONS sip:example.com SIP/2.0\r\n"
                         "Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\r\n"
                         "Via: junk\r\n"
                         "\r\n")
                  .hasValue());
  ASSERT_TRUE(lines.topVia().hasValue());
  EXPECT_EQ(lines.topVia()->branch, "z9hG4bK1");
  ASSERT_FALSE(lines.vias().hasValue());
  EXPECT_EQ(lines.vias().error().code, ParseErrc::kBadVia);

  Message badFirst;
  ASSERT_TRUE(badFirst
                  .parse("OPTIONS sip:example.com SIP/2.0\r\n"
                         "Via: SIP/2.0 a.example.com, SIP/2.0/UDP b.example.com\r\n"
                         "\r\n")
                  .hasValue());
  ASSERT_FALSE(badFirst.topVia().hasValue());
  EXPECT_EQ(badFirst.topVia().error().code, ParseErrc::kBadVia);
}

TEST(SipMessage, TopViaWithAQuotedComma) {
  // A comma inside a quoted parameter value does not end the first via-parm.
  Message m;
  ASSERT_TRUE(m.parse("OPTIONS sip:example.com SIP/2.0\r\n"
                      "Via: SIP/2.0/UDP a.example.com;x=\"1,2\";branch=z9hG4bK1, "
                      "SIP/2.0/UDP b.example.com;branch=z9hG4bK2\r\n"
                      "\r\n")
                  .hasValue());
  ASSERT_TRUE(m.topVia().hasValue());
  EXPECT_EQ(m.topVia()->sentBy.host, "a.example.com");
  EXPECT_EQ(m.topVia()->branch, "z9hG4bK1");
  EXPECT_EQ(m.topVia()->params.get("x"), "\"1,2\"");
  ASSERT_TRUE(m.vias().hasValue());
  ASSERT_EQ(m.vias()->size(), 2u);
  EXPECT_EQ((*m.vias())[1].branch, "z9hG4bK2");

  Message unbalanced;
  ASSERT_TRUE(unbalanced
                  .parse("OPTIONS sip:example.com SIP/2.0\r\n"
                         "Via: SIP/2.0/UDP a.example.com;x=\"1,2;branch=z9hG4bK1\r\n"
                         "\r\n")
                  .hasValue());
  ASSERT_FALSE(unbalanced.topVia().hasValue());
  EXPECT_EQ(unbalanced.topVia().error().code, ParseErrc::kBadVia);
}

TEST(SipMessage, ContactsAcrossLines) {
  Message m;
  ASSERT_TRUE(m.parse("REGISTER sip:registrar.example.com SIP/2.0\r\n"
                      "Contact: <sip:a@x.example.com>;q=0.5, \"B\" <sip:b@y.example.com>\r\n"
                      "m: <sip:c@z.example.com>;expires=10\r\n"
                      "Expires: 7200\r\n"
                      "\r\n")
                  .hasValue());
  const auto& contacts = m.contacts();
  ASSERT_TRUE(contacts.hasValue());
  EXPECT_FALSE(contacts->star);
  ASSERT_EQ(contacts->contacts.size(), 3u);
  EXPECT_EQ(contacts->contacts[0].address.uri.user, "a");
  EXPECT_EQ(contacts->contacts[0].qMilli, std::optional<uint16_t>(500));
  EXPECT_EQ(contacts->contacts[1].address.displayName, "B");
  EXPECT_EQ(contacts->contacts[2].address.uri.user, "c");
  EXPECT_EQ(contacts->contacts[2].expires, std::optional<uint32_t>(10));
  ASSERT_TRUE(m.expires().hasValue());
  EXPECT_EQ(*m.expires(), 7200u);
}

TEST(SipMessage, ContactStarAndErrors) {
  Message star;
  ASSERT_TRUE(star.parse("REGISTER sip:r.example.com SIP/2.0\r\nContact: *\r\nExpires: 0\r\n\r\n")
                  .hasValue());
  ASSERT_TRUE(star.contacts().hasValue());
  EXPECT_TRUE(star.contacts()->star);
  EXPECT_TRUE(star.contacts()->contacts.empty());

  Message mixed;
  ASSERT_TRUE(mixed
                  .parse("REGISTER sip:r.example.com SIP/2.0\r\n"
                         "Contact: <sip:a@example.com>\r\n"
                         "Contact: *\r\n"
                         "\r\n")
                  .hasValue());
  ASSERT_FALSE(mixed.contacts().hasValue());
  EXPECT_EQ(mixed.contacts().error().code, ParseErrc::kBadContact);

  Message badQ;
  ASSERT_TRUE(
      badQ.parse("REGISTER sip:r.example.com SIP/2.0\r\nContact: <sip:a@example.com>;q=1.5\r\n\r\n")
          .hasValue());
  ASSERT_FALSE(badQ.contacts().hasValue());
  EXPECT_EQ(badQ.contacts().error().code, ParseErrc::kBadContact);
}

TEST(SipMessage, RoutesRecordRoutesPaths) {
  Message m;
  ASSERT_TRUE(m.parse("INVITE sip:bob@example.com SIP/2.0\r\n"
                      "Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\n"
                      "Record-Route: <sip:rr1.example.com;lr>\r\n"
                      "Route: <sip:p3.example.com;lr>\r\n"
                      "Path: <sip:edge.example.com;lr>\r\n"
                      "Record-Route: <sip:rr2.example.com;lr>\r\n"
                      "\r\n")
                  .hasValue());
  ASSERT_TRUE(m.routes().hasValue());
  ASSERT_EQ(m.routes()->size(), 3u);
  EXPECT_EQ((*m.routes())[0].uri.host(), "p1.example.com");
  EXPECT_EQ((*m.routes())[1].uri.host(), "p2.example.com");
  EXPECT_EQ((*m.routes())[2].uri.host(), "p3.example.com");
  ASSERT_TRUE(m.recordRoutes().hasValue());
  ASSERT_EQ(m.recordRoutes()->size(), 2u);
  EXPECT_EQ((*m.recordRoutes())[1].uri.host(), "rr2.example.com");
  ASSERT_TRUE(m.paths().hasValue());
  ASSERT_EQ(m.paths()->size(), 1u);
  EXPECT_EQ((*m.paths())[0].uri.host(), "edge.example.com");

  Message none;
  ASSERT_TRUE(none.parse("OPTIONS sip:example.com SIP/2.0\r\n\r\n").hasValue());
  ASSERT_TRUE(none.routes().hasValue());
  EXPECT_TRUE(none.routes()->empty());

  Message bad;
  ASSERT_TRUE(bad.parse("OPTIONS sip:example.com SIP/2.0\r\nRoute: <sip:p1.example.com\r\n\r\n")
                  .hasValue());
  ASSERT_FALSE(bad.routes().hasValue());
  EXPECT_EQ(bad.routes().error().code, ParseErrc::kBadNameAddr);
}

TEST(SipMessage, CredentialsChallengesAndOptionTags) {
  Message m;
  ASSERT_TRUE(m.parse("SIP/2.0 401 Unauthorized\r\n"
                      "WWW-Authenticate: Digest realm=\"example.com\", algorithm=SHA-256, "
                      "nonce=\"n1\", qop=\"auth\"\r\n"
                      "WWW-Authenticate: Digest realm=\"example.com\", algorithm=MD5, "
                      "nonce=\"n1\", qop=\"auth\", stale=true\r\n"
                      "Authorization: Digest username=\"alice\", realm=\"example.com\"\r\n"
                      "Authorization: Basic YWxpY2U6c2VjcmV0\r\n"
                      "k: 100rel\r\n"
                      "Supported: timer, path\r\n"
                      "Proxy-Require: sec-agree\r\n"
                      "Content-Length: 0\r\n"
                      "\r\n")
                  .hasValue());
  const auto& challenges = m.challenges(HeaderId::kWwwAuthenticate);
  ASSERT_TRUE(challenges.hasValue());
  ASSERT_EQ(challenges->size(), 2u);
  EXPECT_EQ((*challenges)[0].algorithm, "SHA-256");
  EXPECT_FALSE((*challenges)[0].stale);
  EXPECT_EQ((*challenges)[1].algorithm, "MD5");
  EXPECT_TRUE((*challenges)[1].stale);
  ASSERT_TRUE(m.challenges(HeaderId::kProxyAuthenticate).hasValue());
  EXPECT_TRUE(m.challenges(HeaderId::kProxyAuthenticate)->empty());
  ASSERT_FALSE(m.challenges(HeaderId::kVia).hasValue());
  EXPECT_EQ(m.challenges(HeaderId::kVia).error().code, ParseErrc::kBadChallenge);

  const auto& credentials = m.credentials(HeaderId::kAuthorization);
  ASSERT_TRUE(credentials.hasValue());
  ASSERT_EQ(credentials->size(), 2u);
  EXPECT_EQ((*credentials)[0].username, "alice");
  EXPECT_EQ((*credentials)[1].scheme, "Basic");
  ASSERT_TRUE(m.credentials(HeaderId::kProxyAuthorization).hasValue());
  EXPECT_TRUE(m.credentials(HeaderId::kProxyAuthorization)->empty());
  ASSERT_FALSE(m.credentials(HeaderId::kFrom).hasValue());
  EXPECT_EQ(m.credentials(HeaderId::kFrom).error().code, ParseErrc::kBadAuthorization);

  const auto& supported = m.optionTags(HeaderId::kSupported);
  ASSERT_TRUE(supported.hasValue());
  EXPECT_EQ(*supported, (std::vector<std::string_view>{"100rel", "timer", "path"}));
  ASSERT_TRUE(m.optionTags(HeaderId::kProxyRequire).hasValue());
  EXPECT_EQ(*m.optionTags(HeaderId::kProxyRequire), (std::vector<std::string_view>{"sec-agree"}));
  ASSERT_TRUE(m.optionTags(HeaderId::kRequire).hasValue());
  EXPECT_TRUE(m.optionTags(HeaderId::kRequire)->empty());
  ASSERT_FALSE(m.optionTags(HeaderId::kVia).hasValue());
  EXPECT_EQ(m.optionTags(HeaderId::kVia).error().code, ParseErrc::kBadOptionTag);
}

TEST(SipMessage, RequestUriWithHeadersIsRefused) {
  // RFC 3261 §19.1.5 / RFC 4475 §3.1.2.11: no headers in a Request-URI.
  Message m;
  ASSERT_TRUE(m.parse("INVITE sip:bob@example.com?Subject=x SIP/2.0\r\n\r\n").hasValue());
  ASSERT_FALSE(m.requestUri().hasValue());
  EXPECT_EQ(m.requestUri().error().code, ParseErrc::kBadUri);
  Message tel;
  ASSERT_TRUE(tel.parse("INVITE tel:+12125551212 SIP/2.0\r\n\r\n").hasValue());
  ASSERT_TRUE(tel.requestUri().hasValue());
  EXPECT_EQ(tel.requestUri()->scheme, UriScheme::kTel);
}

TEST(SipMessage, ParseForReplyStopsAtTheFirstBadHeaderLine) {
  constexpr std::string_view kBroken =
      "INVITE sip:bob@example.com SIP/2.0\r\n"
      "Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK1\r\n"
      "From: <sip:alice@example.com>;tag=1\r\n"
      "Not a header line\r\n"
      "To: <sip:bob@example.com>\r\n"
      "\r\n";
  Message strict;
  ASSERT_FALSE(strict.parse(kBroken).hasValue());
  Message m;
  ASSERT_TRUE(m.parseForReply(kBroken).hasValue());
  EXPECT_TRUE(m.isRequest());
  EXPECT_EQ(m.method(), Method::kInvite);
  ASSERT_EQ(m.headers().size(), 2u);
  EXPECT_TRUE(m.has(HeaderId::kVia));
  EXPECT_TRUE(m.has(HeaderId::kFrom));
  EXPECT_FALSE(m.has(HeaderId::kTo));
  ASSERT_TRUE(m.topVia().hasValue());
  EXPECT_EQ(m.topVia()->branch, "z9hG4bK1");
}

TEST(SipMessage, ParseForReplyToleratesWhatParseRefuses) {
  struct Case {
    std::string_view bytes;
    ParseErrc strictError;
  };
  const Case kCases[] = {
      {"INVITE sip:bob@example.com SIP/3.0\r\n"
       "Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\r\n"
       "CSeq: 1 INVITE\r\n"
       "\r\n",
       ParseErrc::kBadVersion},
      {"INVITE sip:bob@example.com SIP/2.0\r\n"
       "Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\r\n"
       "CSeq: 1 INVITE\r\n"
       "Content-Length: many\r\n"
       "\r\n",
       ParseErrc::kBadContentLength},
      {"INVITE sip:bob@example.com SIP/2.0\r\n"
       "Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\r\n"
       "CSeq: 1 INVITE\r\n"
       "Content-Length: 100\r\n"
       "\r\n"
       "short",
       ParseErrc::kTruncated},
  };
  for (const Case& c : kCases) {
    Message strict;
    auto r = strict.parse(c.bytes);
    ASSERT_FALSE(r.hasValue()) << c.bytes;
    EXPECT_EQ(r.error().code, c.strictError) << c.bytes;
    Message m;
    ASSERT_TRUE(m.parseForReply(c.bytes).hasValue()) << c.bytes;
    EXPECT_TRUE(m.isRequest());
    ASSERT_TRUE(m.topVia().hasValue()) << c.bytes;
    EXPECT_EQ(m.topVia()->branch, "z9hG4bK1");
    ASSERT_TRUE(m.cseq().hasValue()) << c.bytes;
    EXPECT_EQ(m.cseq()->number, 1u);
    EXPECT_EQ(m.body(), "") << c.bytes;
  }
}

TEST(SipMessage, ParseForReplyOnAnOversizeRequest) {
  std::string big =
      "MESSAGE sip:bob@example.com SIP/2.0\r\n"
      "Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK9\r\n"
      "Call-ID: big\r\n"
      "Content-Length: 2000\r\n"
      "\r\n";
  big.append(2000, 'x');
  ParseLimits limits;
  limits.maxMessageBytes = 1000;
  Message strict;
  auto r = strict.parse(big, Framing::kDatagram, limits);
  ASSERT_FALSE(r.hasValue());
  EXPECT_EQ(r.error().status, 513);
  Message m;
  ASSERT_TRUE(m.parseForReply(big, limits).hasValue());
  ASSERT_TRUE(m.callId().hasValue());
  EXPECT_EQ(*m.callId(), "big");
  ASSERT_TRUE(m.topVia().hasValue());
  EXPECT_EQ(m.topVia()->branch, "z9hG4bK9");
}

TEST(SipMessage, ParseForReplyRefusesResponsesAndNothing) {
  Message m;
  auto response = m.parseForReply("SIP/2.0 200 OK\r\nCall-ID: x\r\n\r\n");
  ASSERT_FALSE(response.hasValue());
  EXPECT_TRUE(m.headers().empty());
  auto empty = m.parseForReply("\r\n\r\n");
  ASSERT_FALSE(empty.hasValue());
  EXPECT_EQ(empty.error().code, ParseErrc::kEmpty);
}

TEST(SipMessage, MovedMessageKeepsItsIndex) {
  Message m;
  ASSERT_TRUE(m.parse(kInvite).hasValue());
  ASSERT_TRUE(m.cseq().hasValue());
  Message moved(std::move(m));
  EXPECT_EQ(moved.method(), Method::kInvite);
  ASSERT_TRUE(moved.cseq().hasValue());
  EXPECT_EQ(moved.cseq()->number, 314159u);
  EXPECT_EQ(moved.count(HeaderId::kVia), 1u);
  ASSERT_NE(moved.find(HeaderId::kCallId), nullptr);
  EXPECT_EQ(moved.find(HeaderId::kCallId)->value, "a84b4c76e66710@pc33.atlanta.example.com");
}

}  // namespace
}  // namespace strowger::sip

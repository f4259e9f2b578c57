// Splice-based editing of a parsed message: exact serialized output of every operation.
#include "strowger/sip/editor.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <string_view>

namespace strowger::sip {
namespace {

using namespace std::string_view_literals;

// The lines of the message most tests edit, each with its CRLF.
constexpr std::string_view kStartLine = "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n";
constexpr std::string_view kMaxForwards = "Max-Forwards: 70\r\n";
constexpr std::string_view kVia =
    "Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n";
constexpr std::string_view kRoute =
    "Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>, <sip:p3.example.com;lr>\r\n";
constexpr std::string_view kTo = "To: Bob <sip:bob@biloxi.example.com>\r\n";
constexpr std::string_view kFrom = "From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n";
constexpr std::string_view kCallId = "Call-ID: a84b4c76e66710\r\n";
constexpr std::string_view kCSeq = "CSeq: 314159 INVITE\r\n";
constexpr std::string_view kContentLength = "Content-Length: 0\r\n";
constexpr std::string_view kEnd = "\r\n";

std::string cat(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (std::string_view p : parts)
    out.append(p);
  return out;
}

const std::string kBase =
    cat({kStartLine, kMaxForwards, kVia, kRoute, kTo, kFrom, kCallId, kCSeq, kContentLength, kEnd});

// Parses `bytes` (which must outlive the message) into `m`.
::testing::AssertionResult parsed(Message& m, std::string_view bytes,
                                  Framing framing = Framing::kDatagram) {
  auto r = m.parse(bytes, framing);
  if (r) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "parse failed (" << r.error().reason << "):\n" << bytes;
}

// The serialized output, after checking that size() predicts it.
std::string serialized(const MessageEditor& editor) {
  std::string out = editor.serialize();
  EXPECT_EQ(editor.size(), out.size());
  return out;
}

class SipEditor : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(parsed(message_, original_)); }
  const HeaderField& header(HeaderId id) {
    const HeaderField* h = message_.find(id);
    EXPECT_NE(h, nullptr);
    return *h;
  }
  std::string original_ = kBase;
  Message message_;
};

TEST_F(SipEditor, NoEditsReproduceTheMessage) {
  MessageEditor editor(message_);
  EXPECT_TRUE(editor.empty());
  EXPECT_EQ(serialized(editor), kBase);
}

TEST_F(SipEditor, PrependViaGoesAboveTheFirstVia) {
  MessageEditor editor(message_);
  editor.prependVia("SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp1");
  EXPECT_FALSE(editor.empty());
  EXPECT_EQ(
      serialized(editor),
      cat({kStartLine, kMaxForwards, "Via: SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp1\r\n",
           kVia, kRoute, kTo, kFrom, kCallId, kCSeq, kContentLength, kEnd}));
}

TEST(SipEditorCases, PrependViaWithSeveralViasAndWithNone) {
  const std::string twoVias =
      cat({"SIP/2.0 200 OK\r\n", "v: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\r\n",
           "Via: SIP/2.0/UDP b.example.com;branch=z9hG4bK2\r\n", "Content-Length: 0\r\n", "\r\n"});
  Message m;
  ASSERT_TRUE(parsed(m, twoVias));
  MessageEditor editor(m);
  editor.prependVia("SIP/2.0/TCP c.example.com;branch=z9hG4bK3");
  EXPECT_EQ(
      serialized(editor),
      cat({"SIP/2.0 200 OK\r\n", "Via: SIP/2.0/TCP c.example.com;branch=z9hG4bK3\r\n",
           "v: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\r\n",
           "Via: SIP/2.0/UDP b.example.com;branch=z9hG4bK2\r\n", "Content-Length: 0\r\n", "\r\n"}));

  const std::string noVia = "OPTIONS sip:example.com SIP/2.0\r\nCall-ID: x\r\n\r\n";
  Message bare;
  ASSERT_TRUE(parsed(bare, noVia));
  MessageEditor first(bare);
  first.prependVia("SIP/2.0/UDP p.example.com;branch=z9hG4bK4");
  EXPECT_EQ(serialized(first),
            "OPTIONS sip:example.com SIP/2.0\r\n"
            "Via: SIP/2.0/UDP p.example.com;branch=z9hG4bK4\r\n"
            "Call-ID: x\r\n"
            "\r\n");
}

TEST_F(SipEditor, AddRecordRouteWithoutRecordRoute) {
  MessageEditor editor(message_);
  editor.addRecordRoute("<sip:proxy.example.com;lr>");
  EXPECT_EQ(serialized(editor),
            cat({kStartLine, "Record-Route: <sip:proxy.example.com;lr>\r\n", kMaxForwards, kVia,
                 kRoute, kTo, kFrom, kCallId, kCSeq, kContentLength, kEnd}));
}

TEST(SipEditorCases, AddRecordRouteAboveExistingRecordRoute) {
  const std::string input =
      "INVITE sip:bob@example.com SIP/2.0\r\n"
      "Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\r\n"
      "Record-Route: <sip:rr1.example.com;lr>\r\n"
      "Record-Route: <sip:rr2.example.com;lr>\r\n"
      "\r\n";
  Message m;
  ASSERT_TRUE(parsed(m, input));
  MessageEditor editor(m);
  editor.addRecordRoute("<sip:proxy.example.com;lr>");
  EXPECT_EQ(serialized(editor),
            "INVITE sip:bob@example.com SIP/2.0\r\n"
            "Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\r\n"
            "Record-Route: <sip:proxy.example.com;lr>\r\n"
            "Record-Route: <sip:rr1.example.com;lr>\r\n"
            "Record-Route: <sip:rr2.example.com;lr>\r\n"
            "\r\n");
}

TEST_F(SipEditor, SetRequestUri) {
  MessageEditor editor(message_);
  editor.setRequestUri("sip:bob@192.0.2.4:5060;transport=tcp");
  EXPECT_EQ(serialized(editor),
            cat({"INVITE sip:bob@192.0.2.4:5060;transport=tcp SIP/2.0\r\n", kMaxForwards, kVia,
                 kRoute, kTo, kFrom, kCallId, kCSeq, kContentLength, kEnd}));
}

TEST(SipEditorCases, SetRequestUriOnAResponseDoesNothing) {
  const std::string input = "SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n";
  Message m;
  ASSERT_TRUE(parsed(m, input));
  MessageEditor editor(m);
  editor.setRequestUri("sip:x@example.com");
  EXPECT_EQ(serialized(editor), input);
}

TEST_F(SipEditor, RemoveHeader) {
  MessageEditor editor(message_);
  editor.removeHeader(header(HeaderId::kMaxForwards));
  EXPECT_EQ(serialized(editor),
            cat({kStartLine, kVia, kRoute, kTo, kFrom, kCallId, kCSeq, kContentLength, kEnd}));
}

TEST(SipEditorCases, RemoveFoldedHeader) {
  const std::string input =
      "MESSAGE sip:bob@example.com SIP/2.0\r\n"
      "Subject: one,\r\n"
      "  two,\r\n"
      "\tthree\r\n"
      "Call-ID: x\r\n"
      "\r\n";
  Message m;
  ASSERT_TRUE(parsed(m, input));
  MessageEditor editor(m);
  editor.removeHeader(*m.find(HeaderId::kSubject));
  EXPECT_EQ(serialized(editor),
            "MESSAGE sip:bob@example.com SIP/2.0\r\n"
            "Call-ID: x\r\n"
            "\r\n");
}

TEST_F(SipEditor, RemoveFirstListElement) {
  const auto& routes = message_.routes();
  ASSERT_TRUE(routes.hasValue());
  ASSERT_EQ(routes->size(), 3u);
  MessageEditor editor(message_);
  editor.removeListElement(header(HeaderId::kRoute), (*routes)[0].raw);
  EXPECT_EQ(serialized(editor), cat({kStartLine, kMaxForwards, kVia,
                                     "Route: <sip:p2.example.com;lr>, <sip:p3.example.com;lr>\r\n",
                                     kTo, kFrom, kCallId, kCSeq, kContentLength, kEnd}));
}

TEST_F(SipEditor, RemoveMiddleListElement) {
  const auto& routes = message_.routes();
  ASSERT_TRUE(routes.hasValue());
  MessageEditor editor(message_);
  editor.removeListElement(header(HeaderId::kRoute), (*routes)[1].raw);
  EXPECT_EQ(serialized(editor), cat({kStartLine, kMaxForwards, kVia,
                                     "Route: <sip:p1.example.com;lr>, <sip:p3.example.com;lr>\r\n",
                                     kTo, kFrom, kCallId, kCSeq, kContentLength, kEnd}));
}

TEST_F(SipEditor, RemoveLastListElement) {
  const auto& routes = message_.routes();
  ASSERT_TRUE(routes.hasValue());
  MessageEditor editor(message_);
  editor.removeListElement(header(HeaderId::kRoute), (*routes)[2].raw);
  EXPECT_EQ(serialized(editor), cat({kStartLine, kMaxForwards, kVia,
                                     "Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\n",
                                     kTo, kFrom, kCallId, kCSeq, kContentLength, kEnd}));
}

TEST(SipEditorCases, RemoveOnlyListElementRemovesTheLine) {
  const std::string input =
      "INVITE sip:bob@example.com SIP/2.0\r\n"
      "Route: <sip:p1.example.com;lr>\r\n"
      "Call-ID: x\r\n"
      "\r\n";
  Message m;
  ASSERT_TRUE(parsed(m, input));
  ASSERT_TRUE(m.routes().hasValue());
  ASSERT_EQ(m.routes()->size(), 1u);
  MessageEditor editor(m);
  editor.removeListElement(*m.find(HeaderId::kRoute), (*m.routes())[0].raw);
  EXPECT_EQ(serialized(editor),
            "INVITE sip:bob@example.com SIP/2.0\r\n"
            "Call-ID: x\r\n"
            "\r\n");
}

TEST(SipEditorCases, RemoveListElementAcrossAFold) {
  const std::string input =
      "INVITE sip:bob@example.com SIP/2.0\r\n"
      "Route: <sip:p1.example.com;lr>,\r\n"
      " <sip:p2.example.com;lr>\r\n"
      "\r\n";
  Message m;
  ASSERT_TRUE(parsed(m, input));
  ASSERT_TRUE(m.routes().hasValue());
  ASSERT_EQ(m.routes()->size(), 2u);
  MessageEditor editor(m);
  editor.removeListElement(*m.find(HeaderId::kRoute), (*m.routes())[0].raw);
  EXPECT_EQ(serialized(editor),
            "INVITE sip:bob@example.com SIP/2.0\r\n"
            "Route: <sip:p2.example.com;lr>\r\n"
            "\r\n");
}

TEST(SipEditorCases, RemoveEveryElementOfAListRemovesTheLine) {
  // A proxy that is the next two hops pops both of its Route entries (RFC 3261 §16.4, done
  // twice). Each removal on its own is valid; together no element may be left behind.
  const std::string input =
      "INVITE sip:bob@example.com SIP/2.0\r\n"
      "Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\n"
      "Call-ID: x\r\n"
      "\r\n";
  Message m;
  ASSERT_TRUE(parsed(m, input));
  ASSERT_TRUE(m.routes().hasValue());
  ASSERT_EQ(m.routes()->size(), 2u);
  MessageEditor editor(m);
  const HeaderField& route = *m.find(HeaderId::kRoute);
  editor.removeListElement(route, (*m.routes())[0].raw);
  editor.removeListElement(route, (*m.routes())[1].raw);
  EXPECT_EQ(serialized(editor),
            "INVITE sip:bob@example.com SIP/2.0\r\n"
            "Call-ID: x\r\n"
            "\r\n");
}

TEST_F(SipEditor, RemoveFirstAndLastListElements) {
  const auto& routes = message_.routes();
  ASSERT_TRUE(routes.hasValue());
  MessageEditor editor(message_);
  editor.removeListElement(header(HeaderId::kRoute), (*routes)[2].raw);
  editor.removeListElement(header(HeaderId::kRoute), (*routes)[0].raw);
  EXPECT_EQ(serialized(editor),
            cat({kStartLine, kMaxForwards, kVia, "Route: <sip:p2.example.com;lr>\r\n", kTo, kFrom,
                 kCallId, kCSeq, kContentLength, kEnd}));
}

TEST_F(SipEditor, RemoveMiddleAndLastListElements) {
  const auto& routes = message_.routes();
  ASSERT_TRUE(routes.hasValue());
  MessageEditor editor(message_);
  editor.removeListElement(header(HeaderId::kRoute), (*routes)[1].raw);
  editor.removeListElement(header(HeaderId::kRoute), (*routes)[2].raw);
  EXPECT_EQ(serialized(editor),
            cat({kStartLine, kMaxForwards, kVia, "Route: <sip:p1.example.com;lr>\r\n", kTo, kFrom,
                 kCallId, kCSeq, kContentLength, kEnd}));
}

TEST(SipEditorCases, RemoveListElementsOfTwoHeaders) {
  const std::string input =
      "INVITE sip:bob@example.com SIP/2.0\r\n"
      "Route: \"Edge, West\" <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\n"
      "Call-ID: x\r\n"
      "Route: <sip:p3.example.com;lr>, <sip:p4.example.com;lr>\r\n"
      "\r\n";
  Message m;
  ASSERT_TRUE(parsed(m, input));
  ASSERT_TRUE(m.routes().hasValue());
  ASSERT_EQ(m.routes()->size(), 4u);
  const HeaderField& first = *m.find(HeaderId::kRoute);
  const HeaderField& second = *m.next(first);
  MessageEditor editor(m);
  editor.removeListElement(first, (*m.routes())[1].raw);
  editor.removeListElement(second, (*m.routes())[2].raw);
  EXPECT_EQ(serialized(editor),
            "INVITE sip:bob@example.com SIP/2.0\r\n"
            "Route: \"Edge, West\" <sip:p1.example.com;lr>\r\n"
            "Call-ID: x\r\n"
            "Route: <sip:p4.example.com;lr>\r\n"
            "\r\n");
}

TEST_F(SipEditor, ReplaceHeaderValue) {
  MessageEditor editor(message_);
  editor.replaceHeaderValue(header(HeaderId::kMaxForwards), "69");
  EXPECT_EQ(serialized(editor), cat({kStartLine, "Max-Forwards: 69\r\n", kVia, kRoute, kTo, kFrom,
                                     kCallId, kCSeq, kContentLength, kEnd}));
}

TEST(SipEditorCases, ReplaceHeaderValueKeepsTheNameAsWritten) {
  const std::string input =
      "OPTIONS sip:example.com SIP/2.0\r\n"
      "i:   old-id  \r\n"
      "X-Folded: a,\r\n b\r\n"
      "\r\n";
  Message m;
  ASSERT_TRUE(parsed(m, input));
  MessageEditor editor(m);
  editor.replaceHeaderValue(*m.find(HeaderId::kCallId), "new-id");
  editor.replaceHeaderValue(*m.find("X-Folded"), "c");
  EXPECT_EQ(serialized(editor),
            "OPTIONS sip:example.com SIP/2.0\r\n"
            "i:   new-id  \r\n"
            "X-Folded: c\r\n"
            "\r\n");
}

TEST_F(SipEditor, InsertBefore) {
  MessageEditor editor(message_);
  editor.insertBefore(header(HeaderId::kTo), "X-A", "1");
  editor.insertBefore(header(HeaderId::kTo), "X-B", "2");
  EXPECT_EQ(serialized(editor),
            cat({kStartLine, kMaxForwards, kVia, kRoute, "X-A: 1\r\n", "X-B: 2\r\n", kTo, kFrom,
                 kCallId, kCSeq, kContentLength, kEnd}));
}

TEST_F(SipEditor, InsertBeforeAHeaderThatIsRemoved) {
  // An insert at the start of a removed line survives the removal, whatever the call order.
  MessageEditor editor(message_);
  editor.removeHeader(header(HeaderId::kMaxForwards));
  editor.insertBefore(header(HeaderId::kMaxForwards), "Max-Forwards", "10");
  editor.prependVia("SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp1");
  editor.removeHeader(header(HeaderId::kVia));
  EXPECT_EQ(serialized(editor), cat({kStartLine, "Max-Forwards: 10\r\n",
                                     "Via: SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp1\r\n",
                                     kRoute, kTo, kFrom, kCallId, kCSeq, kContentLength, kEnd}));
}

TEST_F(SipEditor, PrependHeader) {
  MessageEditor editor(message_);
  editor.prependHeader("X-First", "1");
  editor.prependHeader("X-Second", "2");
  EXPECT_EQ(serialized(editor),
            cat({kStartLine, "X-First: 1\r\n", "X-Second: 2\r\n", kMaxForwards, kVia, kRoute, kTo,
                 kFrom, kCallId, kCSeq, kContentLength, kEnd}));
}

TEST_F(SipEditor, AppendHeader) {
  MessageEditor editor(message_);
  editor.appendHeader("X-Last", "z");
  editor.appendHeader("Supported", "path");
  EXPECT_EQ(serialized(editor),
            cat({kStartLine, kMaxForwards, kVia, kRoute, kTo, kFrom, kCallId, kCSeq, kContentLength,
                 "X-Last: z\r\n", "Supported: path\r\n", kEnd}));
}

TEST(SipEditorCases, AppendHeaderAfterALastLineWithoutLineEnd) {
  const std::string input = "OPTIONS sip:example.com SIP/2.0\r\nCall-ID: x";
  Message m;
  ASSERT_TRUE(parsed(m, input));
  MessageEditor editor(m);
  editor.appendHeader("X-A", "1");
  const std::string out = serialized(editor);
  // The last line gets its line end before the new one follows.
  EXPECT_TRUE(
      out.starts_with("OPTIONS sip:example.com SIP/2.0\r\n"
                      "Call-ID: x\r\n"
                      "X-A: 1\r\n"))
      << out;
  Message again;
  ASSERT_TRUE(again.parse(out).hasValue()) << out;
  ASSERT_EQ(again.headers().size(), 2u);
  EXPECT_EQ(again.headers()[0].value, "x");
  EXPECT_EQ(again.headers()[1].value, "1");
}

TEST_F(SipEditor, SetBodyUpdatesContentLengthAndAddsContentType) {
  MessageEditor editor(message_);
  editor.setBody("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\n", "application/sdp");
  EXPECT_EQ(serialized(editor),
            cat({kStartLine, kMaxForwards, kVia, kRoute, kTo, kFrom, kCallId, kCSeq,
                 "Content-Length: 31\r\n", "Content-Type: application/sdp\r\n", kEnd,
                 "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\n"}));
}

TEST(SipEditorCases, SetBodyReplacesBodyAndContentType) {
  const std::string input =
      "MESSAGE sip:bob@example.com SIP/2.0\r\n"
      "c: text/plain\r\n"
      "Content-Length: 5\r\n"
      "\r\n"
      "helloTRAILING";
  Message m;
  ASSERT_TRUE(parsed(m, input));
  ASSERT_EQ(m.trailingBytes(), 8u);
  MessageEditor editor(m);
  editor.setBody("<b>hi</b>", "text/html");
  EXPECT_EQ(serialized(editor),
            "MESSAGE sip:bob@example.com SIP/2.0\r\n"
            "c: text/html\r\n"
            "Content-Length: 9\r\n"
            "\r\n"
            "<b>hi</b>");

  MessageEditor keepType(m);
  keepType.setBody("");
  EXPECT_EQ(serialized(keepType),
            "MESSAGE sip:bob@example.com SIP/2.0\r\n"
            "c: text/plain\r\n"
            "Content-Length: 0\r\n"
            "\r\n");
}

TEST(SipEditorCases, SetBodyWithoutContentLength) {
  const std::string input =
      "MESSAGE sip:bob@example.com SIP/2.0\r\n"
      "Call-ID: x\r\n"
      "\r\n"
      "old";
  Message m;
  ASSERT_TRUE(parsed(m, input));
  MessageEditor editor(m);
  editor.setBody("new body", "text/plain");
  EXPECT_EQ(serialized(editor),
            "MESSAGE sip:bob@example.com SIP/2.0\r\n"
            "Call-ID: x\r\n"
            "Content-Length: 8\r\n"
            "Content-Type: text/plain\r\n"
            "\r\n"
            "new body");
}

TEST(SipEditorCases, SetBodyOnADatagramWithoutEmptyLine) {
  // The header section of this datagram is not closed by an empty line (tolerated on input);
  // the output must put the new headers before the empty line and the body after it.
  const std::string input =
      "MESSAGE sip:bob@example.com SIP/2.0\r\n"
      "Call-ID: x\r\n";
  Message m;
  ASSERT_TRUE(parsed(m, input));
  MessageEditor editor(m);
  editor.setBody("hello", "text/plain");
  const std::string out = serialized(editor);
  EXPECT_EQ(out,
            "MESSAGE sip:bob@example.com SIP/2.0\r\n"
            "Call-ID: x\r\n"
            "Content-Length: 5\r\n"
            "Content-Type: text/plain\r\n"
            "\r\n"
            "hello");
  Message again;
  ASSERT_TRUE(again.parse(out, Framing::kStream).hasValue());
  EXPECT_EQ(again.body(), "hello");
}

TEST(SipEditorCases, EnsureContentLengthOnADatagram) {
  const std::string input =
      "MESSAGE sip:bob@example.com SIP/2.0\r\n"
      "Call-ID: x\r\n"
      "\r\n"
      "abc";
  Message m;
  ASSERT_TRUE(parsed(m, input));
  ASSERT_FALSE(m.hasContentLength());
  MessageEditor editor(m);
  editor.ensureContentLength();
  const std::string out = serialized(editor);
  EXPECT_EQ(out,
            "MESSAGE sip:bob@example.com SIP/2.0\r\n"
            "Call-ID: x\r\n"
            "Content-Length: 3\r\n"
            "\r\n"
            "abc");
  Message again;
  ASSERT_TRUE(again.parse(out, Framing::kStream).hasValue());
  EXPECT_EQ(again.body(), "abc");
}

TEST_F(SipEditor, EnsureContentLengthWhenPresentDoesNothing) {
  MessageEditor editor(message_);
  editor.ensureContentLength();
  EXPECT_TRUE(editor.empty());
  EXPECT_EQ(serialized(editor), kBase);
}

TEST(SipEditorCases, EnsureContentLengthOnADatagramWithoutEmptyLine) {
  // Made ready for a stream, the message must be complete: RFC 3261 §7 requires the empty line.
  const std::string input =
      "OPTIONS sip:example.com SIP/2.0\r\n"
      "Call-ID: x\r\n"
      "CSeq: 1 OPTIONS\r\n";
  Message m;
  ASSERT_TRUE(parsed(m, input));
  MessageEditor editor(m);
  editor.ensureContentLength();
  const std::string out = serialized(editor);
  EXPECT_EQ(out,
            "OPTIONS sip:example.com SIP/2.0\r\n"
            "Call-ID: x\r\n"
            "CSeq: 1 OPTIONS\r\n"
            "Content-Length: 0\r\n"
            "\r\n");
  Message again;
  EXPECT_TRUE(again.parse(out, Framing::kStream).hasValue());
}

TEST(SipEditorCases, EnsureContentLengthThenSetBodyKeepsOneContentLength) {
  const std::string input =
      "MESSAGE sip:bob@example.com SIP/2.0\r\n"
      "Call-ID: x\r\n"
      "\r\n"
      "abc";
  Message m;
  ASSERT_TRUE(parsed(m, input));
  MessageEditor editor(m);
  editor.ensureContentLength();
  editor.setBody("hello");
  const std::string out = serialized(editor);
  EXPECT_EQ(out,
            "MESSAGE sip:bob@example.com SIP/2.0\r\n"
            "Call-ID: x\r\n"
            "Content-Length: 5\r\n"
            "\r\n"
            "hello");
  Message again;
  ASSERT_TRUE(again.parse(out, Framing::kStream).hasValue());
  EXPECT_EQ(again.count(HeaderId::kContentLength), 1u);
  EXPECT_EQ(again.body(), "hello");
}

TEST_F(SipEditor, SetBodyTwiceStaysConsistent) {
  // The second body replaces the first; whatever the outcome, Content-Length must describe the
  // body that is actually written.
  MessageEditor editor(message_);
  editor.setBody("first");
  editor.setBody("second!");
  const std::string out = serialized(editor);
  Message again;
  ASSERT_TRUE(again.parse(out, Framing::kStream).hasValue()) << out;
  EXPECT_EQ(again.count(HeaderId::kContentLength), 1u);
  ASSERT_TRUE(again.contentLength().hasValue());
  EXPECT_EQ(*again.contentLength(), again.body().size());
  EXPECT_EQ(again.trailingBytes(), 0u) << out;
  EXPECT_EQ(again.body(), "second!") << out;
}

TEST(SipEditorCases, SetBodyTwiceReplacesAnExistingBody) {
  const std::string input =
      "MESSAGE sip:bob@example.com SIP/2.0\r\n"
      "Content-Type: text/plain\r\n"
      "Content-Length: 5\r\n"
      "\r\n"
      "hello";
  Message m;
  ASSERT_TRUE(parsed(m, input));
  MessageEditor editor(m);
  editor.setBody("first", "text/html");
  editor.setBody("the second", "application/json");
  EXPECT_EQ(serialized(editor),
            "MESSAGE sip:bob@example.com SIP/2.0\r\n"
            "Content-Type: application/json\r\n"
            "Content-Length: 10\r\n"
            "\r\n"
            "the second");
}

TEST_F(SipEditor, SeveralEditsCombined) {
  const auto& routes = message_.routes();
  ASSERT_TRUE(routes.hasValue());
  MessageEditor editor(message_);
  editor.setRequestUri("sip:bob@192.0.2.4");
  editor.removeListElement(header(HeaderId::kRoute), (*routes)[0].raw);
  editor.replaceHeaderValue(header(HeaderId::kMaxForwards), "69");
  editor.prependVia("SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp1");
  editor.addRecordRoute("<sip:proxy.example.com;lr>");
  editor.removeHeader(header(HeaderId::kCallId));
  editor.insertBefore(header(HeaderId::kCSeq), "Call-ID", "replaced-id");
  editor.appendHeader("X-Proxied", "yes");
  editor.setBody("hi", "text/plain");
  const std::string expected = cat({
      "INVITE sip:bob@192.0.2.4 SIP/2.0\r\n",
      "Record-Route: <sip:proxy.example.com;lr>\r\n",
      "Max-Forwards: 69\r\n",
      "Via: SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp1\r\n",
      kVia,
      "Route: <sip:p2.example.com;lr>, <sip:p3.example.com;lr>\r\n",
      kTo,
      kFrom,
      "Call-ID: replaced-id\r\n",
      kCSeq,
      "Content-Length: 2\r\n",
      "X-Proxied: yes\r\n",
      "Content-Type: text/plain\r\n",
      kEnd,
      "hi",
  });
  const std::string out = serialized(editor);
  EXPECT_EQ(out, expected);
  // The original bytes are untouched: a retransmission can start again from them.
  EXPECT_EQ(original_, kBase);
  EXPECT_EQ(message_.bytes(), kBase);

  Message again;
  ASSERT_TRUE(again.parse(out, Framing::kStream).hasValue());
  EXPECT_EQ(again.requestUriText(), "sip:bob@192.0.2.4");
  ASSERT_TRUE(again.vias().hasValue());
  ASSERT_EQ(again.vias()->size(), 2u);
  EXPECT_EQ((*again.vias())[0].branch, "z9hG4bKp1");
  EXPECT_EQ((*again.vias())[1].branch, "z9hG4bK776asdhds");
  ASSERT_TRUE(again.routes().hasValue());
  ASSERT_EQ(again.routes()->size(), 2u);
  EXPECT_EQ((*again.routes())[0].uri.host(), "p2.example.com");
  ASSERT_TRUE(again.recordRoutes().hasValue());
  ASSERT_EQ(again.recordRoutes()->size(), 1u);
  ASSERT_TRUE(again.maxForwards().hasValue());
  EXPECT_EQ(*again.maxForwards(), 69u);
  ASSERT_TRUE(again.callId().hasValue());
  EXPECT_EQ(*again.callId(), "replaced-id");
  EXPECT_EQ(again.body(), "hi");
  EXPECT_EQ(*again.contentLength(), 2u);
  ASSERT_NE(again.find("X-Proxied"), nullptr);
}

TEST_F(SipEditor, SerializeToAppends) {
  MessageEditor editor(message_);
  editor.replaceHeaderValue(header(HeaderId::kMaxForwards), "1");
  std::string out = "prefix|";
  editor.serializeTo(out);
  EXPECT_EQ(out, cat({"prefix|", kStartLine, "Max-Forwards: 1\r\n", kVia, kRoute, kTo, kFrom,
                      kCallId, kCSeq, kContentLength, kEnd}));
  EXPECT_EQ(editor.size(), out.size() - 7);
}

TEST(SipEditorCases, LeadingCrlfsAndTrailingBytesAreNotCopied) {
  // Offsets are relative to Message::bytes(): the framed message without the CRLFs before it
  // and without the octets after its body.
  const std::string input =
      "\r\n\r\n"
      "MESSAGE sip:bob@example.com SIP/2.0\r\n"
      "Max-Forwards: 70\r\n"
      "Content-Length: 2\r\n"
      "\r\n"
      "hiJUNK";
  Message m;
  ASSERT_TRUE(parsed(m, input));
  MessageEditor untouched(m);
  EXPECT_EQ(serialized(untouched),
            "MESSAGE sip:bob@example.com SIP/2.0\r\n"
            "Max-Forwards: 70\r\n"
            "Content-Length: 2\r\n"
            "\r\n"
            "hi");
  MessageEditor editor(m);
  editor.replaceHeaderValue(*m.find(HeaderId::kMaxForwards), "69");
  editor.prependHeader("Via", "SIP/2.0/UDP p.example.com;branch=z9hG4bK1");
  editor.setRequestUri("sip:bob@192.0.2.1");
  EXPECT_EQ(serialized(editor),
            "MESSAGE sip:bob@192.0.2.1 SIP/2.0\r\n"
            "Via: SIP/2.0/UDP p.example.com;branch=z9hG4bK1\r\n"
            "Max-Forwards: 69\r\n"
            "Content-Length: 2\r\n"
            "\r\n"
            "hi");
}

TEST_F(SipEditor, EditorsAreIndependent) {
  MessageEditor a(message_);
  MessageEditor b(message_);
  a.removeHeader(header(HeaderId::kMaxForwards));
  b.appendHeader("X-B", "1");
  EXPECT_EQ(serialized(a),
            cat({kStartLine, kVia, kRoute, kTo, kFrom, kCallId, kCSeq, kContentLength, kEnd}));
  EXPECT_EQ(serialized(b), cat({kStartLine, kMaxForwards, kVia, kRoute, kTo, kFrom, kCallId, kCSeq,
                                kContentLength, "X-B: 1\r\n", kEnd}));
}

TEST(SipEditorCases, RemovingAnUnterminatedLastLineLeavesNoStrayLineEnd) {
  // The last header has neither its CRLF nor an empty line after it (tolerated on input). The
  // editor completes it; removing that line must remove the completion too, or the output would
  // carry a two-octet body.
  const std::string input =
      "OPTIONS sip:a@example.com SIP/2.0\r\n"
      "Call-ID: x\r\n"
      "To: <sip:a@example.com>";
  Message m;
  ASSERT_TRUE(parsed(m, input));
  MessageEditor editor(m);
  editor.removeHeader(*m.find(HeaderId::kTo));
  EXPECT_EQ(serialized(editor),
            "OPTIONS sip:a@example.com SIP/2.0\r\n"
            "Call-ID: x\r\n"
            "\r\n");
  MessageEditor kept(m);
  EXPECT_EQ(serialized(kept),
            "OPTIONS sip:a@example.com SIP/2.0\r\n"
            "Call-ID: x\r\n"
            "To: <sip:a@example.com>\r\n"
            "\r\n");
}

}  // namespace
}  // namespace strowger::sip

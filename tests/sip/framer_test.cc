// Message boundaries on a byte stream (RFC 3261 §18.3) and CRLF keep-alives (RFC 5626 §4.4.1).
#include "strowger/sip/framer.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "strowger/sip/message.h"

namespace strowger::sip {
namespace {

using Status = StreamFramer::Status;

constexpr std::string_view kOptions =
    "OPTIONS sip:example.com SIP/2.0\r\n"
    "Via: SIP/2.0/TCP client.example.com;branch=z9hG4bK74bf9\r\n"
    "Call-ID: stream-1\r\n"
    "CSeq: 1 OPTIONS\r\n"
    "Content-Length: 0\r\n"
    "\r\n";

constexpr std::string_view kMessageWithBody =
    "MESSAGE sip:bob@example.com SIP/2.0\r\n"
    "Via: SIP/2.0/TCP client.example.com;branch=z9hG4bK74bfa\r\n"
    "Call-ID: stream-2\r\n"
    "CSeq: 2 MESSAGE\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Length: 12\r\n"
    "\r\n"
    "Hello\r\nworld";

TEST(SipFramer, OneMessage) {
  StreamFramer framer;
  auto r = framer.next(kOptions);
  EXPECT_EQ(r.status, Status::kMessage);
  EXPECT_EQ(r.length, kOptions.size());
  EXPECT_FALSE(r.ping);
  EXPECT_TRUE(r.error.empty());
  Message m;
  ASSERT_TRUE(m.parse(kOptions.substr(0, r.length), Framing::kStream).hasValue());
}

TEST(SipFramer, MessageWithBody) {
  StreamFramer framer;
  auto r = framer.next(kMessageWithBody);
  ASSERT_EQ(r.status, Status::kMessage);
  EXPECT_EQ(r.length, kMessageWithBody.size());
  Message m;
  ASSERT_TRUE(m.parse(kMessageWithBody.substr(0, r.length), Framing::kStream).hasValue());
  EXPECT_EQ(m.body(), "Hello\r\nworld");
}

TEST(SipFramer, EmptyInputNeedsMore) {
  StreamFramer framer;
  auto r = framer.next("");
  EXPECT_EQ(r.status, Status::kNeedMore);
  EXPECT_EQ(r.length, 0u);
}

TEST(SipFramer, TwoMessagesBackToBack) {
  const std::string stream = std::string(kMessageWithBody) + std::string(kOptions);
  StreamFramer framer;
  std::string_view pending = stream;
  auto first = framer.next(pending);
  ASSERT_EQ(first.status, Status::kMessage);
  EXPECT_EQ(first.length, kMessageWithBody.size());
  pending.remove_prefix(first.length);
  auto second = framer.next(pending);
  ASSERT_EQ(second.status, Status::kMessage);
  EXPECT_EQ(second.length, kOptions.size());
  pending.remove_prefix(second.length);
  EXPECT_TRUE(pending.empty());
  EXPECT_EQ(framer.next(pending).status, Status::kNeedMore);
}

TEST(SipFramer, SplitAtEveryBytePosition) {
  for (std::string_view whole : {kOptions, kMessageWithBody}) {
    for (std::size_t cut = 1; cut < whole.size(); ++cut) {
      StreamFramer framer;
      auto partial = framer.next(whole.substr(0, cut));
      EXPECT_EQ(partial.status, Status::kNeedMore) << "cut at " << cut;
      auto full = framer.next(whole);
      ASSERT_EQ(full.status, Status::kMessage) << "cut at " << cut;
      EXPECT_EQ(full.length, whole.size()) << "cut at " << cut;
    }
  }
}

TEST(SipFramer, GrowsOneByteAtATime) {
  const std::string stream = std::string(kMessageWithBody) + std::string(kOptions);
  StreamFramer framer;
  std::size_t begin = 0;
  std::vector<std::size_t> lengths;
  for (std::size_t end = begin + 1; end <= stream.size(); ++end) {
    auto r = framer.next(std::string_view(stream).substr(begin, end - begin));
    if (r.status == Status::kMessage) {
      lengths.push_back(r.length);
      begin += r.length;
    } else {
      ASSERT_EQ(r.status, Status::kNeedMore) << "at byte " << end;
    }
  }
  EXPECT_EQ(lengths, (std::vector<std::size_t>{kMessageWithBody.size(), kOptions.size()}));
  EXPECT_EQ(begin, stream.size());
}

TEST(SipFramer, BodySplitAcrossReads) {
  StreamFramer framer;
  const std::size_t headerEnd = kMessageWithBody.find("\r\n\r\n") + 4;
  EXPECT_EQ(framer.next(kMessageWithBody.substr(0, headerEnd)).status, Status::kNeedMore);
  EXPECT_EQ(framer.next(kMessageWithBody.substr(0, headerEnd + 5)).status, Status::kNeedMore);
  EXPECT_EQ(framer.next(kMessageWithBody.substr(0, kMessageWithBody.size() - 1)).status,
            Status::kNeedMore);
  auto r = framer.next(kMessageWithBody);
  ASSERT_EQ(r.status, Status::kMessage);
  EXPECT_EQ(r.length, kMessageWithBody.size());
}

TEST(SipFramer, MoreBytesThanOneMessage) {
  std::string stream(kOptions);
  stream += "INVITE sip:x";
  StreamFramer framer;
  auto r = framer.next(stream);
  ASSERT_EQ(r.status, Status::kMessage);
  EXPECT_EQ(r.length, kOptions.size());
  EXPECT_EQ(framer.next(std::string_view(stream).substr(r.length)).status, Status::kNeedMore);
}

TEST(SipFramer, PingBeforeAMessage) {
  const std::string stream = "\r\n\r\n" + std::string(kOptions);
  StreamFramer framer;
  std::string_view pending = stream;
  auto ping = framer.next(pending);
  ASSERT_EQ(ping.status, Status::kKeepAlive);
  EXPECT_EQ(ping.length, 4u);
  EXPECT_TRUE(ping.ping);
  pending.remove_prefix(ping.length);
  auto r = framer.next(pending);
  ASSERT_EQ(r.status, Status::kMessage);
  EXPECT_EQ(r.length, kOptions.size());
}

TEST(SipFramer, PongBeforeAMessage) {
  const std::string stream = "\r\n" + std::string(kOptions);
  StreamFramer framer;
  std::string_view pending = stream;
  auto pong = framer.next(pending);
  ASSERT_EQ(pong.status, Status::kKeepAlive);
  EXPECT_EQ(pong.length, 2u);
  EXPECT_FALSE(pong.ping);
  pending.remove_prefix(pong.length);
  auto r = framer.next(pending);
  ASSERT_EQ(r.status, Status::kMessage);
  EXPECT_EQ(r.length, kOptions.size());
}

TEST(SipFramer, PingArrivingInPieces) {
  StreamFramer framer;
  EXPECT_EQ(framer.next("\r").status, Status::kNeedMore);
  EXPECT_EQ(framer.next("\r\n").status, Status::kNeedMore);
  EXPECT_EQ(framer.next("\r\n\r").status, Status::kNeedMore);
  auto ping = framer.next("\r\n\r\n");
  ASSERT_EQ(ping.status, Status::kKeepAlive);
  EXPECT_EQ(ping.length, 4u);
  EXPECT_TRUE(ping.ping);
}

TEST(SipFramer, StrayLineFeedBeforeAMessage) {
  const std::string stream = "\n" + std::string(kOptions);
  StreamFramer framer;
  auto stray = framer.next(stream);
  ASSERT_EQ(stray.status, Status::kKeepAlive);
  EXPECT_EQ(stray.length, 1u);
  EXPECT_FALSE(stray.ping);
  auto r = framer.next(std::string_view(stream).substr(1));
  ASSERT_EQ(r.status, Status::kMessage);
  EXPECT_EQ(r.length, kOptions.size());
}

TEST(SipFramer, MissingContentLengthIsAnError) {
  StreamFramer framer;
  auto r = framer.next(
      "OPTIONS sip:example.com SIP/2.0\r\n"
      "Call-ID: x\r\n"
      "\r\n");
  EXPECT_EQ(r.status, Status::kError);
  EXPECT_EQ(r.error, "Missing Content-Length");
}

TEST(SipFramer, BadContentLengthIsAnError) {
  for (std::string_view value : {"abc", "-1", "1 2", "4294967296"}) {
    StreamFramer framer;
    std::string msg =
        "OPTIONS sip:example.com SIP/2.0\r\nContent-Length: " + std::string(value) + "\r\n\r\n";
    auto r = framer.next(msg);
    EXPECT_EQ(r.status, Status::kError) << value;
    EXPECT_FALSE(r.error.empty()) << value;
  }
  StreamFramer twice;
  auto r = twice.next("OPTIONS sip:example.com SIP/2.0\r\nContent-Length: 1\r\nl: 2\r\n\r\nab");
  EXPECT_EQ(r.status, Status::kError);
  // Even two equal values are refused, as Message::parse refuses them: the framer must never
  // hand over a message the parser then rejects.
  StreamFramer same;
  r = same.next("OPTIONS sip:example.com SIP/2.0\r\nContent-Length: 2\r\nl: 2\r\n\r\nab");
  EXPECT_EQ(r.status, Status::kError);
}

TEST(SipFramer, CompactContentLength) {
  StreamFramer framer;
  constexpr std::string_view kCompact = "MESSAGE sip:b@example.com SIP/2.0\r\nl: 2\r\n\r\nhi";
  auto r = framer.next(kCompact);
  ASSERT_EQ(r.status, Status::kMessage);
  EXPECT_EQ(r.length, kCompact.size());
}

TEST(SipFramer, BareLineFeeds) {
  StreamFramer framer;
  constexpr std::string_view kLf = "MESSAGE sip:b@example.com SIP/2.0\nContent-Length: 2\n\nhi";
  auto r = framer.next(kLf);
  ASSERT_EQ(r.status, Status::kMessage);
  EXPECT_EQ(r.length, kLf.size());
}

TEST(SipFramer, FoldedContentLength) {
  // RFC 3261 §7.3.1: any header value may continue on a line starting with SP or HTAB; the
  // parser accepts this message, so the framer must frame it too.
  constexpr std::string_view kFolded =
      "MESSAGE sip:b@example.com SIP/2.0\r\n"
      "Content-Length:\r\n"
      " 2\r\n"
      "\r\n"
      "hi";
  Message m;
  ASSERT_TRUE(m.parse(kFolded, Framing::kStream).hasValue());
  StreamFramer framer;
  auto r = framer.next(kFolded);
  EXPECT_EQ(r.status, Status::kMessage) << r.error;
  EXPECT_EQ(r.length, kFolded.size());
}

TEST(SipFramer, OversizeHeaderSectionIsAnError) {
  StreamFramer::Limits limits;
  limits.maxHeaderBytes = 64;
  std::string big = "OPTIONS sip:example.com SIP/2.0\r\nX-Long: " + std::string(100, 'a');
  StreamFramer incomplete(limits);
  auto r = incomplete.next(big);
  EXPECT_EQ(r.status, Status::kError);
  EXPECT_EQ(r.error, "Header section too large");

  StreamFramer complete(limits);
  auto c = complete.next(big + "\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(c.status, Status::kError);
  EXPECT_EQ(c.error, "Header section too large");

  StreamFramer grows(limits);
  EXPECT_EQ(grows.next(std::string_view(big).substr(0, 40)).status, Status::kNeedMore);
  EXPECT_EQ(grows.next(big).status, Status::kError);
}

TEST(SipFramer, ContentLengthAboveTheMessageLimitIsAnError) {
  StreamFramer::Limits limits;
  limits.maxMessageBytes = 200;
  StreamFramer framer(limits);
  auto r = framer.next("MESSAGE sip:b@example.com SIP/2.0\r\nContent-Length: 1000\r\n\r\n");
  EXPECT_EQ(r.status, Status::kError);
  EXPECT_EQ(r.error, "Message too large");

  StreamFramer fits(limits);
  constexpr std::string_view kSmall =
      "MESSAGE sip:b@example.com SIP/2.0\r\nContent-Length: 3\r\n\r\nabc";
  auto ok = fits.next(kSmall);
  EXPECT_EQ(ok.status, Status::kMessage);
  EXPECT_EQ(ok.length, kSmall.size());
}

TEST(SipFramer, ResetForgetsAPartialFrame) {
  StreamFramer framer;
  EXPECT_EQ(framer.next(kMessageWithBody.substr(0, 60)).status, Status::kNeedMore);
  framer.reset();
  auto r = framer.next(kOptions);
  ASSERT_EQ(r.status, Status::kMessage);
  EXPECT_EQ(r.length, kOptions.size());
}

}  // namespace
}  // namespace strowger::sip

// Stream framing grind: every corpus message that parses as a datagram and carries
// Content-Length is put on a byte stream (optionally after a CRLFCRLF keep-alive, and followed by
// a second message) and fed to StreamFramer cut at every byte position. However the bytes arrive,
// the framer must find the same frames as when the stream comes in one piece, and each frame must
// parse as a stream message to what the datagram parse saw.
#include <gtest/gtest.h>

#include <filesystem>
#include <initializer_list>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "corpus.h"
#include "strowger/sip/framer.h"
#include "strowger/sip/message.h"

namespace strowger::conformance {
namespace {

using sip::Framing;
using sip::Message;
using sip::StreamFramer;
using Status = StreamFramer::Status;

// Joins the pieces. (Not `std::string + ...`: gcc 12 misreports that under -O2 as an
// out-of-bounds memcpy, -Warray-bounds.)
std::string concat(std::initializer_list<std::string_view> pieces) {
  std::size_t size = 0;
  for (std::string_view piece : pieces)
    size += piece.size();
  std::string out;
  out.reserve(size);
  for (std::string_view piece : pieces)
    out.append(piece);
  return out;
}

struct Frame {
  Status status = Status::kNeedMore;
  std::size_t length = 0;
  bool ping = false;
  bool operator==(const Frame&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Frame& f) {
  switch (f.status) {
    case Status::kNeedMore:
      os << "need-more";
      break;
    case Status::kMessage:
      os << "message";
      break;
    case Status::kKeepAlive:
      os << "keep-alive";
      break;
    case Status::kError:
      os << "error";
      break;
  }
  return os << '(' << f.length << (f.ping ? ", ping)" : ")");
}

struct FeedResult {
  std::vector<Frame> frames;
  std::size_t leftover = 0;  // bytes still pending at the end
  bool operator==(const FeedResult&) const = default;
};

std::ostream& operator<<(std::ostream& os, const FeedResult& r) {
  for (const Frame& f : r.frames)
    os << f << ' ';
  return os << "leftover " << r.leftover;
}

// Feeds `stream` cut at the ascending positions `cuts` the way a connection reads it: append
// what arrived, then take frames from the front until the framer wants more.
FeedResult feed(std::string_view stream, const std::vector<std::size_t>& cuts,
                StreamFramer::Limits limits = {}) {
  StreamFramer framer(limits);
  FeedResult result;
  std::string pending;
  std::size_t at = 0;
  auto drain = [&]() -> bool {
    for (;;) {
      const StreamFramer::Result r = framer.next(pending);
      if (r.status == Status::kNeedMore) return true;
      Frame frame{r.status, r.length, r.ping};
      result.frames.push_back(frame);
      if (r.status == Status::kError) return false;
      if (r.length == 0 || r.length > pending.size()) {
        // A frame must consume bytes that are there; record it and stop rather than spin.
        result.frames.push_back(Frame{Status::kError, r.length, false});
        return false;
      }
      pending.erase(0, r.length);
    }
  };
  for (std::size_t cut : cuts) {
    pending.append(stream.substr(at, cut - at));
    at = cut;
    if (!drain()) {
      result.leftover = pending.size();
      return result;
    }
  }
  pending.append(stream.substr(at));
  drain();
  result.leftover = pending.size();
  return result;
}

FeedResult feedWhole(std::string_view stream, StreamFramer::Limits limits = {}) {
  return feed(stream, {}, limits);
}

struct Sample {
  std::string name;
  std::string bytes;  // the framed message (Message::bytes() of the datagram parse)
  std::string startLine;
  std::size_t headerCount = 0;
  std::string body;
};

// Every file in `dir` that parses as a datagram, has a valid Content-Length and a terminated
// header section.
std::vector<Sample> collect(const std::filesystem::path& dir, std::string_view suffix) {
  std::vector<Sample> samples;
  for (const std::string& name : listFiles(dir, suffix)) {
    const auto bytes = readFile(dir / name);
    if (!bytes) {
      ADD_FAILURE() << "cannot read " << name;
      continue;
    }
    Message m;
    if (!m.parse(view(*bytes), Framing::kDatagram)) continue;
    if (!m.hasContentLength() || !m.contentLength().hasValue()) continue;
    // A datagram may end inside its header section (baddn.dat has no empty line); on a stream
    // such a message is not complete yet, so it cannot be framed.
    if (!m.bytes().substr(0, m.bodyOffset()).ends_with("\r\n\r\n")) continue;
    samples.push_back(Sample{name, std::string(m.bytes()), std::string(m.startLine()),
                             m.headers().size(), std::string(m.body())});
  }
  return samples;
}

struct Corpus {
  const char* name;
  const char* sub;
  const char* suffix;
  std::size_t minimum;  // at least this many samples when the corpus is present
};

const Corpus kCorpora[] = {
    {"Rfc4475", "rfc4475", ".dat", 25},
    {"Rfc5118", "rfc5118/wire", ".sip", 12},
    {"RealWorld", "real-world/messages", ".sip", 43},
};

// One frame of the stream, parsed as a stream message, must match the datagram parse.
void expectFrameParses(std::string_view frame, const Sample& sample, std::string_view where) {
  const std::vector<char> copy = exactCopy(frame);
  Message m;
  const auto parsed = m.parse(view(copy), Framing::kStream);
  ASSERT_TRUE(isOk(parsed)) << where << ": " << sample.name << " as a stream frame";
  EXPECT_EQ(m.startLine(), sample.startLine) << where << ": " << sample.name;
  EXPECT_EQ(m.headers().size(), sample.headerCount) << where << ": " << sample.name;
  EXPECT_EQ(m.body(), sample.body) << where << ": " << sample.name;
  EXPECT_EQ(m.bytes().size(), frame.size()) << where << ": " << sample.name;
}

class FramerGrindTest : public ::testing::TestWithParam<Corpus> {};

TEST_P(FramerGrindTest, EverySplitGivesTheSameFrames) {
  const Corpus& corpus = GetParam();
  STROWGER_SHARED_DIR_OR_SKIP(dir, corpus.sub);
  const std::vector<Sample> samples = collect(dir, corpus.suffix);
  ASSERT_GE(samples.size(), corpus.minimum);

  std::size_t streams = 0;
  std::size_t splits = 0;
  for (std::size_t n = 0; n < samples.size(); ++n) {
    const Sample& first = samples[n];
    const Sample& second = samples[(n + 1) % samples.size()];
    for (bool keepAlive : {false, true}) {
      const std::string prefix = keepAlive ? "\r\n\r\n" : "";
      const std::string stream = concat({prefix, first.bytes, second.bytes});
      const std::string where = concat({first.name, keepAlive ? " (after a keep-alive)" : ""});
      ++streams;

      // In one piece: exactly the keep-alive, then the two messages, nothing left over.
      const FeedResult whole = feedWhole(stream);
      FeedResult expected;
      if (keepAlive) expected.frames.push_back(Frame{Status::kKeepAlive, 4, true});
      expected.frames.push_back(Frame{Status::kMessage, first.bytes.size(), false});
      expected.frames.push_back(Frame{Status::kMessage, second.bytes.size(), false});
      ASSERT_EQ(whole, expected) << where;
      expectFrameParses(std::string_view(stream).substr(prefix.size(), first.bytes.size()), first,
                        where);
      expectFrameParses(std::string_view(stream).substr(prefix.size() + first.bytes.size()), second,
                        where);

      // In two pieces, cut at every position.
      for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
        ++splits;
        const FeedResult split = feed(stream, {cut});
        if (split != whole) {
          ADD_FAILURE() << where << ": cut after " << cut << " of " << stream.size()
                        << " bytes gives " << split << "; in one piece " << whole;
          break;  // one report per stream is enough
        }
      }

      // One byte at a time, for a few messages of each corpus.
      if (n < 4) {
        std::vector<std::size_t> cuts;
        for (std::size_t i = 1; i < stream.size(); ++i)
          cuts.push_back(i);
        EXPECT_EQ(feed(stream, cuts), whole) << where << ": one byte at a time";
      }
    }
  }
  RecordProperty("streams", static_cast<int>(streams));
  RecordProperty("splits", static_cast<int>(splits));
  std::cout << corpus.name << ": " << samples.size() << " messages, " << streams << " streams, "
            << splits << " two-piece feeds\n";
}

// Names the corpus directory in the ctest test name ("... # GetParam() = rfc4475").
void PrintTo(const Corpus& c, std::ostream* os) {
  *os << c.sub;
}

std::string paramName(const ::testing::TestParamInfo<Corpus>& p) {
  return std::string(p.param.name);
}

INSTANTIATE_TEST_SUITE_P(Corpus, FramerGrindTest, ::testing::ValuesIn(kCorpora), paramName);

// --- framing rules that do not need the corpus -------------------------------------------------

constexpr std::string_view kHead =
    "OPTIONS sip:user@example.com SIP/2.0\r\n"
    "Via: SIP/2.0/TCP client.example.com;branch=z9hG4bK-framer\r\n"
    "To: <sip:user@example.com>\r\n"
    "From: <sip:caller@example.com>;tag=1\r\n"
    "Call-ID: framer-1@example.com\r\n"
    "CSeq: 1 OPTIONS\r\n"
    "Max-Forwards: 70\r\n";

TEST(StreamFraming, MessageWithoutContentLengthIsAnError) {
  const std::string stream = concat({kHead, "\r\n"});
  const FeedResult whole = feedWhole(stream);
  ASSERT_FALSE(whole.frames.empty());
  EXPECT_EQ(whole.frames.back().status, Status::kError) << whole;
  EXPECT_EQ(whole.frames.size(), 1u) << whole;
  for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
    ASSERT_EQ(feed(stream, {cut}), whole) << "cut after " << cut;
  }
}

TEST(StreamFraming, ContentLengthAboveTheLimitIsAnError) {
  // Known as soon as the header section is complete: no need to wait for 70000 octets.
  const std::string stream = concat({kHead, "Content-Length: 70000\r\n\r\n"});
  const FeedResult whole = feedWhole(stream);
  ASSERT_EQ(whole.frames.size(), 1u) << whole;
  EXPECT_EQ(whole.frames[0].status, Status::kError);

  StreamFramer::Limits small;
  small.maxMessageBytes = 1000;
  const std::string body(1000, 'x');
  const std::string big = concat({kHead, "Content-Length: 1000\r\n\r\n", body});
  const FeedResult limited = feedWhole(big, small);
  ASSERT_EQ(limited.frames.size(), 1u) << limited;
  EXPECT_EQ(limited.frames[0].status, Status::kError);

  // Just under the limit is a message.
  const std::string fits = concat({kHead, "Content-Length: 10\r\n\r\n0123456789"});
  StreamFramer::Limits exact;
  exact.maxMessageBytes = static_cast<uint32_t>(fits.size());
  const FeedResult ok = feedWhole(fits, exact);
  ASSERT_EQ(ok.frames.size(), 1u) << ok;
  EXPECT_EQ(ok.frames[0], (Frame{Status::kMessage, fits.size(), false}));
}

TEST(StreamFraming, MalformedContentLengthIsAnError) {
  for (std::string_view value : {"-5", "abc", "99999999999999999999", "1 2"}) {
    const std::string stream = concat({kHead, "Content-Length: ", value, "\r\n\r\n"});
    const FeedResult whole = feedWhole(stream);
    ASSERT_FALSE(whole.frames.empty()) << value;
    EXPECT_EQ(whole.frames.back().status, Status::kError) << value << ": " << whole;
  }
}

TEST(StreamFraming, EndlessHeaderSectionIsAnError) {
  std::string stream(kHead);
  while (stream.size() < 40000)
    stream += "X-Filler: 0123456789abcdef0123456789abcdef\r\n";
  const FeedResult whole = feedWhole(stream);
  ASSERT_EQ(whole.frames.size(), 1u) << whole;
  EXPECT_EQ(whole.frames[0].status, Status::kError);
  // Also when it trickles in: the framer must not wait for ever.
  std::vector<std::size_t> cuts;
  for (std::size_t i = 1000; i < stream.size(); i += 1000)
    cuts.push_back(i);
  const FeedResult trickled = feed(stream, cuts);
  ASSERT_FALSE(trickled.frames.empty());
  EXPECT_EQ(trickled.frames.back().status, Status::kError);
}

TEST(StreamFraming, KeepAlivePing) {
  const std::string message = concat({kHead, "Content-Length: 0\r\n\r\n"});
  const FeedResult whole = feedWhole(concat({"\r\n\r\n", message}));
  EXPECT_EQ(whole, (FeedResult{{Frame{Status::kKeepAlive, 4, true},
                                Frame{Status::kMessage, message.size(), false}},
                               0}));
  // A keep-alive cut in the middle is still one ping.
  EXPECT_EQ(feed(concat({"\r\n\r\n", message}), {1}), whole);
  EXPECT_EQ(feed(concat({"\r\n\r\n", message}), {2}), whole);
  EXPECT_EQ(feed(concat({"\r\n\r\n", message}), {3}), whole);
}

TEST(StreamFraming, StreamParseNeedsContentLength) {
  // Message::parse with stream framing sees one framed message; a body is never "the rest".
  const std::string withBody = concat({kHead, "Content-Length: 4\r\n\r\nbody"});
  const std::vector<char> copy = exactCopy(withBody);
  Message m;
  STROWGER_ASSERT_OK(m.parse(view(copy), Framing::kStream));
  EXPECT_EQ(m.body(), "body");

  const std::string without = concat({kHead, "\r\nbody"});
  const std::vector<char> copy2 = exactCopy(without);
  EXPECT_FALSE(m.parse(view(copy2), Framing::kStream).hasValue());
  // The same bytes as a datagram: the body runs to the end.
  STROWGER_ASSERT_OK(m.parse(view(copy2), Framing::kDatagram));
  EXPECT_EQ(m.body(), "body");
}

}  // namespace
}  // namespace strowger::conformance

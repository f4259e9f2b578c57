// libFuzzer target for StreamFramer. Input layout: two octets give the position at which the
// stream is cut, one octet picks the limits, the rest is the stream. The frames found when the
// stream arrives in pieces must be the frames found when it arrives whole; a message frame that
// the parser accepts must be exactly the message the parser sees. Aborts on any disagreement.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "strowger/sip/framer.h"
#include "strowger/sip/message.h"

namespace {

using strowger::sip::StreamFramer;
using Status = StreamFramer::Status;

struct Frame {
  Status status;
  std::size_t length;
  bool ping;
  bool operator==(const Frame&) const = default;
};

struct Feed {
  std::vector<Frame> frames;
  std::size_t leftover = 0;
  bool operator==(const Feed&) const = default;
};

// Appends each piece (cut at the ascending `cuts`) and takes frames until the framer wants more.
Feed feed(std::string_view stream, const std::vector<std::size_t>& cuts,
          StreamFramer::Limits limits) {
  StreamFramer framer(limits);
  Feed result;
  std::string pending;
  std::size_t at = 0;
  bool open = true;
  auto drain = [&] {
    while (open) {
      const StreamFramer::Result r = framer.next(pending);
      if (r.status == Status::kNeedMore) return;
      result.frames.push_back(Frame{r.status, r.length, r.ping});
      if (r.status == Status::kError) {
        open = false;
        return;
      }
      if (r.length == 0 || r.length > pending.size()) {
        std::fprintf(stderr, "frame of %zu bytes with %zu pending\n", r.length, pending.size());
        std::abort();
      }
      pending.erase(0, r.length);
    }
  };
  for (std::size_t cut : cuts) {
    pending.append(stream.substr(at, cut - at));
    at = cut;
    drain();
  }
  pending.append(stream.substr(at));
  drain();
  result.leftover = pending.size();
  return result;
}

void print(const char* what, const Feed& f) {
  std::fprintf(stderr, "%s:", what);
  for (const Frame& frame : f.frames) {
    std::fprintf(stderr, " [%d %zu%s]", static_cast<int>(frame.status), frame.length,
                 frame.ping ? " ping" : "");
  }
  std::fprintf(stderr, " leftover %zu\n", f.leftover);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  const std::string_view stream(reinterpret_cast<const char*>(data) + 3, size - 3);
  const std::size_t cut =
      (static_cast<std::size_t>(data[0]) | (static_cast<std::size_t>(data[1]) << 8)) %
      (stream.size() + 1);
  StreamFramer::Limits limits;
  if (data[2] & 1) {
    limits.maxMessageBytes = 512;
    limits.maxHeaderBytes = 256;
  }

  const Feed whole = feed(stream, {}, limits);
  const Feed split = feed(stream, {cut}, limits);
  if (!(split == whole)) {
    std::fprintf(stderr, "cut after %zu of %zu bytes changes the frames\n", cut, stream.size());
    print("whole", whole);
    print("split", split);
    std::abort();
  }
  if (stream.size() <= 2048) {
    std::vector<std::size_t> cuts;
    for (std::size_t i = 1; i < stream.size(); ++i)
      cuts.push_back(i);
    const Feed trickle = feed(stream, cuts, limits);
    if (!(trickle == whole)) {
      std::fprintf(stderr, "one byte at a time changes the frames\n");
      print("whole", whole);
      print("trickle", trickle);
      std::abort();
    }
  }

  // The framer and the parser must agree on where a message ends: a frame the parser accepts
  // is all message, nothing more and nothing less.
  std::size_t offset = 0;
  for (const Frame& frame : whole.frames) {
    if (frame.status == Status::kMessage) {
      const std::vector<char> copy(
          stream.begin() + static_cast<std::ptrdiff_t>(offset),
          stream.begin() + static_cast<std::ptrdiff_t>(offset + frame.length));
      strowger::sip::Message message;
      if (message.parse({copy.data(), copy.size()}, strowger::sip::Framing::kStream)) {
        if (message.bytes().size() != copy.size() || message.trailingBytes() != 0) {
          std::fprintf(stderr,
                       "frame of %zu bytes at %zu parses as a message of %zu bytes (+%zu "
                       "trailing)\n",
                       copy.size(), offset, message.bytes().size(), message.trailingBytes());
          std::abort();
        }
      }
    }
    if (frame.status == Status::kError) break;
    offset += frame.length;
  }
  return 0;
}

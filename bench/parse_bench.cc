// strowger-bench-parse FILE [ITERATIONS]
//
// Parses the message in FILE over and over, touching what a proxy reads from every message (top
// Via and its branch, Call-ID, CSeq, From tag, To tag, Max-Forwards, Route, Content-Length), and
// prints `ns_per_message=<N>`. Compare with ../shared/bench/parsers/parse_bench.c (sofia-sip and
// libosip2 on the same file); see docs/performance.md.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

#include "strowger/sip/message.h"

namespace {

// Keeps the compiler from discarding the work.
volatile std::size_t gSink = 0;

bool parseAndTouch(strowger::sip::Message& msg, std::string_view bytes) {
  if (!msg.parse(bytes)) return false;
  std::size_t sink = 0;
  const auto& via = msg.topVia();
  if (!via) return false;
  sink += via->branch.size();
  const auto& callId = msg.callId();
  if (callId) sink += callId->size();
  const auto& cseq = msg.cseq();
  if (cseq) sink += cseq->number;
  const auto& from = msg.from();
  if (from) sink += from->tag.size();
  const auto& to = msg.to();
  if (to) sink += to->tag.size();
  const auto& maxForwards = msg.maxForwards();
  if (maxForwards) sink += *maxForwards;
  const auto& routes = msg.routes();
  if (routes) sink += routes->size();
  const auto& contentLength = msg.contentLength();
  if (contentLength) sink += *contentLength;
  gSink = gSink + sink;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s FILE [ITERATIONS]\n", argv[0]);
    return 2;
  }
  std::ifstream in(argv[1], std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "%s: cannot read %s\n", argv[0], argv[1]);
    return 2;
  }
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const long iterations = argc > 2 ? std::atol(argv[2]) : 1000000;
  if (iterations <= 0) {
    std::fprintf(stderr, "%s: ITERATIONS must be positive\n", argv[0]);
    return 2;
  }

  strowger::sip::Message msg;  // reused, as a worker reuses its message for each datagram
  if (!parseAndTouch(msg, bytes)) {
    std::fprintf(stderr, "%s: %s does not parse as a SIP message with a Via\n", argv[0], argv[1]);
    return 1;
  }
  for (long i = 0; i < iterations / 10; ++i)
    parseAndTouch(msg, bytes);  // warm-up

  const auto start = std::chrono::steady_clock::now();
  for (long i = 0; i < iterations; ++i)
    parseAndTouch(msg, bytes);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  const double ns =
      std::chrono::duration<double, std::nano>(elapsed).count() / static_cast<double>(iterations);
  std::printf("ns_per_message=%.0f\n", ns);
  return 0;
}

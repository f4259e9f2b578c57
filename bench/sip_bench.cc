// Micro-benchmarks of the message core (Google Benchmark). The headline parser figure is
// strowger-bench-parse; these break the proxy's per-message work into its parts.
#include <benchmark/benchmark.h>

#include <fstream>
#include <iterator>
#include <string>

#include "strowger/sip/editor.h"
#include "strowger/sip/framer.h"
#include "strowger/sip/message.h"
#include "strowger/sip/reply.h"

namespace {

using namespace strowger::sip;

// A typical INVITE from a phone, used when the shared corpus is not beside the project.
constexpr std::string_view kInvite =
    "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds;rport\r\n"
    "Max-Forwards: 70\r\n"
    "To: Bob <sip:bob@biloxi.example.com>\r\n"
    "From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
    "Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
    "CSeq: 314159 INVITE\r\n"
    "Contact: <sip:alice@pc33.atlanta.example.com>\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length: 4\r\n"
    "\r\n"
    "v=0\n";

std::string loadMessage() {
  std::ifstream in(std::string(STROWGER_SHARED_DIR) + "/bench/parsers/invite.sip",
                   std::ios::binary);
  if (!in) return std::string(kInvite);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

const std::string& message() {
  static const std::string bytes = loadMessage();
  return bytes;
}

void BM_ParseIndexOnly(benchmark::State& state) {
  Message msg;
  for (auto _ : state) {
    auto r = msg.parse(message());
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * message().size()));
}
BENCHMARK(BM_ParseIndexOnly);

void BM_ParseAndProxyFields(benchmark::State& state) {
  Message msg;
  for (auto _ : state) {
    auto r = msg.parse(message());
    benchmark::DoNotOptimize(r);
    benchmark::DoNotOptimize(msg.topVia());
    benchmark::DoNotOptimize(msg.callId());
    benchmark::DoNotOptimize(msg.cseq());
    benchmark::DoNotOptimize(msg.from());
    benchmark::DoNotOptimize(msg.to());
    benchmark::DoNotOptimize(msg.maxForwards());
    benchmark::DoNotOptimize(msg.routes());
  }
}
BENCHMARK(BM_ParseAndProxyFields);

void BM_ProxyEditAndSerialize(benchmark::State& state) {
  Message msg;
  (void)msg.parse(message());
  std::string out;
  for (auto _ : state) {
    MessageEditor editor(msg);
    editor.prependVia("SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKabcdef0123456789");
    editor.addRecordRoute("<sip:127.0.0.1;lr>");
    if (const HeaderField* mf = msg.find(HeaderId::kMaxForwards)) {
      editor.replaceHeaderValue(*mf, "68");
    }
    out.clear();
    editor.serializeTo(out);
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_ProxyEditAndSerialize);

void BM_BuildReply(benchmark::State& state) {
  Message msg;
  (void)msg.parse(message());
  std::string out;
  ReplyOptions options;
  options.toTag = "as83kd9bs";
  for (auto _ : state) {
    out.clear();
    buildReply(msg, 407, {}, options, out);
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_BuildReply);

void BM_StreamFramer(benchmark::State& state) {
  std::string stream = message() + message();
  for (auto _ : state) {
    StreamFramer framer;
    std::string_view pending = stream;
    while (!pending.empty()) {
      auto r = framer.next(pending);
      if (r.status != StreamFramer::Status::kMessage &&
          r.status != StreamFramer::Status::kKeepAlive) {
        break;
      }
      pending.remove_prefix(r.length);
    }
    benchmark::DoNotOptimize(pending);
  }
}
BENCHMARK(BM_StreamFramer);

}  // namespace

BENCHMARK_MAIN();

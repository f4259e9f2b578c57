// libFuzzer target: arbitrary bytes through everything a proxy does with a received message —
// datagram parse, sanity checks, every typed accessor, an editing round and a 400 reply — then
// the same bytes as a stream-framed message. Aborts when an API invariant breaks; crashes and
// sanitizer reports are libFuzzer's to catch.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "exercise.h"
#include "strowger/sip/message.h"

namespace {

void failOn(const strowger::conformance::ExerciseResult& result, const char* framing) {
  if (result.violations.empty()) return;
  for (const auto& violation : result.violations) {
    std::fprintf(stderr, "%s: %s\n", framing, violation.c_str());
  }
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  using strowger::sip::Framing;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  strowger::sip::Message message;
  failOn(strowger::conformance::exercise(message, bytes, Framing::kDatagram), "datagram");
  // The same Message again: a reused Message must not carry anything over.
  failOn(strowger::conformance::exercise(message, bytes, Framing::kStream), "stream");
  return 0;
}

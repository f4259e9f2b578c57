// Runs a byte string through everything a proxy does with a received message: parse, sanity
// checks, every typed accessor, an editing round and a reply. Shared by the PROTOS robustness
// test and the libFuzzer targets; it asserts nothing about the outcome (any parse result is
// fine) and reports only broken invariants of the API itself.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "strowger/sip/message.h"
#include "strowger/sip/parse_error.h"

namespace strowger::conformance {

struct ExerciseResult {
  bool parsed = false;
  bool isRequest = false;
  sip::ParseError parseError;
  bool sane = false;  // checkRequest / checkResponse passed
  sip::ParseError sanityError;
  std::size_t editedSize = 0;  // bytes of the edited message (0 when it did not parse)
  std::size_t replySize = 0;   // bytes of the generated 400 (requests only)
  // Every octet of every view the API handed out is folded in here, so each view is really read
  // (AddressSanitizer then catches a view that points outside the message).
  uint64_t digest = 0;
  // API invariants that did not hold (empty when all is well).
  std::vector<std::string> violations;
};

// `message` is reused on purpose: a Message may be reused for the next datagram, and reuse must
// not leak state from one parse into the next. `bytes` should sit in an exact-size buffer.
ExerciseResult exercise(sip::Message& message, std::string_view bytes, sip::Framing framing);

}  // namespace strowger::conformance

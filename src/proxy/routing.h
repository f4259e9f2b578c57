// Pieces of RFC 3261 §16 routing shared by the stateless path (proxy_core.cc) and the stateful
// one (transaction_user.cc): destinations from URIs, branch and loop hashes, host spelling.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "strowger/sip/message.h"
#include "strowger/transport/transport.h"

namespace strowger::proxy::detail {

// FNV-1a over length-separated fields: fast, and stable across restarts and hosts (branches must
// be the same for a retransmission whichever worker or process handles it).
struct Hash64 {
  uint64_t state = 0xcbf29ce484222325ULL;
  void add(std::string_view s) {
    for (char c : s) {
      state ^= static_cast<unsigned char>(c);
      state *= 0x100000001b3ULL;
    }
    state ^= 0xff;  // separator, so ("ab","c") and ("a","bc") differ
    state *= 0x100000001b3ULL;
  }
  void add(uint64_t v);
};

std::string hex16(uint64_t v);
std::string hex8(uint32_t v);

// "[2001:db8::1]" → "2001:db8::1"; anything else unchanged.
std::string_view stripBrackets(std::string_view host);
// The other way round, for Via and Record-Route.
std::string sipHostOf(std::string_view host);

std::string_view callIdOf(const sip::Message& m);

// A destination for a SIP URI, without DNS: hosts must be numeric addresses. maddr and the
// transport parameter are honoured (RFC 3261 §19.1.1).
std::optional<transport::Destination> destinationForUri(
    const sip::Uri& uri, std::optional<transport::Protocol> forced = std::nullopt);

// What stays the same when a request comes back to this proxy unchanged (RFC 3261 §16.3 step 4
// and §16.6 step 8); see proxy_core.cc.
uint32_t loopHash(const sip::Message& request);

// The branches this proxy writes: "z9hG4bK" + kind + transaction part + 8 hex digits of loop
// hash (+ ".N" for a stateful branch). Both kinds carry the loop hash at a known place, so loop
// detection reads it back from a Via without knowing which path sent the request.
inline constexpr std::string_view kStatelessBranchTag = "sl";  // + 16 hex + 8 hex loop
inline constexpr std::string_view kStatefulBranchTag =
    "tx";  // + 2 hex shard + 16 hex id + 8 hex loop + ".N"
// The loop hash written in one of this proxy's branches; empty when `branch` is not one.
std::string_view loopHashOfBranch(std::string_view branch);

}  // namespace strowger::proxy::detail

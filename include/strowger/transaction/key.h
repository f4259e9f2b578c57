// Matching messages to transactions (RFC 3261 §17.1.3, §17.2.3) and the table that holds them.
//
// A key is a flat string built from the fields that identify a transaction, each component
// length-prefixed so that no two field combinations can produce the same string. Keys compare
// byte for byte; the fields that RFC 3261 makes case-insensitive (branch, sent-by host) are
// lower-cased when the key is built.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>

#include "strowger/expected.h"
#include "strowger/sip/message.h"

namespace strowger::transaction {

struct TransactionKey {
  std::string value;
  // Hash of the fields shared by a request, its retransmissions, its ACK, its CANCEL and, for a
  // client transaction, its responses: the branch (RFC 3261) or the Call-ID, From tag and CSeq
  // number (RFC 2543). The shard holding the transaction is chosen with it (docs/transactions.md),
  // so everything about one INVITE lands in one shard.
  std::size_t affinity = 0;
  // Hash of `value`, computed once when the key is built (seal()). Hash maps of keys use it: an
  // unordered_map does not keep the hash of its entries, and would otherwise hash the key of every
  // entry it passes in a bucket again.
  std::size_t hash = 0;

  void seal() noexcept { hash = std::hash<std::string>{}(value); }
  bool operator==(const TransactionKey& other) const noexcept {
    return hash == other.hash && value == other.value;
  }
};

struct TransactionKeyHash {
  std::size_t operator()(const TransactionKey& key) const noexcept { return key.hash; }
};

// The shard, among `shards`, that holds the transaction with this key.
inline std::size_t shardOf(const TransactionKey& key, std::size_t shards) noexcept {
  return shards == 0 ? 0 : key.affinity % shards;
}

enum class KeyErrc : uint8_t {
  kNotARequest,
  kNotAResponse,
  kBadVia,     // no top Via, or one that does not parse
  kBadCSeq,    // no CSeq, or one that does not parse
  kBadCallId,  // RFC 2543 fallback only
  kBadFromTo,  // RFC 2543 fallback only
  kNoBranch,   // a response whose top Via has no branch: no client transaction can match it
};
std::string_view keyErrorText(KeyErrc error) noexcept;

// §17.2.3: the server transaction a request belongs to.
// * The top Via's branch starts with the magic cookie: branch + sent-by + method, where ACK
//   maps to INVITE (it belongs to the INVITE's transaction) and CANCEL keeps its own method
//   (a CANCEL is a transaction of its own, §9.2).
// * Otherwise (RFC 2543 peers): Request-URI, From tag, Call-ID, CSeq number, top Via and the
//   method (ACK mapping to INVITE), plus the To tag for every method but INVITE and ACK. The To
//   tag is left out for INVITE and ACK because the ACK carries the tag of the response, which
//   the INVITE did not have; the INVITE server transaction compares the ACK's To tag with the
//   one of its final response (§17.2.3) if it wants to be strict.
// Request-URI and top Via are compared as written, not with the equality rules of §19.1.4 and
// §20.42: an RFC 2543 peer retransmits the same bytes.
Expected<TransactionKey, KeyErrc> serverKey(const sip::Message& request);

// §9.2: the INVITE server transaction a CANCEL (or any request) would target: the key serverKey()
// gives the request, with the method taken as INVITE.
Expected<TransactionKey, KeyErrc> inviteKeyFor(const sip::Message& request);

// §17.1.3: the client transaction a response belongs to: the branch of its top Via and its CSeq
// method (a CANCEL and the INVITE it cancels share the branch but not the transaction).
Expected<TransactionKey, KeyErrc> clientKey(const sip::Message& response);
// The same key, from what the client transaction knows when it sends its request.
TransactionKey clientKey(std::string_view branch, std::string_view method);

}  // namespace strowger::transaction

// A registered contact (RFC 3261 §10): what the registrar stores for an address of record and
// what the location service turns back into branches. Shared by the location module (which
// stores bindings in memory and in PostgreSQL) and the registrar module (which decides them).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "strowger/net/socket_address.h"
#include "strowger/transport/transport.h"

namespace strowger::location {

struct Binding {
  // Stable across re-registrations and nodes: a hash of the address of record and the
  // contact's identity (+sip.instance and reg-id when given, else the Contact URI). Writes to
  // PostgreSQL are upserts on it, so nodes sharing a database never delete each other's bindings.
  std::string id;
  std::string aor;      // canonical address of record: "user@domain" (or "user" without domain)
  std::string contact;  // the Contact URI as registered, without the angle brackets
  std::string path;     // the Path header values as received, comma-separated (RFC 3327)
  std::string callId;
  uint32_t cseq = 0;
  uint16_t qMilli = 1000;  // q-value in thousandths; 1000 when the Contact has none
  std::string instance;    // +sip.instance, without the quotes (RFC 5626)
  std::optional<uint32_t> regId;
  std::string userAgent;
  // Where the REGISTER came from, as the transport saw it: a phone behind NAT is reached at this
  // address (UDP) or over this connection (TCP), not at the address its Contact names.
  transport::Protocol protocol = transport::Protocol::kUdp;
  net::SocketAddress source;
  uint32_t listener = 0;    // index of the listener it arrived on (valid on `node` only)
  uint64_t connection = 0;  // TCP connection id (valid on `node` only); 0 for UDP
  std::string node;         // the Strowger node that accepted it (config `location.node`)
  int64_t expiresAt = 0;    // unix time, seconds
  int64_t updatedAt = 0;    // unix time, seconds; for "drop the oldest"
  // Set by the `nat` steps (or the registrar's `nat: true`): keepalives are sent to this binding.
  bool natted = false;

  bool operator==(const Binding&) const = default;
};

// The stable id of a binding (see Binding::id): 16 hex digits.
std::string bindingId(const std::string& aor, const std::string& contactUri,
                      const std::string& instance, std::optional<uint32_t> regId);

// What a registration changes for one address of record.
struct BindingChanges {
  std::vector<Binding> upsert;      // inserted or replaced, by id
  std::vector<std::string> remove;  // ids to delete
  bool empty() const { return upsert.empty() && remove.empty(); }
};

}  // namespace strowger::location

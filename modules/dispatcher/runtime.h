// The dispatcher's sets in service: an immutable snapshot per configuration, swapped whole on
// reload, whose destinations share their health and counters with the previous snapshot's when
// the set and URI are the same. Also what a request keeps between `dispatcher.select` and
// `dispatcher.next` (Attempt), and the probe requests.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config.h"
#include "health.h"
#include "strowger/script/context.h"

namespace strowger::dispatcher {

// What a destination keeps across reloads: its health and its counters.
struct DestinationStatus {
  explicit DestinationStatus(uint64_t destinationId) : id(destinationId) {}
  const uint64_t id;  // unique in the process; probes carry it in their branch
  Health health;
  std::atomic<int64_t> liveCalls{0};  // selected, and the transaction not yet forgotten
  std::atomic<uint64_t> selections{0};
  std::atomic<uint64_t> failures{0};  // failovers away from it
};

struct DestinationEntry {
  DestinationConfig config;
  int listener = -1;  // the listener `socket` names (-1: the proxy picks); set at start
  std::shared_ptr<DestinationStatus> status;
};

struct SetRuntime {
  std::string name;
  Algorithm algorithm = Algorithm::kRoundRobin;
  std::vector<DestinationEntry> destinations;
  std::shared_ptr<std::atomic<uint64_t>> counter;  // round robin; kept across reloads
};

struct Snapshot {
  std::vector<SetRuntime> sets;
  const SetRuntime* find(std::string_view name) const;
};

// The sets of `config`, each destination with the status it had in `previous` when its set and URI
// are there, else a new one (active) numbered from `nextId`.
std::shared_ptr<Snapshot> buildSnapshot(const DispatcherConfig& config, const Snapshot* previous,
                                        uint64_t& nextId);

// The next hop that sends a request to `destination`: its host, port, transport and listener.
script::NextHop hopFor(const DestinationEntry& destination);

// `ruri` with its host and port replaced by the destination's (user, parameters and headers kept),
// or nothing when `ruri` is not a SIP URI.
std::optional<std::string> rewriteHostPort(std::string_view ruri,
                                           const DestinationConfig& destination);

// A live call on a destination: counted from its creation until it is destroyed, on whichever
// thread releases the request's state.
class LiveCall {
 public:
  LiveCall() = default;
  explicit LiveCall(std::shared_ptr<DestinationStatus> status);
  ~LiveCall();
  LiveCall(const LiveCall&) = delete;
  LiveCall& operator=(const LiveCall&) = delete;
  // Moves the count to `status` (dispatcher.next).
  void moveTo(std::shared_ptr<DestinationStatus> status);

 private:
  std::shared_ptr<DestinationStatus> status_;
};

// What `dispatcher.select` leaves with the request (RequestState, key "dispatcher") for
// `dispatcher.next` in the failure routes of its transaction.
struct Attempt {
  std::shared_ptr<const Snapshot> snapshot;  // keeps the set's entries alive across a reload
  const SetRuntime* set = nullptr;
  std::vector<std::size_t> order;  // the candidates, first choice first
  std::size_t position = 0;        // the one being tried
  int attempts = 1;                // destinations tried so far
  int maxAttempts = 3;
  bool rewriteRuri = false;
  LiveCall liveCall;

  const DestinationEntry& current() const { return set->destinations[order[position]]; }
};

// --- probes ---

struct ProbeRequest {
  std::string_view method = "OPTIONS";
  std::string_view target;  // the destination's URI: Request-URI and To
  std::string_view from;
  std::string_view viaProtocol;  // "UDP" or "TCP"
  std::string_view viaHost;      // IPv6 without brackets
  uint16_t viaPort = 0;
  uint64_t destinationId = 0;
  uint64_t sequence = 0;
};

// Our probes carry branch z9hG4bK + this + "<destination id>.<sequence>", so that their answers
// reach the module (Host::claimResponses) and find their destination.
inline constexpr std::string_view kProbeBranchPrefix = "dsp";

std::string buildProbe(const ProbeRequest& probe);
// The destination id and sequence of a probe's branch (with its magic cookie), or nothing.
std::optional<std::pair<uint64_t, uint64_t>> parseProbeBranch(std::string_view branch);

}  // namespace strowger::dispatcher

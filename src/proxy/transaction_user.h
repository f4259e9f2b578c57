// The transaction-stateful side of the proxy (RFC 3261 §16 with the transactions of §17): the
// response context of a relayed request, its branches (parallel and serial forking), best-response
// selection, CANCEL, the final-response timers and the failure, reply and branch routes.
//
// Threads (docs/transactions.md): state is split into shards. Everything about one relayed
// request — its server transaction, the client transaction of each branch, the CANCELs — lives in
// one shard, chosen by the upstream transaction's key; the branches this proxy sends carry the
// shard's number in their branch parameter, so a response finds its shard without a global
// lookup. A shard is a mutex, three hash maps and a timer wheel; a worker takes the mutex for the
// duration of one event, so any worker can handle any message and no message is copied to another
// thread. Each worker advances the wheels of its own subset of the shards on a 10 ms tick.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "strowger/script/context.h"
#include "strowger/sip/message.h"
#include "strowger/transaction/timer_wheel.h"
#include "strowger/transaction/transaction.h"
#include "strowger/transport/transport.h"

namespace strowger::script {
class RoutingScript;
}

namespace strowger::proxy {

class ProxyCore;

struct TransactionSettings {
  transaction::TimerConfig timers;
  std::chrono::milliseconds frTimeout{30'000};
  std::chrono::milliseconds frInvTimeout{120'000};
  std::size_t maxLive = 200'000;
  uint32_t retryAfter = 5;
};

struct TransactionStats {
  uint64_t live = 0;             // response contexts (relayed requests) not yet destroyed
  uint64_t created = 0;          // relayed requests
  uint64_t completed[7] = {};    // by the class of the final response sent upstream: [2] 2xx ...
  uint64_t timeouts = 0;         // branches that ended without a final response (408)
  uint64_t retransmissions = 0;  // requests and responses this proxy sent again (timers A, E, G)
  uint64_t absorbed = 0;         // retransmitted requests answered from a transaction
  uint64_t refused = 0;          // new requests answered 503 past the bound on live transactions
  uint64_t cancelled = 0;        // CANCELs that matched a relayed INVITE
  uint64_t branches = 0;         // client transactions started (one per branch)
};

// One branch the request route (or a failure route) asks for.
struct RelayTarget {
  std::string uri;  // the branch's Request-URI; empty: the relayed request's own
  transport::Destination to;
  double q = 1.0;
  std::string route;  // Route header value(s) this branch alone carries (a contact's Path)
};

// What the request route hands over when it relays a request.
struct RelayRequest {
  const transport::ReceivedMessage* received = nullptr;
  const sip::Message* original = nullptr;  // as received
  std::string_view
      relayed;  // as the script left it (Max-Forwards, Record-Route, ...), no Via of ours
  std::vector<RelayTarget> targets;
  script::ForkMode mode = script::ForkMode::kParallel;
  script::TransactionHooks hooks;
  std::shared_ptr<script::RequestState> state;  // what the request route's steps left
  std::shared_ptr<const script::RoutingScript> script;
};

class TransactionUser {
 public:
  using ClockFn = std::function<transaction::TimePoint()>;

  // `proxy` gives the listeners, the outbound side and isLocal(); `clock` is steady_clock::now
  // unless a test drives time itself.
  TransactionUser(ProxyCore& proxy, ClockFn clock = {});
  ~TransactionUser();
  TransactionUser(const TransactionUser&) = delete;
  TransactionUser& operator=(const TransactionUser&) = delete;

  // Settings for transactions created from now on.
  void update(const TransactionSettings& settings);

  // Before the routing script: a retransmission of a relayed request (answered from its
  // transaction), the ACK of a non-2xx final response (absorbed: the proxy sent its own ACK
  // downstream) and a CANCEL for a relayed INVITE (answered 200 and sent on every pending branch)
  // are handled here. Returns true when the request was consumed.
  bool onRequest(const transport::ReceivedMessage& received, const sip::Message& request);
  // A response whose top Via is this proxy's: true when it matched a branch, false to let the
  // stateless path route it by its Via (a 2xx retransmitted after its transaction ended).
  bool onResponse(const transport::ReceivedMessage& received, const sip::Message& response);
  // The `relay` step. Always answers the request one way or another; returns false when no
  // branch could be started (the upstream side then got a 5xx).
  bool relay(RelayRequest& request);

  // Fires the due timers of the shards worker `worker` of `workers` looks after.
  void advanceTimers(unsigned worker, unsigned workers);
  // Drives advanceTimers from each worker's event loop every 10 ms. stopTimers() must be called
  // once the workers have stopped and before the transport (and its event loops) is destroyed.
  void startTimers(transport::TransportLayer& transport);
  // Lets the ticks end (each stops re-arming itself), so that the workers' event loops can run out
  // of work when the transport stops. Safe from any thread.
  void quiesceTimers();
  void stopTimers();

  TransactionStats stats() const;

  // The implementation; public only so that the transaction glue in transaction_user.cc can name
  // it.
  struct Impl;

 private:
  struct Ticker;
  std::unique_ptr<Impl> impl_;
  std::vector<std::unique_ptr<Ticker>> tickers_;
  std::atomic<bool> ticking_{false};
};

}  // namespace strowger::proxy

// The proxy core (RFC 3261 §16): checks a request, runs it through the routing script, and
// carries out what the script asks: local replies, stateless forwarding with Via, Max-Forwards,
// Record-Route and Route handling, and stateful relaying through the transaction layer
// (transaction_user.h). Responses go to their transaction, or are routed back by their Via. The
// same pipeline serves explain mode through another Outbound (relaying then shows as forwarding).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "strowger/net/socket_address.h"
#include "strowger/script/context.h"
#include "strowger/sip/message.h"
#include "strowger/transport/transport.h"
#include "transaction_user.h"

namespace strowger::script {
class RoutingScript;
}

namespace strowger::proxy {

// Where the proxy's output goes: the transport layer, or explain mode's recorder.
class Outbound {
 public:
  virtual ~Outbound() = default;
  virtual transport::SendStatus send(const transport::Destination& to, std::string_view bytes,
                                     bool isRequest) = 0;
  virtual std::span<const transport::Listener> listeners() const = 0;
  // Runs `fn` on worker `worker` (a request resumed after waiting for a module). Inline where
  // there are no workers.
  virtual void post(unsigned worker, std::function<void()> fn) {
    (void)worker;
    fn();
  }
};

// What a reload swaps as a whole.
struct ProxySettings {
  std::shared_ptr<const script::RoutingScript> script;  // null: the built-in plain routing
  sip::ParseLimits limits;
  TransactionSettings transactions;  // for transactions created after the settings took effect
};

struct ProxyStats {
  uint64_t requests = 0;
  uint64_t responses = 0;
  uint64_t forwardedRequests = 0;
  uint64_t forwardedResponses = 0;
  uint64_t localReplies = 0;
  uint64_t malformedRequests = 0;    // answered 4xx/5xx by the sanity checks
  uint64_t malformedResponses = 0;   // dropped
  uint64_t responsesNotOurs = 0;     // top Via not ours: dropped (RFC 3261 §18.1.2)
  uint64_t unroutableResponses = 0;  // no usable second Via (or a broadcast one): dropped
  uint64_t unhandled = 0;            // the script ended without replying, forwarding or dropping
  uint64_t dropped = 0;              // dropped by the script
  uint64_t forwardFailures = 0;
  uint64_t loops = 0;
};

class ProxyCore final : public transport::MessageHandler {
 public:
  // `clock` drives the transaction timers (steady_clock unless a test brings its own).
  ProxyCore(std::shared_ptr<const ProxySettings> settings, Outbound* outbound,
            TransactionUser::ClockFn clock = {});
  ~ProxyCore() override;

  // The outbound side may be created after the proxy (the transport needs the handler first).
  void setOutbound(Outbound* outbound) { outbound_ = outbound; }
  // Takes effect for the next message; messages in flight finish with the settings they began
  // with.
  void update(std::shared_ptr<const ProxySettings> settings) {
    transactions_->update(settings->transactions);
    settings_.store(std::move(settings));
  }

  void onMessage(const transport::ReceivedMessage& message) override;

  // Runs one request with `tracer` attached (explain mode); returns what the proxy would do.
  void handleRequestForExplain(const transport::ReceivedMessage& message, script::Tracer* tracer);

  ProxyStats stats() const;
  TransactionStats transactionStats() const { return transactions_->stats(); }
  // The transaction layer, for the daemon to drive its timers (and tests to drive them by hand).
  TransactionUser& transactions() { return *transactions_; }

  // Whether host:port (port 0: the default) names one of this proxy's listeners or addresses.
  bool isLocal(std::string_view host, uint16_t port) const;

  Outbound* outbound() const { return outbound_; }

  // Responses whose top Via is ours and whose branch starts with "z9hG4bK" + `prefix` go to
  // `handler` instead of the transaction layer (requests a module sent itself). Safe while
  // traffic flows.
  using ResponseHandler =
      std::function<void(const sip::Message&, const transport::ReceivedMessage&)>;
  void claimResponses(std::string prefix, ResponseHandler handler);
  // The listener a message to a destination of this protocol and family leaves from: the one
  // `preferred` names when it fits (the interface the request came in on), else the first that
  // does; null when none does.
  const transport::Listener* listenerFor(transport::Protocol protocol, bool ipv6,
                                         uint32_t preferred) const;

 private:
  class Actions;
  friend class Actions;
  class Suspended;
  friend class Suspended;
  struct Counters;

  // Requests waiting for a module, by what identifies their retransmissions.
  void rememberSuspended(const std::string& key);
  void forgetSuspended(const std::string& key);
  bool isSuspended(const sip::Message& message) const;
  // What happens once the script has run (or resumed) for a request: park it if it suspended,
  // count it if nothing answered it.
  void afterScript(const std::shared_ptr<const ProxySettings>& settings,
                   const transport::ReceivedMessage& received, const sip::Message& message,
                   const sip::MessageEditor& editor, script::MessageContext& context,
                   Actions& actions);

  void dispatch(const transport::ReceivedMessage& received, script::Tracer* tracer);
  void handleRequest(const transport::ReceivedMessage& received, sip::Message& message,
                     script::Tracer* tracer);
  void handleResponse(const transport::ReceivedMessage& received, sip::Message& message);
  void replyToMalformed(const transport::ReceivedMessage& received, const sip::ParseError& error);
  Counters& counters(unsigned worker) const;

  std::atomic<std::shared_ptr<const ProxySettings>> settings_;
  Outbound* outbound_;
  std::vector<std::string> localHosts_;  // addresses of this machine's interfaces, as SIP hosts
  std::unique_ptr<Counters[]> counters_;
  std::unique_ptr<TransactionUser> transactions_;
  struct ResponseClaim {
    std::string branchPrefix;  // with the magic cookie
    ResponseHandler handler;
  };
  std::atomic<std::shared_ptr<const std::vector<ResponseClaim>>> claims_;
  mutable std::mutex suspendedMutex_;
  std::unordered_map<std::string, int> suspendedKeys_;
  std::atomic<int> suspendedCount_{0};
  static constexpr unsigned kCounterSlots = 64;
};

// The RFC 3261 branch this proxy gives a forwarded request: a hash of what identifies the
// incoming transaction, so a retransmission (and its CANCEL, and the ACK of a non-2xx) gets the
// same one (§16.11).
std::string statelessBranch(const sip::Message& request);

}  // namespace strowger::proxy

// What a routing step sees and may do while a message runs through the routing script.
//
// The script engine (src/script/) compiles the `routes:` section into immutable steps; running a
// message builds one MessageContext on the stack and hands it from step to step. Steps never talk
// to sockets: they ask ProxyActions, which the proxy core implements for real traffic and explain
// mode implements by recording what would have happened.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <vector>

#include "strowger/script/request_state.h"
#include "strowger/sip/editor.h"
#include "strowger/sip/message.h"
#include "strowger/transport/transport.h"

namespace strowger::script {

// A destination other than the Request-URI: set by `forward: {to: ...}` or by a step that picks
// the next hop while leaving the Request-URI alone (multi-tenant PBXs route by its domain).
struct NextHop {
  std::string host;   // numeric address or name as written; IPv6 without brackets
  uint16_t port = 0;  // 0: the default for the transport
  std::optional<transport::Protocol> protocol;  // unset: from the URI's transport param, else UDP
  std::string uri;  // the SIP URI it was given as, for logs and explain output
  // A TCP connection to send on when it is still open: the flow a registered phone behind NAT
  // is reachable over (0: any connection to the address, or a new one).
  uint64_t connection = 0;
  // Route header value(s) the request carries to this hop: a registered contact's Path
  // (RFC 3327), whose first URI is this hop.
  std::string route;
  // Send from this listener (an index into the transport's listeners: a gateway reached from a
  // given address); -1: the proxy picks one of the right transport and family.
  int listener = -1;
};

// The hook points of RFC 3261 §16 a route can be run at. A step declares the kinds it
// may run in, and the compiler refuses it anywhere else.
enum class RouteKind : uint8_t { kRequest = 0, kReply, kFailure, kBranch };

std::string_view routeKindName(RouteKind kind) noexcept;  // "request", "reply", ...

class Route;
class Action;

// One more target for a stateful relay besides the Request-URI: added by `append_branch` (and by
// modules such as the location service). The branch gets `uri` as its Request-URI.
struct BranchTarget {
  std::string uri;
  std::optional<NextHop> nextHop;  // send there instead of resolving `uri`
  double q = 1.0;                  // RFC 3261 q-value, 0 to 1; serial forking tries higher first
};

// How `relay` sends the request to several targets (RFC 3261 §16.6): all at once, or one q-value
// group at a time, highest q first, the next group when every branch of the current one failed.
enum class ForkMode : uint8_t { kParallel, kSerial };

// The routes a stateful relay runs later (armed by `on_failure`, `on_reply`, `on_branch` before
// `relay`, like Kamailio's t_on_failure / t_on_reply / t_on_branch).
struct TransactionHooks {
  const Route* onFailure = nullptr;  // a failure route: every branch failed
  const Route* onReply = nullptr;    // a reply route: each reply received on a branch
  const Route* onBranch = nullptr;   // a branch route: each branch before it is sent
};

// The reply a reply route runs for, or the final response a failure route runs after: the best
// of the failed branches (RFC 3261 §16.7 step 6). `message` is null when no response was received
// (every branch timed out: code 408; or could not be sent: code 503).
struct ReplyView {
  const sip::Message* message = nullptr;
  uint16_t code = 0;
  std::string_view reason;
};

class MessageContext;

// A request whose routing waits for work done off the event loop (a database answer). A step
// gets one from MessageContext::suspend(), hands it to the work, and returns; the script stops
// there. When the work is done, resume() continues the request on a worker thread.
class Suspension {
 public:
  virtual ~Suspension() = default;
  // Runs `then` with the request's context as the script left it (it may reply, rewrite the
  // Request-URI, add branches, ...), then, unless `then` finished the message, the script goes on
  // with the step after the one that suspended. Call it once, from any thread. A Suspension
  // dropped without resume() answers the request 500, so a lost callback never leaves the caller
  // waiting.
  virtual void resume(std::function<void(MessageContext&)> then) = 0;
};

class ProxyActions {
 public:
  virtual ~ProxyActions() = default;
  // Answers the request statelessly. `headers` are whole lines without CRLF ("Retry-After: 5").
  virtual void reply(uint16_t status, std::string_view reason,
                     std::span<const std::string> headers) = 0;
  // Forwards the request statelessly: to `hop` when given, else to the context's next hop, else
  // by the Route set or the (possibly rewritten) Request-URI. Returns false when no destination
  // could be found or the send failed (the step may then reply).
  virtual bool forward(const NextHop* hop) = 0;
  // Relays the request statefully (RFC 3261 §16 with transactions): one branch for the
  // Request-URI, sent to `hop` when given (else to the context's next hop, the Route set or the
  // Request-URI), plus one per appended branch, forked as `mode` says. The context's hooks go with
  // the transaction. In a failure route it starts new branches in the same transaction. Returns
  // false when no branch could be started; the upstream side then has had its answer (a 5xx, or 481
  // for a CANCEL that matches no transaction).
  virtual bool relay(const NextHop* hop, ForkMode mode) = 0;
  // Adds Record-Route for this proxy (two when the request leaves on another transport or
  // interface) when the request is forwarded.
  virtual void recordRoute() = 0;
  // RFC 3261 §16.4: removes a top Route naming this proxy (and handles a strict-router previous
  // hop). Returns true when the request is to be routed by its Route set (in-dialog routing).
  virtual bool looseRoute() = 0;
  // Whether host[:port] names this proxy (one of its listeners or advertised addresses).
  virtual bool isLocal(std::string_view host, uint16_t port) const = 0;
  // Ends the message here without an answer.
  virtual void drop() = 0;
  // A Suspension for this request, or null when it cannot wait (explain mode). See
  // MessageContext::suspend().
  virtual std::shared_ptr<Suspension> suspend() { return nullptr; }
};

// Receives what explain mode prints: each step taken and each condition's outcome.
class Tracer {
 public:
  virtual ~Tracer() = default;
  virtual void enterRoute(std::string_view route, int depth) = 0;
  virtual void step(std::string_view description, int line, int depth) = 0;
  virtual void condition(std::string_view description, bool outcome, int line, int depth) = 0;
};

class MessageContext {
 public:
  MessageContext(const sip::Message& message, sip::MessageEditor& editor,
                 const transport::ReceivedMessage& received, ProxyActions& actions,
                 Tracer* tracer = nullptr)
      : message_(message),
        editor_(editor),
        received_(received),
        actions_(actions),
        tracer_(tracer) {}

  const sip::Message& message() const { return message_; }
  sip::MessageEditor& editor() { return editor_; }
  const transport::ReceivedMessage& received() const { return received_; }
  ProxyActions& actions() { return actions_; }
  Tracer* tracer() const { return tracer_; }

  // The kind of route the message is running through (a request starts in a request route; a
  // reply in a reply route; ...). Steps that behave differently per kind read it.
  RouteKind routeKind() const { return routeKind_; }
  void setRouteKind(RouteKind kind) { routeKind_ = kind; }

  // Reply and failure routes: the reply (see ReplyView). Null in request and branch routes.
  const ReplyView* reply() const { return reply_; }
  void setReply(const ReplyView* reply) { reply_ = reply; }

  // Targets besides the Request-URI for the next `relay`.
  std::vector<BranchTarget>& branches() { return branches_; }
  const std::vector<BranchTarget>& branches() const { return branches_; }
  TransactionHooks& hooks() { return hooks_; }
  const TransactionHooks& hooks() const { return hooks_; }

  // The Request-URI as the script has rewritten it so far (the original when untouched).
  std::string_view requestUriText() const {
    return rewrittenUri_ ? std::string_view(*rewrittenUri_) : message_.requestUriText();
  }
  bool requestUriRewritten() const { return rewrittenUri_.has_value(); }
  // Parsed form of requestUriText(); recomputed after each rewrite.
  const sip::ParseResult<sip::Uri>& requestUri() const {
    return rewrittenUri_ ? *rewrittenParsed_ : message_.requestUri();
  }
  void setRequestUri(std::string uri) {
    rewrittenUri_ = std::move(uri);
    rewrittenParsed_ = sip::parseUri(*rewrittenUri_);
  }

  std::optional<NextHop>& nextHop() { return nextHop_; }
  const std::optional<NextHop>& nextHop() const { return nextHop_; }

  // What steps leave for later steps and for the transaction's later routes
  // (request_state.h); created on first use.
  RequestState& state() {
    if (!state_) state_ = std::make_shared<RequestState>();
    return *state_;
  }
  const RequestState* stateIfAny() const { return state_.get(); }
  // For the proxy: the state goes with a suspended request and with the transaction.
  const std::shared_ptr<RequestState>& sharedState() const { return state_; }
  void adoptState(std::shared_ptr<RequestState> state) { state_ = std::move(state); }

  // Set once a step has answered, forwarded or dropped the message: the script stops there.
  bool finished() const { return finished_; }
  void finish() { finished_ = true; }

  // Stops the script after the current step until the returned Suspension resumes it (request
  // routes only). Null when this request cannot wait (explain mode): the step must then decide
  // without waiting, or answer.
  std::shared_ptr<Suspension> suspend() {
    std::shared_ptr<Suspension> suspension = actions_.suspend();
    if (suspension) {
      suspended_ = true;
      finished_ = true;
    }
    return suspension;
  }
  bool suspended() const { return suspended_; }

  // Where a suspended script goes on: each list of steps the suspension left, innermost first,
  // with the index of its next step. Kept by the script engine (src/script/tree.cc).
  struct ResumeFrame {
    const Action* steps;
    uint32_t next;
  };
  std::vector<ResumeFrame>& resumeFrames() { return resumeFrames_; }

  // How deeply `route:` calls are nested at this point (0 in the route the message started in).
  // Kept by the script engine for its depth limit and for the Tracer.
  int routeDepth() const { return routeDepth_; }
  void setRouteDepth(int depth) { routeDepth_ = depth; }

 private:
  const sip::Message& message_;
  sip::MessageEditor& editor_;
  const transport::ReceivedMessage& received_;
  ProxyActions& actions_;
  Tracer* tracer_;
  std::optional<std::string> rewrittenUri_;
  std::optional<sip::ParseResult<sip::Uri>> rewrittenParsed_;
  std::optional<NextHop> nextHop_;
  std::vector<BranchTarget> branches_;
  TransactionHooks hooks_;
  std::shared_ptr<RequestState> state_;
  const ReplyView* reply_ = nullptr;
  std::vector<ResumeFrame> resumeFrames_;
  RouteKind routeKind_ = RouteKind::kRequest;
  bool finished_ = false;
  bool suspended_ = false;
  int routeDepth_ = 0;
};

}  // namespace strowger::script

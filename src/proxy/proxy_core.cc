#include "proxy_core.h"

#include <ifaddrs.h>
#include <spdlog/spdlog.h>

#include <cassert>
#include <charconv>
#include <mutex>
#include <optional>

#include "routing.h"
#include "strowger/script/script.h"
#include "strowger/sip/editor.h"
#include "strowger/sip/reply.h"
#include "strowger/sip/sanity.h"

namespace strowger::proxy {
namespace {

using namespace detail;

using transport::Destination;
using transport::Listener;
using transport::Protocol;

// Per-thread scratch: a worker reuses one Message and one output buffer for every datagram, so
// the steady state allocates nothing for them.
thread_local sip::Message tlsMessage;
thread_local std::string tlsOut;

}  // namespace

struct alignas(64) ProxyCore::Counters {
  std::atomic<uint64_t> requests{0}, responses{0}, forwardedRequests{0}, forwardedResponses{0},
      localReplies{0}, malformedRequests{0}, malformedResponses{0}, responsesNotOurs{0},
      unroutableResponses{0}, unhandled{0}, dropped{0}, forwardFailures{0}, loops{0};
  static void bump(std::atomic<uint64_t>& c) { c.fetch_add(1, std::memory_order_relaxed); }
};

std::string statelessBranch(const sip::Message& request) {
  Hash64 h;
  const auto& via = request.topVia();
  if (via && via->hasRfc3261Branch() && via->branch.size() > sip::kBranchMagicCookie.size()) {
    // The upstream transaction is identified by its branch and sent-by (RFC 3261 §17.2.3).
    h.add(via->branch);
    h.add(via->sentBy.host);
    h.add(via->sentBy.port);
  } else {
    // RFC 2543 peers: what identifies the transaction there (§16.11, "the same branch for a
    // retransmission"), without the To tag, which the ACK of a non-2xx adds.
    h.add(request.requestUriText());
    const auto& from = request.from();
    h.add(from ? from->tag : std::string_view{});
    h.add(callIdOf(request));
    const auto& cseq = request.cseq();
    h.add(cseq ? cseq->number : 0);
    h.add(via ? via->raw : std::string_view{});
  }
  // z9hG4bK "sl" <transaction: 16 hex> <loop detection: 8 hex>
  std::string branch(sip::kBranchMagicCookie);
  branch.append(kStatelessBranchTag).append(hex16(h.state)).append(hex8(loopHash(request)));
  return branch;
}

// The ProxyActions of one request: carries out what the routing script asks.
class ProxyCore::Actions final : public script::ProxyActions {
 public:
  Actions(ProxyCore& proxy, const transport::ReceivedMessage& received, const sip::Message& message,
          sip::MessageEditor& editor, Counters& counters)
      : proxy_(proxy),
        received_(received),
        message_(message),
        editor_(editor),
        counters_(counters) {}

  void bind(script::MessageContext* context) { context_ = context; }

  void reply(uint16_t status, std::string_view reason,
             std::span<const std::string> headers) override {
    std::vector<std::string_view> lines(headers.begin(), headers.end());
    sendReply(status, reason, lines);
  }

  void sendReply(uint16_t status, std::string_view reason,
                 std::span<const std::string_view> headers) {
    if (context_) context_->finish();
    // No response is ever sent to an ACK (RFC 3261 §17.1.1.3).
    if (message_.method() == sip::Method::kAck) return;
    std::string ip = received_.source.ip();
    // A To tag that is the same for every retransmission of the request.
    Hash64 h;
    h.add(callIdOf(message_));
    const auto& from = message_.from();
    h.add(from ? from->tag : std::string_view{});
    const auto& via = message_.topVia();
    h.add(via ? via->branch : std::string_view{});
    std::string toTag = hex16(h.state);
    sip::ReplyOptions options;
    options.toTag = toTag;
    options.extraHeaders = headers;
    options.receivedIp = ip;
    options.receivedPort = received_.source.port();
    tlsOut.clear();
    sip::buildReply(message_, status, reason, options, tlsOut);
    Destination to = replyDestination();
    Counters::bump(counters_.localReplies);
    if (spdlog::should_log(spdlog::level::debug)) {
      spdlog::debug("call-id={} reply {} {} to {}", callIdOf(message_), status,
                    reason.empty() ? sip::defaultReasonPhrase(status) : reason,
                    to.address.toString());
    }
    if (proxy_.outbound_) proxy_.outbound_->send(to, tlsOut, false);
  }

  bool forward(const script::NextHop* hop) override;
  bool relay(const script::NextHop* hop, script::ForkMode mode) override;

  void recordRoute() override { recordRoute_ = true; }

  bool looseRoute() override;

  bool isLocal(std::string_view host, uint16_t port) const override {
    return proxy_.isLocal(host, port);
  }

  void drop() override {
    Counters::bump(counters_.dropped);
    if (context_) context_->finish();
  }

  std::shared_ptr<script::Suspension> suspend() override;
  std::shared_ptr<Suspended> takeSuspension() { return std::move(suspension_); }

  // What a suspended request must find again when it resumes.
  struct State {
    std::size_t routesConsumed = 0;
    bool ownRoutesConsumed = false;
    bool lastRouteRemoved = false;
    bool recordRoute = false;
  };
  State state() const {
    return {routesConsumed_, ownRoutesConsumed_, lastRouteRemoved_, recordRoute_};
  }
  void restore(const State& state) {
    routesConsumed_ = state.routesConsumed;
    ownRoutesConsumed_ = state.ownRoutesConsumed;
    lastRouteRemoved_ = state.lastRouteRemoved;
    recordRoute_ = state.recordRoute;
  }

 private:
  // RFC 3261 §18.2.2 and RFC 3581: a reliable transport answers on the connection; UDP answers
  // the source address, at the source port when rport was asked for, else the sent-by port.
  Destination replyDestination() const {
    Destination d;
    d.protocol = received_.protocol;
    d.address = received_.source;
    d.connection = received_.connection;
    d.listener = static_cast<int>(received_.listener);
    if (received_.protocol == Protocol::kUdp) {
      const auto& via = message_.topVia();
      if (via && !via->hasRport) d.address.setPort(via->sentBy.hasPort ? via->sentBy.port : 5060);
    }
    return d;
  }

  const sip::HeaderField* headerHolding(sip::HeaderId id, std::string_view element) const {
    for (const sip::HeaderField& h : message_.all(id)) {
      if (element.data() >= h.value.data() && element.data() < h.value.data() + h.value.size()) {
        return &h;
      }
    }
    return nullptr;
  }

  bool isLocalUri(const sip::Uri& uri) const {
    return uri.isSip() && proxy_.isLocal(uri.host(), uri.hostPort.hasPort ? uri.port() : 0);
  }

  // The Route entries still to follow: those not removed from the front (ours) or the end
  // (taken back into the Request-URI after a strict router).
  std::size_t routesEnd() const {
    const auto& routes = message_.routes();
    if (!routes) return 0;
    return routes->size() - (lastRouteRemoved_ ? 1 : 0);
  }

  // Removes the Route entries at the top that name this proxy (two after a double
  // Record-Route). Done once, whether the script asked with loose_route or just forwards.
  void consumeOwnRoutes() {
    if (ownRoutesConsumed_) return;
    ownRoutesConsumed_ = true;
    const auto& routes = message_.routes();
    if (!routes) return;
    std::string_view received;
    while (routesConsumed_ < routesEnd() && routesConsumed_ < 2 &&
           isLocalUri((*routes)[routesConsumed_].uri)) {
      const sip::NameAddr& r = (*routes)[routesConsumed_];
      if (const sip::HeaderField* h = headerHolding(sip::HeaderId::kRoute, r.raw)) {
        editor_.removeListElement(*h, r.raw);
      }
      if (std::string_view value = r.uri.params.get("received"); !value.empty()) received = value;
      ++routesConsumed_;
    }
    // Our own Path URI with the address a phone behind NAT registered from (`path.add` with
    // received): when no Route is left, that address is the next hop (RFC 3327 §5.2 leaves how
    // a proxy finds the UA to the proxy; Kamailio's path module does the same).
    if (!received.empty() && routesConsumed_ == routesEnd() && context_ && !context_->nextHop()) {
      if (auto hop = hopFromReceived(received)) context_->nextHop() = std::move(hop);
    }
  }

  // `received=sip:192.0.2.7:5060;transport=tcp`, its ';' and '=' escaped as %3B and %3D.
  static std::optional<script::NextHop> hopFromReceived(std::string_view escaped) {
    std::string text;
    for (std::size_t i = 0; i < escaped.size(); ++i) {
      if (escaped[i] == '%' && i + 2 < escaped.size()) {
        const int hi = hexNibble(escaped[i + 1]);
        const int lo = hexNibble(escaped[i + 2]);
        if (hi >= 0 && lo >= 0) {
          text.push_back(static_cast<char>(hi * 16 + lo));
          i += 2;
          continue;
        }
      }
      text.push_back(escaped[i]);
    }
    auto uri = sip::parseUri(text);
    if (!uri || !uri->isSip()) return std::nullopt;
    script::NextHop hop;
    hop.host = std::string(stripBrackets(uri->host()));
    hop.port = uri->hostPort.hasPort ? uri->port() : 0;
    if (sip::equalsIgnoreCase(uri->params.get("transport"), "tcp")) {
      hop.protocol = Protocol::kTcp;
    }
    hop.uri = std::move(text);
    return hop;
  }

  static int hexNibble(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  // The listener a request to `to` leaves from: the one its next hop asked for, else the one it
  // came in on, when either can reach it; else any of the right transport and family.
  const Listener* pickListener(const Destination& to) const {
    const uint32_t preferred =
        to.listener >= 0 ? static_cast<uint32_t>(to.listener) : received_.listener;
    return proxy_.listenerFor(to.protocol, to.address.isIpv6(), preferred);
  }

  bool fail(std::string_view why);
  std::optional<Destination> resolve(const script::NextHop* hop, std::string& strictRouteUri,
                                     std::string& why);
  void applyCommonEdits(const Listener& out, const std::string& strictRouteUri);

  std::string recordRouteValue(const Listener& l) const {
    std::string v = "<sip:" + sipHostOf(l.advertisedHost) + ":" + std::to_string(l.advertisedPort);
    if (l.protocol == Protocol::kTcp) v += ";transport=tcp";
    return v + ";lr>";
  }

  ProxyCore& proxy_;
  const transport::ReceivedMessage& received_;
  const sip::Message& message_;
  sip::MessageEditor& editor_;
  Counters& counters_;
  script::MessageContext* context_ = nullptr;
  std::shared_ptr<Suspended> suspension_;
  std::size_t routesConsumed_ = 0;
  bool ownRoutesConsumed_ = false;
  bool lastRouteRemoved_ = false;
  bool recordRoute_ = false;
};

// A request waiting for a module's work (see script::Suspension). The worker that ran the script
// parks it once the script has unwound: the bytes are copied and parsed again into this object, and
// the editor, the context's state and the place to go on from are kept with them. resume() may come
// first (work that finished at once, on another thread); then parking sends it on its way.
class ProxyCore::Suspended final : public script::Suspension,
                                   public std::enable_shared_from_this<Suspended> {
 public:
  explicit Suspended(ProxyCore& proxy) : proxy_(proxy) {}

  ~Suspended() override {
    if (parked_ && !resumed_) {
      // Nobody will resume it (a module lost its callback, or the daemon is stopping).
      spdlog::warn("call-id={} {} was waiting for a module and was never resumed; answered 500",
                   callIdOf(message_), message_.methodText());
      sip::MessageEditor editor(message_);
      Actions actions(proxy_, received_, message_, editor, proxy_.counters(received_.worker));
      actions.sendReply(500, "Server Internal Error", {});
    }
    if (parked_) proxy_.forgetSuspended(key_);
  }

  void resume(std::function<void(script::MessageContext&)> then) override {
    {
      std::lock_guard lock(mutex_);
      if (resumed_) return;
      resumed_ = true;
      if (!parked_) {
        pending_ = std::move(then);
        return;
      }
    }
    post(std::move(then));
  }

  // Keeps what the request needs to go on; called once the script has unwound.
  void park(std::shared_ptr<const ProxySettings> settings,
            const transport::ReceivedMessage& received, const sip::Message& message,
            const sip::MessageEditor& editor, script::MessageContext& context,
            const Actions::State& actionsState) {
    settings_ = std::move(settings);
    bytes_.assign(message.bytes());
    received_ = received;
    received_.bytes = bytes_;
    const auto framing =
        received.protocol == Protocol::kTcp ? sip::Framing::kStream : sip::Framing::kDatagram;
    // The same bytes parsed before: this cannot fail.
    [[maybe_unused]] const auto parsed = message_.parse(bytes_, framing, settings_->limits);
    assert(parsed.hasValue());
    editor_.emplace(editor);
    editor_->rebase(message_);
    if (context.requestUriRewritten()) rewrittenUri_ = std::string(context.requestUriText());
    nextHop_ = context.nextHop();
    branches_ = context.branches();
    hooks_ = context.hooks();
    state_ = context.sharedState();
    frames_ = std::move(context.resumeFrames());
    actionsState_ = actionsState;
    key_ = suspendKey(message_);
    proxy_.rememberSuspended(key_);
    std::function<void(script::MessageContext&)> pending;
    {
      std::lock_guard lock(mutex_);
      parked_ = true;
      if (!resumed_) return;
      pending = std::move(pending_);
    }
    post(std::move(pending));
  }

  // What identifies the request's retransmissions while it waits.
  static std::string suspendKey(const sip::Message& message) {
    std::string key = statelessBranch(message);
    key += ' ';
    key += message.methodText();
    return key;
  }

 private:
  void post(std::function<void(script::MessageContext&)> then) {
    auto self = shared_from_this();
    auto task = [self, then = std::move(then)]() mutable { self->run(then); };
    if (proxy_.outbound_) {
      proxy_.outbound_->post(received_.worker, std::move(task));
    } else {
      task();
    }
  }

  void run(const std::function<void(script::MessageContext&)>& then) {
    Counters& c = proxy_.counters(received_.worker);
    Actions actions(proxy_, received_, message_, *editor_, c);
    actions.restore(actionsState_);
    script::MessageContext context(message_, *editor_, received_, actions);
    if (rewrittenUri_) context.setRequestUri(*rewrittenUri_);
    context.nextHop() = nextHop_;
    context.branches() = branches_;
    context.hooks() = hooks_;
    context.adoptState(state_);
    actions.bind(&context);
    if (then) then(context);
    if (context.suspended()) {
      // `then` ran steps that suspended again: after theirs come the places this one kept.
      auto& now = context.resumeFrames();
      now.insert(now.end(), frames_.begin(), frames_.end());
    } else if (!context.finished() && settings_->script) {
      settings_->script->resume(context, std::move(frames_));
    }
    proxy_.afterScript(settings_, received_, message_, *editor_, context, actions);
  }

  ProxyCore& proxy_;
  std::mutex mutex_;
  bool parked_ = false;
  bool resumed_ = false;
  std::function<void(script::MessageContext&)> pending_;

  std::shared_ptr<const ProxySettings> settings_;
  std::string bytes_;
  sip::Message message_;
  std::optional<sip::MessageEditor> editor_;
  transport::ReceivedMessage received_;
  std::optional<std::string> rewrittenUri_;
  std::optional<script::NextHop> nextHop_;
  std::vector<script::BranchTarget> branches_;
  script::TransactionHooks hooks_;
  std::shared_ptr<script::RequestState> state_;
  std::vector<script::MessageContext::ResumeFrame> frames_;
  Actions::State actionsState_;
  std::string key_;
};

std::shared_ptr<script::Suspension> ProxyCore::Actions::suspend() {
  // Explain mode never waits; a step that would gets null and decides without waiting.
  if (!context_ || context_->tracer() || context_->routeKind() != script::RouteKind::kRequest) {
    return nullptr;
  }
  suspension_ = std::make_shared<Suspended>(proxy_);
  return suspension_;
}

void ProxyCore::rememberSuspended(const std::string& key) {
  std::lock_guard lock(suspendedMutex_);
  ++suspendedKeys_[key];
  suspendedCount_.fetch_add(1, std::memory_order_relaxed);
}

void ProxyCore::forgetSuspended(const std::string& key) {
  std::lock_guard lock(suspendedMutex_);
  auto it = suspendedKeys_.find(key);
  if (it == suspendedKeys_.end()) return;
  if (--it->second == 0) suspendedKeys_.erase(it);
  suspendedCount_.fetch_sub(1, std::memory_order_relaxed);
}

bool ProxyCore::isSuspended(const sip::Message& message) const {
  if (suspendedCount_.load(std::memory_order_relaxed) == 0) return false;
  const std::string key = Suspended::suspendKey(message);
  std::lock_guard lock(suspendedMutex_);
  return suspendedKeys_.contains(key);
}

void ProxyCore::afterScript(const std::shared_ptr<const ProxySettings>& settings,
                            const transport::ReceivedMessage& received, const sip::Message& message,
                            const sip::MessageEditor& editor, script::MessageContext& context,
                            Actions& actions) {
  if (context.suspended()) {
    if (std::shared_ptr<Suspended> suspension = actions.takeSuspension()) {
      suspension->park(settings, received, message, editor, context, actions.state());
    }
    return;
  }
  if (!context.finished()) {
    Counters::bump(counters(received.worker).unhandled);
    spdlog::debug("call-id={} {} reached the end of the routing script unanswered: dropped",
                  callIdOf(message), message.methodText());
  }
}

bool ProxyCore::Actions::looseRoute() {
  const auto& routes = message_.routes();
  if (!routes || routes->empty()) return false;
  // §16.4: a strict router before us put our Record-Route URI into the Request-URI; the real
  // Request-URI is the last Route. Then the request is handled as if it had come that way: a
  // Route naming us at the top is removed like any other.
  const auto& uri = context_ ? context_->requestUri() : message_.requestUri();
  if (!lastRouteRemoved_ && !ownRoutesConsumed_ && context_ && uri && isLocalUri(*uri)) {
    const sip::NameAddr& last = routes->back();
    context_->setRequestUri(std::string(last.uri.raw));
    if (const sip::HeaderField* h = headerHolding(sip::HeaderId::kRoute, last.raw)) {
      editor_.removeListElement(*h, last.raw);
    }
    lastRouteRemoved_ = true;
  }
  consumeOwnRoutes();
  return true;
}

bool ProxyCore::Actions::fail(std::string_view why) {
  Counters::bump(counters_.forwardFailures);
  spdlog::warn("call-id={} cannot forward {}: {}", callIdOf(message_), message_.methodText(), why);
  if (message_.method() != sip::Method::kAck) sendReply(503, "Cannot Forward", {});
  return false;
}

// Where the request goes (RFC 3261 §16.6 steps 6-7): to `hop` when given, else to the next hop the
// script set, else by the Route set, else by the (possibly rewritten) Request-URI. A strict router
// as next hop gets the Route URI as Request-URI; the Request-URI then goes to the end of the Route
// set, which `strictRouteUri` carries to applyCommonEdits.
std::optional<Destination> ProxyCore::Actions::resolve(const script::NextHop* hop,
                                                       std::string& strictRouteUri,
                                                       std::string& why) {
  if (!hop && context_ && context_->nextHop()) hop = &*context_->nextHop();
  std::optional<Destination> to;
  if (hop) {
    auto address =
        net::SocketAddress::parse(stripBrackets(hop->host), hop->port ? hop->port : 5060);
    if (!address) {
      why = "the next hop " + hop->uri + " is not a numeric address";
      return std::nullopt;
    }
    to = Destination{hop->protocol.value_or(Protocol::kUdp), *address, hop->connection,
                     hop->listener};
  } else {
    const auto& routes = message_.routes();
    if (routes && routesConsumed_ < routesEnd()) {
      const sip::NameAddr& next = (*routes)[routesConsumed_];
      to = destinationForUri(next.uri);
      if (!to) {
        why = "the Route " + std::string(next.uri.raw) + " has no usable address";
        return std::nullopt;
      }
      if (!next.uri.params.has("lr") && context_) {
        strictRouteUri = std::string(context_->requestUriText());
        context_->setRequestUri(std::string(next.uri.raw));
        if (const sip::HeaderField* h = headerHolding(sip::HeaderId::kRoute, next.raw)) {
          editor_.removeListElement(*h, next.raw);
        }
      }
    } else {
      const auto& uri = context_ ? context_->requestUri() : message_.requestUri();
      if (!uri) {
        why = "the Request-URI does not parse";
        return std::nullopt;
      }
      to = destinationForUri(*uri);
      if (!to) {
        why = "the Request-URI " + std::string(uri->raw) + " has no usable address";
        return std::nullopt;
      }
    }
  }
  if (to->address.isBroadcastOrMulticast()) {
    why = "broadcast or multicast destination";
    return std::nullopt;
  }
  return to;
}

// What every copy of the request gets before it leaves, whichever way it leaves: Max-Forwards
// (§16.6 step 3), the Request-URI, a strict router's Route, the previous hop's Via as received
// (§18.2.1) and Record-Route (§16.6 step 4).
void ProxyCore::Actions::applyCommonEdits(const Listener& out, const std::string& strictRouteUri) {
  if (const sip::HeaderField* mf = message_.find(sip::HeaderId::kMaxForwards)) {
    const auto& value = message_.maxForwards();
    uint32_t next = value && *value > 0 ? *value - 1 : 0;
    editor_.replaceHeaderValue(*mf, std::to_string(next));
  } else {
    editor_.prependHeader("Max-Forwards", "70");
  }
  if (context_ && context_->requestUriRewritten())
    editor_.setRequestUri(context_->requestUriText());
  if (!strictRouteUri.empty()) editor_.appendHeader("Route", "<" + strictRouteUri + ">");
  if (const sip::HeaderField* via = message_.find(sip::HeaderId::kVia)) {
    std::string value;
    if (sip::topViaAsReceived(message_, received_.source.ip(), received_.source.port(), value,
                              received_.protocol == Protocol::kTcp)) {
      editor_.replaceHeaderValue(*via, value);
    }
  }
  if (recordRoute_) {
    // Two Record-Routes when the request leaves by another transport or interface, so that
    // each side of the dialog addresses the interface it can reach (RFC 3261 §16.6 step 4).
    const Listener* in = nullptr;
    for (const Listener& l : proxy_.outbound_->listeners()) {
      if (l.index == received_.listener) in = &l;
    }
    editor_.addRecordRoute(recordRouteValue(out));
    if (in && in->index != out.index) editor_.addRecordRoute(recordRouteValue(*in));
  }
}

bool ProxyCore::Actions::forward(const script::NextHop* hop) {
  if (context_) context_->finish();
  consumeOwnRoutes();
  std::string strictRouteUri;
  std::string why;
  std::optional<Destination> to = resolve(hop, strictRouteUri, why);
  if (!to) return fail(why);
  const Listener* out = pickListener(*to);
  if (!out) return fail("no listener for the destination's transport");
  to->listener = static_cast<int>(out->index);
  applyCommonEdits(*out, strictRouteUri);
  const script::NextHop* usedHop =
      hop ? hop : (context_ && context_->nextHop() ? &*context_->nextHop() : nullptr);
  if (usedHop && !usedHop->route.empty()) editor_.prependHeader("Route", usedHop->route);

  // Our Via (§16.6 step 8), with a branch computed from the request so that a retransmission
  // gets the same one without any state kept.
  std::string ourVia = "SIP/2.0/";
  ourVia.append(transport::protocolName(out->protocol))
      .append(" ")
      .append(sipHostOf(out->advertisedHost))
      .append(":")
      .append(std::to_string(out->advertisedPort))
      .append(";branch=")
      .append(statelessBranch(message_));
  editor_.prependVia(ourVia);
  if (to->protocol == Protocol::kTcp) editor_.ensureContentLength();

  tlsOut.clear();
  editor_.serializeTo(tlsOut);
  auto status = proxy_.outbound_->send(*to, tlsOut, true);
  if (status != transport::SendStatus::kSent) {
    Counters::bump(counters_.forwardFailures);
    spdlog::warn("call-id={} forwarding to {} failed", callIdOf(message_), to->address.toString());
    return false;
  }
  Counters::bump(counters_.forwardedRequests);
  if (spdlog::should_log(spdlog::level::debug)) {
    spdlog::debug("call-id={} forwarded {} to {}:{}", callIdOf(message_), message_.methodText(),
                  transport::protocolName(to->protocol), to->address.toString());
  }
  return true;
}

bool ProxyCore::Actions::relay(const script::NextHop* hop, script::ForkMode mode) {
  // Explain mode shows a relay as the forward it starts with; an ACK is never relayed statefully
  // (the ACK of a 2xx is a transaction of its own with no response, §17.1.1.3).
  if (!context_ || context_->tracer() || message_.method() == sip::Method::kAck) {
    return forward(hop);
  }
  context_->finish();
  if (message_.method() == sip::Method::kCancel) {
    // §16.10 asks to forward it statelessly; a proxy that relays statefully knows every INVITE it
    // relayed, so a CANCEL that reached the script matches none.
    sendReply(481, "Call/Transaction Does Not Exist", {});
    return false;
  }
  consumeOwnRoutes();
  std::string strictRouteUri;
  std::string why;
  std::optional<Destination> to = resolve(hop, strictRouteUri, why);
  if (!to) return fail(why);
  const Listener* out = pickListener(*to);
  if (!out) return fail("no listener for the destination's transport");

  RelayRequest request;
  request.received = &received_;
  request.original = &message_;
  request.mode = mode;
  request.hooks = context_->hooks();
  request.state = context_->sharedState();
  request.script = proxy_.settings_.load()->script;
  const script::NextHop* mainHop =
      hop ? hop : (context_->nextHop() ? &*context_->nextHop() : nullptr);
  request.targets.push_back(RelayTarget{std::string(context_->requestUriText()), *to, 1.0,
                                        mainHop ? mainHop->route : std::string()});
  // Appended branches (§16.6 step 7): a pre-loaded Route set takes each of them to the same next
  // hop; otherwise each goes where its own URI (or next hop) says.
  const auto& routes = message_.routes();
  const bool routed = !hop && !context_->nextHop() && routes && routesConsumed_ < routesEnd();
  for (const script::BranchTarget& extra : context_->branches()) {
    std::optional<Destination> d;
    if (extra.nextHop) {
      auto address = net::SocketAddress::parse(stripBrackets(extra.nextHop->host),
                                               extra.nextHop->port ? extra.nextHop->port : 5060);
      if (address) {
        d = Destination{extra.nextHop->protocol.value_or(Protocol::kUdp), *address,
                        extra.nextHop->connection, extra.nextHop->listener};
      }
    } else if (routed) {
      d = *to;
    } else if (auto uri = sip::parseUri(extra.uri)) {
      d = destinationForUri(*uri);
    }
    if (!d || d->address.isBroadcastOrMulticast()) {
      Counters::bump(counters_.forwardFailures);
      spdlog::warn("call-id={} the branch {} has no usable address; left out", callIdOf(message_),
                   extra.uri);
      continue;
    }
    request.targets.push_back(
        RelayTarget{extra.uri, *d, extra.q, extra.nextHop ? extra.nextHop->route : std::string()});
  }
  applyCommonEdits(*out, strictRouteUri);
  tlsOut.clear();
  editor_.serializeTo(tlsOut);
  request.relayed = tlsOut;
  const bool started = proxy_.transactions_->relay(request);
  if (started) Counters::bump(counters_.forwardedRequests);
  return started;
}

ProxyCore::ProxyCore(std::shared_ptr<const ProxySettings> settings, Outbound* outbound,
                     TransactionUser::ClockFn clock)
    : settings_(std::move(settings)),
      outbound_(outbound),
      counters_(new Counters[kCounterSlots]),
      transactions_(std::make_unique<TransactionUser>(*this, std::move(clock))) {
  transactions_->update(settings_.load()->transactions);
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) == 0) {
    for (ifaddrs* i = list; i; i = i->ifa_next) {
      if (!i->ifa_addr) continue;
      if (i->ifa_addr->sa_family != AF_INET && i->ifa_addr->sa_family != AF_INET6) continue;
      auto a = net::SocketAddress::fromSockaddr(i->ifa_addr, i->ifa_addr->sa_family == AF_INET
                                                                 ? sizeof(sockaddr_in)
                                                                 : sizeof(sockaddr_in6));
      localHosts_.push_back(a.ip());
    }
    freeifaddrs(list);
  }
}

ProxyCore::~ProxyCore() = default;

void ProxyCore::claimResponses(std::string prefix, ResponseHandler handler) {
  auto current = claims_.load(std::memory_order_acquire);
  auto next = current ? std::make_shared<std::vector<ResponseClaim>>(*current)
                      : std::make_shared<std::vector<ResponseClaim>>();
  next->push_back({std::string(sip::kBranchMagicCookie) + prefix, std::move(handler)});
  // Claims are made on the control thread (module start), one at a time.
  claims_.store(std::move(next), std::memory_order_release);
}

const Listener* ProxyCore::listenerFor(Protocol protocol, bool ipv6, uint32_t preferred) const {
  if (!outbound_) return nullptr;
  const Listener* fallback = nullptr;
  for (const Listener& l : outbound_->listeners()) {
    if (l.protocol != protocol) continue;
    if (l.address.isIpv6() != ipv6) continue;
    if (l.index == preferred) return &l;  // the interface the request came in on
    if (!fallback) fallback = &l;
  }
  return fallback;
}

ProxyCore::Counters& ProxyCore::counters(unsigned worker) const {
  return counters_[worker % kCounterSlots];
}

bool ProxyCore::isLocal(std::string_view host, uint16_t port) const {
  if (!outbound_) return false;
  host = stripBrackets(host);
  if (port == 0) port = 5060;
  for (const Listener& l : outbound_->listeners()) {
    if (l.advertisedPort != port && l.address.port() != port) continue;
    if (sip::equalsIgnoreCase(host, l.advertisedHost)) return true;
    std::string bound = l.address.ip();
    if (host == bound) return true;
    if (l.address.isUnspecified()) {
      for (const std::string& local : localHosts_) {
        if (host == local) return true;
      }
    }
  }
  return false;
}

ProxyStats ProxyCore::stats() const {
  ProxyStats s;
  for (unsigned i = 0; i < kCounterSlots; ++i) {
    const Counters& c = counters_[i];
    auto get = [](const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); };
    s.requests += get(c.requests);
    s.responses += get(c.responses);
    s.forwardedRequests += get(c.forwardedRequests);
    s.forwardedResponses += get(c.forwardedResponses);
    s.localReplies += get(c.localReplies);
    s.malformedRequests += get(c.malformedRequests);
    s.malformedResponses += get(c.malformedResponses);
    s.responsesNotOurs += get(c.responsesNotOurs);
    s.unroutableResponses += get(c.unroutableResponses);
    s.unhandled += get(c.unhandled);
    s.dropped += get(c.dropped);
    s.forwardFailures += get(c.forwardFailures);
    s.loops += get(c.loops);
  }
  return s;
}

void ProxyCore::onMessage(const transport::ReceivedMessage& received) {
  dispatch(received, nullptr);
}

void ProxyCore::handleRequestForExplain(const transport::ReceivedMessage& received,
                                        script::Tracer* tracer) {
  dispatch(received, tracer);
}

void ProxyCore::dispatch(const transport::ReceivedMessage& received, script::Tracer* tracer) {
  auto settings = settings_.load();
  sip::Message& message = tlsMessage;
  auto framing =
      received.protocol == Protocol::kTcp ? sip::Framing::kStream : sip::Framing::kDatagram;
  auto parsed = message.parse(received.bytes, framing, settings->limits);
  if (!parsed) {
    replyToMalformed(received, parsed.error());
    return;
  }
  if (message.isRequest()) {
    handleRequest(received, message, tracer);
  } else {
    handleResponse(received, message);
  }
}

// A message that did not parse: a request still gets its error reply when enough of it can be
// read to address one; anything else is dropped and counted.
void ProxyCore::replyToMalformed(const transport::ReceivedMessage& received,
                                 const sip::ParseError& error) {
  Counters& c = counters(received.worker);
  sip::Message& message = tlsMessage;
  if (!message.parseForReply(received.bytes)) {
    Counters::bump(c.malformedResponses);  // not a request: nothing can be answered
    spdlog::debug("dropped a malformed message from {}: {}", received.source.toString(),
                  error.reason);
    return;
  }
  Counters::bump(c.malformedRequests);
  if (!message.has(sip::HeaderId::kVia)) return;  // no Via: no address to answer
  spdlog::debug("call-id={} malformed request from {}: {} {}", callIdOf(message),
                received.source.toString(), error.status, error.reason);
  sip::MessageEditor editor(message);
  Actions actions(*this, received, message, editor, c);
  actions.sendReply(error.status, error.reason, {});
}

void ProxyCore::handleRequest(const transport::ReceivedMessage& received, sip::Message& message,
                              script::Tracer* tracer) {
  Counters& c = counters(received.worker);
  Counters::bump(c.requests);
  auto settings = settings_.load();
  sip::MessageEditor editor(message);
  Actions actions(*this, received, message, editor, c);

  if (auto sane = sip::checkRequest(message); !sane) {
    Counters::bump(c.malformedRequests);
    const sip::ParseError& e = sane.error();
    spdlog::debug("call-id={} rejected {} from {}: {} {}", callIdOf(message), message.methodText(),
                  received.source.toString(), e.status, e.reason);
    if (e.code == sip::ParseErrc::kBadExtension) {
      std::string unsupported = "Unsupported: ";
      bool first = true;
      for (std::string_view tag : sip::unsupportedProxyRequire(message, {})) {
        if (!first) unsupported += ", ";
        unsupported += tag;
        first = false;
      }
      std::string_view line = unsupported;
      actions.sendReply(e.status, e.reason, std::span<const std::string_view>(&line, 1));
    } else {
      actions.sendReply(e.status, e.reason, {});
    }
    return;
  }

  // A retransmission of a relayed request, the ACK of a non-2xx final response, a CANCEL for a
  // relayed INVITE: the transaction layer answers them; the script never runs twice for one
  // request.
  if (!tracer && transactions_->onRequest(received, message)) return;
  // A retransmission of a request whose routing is waiting for a module: it gets its answer when
  // the original does.
  if (!tracer && isSuspended(message)) return;

  // §16.3 step 3: Max-Forwards. An OPTIONS for this proxy is answered instead (§11, RFC 4475
  // §3.3.11).
  if (message.has(sip::HeaderId::kMaxForwards) && *message.maxForwards() == 0) {
    const auto& uri = message.requestUri();
    bool forMe = uri && isLocal(uri->host(), uri->hostPort.hasPort ? uri->port() : 0) &&
                 !message.has(sip::HeaderId::kRoute);
    if (message.method() == sip::Method::kOptions && forMe) {
      static constexpr std::string_view kAllow = "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS";
      actions.sendReply(200, "OK", std::span<const std::string_view>(&kAllow, 1));
    } else {
      actions.sendReply(483, "Too Many Hops", {});
    }
    return;
  }

  // §16.3 step 4: one of our own Vias carrying this request's loop hash means it has been here
  // unchanged: a loop. A spiral (new Request-URI or Route) has another hash.
  if (const auto& vias = message.vias(); vias) {
    const std::string hash = hex8(loopHash(message));
    for (const sip::Via& v : *vias) {
      if (loopHashOfBranch(v.branch) == hash &&
          isLocal(v.sentBy.host, v.sentBy.hasPort ? v.sentBy.port : 0)) {
        Counters::bump(c.loops);
        actions.sendReply(482, "Loop Detected", {});
        return;
      }
    }
  }

  script::MessageContext context(message, editor, received, actions, tracer);
  actions.bind(&context);
  if (settings->script) {
    settings->script->runRequest(context);
  } else {
    // Without a routing script: answer OPTIONS for this proxy, forward everything else.
    const auto& uri = message.requestUri();
    if (message.method() == sip::Method::kOptions && uri &&
        isLocal(uri->host(), uri->hostPort.hasPort ? uri->port() : 0) &&
        !message.has(sip::HeaderId::kRoute)) {
      actions.sendReply(200, "OK", {});
    } else {
      actions.forward(nullptr);
    }
  }
  afterScript(settings, received, message, editor, context, actions);
}

// §16.7 without a response context: the top Via must be ours; remove it and send the response
// where the next Via says (§18.2.2). Anything else is dropped (§18.1.2).
void ProxyCore::handleResponse(const transport::ReceivedMessage& received, sip::Message& message) {
  Counters& c = counters(received.worker);
  Counters::bump(c.responses);
  if (auto sane = sip::checkResponse(message); !sane) {
    Counters::bump(c.malformedResponses);
    spdlog::debug("call-id={} dropped a malformed response from {}: {}", callIdOf(message),
                  received.source.toString(), sane.error().reason);
    return;
  }
  const std::vector<sip::Via>& vias = *message.vias();
  const sip::Via& top = vias.front();
  if (!isLocal(top.sentBy.host, top.sentBy.hasPort ? top.sentBy.port : 0)) {
    Counters::bump(c.responsesNotOurs);
    spdlog::debug("call-id={} dropped a response whose top Via is not ours", callIdOf(message));
    return;
  }
  if (auto claims = claims_.load(std::memory_order_acquire)) {
    for (const ResponseClaim& claim : *claims) {
      if (top.branch.starts_with(claim.branchPrefix)) {
        claim.handler(message, received);
        return;
      }
    }
  }
  if (transactions_->onResponse(received, message)) {
    Counters::bump(c.forwardedResponses);
    return;
  }
  if (vias.size() < 2) {
    Counters::bump(c.unroutableResponses);
    return;
  }
  const sip::Via& next = vias[1];
  Destination to;
  if (next.transportId == sip::Transport::kTcp) {
    to.protocol = Protocol::kTcp;
  } else if (next.transportId != sip::Transport::kUdp) {
    Counters::bump(c.unroutableResponses);
    return;
  }
  std::string_view host = next.received.empty() ? next.sentBy.host : next.received;
  uint16_t port = next.rport ? *next.rport : (next.sentBy.hasPort ? next.sentBy.port : 5060);
  auto address = net::SocketAddress::parse(stripBrackets(host), port);
  if (!address || address->isBroadcastOrMulticast() || address->isUnspecified()) {
    // RFC 4475 §3.3.10: never send a response to a broadcast address.
    Counters::bump(c.unroutableResponses);
    spdlog::debug("call-id={} dropped a response for the unusable address {}", callIdOf(message),
                  host);
    return;
  }
  to.address = *address;
  sip::MessageEditor editor(message);
  if (const sip::HeaderField* via = message.find(sip::HeaderId::kVia)) {
    editor.removeListElement(*via, top.raw);
  }
  if (to.protocol == Protocol::kTcp) editor.ensureContentLength();
  tlsOut.clear();
  editor.serializeTo(tlsOut);
  if (outbound_ && outbound_->send(to, tlsOut, false) == transport::SendStatus::kSent) {
    Counters::bump(c.forwardedResponses);
  }
}

}  // namespace strowger::proxy

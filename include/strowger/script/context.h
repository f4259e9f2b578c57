// What a routing step sees and may do while a message runs through the routing script.
//
// The script engine (src/script/) compiles the `routes:` section into immutable steps; running a
// message builds one MessageContext on the stack and hands it from step to step. Steps never talk
// to sockets: they ask ProxyActions, which the proxy core implements for real traffic and explain
// mode implements by recording what would have happened.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

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

  // Set once a step has answered, forwarded or dropped the message: the script stops there.
  bool finished() const { return finished_; }
  void finish() { finished_ = true; }

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
  bool finished_ = false;
  int routeDepth_ = 0;
};

}  // namespace strowger::script

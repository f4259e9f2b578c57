// The compiled form of a routing script: actions and conditions, as the compiler builds them from
// the `routes:` section and as loadable modules implement them.
//
// Everything here is immutable once compiled and shared by every worker thread at once: run() and
// test() must not modify the object (no mutable caches), must not block, and never throw (they are
// the data plane, docs/STYLE.md). Per-message state lives in the MessageContext.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "strowger/script/context.h"

namespace strowger::script {

// A set of RouteKinds.
class RouteKinds {
 public:
  constexpr RouteKinds() = default;
  constexpr RouteKinds(RouteKind kind) : bits_(bit(kind)) {}  // NOLINT: implicit by design
  static constexpr RouteKinds all() { return fromBits(0x0F); }

  constexpr bool contains(RouteKind kind) const { return (bits_ & bit(kind)) != 0; }
  constexpr bool empty() const { return bits_ == 0; }
  constexpr RouteKinds operator|(RouteKinds other) const { return fromBits(bits_ | other.bits_); }
  constexpr bool operator==(const RouteKinds&) const = default;

 private:
  static constexpr uint8_t bit(RouteKind kind) {
    return static_cast<uint8_t>(1u << static_cast<unsigned>(kind));
  }
  static constexpr RouteKinds fromBits(unsigned bits) {
    RouteKinds kinds;
    kinds.bits_ = static_cast<uint8_t>(bits);
    return kinds;
  }
  uint8_t bits_ = 0;
};

constexpr RouteKinds operator|(RouteKind a, RouteKind b) {
  return RouteKinds(a) | b;
}

// A step that does something to the message: reply, forward, rewrite, call a route, ...
class Action {
 public:
  virtual ~Action() = default;

  // Does the step's work. A step that answers, forwards or drops the message ends its trip: it
  // calls ctx.finish() (ProxyActions::reply, forward and drop do too), and the script runs no
  // further step for this message. Any other step returns with ctx.finished() unchanged and the
  // route goes on with the next step.
  virtual void run(MessageContext& ctx) const = 0;

  // One line for explain mode and logs, computed once at load: "forward to sip:10.0.0.1:5070".
  // Empty for steps that explain mode does not show as a step of their own (`if`).
  virtual std::string describe() const = 0;

  // Explain mode only, called before run(): appends what this run will use that the description
  // cannot know, such as a value read from the message ("alice" for ${from.user}).
  virtual void explain(const MessageContext& ctx, std::string& out) const {
    (void)ctx;
    (void)out;
  }
};

// A test on the message, as used by `if`.
class Condition {
 public:
  virtual ~Condition() = default;

  // Most conditions only read the message; a few act as they test (`loose_route` removes the
  // Route naming this proxy), which their documentation says.
  virtual bool test(MessageContext& ctx) const = 0;

  // One line for explain mode, computed once at load: "method == INVITE".
  virtual std::string describe() const = 0;
};

// `route:` calls nest at most this deep; a deeper call is a loop in the configuration. The message
// is then answered 500 and the script stops (see docs/routing.md).
inline constexpr int kMaxRouteDepth = 32;

// A named route of a compiled script.
class Route {
 public:
  Route(std::string name, RouteKind kind);
  ~Route();
  Route(const Route&) = delete;
  Route& operator=(const Route&) = delete;

  const std::string& name() const noexcept { return name_; }
  RouteKind kind() const noexcept { return kind_; }

  // Runs the route as the one a message starts in (at the context's current depth).
  void run(MessageContext& ctx) const;
  // Runs the route as called from another: one level deeper, at most kMaxRouteDepth. `line` is
  // where the call is written, for explain mode.
  void call(MessageContext& ctx, int line = 0) const;

  // Set once by the compiler, before the script is shared.
  void setBody(std::unique_ptr<const Action> body);

 private:
  std::string name_;
  RouteKind kind_;
  std::unique_ptr<const Action> body_;
};

}  // namespace strowger::script

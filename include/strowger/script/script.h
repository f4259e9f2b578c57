// The routing script: the `routes:` section compiled into an immutable tree of steps.
//
// Compiling reads the YAML once; nothing at run time touches YAML, compiles a regular expression
// or looks a step up by name. A compiled script is shared read-only by every worker
// (std::shared_ptr<const RoutingScript>) and replaced as a whole on reload.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "strowger/expected.h"
#include "strowger/script/context.h"
#include "strowger/script/step.h"

namespace YAML {
class Node;
}

namespace strowger::script {

class StepRegistry;

// A configuration error in the `routes:` section.
struct ScriptError {
  std::string file;
  int line = 0;  // 1-based; 0 when there is no position
  int column = 0;
  std::string path;  // where in the section: "routes.request[3].if.ruri.user"
  std::string message;

  // "file:line:column: path: message", the form of every configuration error.
  std::string toString() const;
};

class RoutingScript {
 public:
  RoutingScript(std::vector<std::unique_ptr<Route>> routes, const Route* request);
  ~RoutingScript();
  RoutingScript(const RoutingScript&) = delete;
  RoutingScript& operator=(const RoutingScript&) = delete;

  // Runs a new request through the route `request` (as a request route, at depth 0). When it
  // returns, ctx.finished() says whether a step answered, forwarded, relayed or dropped the
  // request; if none did, the route ran to its end and the proxy drops the request.
  void runRequest(MessageContext& ctx) const;

  // Runs a route a transaction armed (ctx.hooks() of an earlier run: a failure, reply or branch
  // route) as the route the message starts in: the context's route kind becomes route.kind(), its
  // depth 0. `route` must belong to this script: a transaction that holds hooks keeps the script
  // alive (its std::shared_ptr) until it ends, a reload notwithstanding. `ctx` is a fresh context
  // (not finished), with setReply() done for reply and failure routes, and the hooks that stay
  // armed (a failure route starts without on_failure, docs/routing.md).
  void runHook(const Route& route, MessageContext& ctx) const;

  // Goes on with a request whose script a step suspended (MessageContext::suspend): `frames` are
  // the context's resumeFrames() at that point, from a run of this script; `ctx` is a fresh
  // context restored to the state the script had left. When it returns, ctx.finished() and
  // ctx.suspended() mean what they mean after runRequest().
  void resume(MessageContext& ctx, std::vector<MessageContext::ResumeFrame> frames) const;

  // Any route, of any kind, by name (names are unique across kinds).
  const Route* findRoute(std::string_view name) const noexcept;
  // Every route's name, of every kind, in the order the section writes them.
  std::vector<std::string_view> routeNames() const;

 private:
  std::vector<std::unique_ptr<Route>> routes_;
  const Route* request_;
};

// Compiles the value of the `routes:` key. `file` is used in errors. Every error is collected, not
// only the first, in document order. Never throws.
Expected<std::shared_ptr<const RoutingScript>, std::vector<ScriptError>> compileRoutes(
    const YAML::Node& routes, std::string_view file, const StepRegistry& registry);

}  // namespace strowger::script

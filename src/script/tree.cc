#include "tree.h"

#include <spdlog/spdlog.h>

#include <string_view>

#include "strowger/sip/method.h"

namespace strowger::script {
namespace detail {
namespace {

// A composite's description shows its terms; a term that is itself composite gets parentheses.
std::string join(const std::vector<std::unique_ptr<const Condition>>& terms,
                 std::string_view separator) {
  std::string out;
  for (const auto& term : terms) {
    if (!out.empty()) out.append(separator);
    const std::string text = term->describe();
    const bool composite =
        text.find(" and ") != std::string::npos || text.find(" or ") != std::string::npos;
    if (composite) out += '(';
    out += text;
    if (composite) out += ')';
  }
  return out;
}

}  // namespace

void Block::run(MessageContext& ctx) const {
  runFrom(ctx, 0);
}

void Block::runFrom(MessageContext& ctx, std::size_t first) const {
  for (std::size_t i = first; i < steps_.size(); ++i) {
    const StepNode& step = steps_[i];
    if (Tracer* tracer = ctx.tracer(); tracer && !step.description.empty()) {
      std::string detail;
      step.action->explain(ctx, detail);
      if (detail.empty()) {
        tracer->step(step.description, step.line, ctx.routeDepth());
      } else {
        tracer->step(step.description + " (" + detail + ")", step.line, ctx.routeDepth());
      }
    }
    step.action->run(ctx);
    if (ctx.finished()) {
      // A suspended script goes on from the next step when it resumes (each enclosing list adds
      // its own place as the suspension unwinds through it).
      if (ctx.suspended()) {
        ctx.resumeFrames().push_back({this, static_cast<uint32_t>(i + 1)});
      }
      return;
    }
  }
}

void IfStep::run(MessageContext& ctx) const {
  const Branch& branch = condition_->test(ctx) ? then_ : else_;
  if (!branch.steps) return;
  if (Tracer* tracer = ctx.tracer()) {
    tracer->step(&branch == &then_ ? "then" : "else", branch.line, ctx.routeDepth());
  }
  branch.steps->run(ctx);
}

bool TracedCondition::test(MessageContext& ctx) const {
  const bool outcome = inner_->test(ctx);
  if (Tracer* tracer = ctx.tracer()) {
    tracer->condition(description_, outcome, line_, ctx.routeDepth());
  }
  return outcome;
}

bool AllOf::test(MessageContext& ctx) const {
  for (const auto& term : terms_) {
    if (!term->test(ctx)) return false;
  }
  return true;
}

std::string AllOf::describe() const {
  return join(terms_, " and ");
}

bool AnyOf::test(MessageContext& ctx) const {
  for (const auto& term : terms_) {
    if (term->test(ctx)) return true;
  }
  return false;
}

std::string AnyOf::describe() const {
  return join(terms_, " or ");
}

std::string NotOf::describe() const {
  const std::string text = term_->describe();
  const bool composite =
      text.find(" and ") != std::string::npos || text.find(" or ") != std::string::npos;
  return composite ? "not (" + text + ")" : "not " + text;
}

}  // namespace detail

std::string_view routeKindName(RouteKind kind) noexcept {
  switch (kind) {
    case RouteKind::kRequest:
      return "request";
    case RouteKind::kReply:
      return "reply";
    case RouteKind::kFailure:
      return "failure";
    case RouteKind::kBranch:
      return "branch";
  }
  return "request";
}

Route::Route(std::string name, RouteKind kind) : name_(std::move(name)), kind_(kind) {}
Route::~Route() = default;

void Route::setBody(std::unique_ptr<const Action> body) {
  body_ = std::move(body);
}

void Route::run(MessageContext& ctx) const {
  if (Tracer* tracer = ctx.tracer()) tracer->enterRoute(name_, ctx.routeDepth());
  if (body_) body_->run(ctx);
}

void Route::call(MessageContext& ctx, int line) const {
  const int depth = ctx.routeDepth();
  if (depth >= kMaxRouteDepth) {
    // Routes that call each other without end: a configuration mistake that only shows with some
    // messages. Answer rather than drop, so that the caller does not retransmit into it.
    const std::string_view callId = ctx.message().callId().valueOr(std::string_view{});
    spdlog::error(
        "call-id={} route {}: more than {} nested route calls (routes calling each other in a "
        "loop?); answered 500",
        callId, name_, kMaxRouteDepth);
    if (Tracer* tracer = ctx.tracer()) {
      tracer->step("route " + name_ + ": more than " + std::to_string(kMaxRouteDepth) +
                       " nested route calls; reply 500",
                   line, depth);
    }
    ctx.actions().reply(500, "Server Internal Error", {});
    ctx.finish();
    return;
  }
  ctx.setRouteDepth(depth + 1);
  run(ctx);
  ctx.setRouteDepth(depth);
}

}  // namespace strowger::script

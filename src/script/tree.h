// The compiled tree's structural nodes: a list of steps, `if`, and the condition operators. The
// registered steps are leaves; these hold them together and do the explain-mode tracing, so that a
// step needs to know nothing about it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "strowger/script/step.h"

namespace strowger::script::detail {

// One step of a list, with what explain mode prints for it.
struct StepNode {
  std::unique_ptr<const Action> action;
  std::string description;  // empty: not traced as a step (`if`)
  int line = 0;
};

// Runs its steps in order until one finishes the message.
class Block final : public Action {
 public:
  explicit Block(std::vector<StepNode> steps) : steps_(std::move(steps)) {}
  void run(MessageContext& ctx) const override;
  // Runs the steps from index `first` on (a resumed script).
  void runFrom(MessageContext& ctx, std::size_t first) const;
  std::string describe() const override { return {}; }

 private:
  std::vector<StepNode> steps_;
};

// A branch of an `if`, with the line of its `then` or `else` key for explain mode.
struct Branch {
  std::unique_ptr<const Action> steps;  // null: no such branch
  int line = 0;
};

class IfStep final : public Action {
 public:
  IfStep(std::unique_ptr<const Condition> condition, Branch then, Branch otherwise)
      : condition_(std::move(condition)), then_(std::move(then)), else_(std::move(otherwise)) {}
  void run(MessageContext& ctx) const override;
  std::string describe() const override { return {}; }

 private:
  std::unique_ptr<const Condition> condition_;
  Branch then_;
  Branch else_;
};

// Reports the outcome of the condition it wraps to the tracer.
class TracedCondition final : public Condition {
 public:
  TracedCondition(std::unique_ptr<const Condition> inner, std::string description, int line)
      : inner_(std::move(inner)), description_(std::move(description)), line_(line) {}
  bool test(MessageContext& ctx) const override;
  std::string describe() const override { return description_; }

 private:
  std::unique_ptr<const Condition> inner_;
  std::string description_;
  int line_;
};

// all / any: evaluated left to right, stopping at the first that decides.
class AllOf final : public Condition {
 public:
  explicit AllOf(std::vector<std::unique_ptr<const Condition>> terms) : terms_(std::move(terms)) {}
  bool test(MessageContext& ctx) const override;
  std::string describe() const override;

 private:
  std::vector<std::unique_ptr<const Condition>> terms_;
};

class AnyOf final : public Condition {
 public:
  explicit AnyOf(std::vector<std::unique_ptr<const Condition>> terms) : terms_(std::move(terms)) {}
  bool test(MessageContext& ctx) const override;
  std::string describe() const override;

 private:
  std::vector<std::unique_ptr<const Condition>> terms_;
};

class NotOf final : public Condition {
 public:
  explicit NotOf(std::unique_ptr<const Condition> term) : term_(std::move(term)) {}
  bool test(MessageContext& ctx) const override { return !term_->test(ctx); }
  std::string describe() const override;

 private:
  std::unique_ptr<const Condition> term_;
};

}  // namespace strowger::script::detail

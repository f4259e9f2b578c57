// The registry of step kinds: every action and every condition a routing script may name, with the
// factory that compiles its YAML parameters. The compiler knows no step by name; the built-in steps
// (registerBuiltinSteps) and, later, loadable modules add theirs here the same way.
//
// A factory runs at load time only. It reads its parameter node, reports every problem through the
// CompileContext (at the position of the offending node, saying what was expected), and returns a
// compiled, immutable step, or null when it reported an error. It must not keep the YAML node.
#pragma once

#include <yaml-cpp/yaml.h>

#include <functional>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "strowger/expected.h"
#include "strowger/script/step.h"
#include "strowger/script/value.h"

namespace strowger::script {

// What a factory may ask of the compiler while it reads its parameters.
class CompileContext {
 public:
  virtual ~CompileContext() = default;

  // The configuration file being compiled, for messages.
  virtual std::string_view file() const = 0;
  // The kind of route the step is compiled for.
  virtual RouteKind routeKind() const = 0;
  // The step's name as written: "ruri.param.transport" for the family "ruri.param.*".
  virtual std::string_view stepName() const = 0;

  // Reports an error at `node` (at the step itself when `node` has no position, as an empty
  // value has not). `message` says what was expected and what was found.
  virtual void error(const YAML::Node& node, std::string message) = 0;
  // Reports "expected EXPECTED, got <what node is>" at `node`.
  virtual void expected(const YAML::Node& node, std::string_view expected) = 0;

  // A value that may read message fields (`${ruri.user}`); `node` must be a scalar.
  virtual std::optional<Value> compileValue(const YAML::Node& node) = 0;
  // An ECMAScript regular expression from the scalar `node`, compiled here and never again.
  virtual std::optional<std::regex> compileRegex(const YAML::Node& node, bool ignoreCase) = 0;
  // The route `node` names, of any kind; it may be defined anywhere in the section, before or
  // after.
  virtual const Route* findRoute(const YAML::Node& node) = 0;
  // The route `node` names, which must be of `kind`: an unknown name is reported with the closest
  // name among the routes of that kind, a route of another kind with the kind it is.
  virtual const Route* findRoute(const YAML::Node& node, RouteKind kind) = 0;
  // A list of steps, for steps that run others (`not_found: [ ... ]`); runs them in order.
  virtual std::unique_ptr<const Action> compileSteps(const YAML::Node& node) = 0;
  // A mapping of conditions, as `if:` takes it (all keys must hold).
  virtual std::unique_ptr<const Condition> compileCondition(const YAML::Node& node) = 0;
};

using ActionFactory =
    std::function<std::unique_ptr<const Action>(const YAML::Node& params, CompileContext& ctx)>;
using ConditionFactory =
    std::function<std::unique_ptr<const Condition>(const YAML::Node& params, CompileContext& ctx)>;

// A step kind. `name` is lower case letters, digits, '_' and '.' ("forward", "registrar.save");
// a name ending in ".*" is a family that takes any suffix ("ruri.param.*"). A step written without
// parameters (`- record_route`) gets a null parameter node.
struct ActionSpec {
  std::string name;
  std::string usage;  // the accepted forms, for messages: "[CODE, REASON] or {code, reason}"
  RouteKinds routeKinds = RouteKind::kRequest;
  ActionFactory factory;
};

struct ConditionSpec {
  std::string name;
  std::string usage;
  RouteKinds routeKinds = RouteKind::kRequest;
  ConditionFactory factory;
};

class StepRegistry {
 public:
  // Refuses a name already registered (actions and conditions are separate name spaces:
  // `loose_route` is both), a malformed name, a name the script language reserves (if, then, else,
  // all, any, not), an empty set of route kinds and a missing factory.
  Expected<void, std::string> addAction(ActionSpec spec);
  Expected<void, std::string> addCondition(ConditionSpec spec);

  // Exact names first, then the family with the longest matching prefix.
  const ActionSpec* findAction(std::string_view name) const;
  const ConditionSpec* findCondition(std::string_view name) const;

  // The registered names, families written as "ruri.param.NAME", for suggestions and listings.
  std::vector<std::string> actionNames() const;
  std::vector<std::string> conditionNames() const;

  // A variable a module sets in the request's state (request_state.h) and values read as ${NAME}:
  // an exact name ("auth.user") or a family ending in ".*" ("dst.attr.*"). Refuses a malformed
  // name, one already registered and one the core's own variables use (docs/routing.md).
  Expected<void, std::string> addVariable(std::string name);
  // Whether `name` is a registered variable or in a registered family.
  bool hasVariable(std::string_view name) const;
  // The registered names, families written as "dst.attr.NAME", for suggestions.
  std::vector<std::string> variableNames() const;

  // Explains a step or condition name nobody registered, when the one who builds the registry
  // knows more than "unknown" (the daemon: "registrar.save belongs to the module registrar, which
  // the modules: section does not load"). Returns an empty string when it knows nothing.
  using UnknownStepExplainer = std::function<std::string(std::string_view name)>;
  void setUnknownStepExplainer(UnknownStepExplainer explainer) {
    explainUnknown_ = std::move(explainer);
  }
  std::string explainUnknown(std::string_view name) const {
    return explainUnknown_ ? explainUnknown_(name) : std::string();
  }

 private:
  std::vector<ActionSpec> actions_;
  std::vector<ConditionSpec> conditions_;
  std::vector<std::string> variables_;
  UnknownStepExplainer explainUnknown_;
};

// Adds the steps every Strowger has (docs/routing.md), from one explicit list in
// src/script/builtin_steps.cc. Fails only when one of their names is already taken.
Expected<void, std::string> registerBuiltinSteps(StepRegistry& registry);

// What a YAML node is, for "expected X, got Y": "\"text\"", "a list", "a mapping", "an empty
// value".
std::string describeNode(const YAML::Node& node);

}  // namespace strowger::script

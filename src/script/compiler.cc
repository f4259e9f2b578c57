// Compiles the `routes:` section: the script language's own structure (routes, step lists, `if`,
// `all`/`any`/`not`) is read here; every step and condition is looked up in the StepRegistry and
// compiled by its factory. Every error is collected with its position, then sorted into document
// order, so that an operator fixes the whole section in one round.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cassert>
#include <exception>
#include <map>
#include <utility>

#include "strowger/script/registry.h"
#include "strowger/script/script.h"
#include "text.h"
#include "tree.h"

namespace strowger::script {
namespace {

constexpr std::string_view kRequestRoute = "request";

// The keys of `routes:` that hold the routes a stateful relay runs later (RFC 3261 §16 hook
// points), each a mapping of named routes of that kind.
struct KindSection {
  std::string_view key;
  RouteKind kind;
};
constexpr std::array<KindSection, 3> kKindSections = {{
    {"failure", RouteKind::kFailure},
    {"reply", RouteKind::kReply},
    {"branch", RouteKind::kBranch},
}};

const KindSection* kindSection(std::string_view key) {
  for (const KindSection& section : kKindSections) {
    if (section.key == key) return &section;
  }
  return nullptr;
}

// "request routes", "request and failure routes", "request, failure and branch routes".
std::string kindsText(RouteKinds kinds) {
  std::vector<std::string_view> names;
  for (RouteKind kind :
       {RouteKind::kRequest, RouteKind::kFailure, RouteKind::kReply, RouteKind::kBranch}) {
    if (kinds.contains(kind)) names.push_back(routeKindName(kind));
  }
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += i + 1 == names.size() ? " and " : ", ";
    out += names[i];
  }
  return out + " routes";
}

constexpr std::string_view kIfForm = "{if: {CONDITIONS}, then: [STEPS], else: [STEPS]}";
constexpr std::string_view kConditionsForm =
    "a mapping of conditions such as {method: INVITE, has_to_tag: false}";

bool isRouteName(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
  });
}

constexpr std::size_t kMaxRegexBytes = 4096;
constexpr int kMaxRegexNesting = 32;
constexpr std::size_t kMaxCompiledNodes = 50000;
constexpr unsigned kMaxRegexRepeat = 1000;

// Whether the counts of a `{n}`, `{n,}` or `{n,m}` that starts at `at` (after the brace) are all
// at most kMaxRegexRepeat. Text that is not a count (a literal brace) passes.
bool repeatCountBounded(std::string_view pattern, std::size_t at) {
  unsigned value = 0;
  bool inNumber = false;
  for (; at < pattern.size(); ++at) {
    const char c = pattern[at];
    if (c >= '0' && c <= '9') {
      value =
          inNumber ? value * 10 + static_cast<unsigned>(c - '0') : static_cast<unsigned>(c - '0');
      inNumber = true;
      if (value > kMaxRegexRepeat) return false;
    } else if (c == ',') {
      inNumber = false;
    } else {
      return true;  // '}' ends the count; anything else means the brace is not a quantifier
    }
  }
  return true;
}

class Compiler final : public CompileContext {
 public:
  Compiler(std::string_view file, const StepRegistry& registry)
      : file_(file), registry_(registry) {}

  std::shared_ptr<const RoutingScript> compile(const YAML::Node& routes);

  std::vector<ScriptError> takeErrors() {
    std::stable_sort(errors_.begin(), errors_.end(),
                     [](const ScriptError& a, const ScriptError& b) {
                       return std::pair(a.line, a.column) < std::pair(b.line, b.column);
                     });
    return std::move(errors_);
  }

  // --- CompileContext ---
  std::string_view file() const override { return file_; }
  RouteKind routeKind() const override { return kind_; }
  std::string_view stepName() const override { return stepName_; }

  void error(const YAML::Node& node, std::string message) override {
    report(markOf(node), std::move(message));
  }

  void expected(const YAML::Node& node, std::string_view what) override {
    error(node, "expected " + std::string(what) + ", got " + describeNode(node));
  }

  std::optional<Value> compileValue(const YAML::Node& node) override {
    if (!node.IsScalar()) {
      expected(node, "a string");
      return std::nullopt;
    }
    Expected<Value, std::string> value = Value::compile(node.Scalar(), &registry_);
    if (!value) {
      error(node, value.error());
      return std::nullopt;
    }
    return std::move(value).value();
  }

  std::optional<std::regex> compileRegex(const YAML::Node& node, bool ignoreCase) override {
    if (!node.IsScalar()) {
      expected(node, "a regular expression in quotes");
      return std::nullopt;
    }
    // std::regex compiles (and matches) by recursion: a pattern nested deep enough overflows the
    // stack, so a config being checked or reloaded could kill the daemon. Bound it first.
    const std::string& pattern = node.Scalar();
    if (pattern.size() > kMaxRegexBytes) {
      error(node, "regular expression longer than " + std::to_string(kMaxRegexBytes) + " bytes");
      return std::nullopt;
    }
    int depth = 0;
    int deepest = 0;
    bool inClass = false;
    for (std::size_t i = 0; i < pattern.size(); ++i) {
      const char c = pattern[i];
      if (c == '\\') {
        ++i;
      } else if (inClass) {
        inClass = c != ']';
      } else if (c == '[') {
        inClass = true;
      } else if (c == '(') {
        deepest = std::max(deepest, ++depth);
      } else if (c == ')') {
        --depth;
      } else if (c == '{' && !repeatCountBounded(pattern, i + 1)) {
        // libstdc++ reads a repeat count into a long without checking for overflow (undefined
        // behaviour), and copies the repeated part once per count: bound it here.
        error(node, "regular expression repeats more than " + std::to_string(kMaxRegexRepeat) +
                        " times (a {n,m} count above " + std::to_string(kMaxRegexRepeat) + ")");
        return std::nullopt;
      }
    }
    if (deepest > kMaxRegexNesting) {
      error(node, "regular expression nests groups deeper than " +
                      std::to_string(kMaxRegexNesting) + " levels");
      return std::nullopt;
    }
    auto flags = std::regex::ECMAScript | std::regex::optimize;
    if (ignoreCase) flags |= std::regex::icase;
    try {
      return std::regex(node.Scalar(), flags);
    } catch (const std::regex_error& e) {
      error(node,
            "invalid regular expression " + detail::inQuotes(node.Scalar()) + ": " + e.what());
    }
    return std::nullopt;
  }

  const Route* findRoute(const YAML::Node& node) override { return lookUpRoute(node, nullptr); }

  const Route* findRoute(const YAML::Node& node, RouteKind kind) override {
    return lookUpRoute(node, &kind);
  }

  std::unique_ptr<const Action> compileSteps(const YAML::Node& node) override;
  std::unique_ptr<const Condition> compileCondition(const YAML::Node& node) override;

 private:
  // Where the compiler is: the path for messages, the position of the node being read (used for
  // nodes that have none), the step name. Restored when the scope ends.
  class Scope {
   public:
    Scope(Compiler& c, std::string_view pathPart, const YAML::Mark& mark)
        : c_(c), pathLength_(c.path_.size()), mark_(c.mark_), stepName_(c.stepName_) {
      c.path_.append(pathPart);
      if (!mark.is_null()) c.mark_ = mark;
    }
    Scope(Compiler& c, std::string_view pathPart, const YAML::Mark& mark, std::string_view name)
        : Scope(c, pathPart, mark) {
      c.stepName_ = std::string(name);
    }
    ~Scope() {
      c_.path_.resize(pathLength_);
      c_.mark_ = mark_;
      c_.stepName_ = std::move(stepName_);
    }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    Compiler& c_;
    std::size_t pathLength_;
    YAML::Mark mark_;
    std::string stepName_;
  };

  // yaml-cpp gives an empty value the position of the next token, often on another line; the
  // enclosing key is where the operator will look.
  YAML::Mark markOf(const YAML::Node& node) const {
    if (!node.IsDefined() || node.IsNull()) return mark_;
    const YAML::Mark mark = node.Mark();
    return mark.is_null() ? mark_ : mark;
  }

  void report(const YAML::Mark& mark, std::string message) {
    ScriptError e;
    e.file = file_;
    if (!mark.is_null()) {
      e.line = mark.line + 1;
      e.column = mark.column + 1;
    }
    e.path = path_;
    e.message = std::move(message);
    errors_.push_back(std::move(e));
  }

  static int lineOf(const YAML::Mark& mark) { return mark.is_null() ? 0 : mark.line + 1; }

  // YAML aliases (*name) are expanded at every use, so a few hundred bytes of them can stand for
  // millions of steps: compiling stops, with one error, past a bound no real script comes near.
  bool withinBudget(const YAML::Node& node) {
    if (++compiledNodes_ <= kMaxCompiledNodes) return true;
    if (!overBudget_) {
      overBudget_ = true;
      error(node, "the routing script is too large: more than " +
                      std::to_string(kMaxCompiledNodes) +
                      " steps and conditions (YAML aliases count at every use)");
    }
    return false;
  }

  // A route named by `node`: of any kind when `kind` is null.
  const Route* lookUpRoute(const YAML::Node& node, const RouteKind* kind) {
    if (!node.IsScalar()) {
      expected(node, kind ? "the name of a " + std::string(routeKindName(*kind)) + " route"
                          : std::string("a route name"));
      return nullptr;
    }
    const std::string& wanted = node.Scalar();
    const auto found = routes_.find(wanted);
    if (found != routes_.end()) {
      const Route* route = found->second.route;
      if (!kind || route->kind() == *kind) return route;
      error(node, detail::inQuotes(wanted) + " is a " + std::string(routeKindName(route->kind())) +
                      " route; expected a " + std::string(routeKindName(*kind)) + " route" +
                      routesOfKind(*kind));
      return nullptr;
    }
    std::vector<std::string_view> names;
    for (const auto& [name, declared] : routes_) {
      if (!kind || declared.route->kind() == *kind) names.push_back(name);
    }
    std::string hint = detail::didYouMean(wanted, names);
    if (hint.empty())
      hint = kind ? routesOfKind(*kind) : "; the routes are " + detail::listOf(names);
    const std::string what = kind ? std::string(routeKindName(*kind)) + " route " : "route ";
    error(node, "unknown " + what + detail::inQuotes(wanted) + hint);
    return nullptr;
  }

  // "; the failure routes are a, b", or where to define one when there is none.
  std::string routesOfKind(RouteKind kind) const {
    std::vector<std::string_view> names;
    for (const auto& [name, declared] : routes_) {
      if (declared.route->kind() == kind) names.push_back(name);
    }
    const std::string kindName(routeKindName(kind));
    if (!names.empty()) return "; the " + kindName + " routes are " + detail::listOf(names);
    if (kind == RouteKind::kRequest) return {};
    return "; there are none: define one under routes." + kindName;
  }

  // Reports at `node` with `path` as the place in the section, whatever the current scope's is.
  void errorAt(std::string path, const YAML::Node& node, std::string message) {
    path_.swap(path);
    error(node, std::move(message));
    path_.swap(path);
  }

  void declareRoute(const YAML::Node& key, const YAML::Node& body, RouteKind kind, std::string path,
                    std::vector<std::unique_ptr<Route>>& owned);

  std::optional<detail::StepNode> compileStep(const YAML::Node& item);
  std::optional<detail::StepNode> compileIf(const YAML::Node& item);
  std::optional<detail::StepNode> compileAction(const std::string& name, const YAML::Node& key,
                                                const YAML::Node& params);
  std::unique_ptr<const Condition> compileConditionEntry(const YAML::Node& key,
                                                         const YAML::Node& value);
  std::unique_ptr<const Condition> compileTerms(const YAML::Node& list, bool all);

  std::string file_;
  const StepRegistry& registry_;
  std::vector<ScriptError> errors_;
  std::string path_ = "routes";
  YAML::Mark mark_ = YAML::Mark::null_mark();
  std::string stepName_;
  RouteKind kind_ = RouteKind::kRequest;
  // Every route by name, with where it is defined and its body, in the order written.
  struct Declared {
    Route* route = nullptr;
    YAML::Node key;
    YAML::Node body;
    std::string path;  // "routes.failure.to_voicemail"
    std::size_t order = 0;
  };
  std::map<std::string, Declared, std::less<>> routes_;
  std::size_t compiledNodes_ = 0;
  bool overBudget_ = false;
};

std::shared_ptr<const RoutingScript> Compiler::compile(const YAML::Node& routes) {
  mark_ = markOf(routes);
  if (!routes.IsMap()) {
    expected(routes, "a mapping of named routes, with at least \"request\"");
    return nullptr;
  }
  // First every name, so that a route may name one defined further down.
  std::vector<std::unique_ptr<Route>> owned;
  for (const auto& pair : routes) {
    const YAML::Node& key = pair.first;
    const KindSection* section = key.IsScalar() ? kindSection(key.Scalar()) : nullptr;
    if (!section) {
      declareRoute(key, pair.second, RouteKind::kRequest, "routes", owned);
      continue;
    }
    const YAML::Node& kindRoutes = pair.second;
    const std::string kindName(section->key);
    Scope scope(*this, "." + kindName, key.Mark());
    if (kindRoutes.IsNull()) continue;
    if (!kindRoutes.IsMap()) {
      const std::string form =
          "a mapping of named " + kindName + " routes, such as {NAME: [STEPS], ...}";
      if (kindRoutes.IsSequence()) {
        error(kindRoutes, "expected " + form + ", got a list; each " + kindName +
                              " route has a name, by which on_" + kindName + " arms it");
      } else {
        expected(kindRoutes, form);
      }
      continue;
    }
    for (const auto& inner : kindRoutes) {
      declareRoute(inner.first, inner.second, section->kind, "routes." + kindName, owned);
    }
  }
  const auto request = routes_.find(kRequestRoute);
  if (request == routes_.end()) {
    error(routes, "missing the \"request\" route, where every request starts");
  }
  std::vector<const Declared*> inOrder;
  for (const auto& [name, declared] : routes_)
    inOrder.push_back(&declared);
  std::sort(inOrder.begin(), inOrder.end(),
            [](const Declared* a, const Declared* b) { return a->order < b->order; });
  for (const Declared* declared : inOrder) {
    kind_ = declared->route->kind();
    std::string outer = std::exchange(path_, declared->path);
    {
      Scope scope(*this, "", declared->key.Mark());
      if (!declared->body.IsNull() && !declared->body.IsSequence()) {
        expected(declared->body, "a list of steps");
      } else {
        declared->route->setBody(compileSteps(declared->body));
      }
    }
    path_ = std::move(outer);
  }
  if (!errors_.empty()) return nullptr;
  return std::make_shared<const RoutingScript>(std::move(owned), request->second.route);
}

void Compiler::declareRoute(const YAML::Node& key, const YAML::Node& body, RouteKind kind,
                            std::string path, std::vector<std::unique_ptr<Route>>& owned) {
  if (!key.IsScalar() || !isRouteName(key.Scalar())) {
    error(key, "expected a route name (letters, digits, '_', '-', '.'), got " + describeNode(key));
    return;
  }
  const std::string& name = key.Scalar();
  path += "." + name;
  if (const auto previous = routes_.find(name); previous != routes_.end()) {
    const Declared& first = previous->second;
    const int firstLine = lineOf(first.key.Mark());
    const RouteKind firstKind = first.route->kind();
    if (firstKind == kind) {
      errorAt(std::move(path), key,
              "route defined twice (first at line " + std::to_string(firstLine) + ")");
    } else {
      errorAt(std::move(path), key,
              "route name already taken by the " + std::string(routeKindName(firstKind)) +
                  " route at line " + std::to_string(firstLine) +
                  "; route names are unique across route kinds");
    }
    return;
  }
  // Inside a kind's section, the kind names would read as the sections themselves.
  if (kind != RouteKind::kRequest && (name == kRequestRoute || kindSection(name))) {
    errorAt(
        std::move(path), key,
        "the name " + detail::inQuotes(name) + " is the name of a route kind; choose another name");
    return;
  }
  owned.push_back(std::make_unique<Route>(name, kind));
  routes_.emplace(name, Declared{owned.back().get(), key, body, std::move(path), owned.size()});
}

std::unique_ptr<const Action> Compiler::compileSteps(const YAML::Node& node) {
  std::vector<detail::StepNode> steps;
  if (node.IsSequence()) {
    std::size_t index = 0;
    for (const YAML::Node& item : node) {
      Scope scope(*this, "[" + std::to_string(index++) + "]", markOf(item));
      if (std::optional<detail::StepNode> step = compileStep(item)) {
        steps.push_back(std::move(*step));
      }
    }
  } else if (!node.IsNull()) {
    expected(node, "a list of steps, such as [ record_route, forward ]");
  }
  return std::make_unique<detail::Block>(std::move(steps));
}

std::optional<detail::StepNode> Compiler::compileStep(const YAML::Node& item) {
  if (!withinBudget(item)) return std::nullopt;
  if (item.IsScalar()) return compileAction(item.Scalar(), item, YAML::Node());
  if (item.IsMap()) {
    for (const auto& pair : item) {
      const YAML::Node& key = pair.first;
      if (key.IsScalar() &&
          (key.Scalar() == "if" || key.Scalar() == "then" || key.Scalar() == "else")) {
        return compileIf(item);
      }
    }
    if (item.size() != 1) {
      std::vector<std::string_view> keys;
      for (const auto& pair : item) {
        if (pair.first.IsScalar()) keys.push_back(pair.first.Scalar());
      }
      error(item, "a step is one name with its parameters, but this one has " +
                      std::to_string(item.size()) + " (" + detail::listOf(keys) +
                      "); start each step with its own \"- \"");
      return std::nullopt;
    }
    const auto pair = *item.begin();
    if (!pair.first.IsScalar()) {
      expected(pair.first, "a step name");
      return std::nullopt;
    }
    return compileAction(pair.first.Scalar(), pair.first, pair.second);
  }
  expected(item, "a step: a name such as forward, {name: parameters}, or " + std::string(kIfForm));
  return std::nullopt;
}

std::optional<detail::StepNode> Compiler::compileAction(const std::string& name,
                                                        const YAML::Node& key,
                                                        const YAML::Node& params) {
  Scope scope(*this, "." + name, markOf(key), name);
  const ActionSpec* spec = registry_.findAction(name);
  if (!spec) {
    if (registry_.findCondition(name) || name == "all" || name == "any" || name == "not") {
      error(key, detail::inQuotes(name) +
                     " is a condition; conditions go in an if step: " + std::string(kIfForm));
      return std::nullopt;
    }
    if (std::string why = registry_.explainUnknown(name); !why.empty()) {
      error(key, "unknown step " + detail::inQuotes(name) + ": " + why);
      return std::nullopt;
    }
    const std::vector<std::string> names = registry_.actionNames();
    const std::vector<std::string_view> views(names.begin(), names.end());
    std::string hint = detail::didYouMean(name, views);
    if (hint.empty()) hint = "; expected one of " + detail::listOf(views) + ", or an if";
    error(key, "unknown step " + detail::inQuotes(name) + hint);
    return std::nullopt;
  }
  if (!spec->routeKinds.contains(kind_)) {
    error(key, detail::inQuotes(name) + " may not be used in a " +
                   std::string(routeKindName(kind_)) + " route, only in " +
                   kindsText(spec->routeKinds));
    return std::nullopt;
  }
  const std::size_t before = errors_.size();
  std::unique_ptr<const Action> action;
  try {
    action = spec->factory(params, *this);
  } catch (const std::exception& e) {
    // A module's factory is not supposed to throw; report it where the operator can act on it.
    error(params, "could not be read: " + std::string(e.what()));
    return std::nullopt;
  }
  if (!action) {
    if (errors_.size() == before) error(params, "expected " + spec->usage);
    return std::nullopt;
  }
  std::string description = action->describe();
  return detail::StepNode{std::move(action), std::move(description), lineOf(markOf(key))};
}

std::optional<detail::StepNode> Compiler::compileIf(const YAML::Node& item) {
  std::optional<std::pair<YAML::Node, YAML::Node>> condition;
  std::optional<std::pair<YAML::Node, YAML::Node>> then;
  std::optional<std::pair<YAML::Node, YAML::Node>> otherwise;
  bool ok = true;
  for (const auto& pair : item) {
    const std::string key = pair.first.IsScalar() ? pair.first.Scalar() : std::string();
    auto* slot = key == "if"     ? &condition
                 : key == "then" ? &then
                 : key == "else" ? &otherwise
                                 : nullptr;
    if (!slot) {
      static constexpr std::array<std::string_view, 3> kKeys = {"if", "then", "else"};
      std::string hint = detail::didYouMean(key, kKeys);
      if (hint.empty()) hint = "; an if step is " + std::string(kIfForm);
      error(pair.first, "unknown key " + detail::inQuotes(key) + " in an if step" + hint);
      ok = false;
      continue;
    }
    if (*slot) {
      error(pair.first, detail::inQuotes(key) + " given twice in one if step (first at line " +
                            std::to_string(lineOf((*slot)->first.Mark())) + ")");
      ok = false;
      continue;
    }
    *slot = std::pair(pair.first, pair.second);
  }
  if (!condition) {
    const YAML::Node& stray = then ? then->first : otherwise->first;
    error(stray, detail::inQuotes(stray.Scalar()) + " without \"if\"; an if step is " +
                     std::string(kIfForm));
    return std::nullopt;
  }
  if (!then) {
    error(condition->first, "\"if\" without \"then\"; an if step is " + std::string(kIfForm));
    ok = false;
  }
  std::unique_ptr<const Condition> test;
  {
    Scope scope(*this, ".if", markOf(condition->first));
    test = compileCondition(condition->second);
  }
  detail::Branch thenBranch;
  detail::Branch elseBranch;
  for (auto [branch, source, name] :
       {std::tuple(&thenBranch, &then, ".then"), std::tuple(&elseBranch, &otherwise, ".else")}) {
    if (!*source) continue;
    const auto& [key, body] = **source;
    Scope scope(*this, name, markOf(key));
    if (!body.IsSequence()) {
      expected(body, "a list of steps, such as [ forward ]");
      ok = false;
      continue;
    }
    branch->steps = compileSteps(body);
    branch->line = lineOf(markOf(key));
  }
  if (!ok || !test) return std::nullopt;
  return detail::StepNode{std::make_unique<detail::IfStep>(std::move(test), std::move(thenBranch),
                                                           std::move(elseBranch)),
                          {},
                          lineOf(markOf(condition->first))};
}

std::unique_ptr<const Condition> Compiler::compileCondition(const YAML::Node& node) {
  if (!withinBudget(node)) return nullptr;
  if (!node.IsMap() || node.size() == 0) {
    if (node.IsSequence()) {
      error(node, "expected " + std::string(kConditionsForm) +
                      ", got a list; conditions that must all hold go in one mapping, or use "
                      "all: [...] or any: [...]");
    } else {
      expected(node, kConditionsForm);
    }
    return nullptr;
  }
  std::vector<std::unique_ptr<const Condition>> terms;
  std::vector<std::pair<std::string, int>> seen;
  bool ok = true;
  for (const auto& pair : node) {
    if (!pair.first.IsScalar()) {
      expected(pair.first, "a condition name");
      ok = false;
      continue;
    }
    const std::string& key = pair.first.Scalar();
    const auto same =
        std::find_if(seen.begin(), seen.end(), [&](const auto& s) { return s.first == key; });
    if (same != seen.end()) {
      error(pair.first, detail::inQuotes(key) + " given twice (first at line " +
                            std::to_string(same->second) + "); use all: [...] to test it twice");
      ok = false;
      continue;
    }
    seen.emplace_back(key, lineOf(markOf(pair.first)));
    if (std::unique_ptr<const Condition> term = compileConditionEntry(pair.first, pair.second)) {
      terms.push_back(std::move(term));
    } else {
      ok = false;
    }
  }
  if (!ok) return nullptr;
  if (terms.size() == 1) return std::move(terms.front());
  auto all = std::make_unique<detail::AllOf>(std::move(terms));
  std::string description = all->describe();
  return std::make_unique<detail::TracedCondition>(std::move(all), std::move(description),
                                                   lineOf(markOf(node)));
}

std::unique_ptr<const Condition> Compiler::compileTerms(const YAML::Node& list, bool all) {
  if (!list.IsSequence() || list.size() == 0) {
    expected(list, "a list of condition mappings, such as [ {method: INVITE}, {method: BYE} ]");
    return nullptr;
  }
  std::vector<std::unique_ptr<const Condition>> terms;
  bool ok = true;
  std::size_t index = 0;
  for (const YAML::Node& item : list) {
    Scope scope(*this, "[" + std::to_string(index++) + "]", markOf(item));
    if (std::unique_ptr<const Condition> term = compileCondition(item)) {
      terms.push_back(std::move(term));
    } else {
      ok = false;
    }
  }
  if (!ok) return nullptr;
  if (all) return std::make_unique<detail::AllOf>(std::move(terms));
  return std::make_unique<detail::AnyOf>(std::move(terms));
}

std::unique_ptr<const Condition> Compiler::compileConditionEntry(const YAML::Node& key,
                                                                 const YAML::Node& value) {
  const std::string& name = key.Scalar();
  Scope scope(*this, "." + name, markOf(key), name);
  const int line = lineOf(markOf(key));
  std::unique_ptr<const Condition> condition;
  if (name == "all" || name == "any") {
    condition = compileTerms(value, name == "all");
  } else if (name == "not") {
    if (std::unique_ptr<const Condition> term = compileCondition(value)) {
      condition = std::make_unique<detail::NotOf>(std::move(term));
    }
  } else {
    const ConditionSpec* spec = registry_.findCondition(name);
    if (!spec) {
      if (registry_.findAction(name)) {
        error(key, detail::inQuotes(name) +
                       " is an action, not a condition; actions go in then: or else:");
        return nullptr;
      }
      if (std::string why = registry_.explainUnknown(name); !why.empty()) {
        error(key, "unknown condition " + detail::inQuotes(name) + ": " + why);
        return nullptr;
      }
      std::vector<std::string> names = registry_.conditionNames();
      names.insert(names.end(), {"all", "any", "not"});
      const std::vector<std::string_view> views(names.begin(), names.end());
      std::string hint = detail::didYouMean(name, views);
      if (hint.empty()) hint = "; expected one of " + detail::listOf(views);
      error(key, "unknown condition " + detail::inQuotes(name) + hint);
      return nullptr;
    }
    if (!spec->routeKinds.contains(kind_)) {
      error(key, detail::inQuotes(name) + " may not be used in a " +
                     std::string(routeKindName(kind_)) + " route, only in " +
                     kindsText(spec->routeKinds));
      return nullptr;
    }
    const std::size_t before = errors_.size();
    try {
      condition = spec->factory(value, *this);
    } catch (const std::exception& e) {
      error(value, "could not be read: " + std::string(e.what()));
      return nullptr;
    }
    if (!condition && errors_.size() == before) error(value, "expected " + spec->usage);
  }
  if (!condition) return nullptr;
  std::string description = condition->describe();
  return std::make_unique<detail::TracedCondition>(std::move(condition), std::move(description),
                                                   line);
}

}  // namespace

std::string ScriptError::toString() const {
  std::string out = file;
  if (line > 0) out += ":" + std::to_string(line) + ":" + std::to_string(column);
  out += ": ";
  if (!path.empty()) out += path + ": ";
  out += message;
  return out;
}

RoutingScript::RoutingScript(std::vector<std::unique_ptr<Route>> routes, const Route* request)
    : routes_(std::move(routes)), request_(request) {}

RoutingScript::~RoutingScript() = default;

void RoutingScript::runRequest(MessageContext& ctx) const {
  ctx.setRouteKind(RouteKind::kRequest);
  ctx.setRouteDepth(0);
  request_->run(ctx);
}

void RoutingScript::runHook(const Route& route, MessageContext& ctx) const {
  assert(findRoute(route.name()) == &route);
  assert(!ctx.finished());
  ctx.setRouteKind(route.kind());
  ctx.setRouteDepth(0);
  route.run(ctx);
}

void RoutingScript::resume(MessageContext& ctx,
                           std::vector<MessageContext::ResumeFrame> frames) const {
  ctx.setRouteKind(RouteKind::kRequest);
  for (std::size_t i = 0; i < frames.size(); ++i) {
    // Every frame is a step list of this script (only Block records frames).
    static_cast<const detail::Block*>(frames[i].steps)->runFrom(ctx, frames[i].next);
    if (ctx.finished()) {
      if (ctx.suspended()) {
        // Suspended again: after the inner lists that just unwound come the outer ones still
        // waiting.
        auto& now = ctx.resumeFrames();
        now.insert(now.end(), frames.begin() + static_cast<std::ptrdiff_t>(i) + 1, frames.end());
      }
      return;
    }
  }
}

const Route* RoutingScript::findRoute(std::string_view name) const noexcept {
  for (const auto& route : routes_) {
    if (route->name() == name) return route.get();
  }
  return nullptr;
}

std::vector<std::string_view> RoutingScript::routeNames() const {
  std::vector<std::string_view> names;
  for (const auto& route : routes_)
    names.push_back(route->name());
  return names;
}

Expected<std::shared_ptr<const RoutingScript>, std::vector<ScriptError>> compileRoutes(
    const YAML::Node& routes, std::string_view file, const StepRegistry& registry) {
  Compiler compiler(file, registry);
  std::shared_ptr<const RoutingScript> script;
  try {
    script = compiler.compile(routes);
  } catch (const std::exception& e) {
    // yaml-cpp throws on misuse of a node; nothing above should, but a configuration must never
    // take the daemon down.
    compiler.error(YAML::Node(), std::string("could not be compiled: ") + e.what());
  }
  std::vector<ScriptError> errors = compiler.takeErrors();
  if (!errors.empty() || !script) {
    if (errors.empty())
      errors.push_back(ScriptError{std::string(file), 0, 0, "routes", "could not be compiled"});
    return unexpected(std::move(errors));
  }
  return script;
}

}  // namespace strowger::script

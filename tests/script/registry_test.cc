// The StepRegistry, and steps registered the way loadable modules will register theirs.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <stdexcept>

#include "strowger/script/registry.h"
#include "test_support.h"

namespace strowger::script::test {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;

class NoOp final : public Action {
 public:
  void run(MessageContext&) const override {}
  std::string describe() const override { return "noop"; }
};

class Always final : public Condition {
 public:
  bool test(MessageContext&) const override { return true; }
  std::string describe() const override { return "always"; }
};

ActionSpec noOp(std::string name, RouteKinds kinds = RouteKind::kRequest) {
  return ActionSpec{std::move(name), "nothing", kinds,
                    [](const YAML::Node&, CompileContext&) { return std::make_unique<NoOp>(); }};
}

ConditionSpec always(std::string name) {
  return ConditionSpec{
      std::move(name), "true", RouteKind::kRequest,
      [](const YAML::Node&, CompileContext&) { return std::make_unique<Always>(); }};
}

TEST(ScriptRegistry, RouteKindsAreABitmask) {
  const RouteKinds requestAndFailure = RouteKind::kRequest | RouteKind::kFailure;
  EXPECT_TRUE(requestAndFailure.contains(RouteKind::kRequest));
  EXPECT_TRUE(requestAndFailure.contains(RouteKind::kFailure));
  EXPECT_FALSE(requestAndFailure.contains(RouteKind::kReply));
  EXPECT_TRUE(RouteKinds().empty());
  EXPECT_TRUE(RouteKinds::all().contains(RouteKind::kBranch));
  EXPECT_EQ(routeKindName(RouteKind::kFailure), "failure");
}

TEST(ScriptRegistry, DuplicatesAreRefused) {
  StepRegistry registry;
  ASSERT_TRUE(registerBuiltinSteps(registry));
  Expected<void, std::string> again = registerBuiltinSteps(registry);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error(), "condition method is already registered");
  EXPECT_EQ(registry.addAction(noOp("forward")).error(), "action forward is already registered");
  EXPECT_EQ(registry.addCondition(always("src_ip")).error(),
            "condition src_ip is already registered");
  // Actions and conditions are separate name spaces.
  EXPECT_TRUE(registry.addCondition(always("record_route")));
}

TEST(ScriptRegistry, NamesAreChecked) {
  StepRegistry registry;
  EXPECT_EQ(
      registry.addAction(noOp("Forward")).error(),
      "step name \"Forward\" must be lower-case letters, digits, '_' and '.', starting with a "
      "letter");
  EXPECT_FALSE(registry.addAction(noOp("")));
  EXPECT_FALSE(registry.addAction(noOp("auth.")));
  EXPECT_FALSE(registry.addAction(noOp("1st")));
  EXPECT_EQ(registry.addAction(noOp("if")).error(),
            "step name \"if\" is a word of the script language");
  EXPECT_EQ(registry.addCondition(always("not")).error(),
            "step name \"not\" is a word of the script language");
  EXPECT_EQ(registry.addAction(noOp("x", RouteKinds())).error(),
            "action x may run in no kind of route");
  EXPECT_EQ(registry.addAction(ActionSpec{"y", "", RouteKind::kRequest, nullptr}).error(),
            "action y has no factory");
  EXPECT_TRUE(registry.addAction(noOp("registrar.save")));
  EXPECT_TRUE(registry.addAction(noOp("dispatcher.select_2")));
}

TEST(ScriptRegistry, FamiliesMatchBySuffix) {
  StepRegistry registry;
  ASSERT_TRUE(registerBuiltinSteps(registry));
  ASSERT_NE(registry.findCondition("ruri.param.transport"), nullptr);
  EXPECT_EQ(registry.findCondition("ruri.param.transport")->name, "ruri.param.*");
  EXPECT_EQ(registry.findCondition("ruri.param."), nullptr);
  EXPECT_EQ(registry.findCondition("ruri.params.x"), nullptr);
  EXPECT_EQ(registry.findCondition("ruri.user")->name, "ruri.user");
  EXPECT_THAT(registry.conditionNames(), Contains("ruri.param.NAME"));
  EXPECT_THAT(registry.actionNames(), Contains("set_next_hop"));
}

// A step that reads its own parameters and nests steps and conditions, as a module would.
class Lookup final : public Action {
 public:
  Lookup(std::unique_ptr<const Condition> when, std::unique_ptr<const Action> notFound)
      : when_(std::move(when)), notFound_(std::move(notFound)) {}
  void run(MessageContext& ctx) const override {
    if (when_->test(ctx)) notFound_->run(ctx);
  }
  std::string describe() const override { return "test.lookup"; }

 private:
  std::unique_ptr<const Condition> when_;
  std::unique_ptr<const Action> notFound_;
};

StepRegistry moduleRegistry() {
  StepRegistry registry;
  EXPECT_TRUE(registerBuiltinSteps(registry));
  EXPECT_TRUE(registry.addAction(ActionSpec{
      "test.lookup", "{when: {CONDITIONS}, not_found: [STEPS]}", RouteKind::kRequest,
      [](const YAML::Node& params, CompileContext& ctx) -> std::unique_ptr<const Action> {
        if (!params.IsMap()) {
          ctx.expected(params, "{when: {CONDITIONS}, not_found: [STEPS]}");
          return nullptr;
        }
        std::unique_ptr<const Condition> when;
        std::unique_ptr<const Action> notFound;
        for (const auto& pair : params) {
          if (pair.first.Scalar() == "when") when = ctx.compileCondition(pair.second);
          if (pair.first.Scalar() == "not_found") notFound = ctx.compileSteps(pair.second);
        }
        if (!when || !notFound) return nullptr;
        return std::make_unique<Lookup>(std::move(when), std::move(notFound));
      }}));
  EXPECT_TRUE(registry.addAction(noOp("test.reply_only", RouteKind::kReply)));
  EXPECT_TRUE(registry.addAction(
      ActionSpec{"test.silent", "SOMETHING", RouteKind::kRequest,
                 [](const YAML::Node&, CompileContext&) -> std::unique_ptr<const Action> {
                   return nullptr;
                 }}));
  EXPECT_TRUE(registry.addAction(
      ActionSpec{"test.throws", "X", RouteKind::kRequest,
                 [](const YAML::Node&, CompileContext&) -> std::unique_ptr<const Action> {
                   throw std::runtime_error("boom");
                 }}));
  EXPECT_TRUE(registry.addAction(ActionSpec{
      "test.name", "X", RouteKind::kRequest,
      [](const YAML::Node& params, CompileContext& ctx) -> std::unique_ptr<const Action> {
        ctx.error(params, "I am " + std::string(ctx.stepName()) + " in a " +
                              std::string(routeKindName(ctx.routeKind())) + " route of " +
                              std::string(ctx.file()));
        return nullptr;
      }}));
  EXPECT_TRUE(registry.addAction(ActionSpec{
      "test.kind", "X", RouteKinds::all(),
      [](const YAML::Node& params, CompileContext& ctx) -> std::unique_ptr<const Action> {
        ctx.error(params,
                  "compiled for a " + std::string(routeKindName(ctx.routeKind())) + " route");
        return nullptr;
      }}));
  return registry;
}

std::vector<std::string> moduleErrors(std::string_view yaml) {
  const StepRegistry registry = moduleRegistry();
  auto script = compileWith(yaml, registry);
  std::vector<std::string> out;
  if (script) return out;
  for (const ScriptError& e : script.error())
    out.push_back(e.toString());
  return out;
}

TEST(ScriptRegistry, ModuleStepsCompileNestedStepsAndConditions) {
  const StepRegistry registry = moduleRegistry();
  auto script = compileWith(R"(routes:
  request:
    - test.lookup:
        when: { method: INVITE }
        not_found: [ { reply: [404, "Not Found"] } ]
    - forward
)",
                            registry);
  ASSERT_TRUE(script) << script.error().front().toString();
  TestRequest r(invite());
  (*script)->runRequest(r.ctx());
  EXPECT_THAT(r.actions().calls, ElementsAre("reply 404 Not Found"));
}

TEST(ScriptRegistry, ModuleStepErrors) {
  EXPECT_THAT(
      moduleErrors("routes:\n  request:\n    - test.lookup: { when: { metod: BYE }, "
                   "not_found: [ forwrd ] }\n"),
      ElementsAre("strowger.yaml:3:30: routes.request[0].test.lookup.metod: unknown condition "
                  "\"metod\"; did you mean \"method\"?",
                  "strowger.yaml:3:57: routes.request[0].test.lookup[0].forwrd: unknown "
                  "step \"forwrd\"; did you mean \"forward\"?"));
  EXPECT_THAT(moduleErrors("routes:\n  request:\n    - test.reply_only\n"),
              ElementsAre("strowger.yaml:3:7: routes.request[0].test.reply_only: "
                          "\"test.reply_only\" may not be used in a request route, only in reply "
                          "routes"));
  EXPECT_THAT(moduleErrors("routes:\n  request:\n    - test.silent: 1\n"),
              ElementsAre("strowger.yaml:3:20: routes.request[0].test.silent: expected SOMETHING"));
  EXPECT_THAT(moduleErrors("routes:\n  request:\n    - test.throws: 1\n"),
              ElementsAre("strowger.yaml:3:20: routes.request[0].test.throws: could not be read: "
                          "boom"));
  EXPECT_THAT(moduleErrors("routes:\n  request:\n    - test.name\n"),
              ElementsAre("strowger.yaml:3:7: routes.request[0].test.name: I am test.name in a "
                          "request route of strowger.yaml"));
  // A factory learns the kind of the route it is compiled for.
  EXPECT_THAT(moduleErrors("routes:\n  request: [ test.kind ]\n  failure:\n    f: [ test.kind ]\n"
                           "  reply:\n    r: [ test.kind ]\n  branch:\n    b: [ test.kind ]\n"),
              ElementsAre("strowger.yaml:2:14: routes.request[0].test.kind: compiled for a "
                          "request route",
                          "strowger.yaml:4:10: routes.failure.f[0].test.kind: compiled for a "
                          "failure route",
                          "strowger.yaml:6:10: routes.reply.r[0].test.kind: compiled for a reply "
                          "route",
                          "strowger.yaml:8:10: routes.branch.b[0].test.kind: compiled for a branch "
                          "route"));
  EXPECT_THAT(moduleErrors("routes:\n  request: []\n  failure:\n    f: [ test.reply_only ]\n"),
              ElementsAre("strowger.yaml:4:10: routes.failure.f[0].test.reply_only: "
                          "\"test.reply_only\" may not be used in a failure route, only in reply "
                          "routes"));
}

}  // namespace
}  // namespace strowger::script::test

// A suspended script goes on where it stopped (MessageContext::suspend, RoutingScript::resume):
// after the step that suspended, through every enclosing step list (an `if` branch, a called
// route), and again after a second suspension.
#include <gtest/gtest.h>

#include "test_support.h"

namespace strowger::script::test {
namespace {

// `test.wait`: suspends the request, or notes that it could not.
class WaitStep final : public Action {
 public:
  // Without a suspension (explain mode) the step goes on without waiting.
  void run(MessageContext& ctx) const override { (void)ctx.suspend(); }
  std::string describe() const override { return "test.wait"; }
};

StepRegistry registryWithWait() {
  StepRegistry registry;
  EXPECT_TRUE(registerBuiltinSteps(registry).hasValue());
  ActionSpec wait;
  wait.name = "test.wait";
  wait.usage = "no parameters";
  wait.factory = [](const YAML::Node&, CompileContext&) { return std::make_unique<WaitStep>(); };
  EXPECT_TRUE(registry.addAction(std::move(wait)).hasValue());
  return registry;
}

std::shared_ptr<const RoutingScript> compile(std::string_view yaml) {
  const StepRegistry registry = registryWithWait();
  auto script = compileWith(yaml, registry);
  EXPECT_TRUE(script.hasValue());
  return script ? *script : nullptr;
}

constexpr std::string_view kNested = R"(routes:
  request:
    - record_route
    - if: { method: INVITE }
      then:
        - route: inner
        - reply: [500, "Outer Then"]
    - reply: [500, "Never"]
  inner:
    - test.wait
    - if: { method: INVITE }
      then: [ { reply: [486, "Inner After Wait"] } ]
)";

TEST(ScriptResume, GoesOnAfterTheStepThroughEveryEnclosingList) {
  auto script = compile(kNested);
  ASSERT_TRUE(script);
  TestRequest first(invite());
  first.actions().canSuspend = true;
  script->runRequest(first.ctx());
  EXPECT_TRUE(first.ctx().finished());
  ASSERT_TRUE(first.ctx().suspended());
  EXPECT_EQ(first.actions().calls, (std::vector<std::string>{"record_route", "suspend"}));
  // The inner route's list, the `then` list and the request route: innermost first.
  std::vector<MessageContext::ResumeFrame> frames = first.ctx().resumeFrames();
  ASSERT_EQ(frames.size(), 3u);

  TestRequest resumed(invite());
  script->resume(resumed.ctx(), frames);
  EXPECT_EQ(resumed.actions().calls, (std::vector<std::string>{"reply 486 Inner After Wait"}));
}

TEST(ScriptResume, TheOuterListsGoOnWhenTheInnerOnesEnd) {
  auto script = compile(R"(routes:
  request:
    - if: { method: INVITE }
      then:
        - route: inner
        - record_route
    - reply: [202, "Outer After"]
  inner:
    - test.wait
    - if: { method: BYE }
      then: [ drop ]
)");
  ASSERT_TRUE(script);
  TestRequest first(invite());
  first.actions().canSuspend = true;
  script->runRequest(first.ctx());
  ASSERT_TRUE(first.ctx().suspended());
  TestRequest resumed(invite());
  script->resume(resumed.ctx(), first.ctx().resumeFrames());
  EXPECT_EQ(resumed.actions().calls,
            (std::vector<std::string>{"record_route", "reply 202 Outer After"}));
}

TEST(ScriptResume, SuspendingAgainKeepsTheOuterPlaces) {
  auto script = compile(R"(routes:
  request:
    - route: inner
    - reply: [200, "Done"]
  inner:
    - test.wait
    - record_route
    - test.wait
)");
  ASSERT_TRUE(script);
  TestRequest first(invite());
  first.actions().canSuspend = true;
  script->runRequest(first.ctx());
  ASSERT_TRUE(first.ctx().suspended());

  TestRequest second(invite());
  second.actions().canSuspend = true;
  script->resume(second.ctx(), first.ctx().resumeFrames());
  ASSERT_TRUE(second.ctx().suspended());
  EXPECT_EQ(second.actions().calls, (std::vector<std::string>{"record_route", "suspend"}));
  ASSERT_EQ(second.ctx().resumeFrames().size(), 2u) << "the inner list, then the request route";

  TestRequest third(invite());
  script->resume(third.ctx(), second.ctx().resumeFrames());
  EXPECT_FALSE(third.ctx().suspended());
  EXPECT_EQ(third.actions().calls, (std::vector<std::string>{"reply 200 Done"}));
}

TEST(ScriptResume, WithoutASuspensionTheScriptDoesNotStop) {
  auto script = compile(kNested);
  ASSERT_TRUE(script);
  TestRequest request(invite());  // canSuspend false: explain mode
  script->runRequest(request.ctx());
  EXPECT_FALSE(request.ctx().suspended());
  EXPECT_TRUE(request.ctx().resumeFrames().empty());
  EXPECT_EQ(request.actions().calls,
            (std::vector<std::string>{"record_route", "reply 486 Inner After Wait"}));
}

}  // namespace
}  // namespace strowger::script::test

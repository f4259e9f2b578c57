// Explain mode: what the Tracer is told while a request runs through a small script.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "test_support.h"

namespace strowger::script::test {
namespace {

using ::testing::ElementsAre;

constexpr std::string_view kScript = R"(routes:
  request:
    - if: { method: OPTIONS, addressed_to_me: true }
      then: [ { reply: [200, "OK"] } ]
    - if: { has_to_tag: true }
      then: [ { route: in_dialog } ]
    - set_ruri_user: "${to.user}"
    - if: { ruri.user: { regex: "^\\+?[0-9]{7,15}$" } }
      then:
        - record_route
        - forward: { to: "sip:127.0.0.1:5070" }
      else:
        - log: "no route to ${ruri.user}"
        - reply: [404, "Not Found"]
  in_dialog:
    - if: { not: { loose_route: true } }
      then: [ { reply: [404, "Not Here"] } ]
    - forward
)";

std::vector<std::string> trace(std::string text, bool looseRoute = false) {
  TestRequest r(text, "192.0.2.10", 5060, transport::Protocol::kUdp, /*withTracer=*/true);
  r.actions().looseRouteResult = looseRoute;
  run(kScript, r);
  return r.tracer().lines;
}

TEST(ScriptTrace, ANewCall) {
  std::string text = invite("sip:+4930123@example.com");
  text.replace(text.find("To: <sip:bob@"), 13, "To: <sip:+4930123@");
  EXPECT_THAT(trace(text),
              ElementsAre("route request @0", "if method == OPTIONS -> false (line 3) @0",
                          "if method == OPTIONS and addressed_to_me -> false (line 3) @0",
                          "if has_to_tag -> false (line 5) @0",
                          "step set_ruri_user \"${to.user}\" (\"+4930123\") (line 7) @0",
                          "if ruri.user =~ /^\\+?[0-9]{7,15}$/ -> true (line 8) @0",
                          "step then (line 9) @0", "step record_route (line 10) @0",
                          "step forward to sip:127.0.0.1:5070 (line 11) @0"));
}

TEST(ScriptTrace, TheElseBranch) {
  EXPECT_THAT(trace(invite("sip:bob@example.com")),
              ElementsAre("route request @0", "if method == OPTIONS -> false (line 3) @0",
                          "if method == OPTIONS and addressed_to_me -> false (line 3) @0",
                          "if has_to_tag -> false (line 5) @0",
                          "step set_ruri_user \"${to.user}\" (\"bob\") (line 7) @0",
                          "if ruri.user =~ /^\\+?[0-9]{7,15}$/ -> false (line 8) @0",
                          "step else (line 12) @0",
                          "step log info \"no route to ${ruri.user}\" (\"no route to bob\") "
                          "(line 13) @0",
                          "step reply 404 Not Found (line 14) @0"));
}

TEST(ScriptTrace, ARouteCallIsOneLevelDeeper) {
  std::string text = invite("sip:bob@192.0.2.20");
  text.replace(text.find("To: <sip:bob@example.com>"), 25, "To: <sip:bob@example.com>;tag=1");
  EXPECT_THAT(
      trace(text, /*looseRoute=*/true),
      ElementsAre("route request @0", "if method == OPTIONS -> false (line 3) @0",
                  "if method == OPTIONS and addressed_to_me -> false (line 3) @0",
                  "if has_to_tag -> true (line 5) @0", "step then (line 6) @0",
                  "step route in_dialog (line 6) @0", "route in_dialog @1",
                  "if loose_route -> true (line 16) @1", "if not loose_route -> false (line 16) @1",
                  "step forward (to sip:bob@192.0.2.20) (line 18) @1"));
}

TEST(ScriptTrace, NoTracerNoCost) {
  // Without a tracer the same script runs and nothing is recorded anywhere.
  TestRequest r(invite("sip:bob@example.com"));
  EXPECT_THAT(run(kScript, r), ElementsAre("reply 404 Not Found"));
  EXPECT_TRUE(r.tracer().lines.empty());
}

}  // namespace
}  // namespace strowger::script::test

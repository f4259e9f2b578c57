// Route kinds and the steps of stateful relaying: failure, reply and branch routes, relay,
// on_failure / on_reply / on_branch, append_branch, reply.code and reply.reason, and which step
// may run in which kind of route.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

#include "strowger/script/registry.h"
#include "test_support.h"

namespace strowger::script::test {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;

// The example of docs/routing.md ("Route kinds"), with every kind of route.
constexpr std::string_view kScript = R"(routes:
  request:
    - on_failure: to_second
    - on_reply: watch
    - on_branch: tag_branch
    - relay
  failure:
    to_second:
      - if: { reply.code: 486 }
        then: [ { set_ruri: "sip:bob@127.0.0.1:5072" }, on_failure: last, relay ]
      - if: { reply.code: [ 408, "5xx" ] }
        then: [ { reply: [480, "Try Later"] } ]
    last: [ { log: "gave up after ${reply.code}" } ]
  reply:
    watch: [ { if: { reply.code: "18x" }, then: [ { log: "ringing" } ] } ]
  branch:
    tag_branch: [ { add_header: { name: X-Branch, value: "yes" } } ]
)";

// A response to invite(), as received from the next hop.
std::string response(std::string_view statusLine = "SIP/2.0 180 Ringing",
                     std::string_view cseqMethod = "INVITE") {
  std::string text(statusLine);
  text +=
      "\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKproxy1\n"
      "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds\n"
      "From: \"Alice\" <sip:alice@example.com>;tag=1928301774\n"
      "To: <sip:bob@example.com>;tag=a6c85cf\n"
      "Call-ID: a84b4c76e66710@pc33.example.com\n"
      "CSeq: 314159 ";
  text += cseqMethod;
  text +=
      "\nContact: <sip:bob@192.0.2.4>\n"
      "X-Vendor: acme\n"
      "Content-Length: 0\n\n";
  return text;
}

// --- route sections by kind --------------------------------------------------------------------

TEST(ScriptRouteKinds, SectionsDeclareRoutesOfTheirKind) {
  std::shared_ptr<const RoutingScript> script = compileOk(kScript);
  ASSERT_NE(script, nullptr);
  EXPECT_THAT(script->routeNames(),
              ElementsAre("request", "to_second", "last", "watch", "tag_branch"));
  const std::map<std::string_view, RouteKind> kinds = {{"request", RouteKind::kRequest},
                                                       {"to_second", RouteKind::kFailure},
                                                       {"last", RouteKind::kFailure},
                                                       {"watch", RouteKind::kReply},
                                                       {"tag_branch", RouteKind::kBranch}};
  for (const auto& [name, kind] : kinds) {
    const Route* route = script->findRoute(name);
    ASSERT_NE(route, nullptr) << name;
    EXPECT_EQ(route->kind(), kind) << name;
  }
  // The section keys are not routes.
  EXPECT_EQ(script->findRoute("failure"), nullptr);
  EXPECT_EQ(script->findRoute("reply"), nullptr);
}

TEST(ScriptRouteKinds, EmptySectionsAndRoutesAreAccepted) {
  EXPECT_NE(compileOk("routes:\n  request: [ relay ]\n  failure:\n  reply: {}\n"
                      "  branch: { nothing: [], empty: }\n"),
            nullptr);
}

TEST(ScriptRouteKinds, TheRequestRunsAndArmsTheHooks) {
  TestRequest r(invite());
  EXPECT_THAT(run(kScript, r), ElementsAre("relay (default) parallel"));
  EXPECT_TRUE(r.ctx().finished());
  ASSERT_NE(r.script(), nullptr);
  EXPECT_EQ(r.ctx().hooks().onFailure, r.script()->findRoute("to_second"));
  EXPECT_EQ(r.ctx().hooks().onReply, r.script()->findRoute("watch"));
  EXPECT_EQ(r.ctx().hooks().onBranch, r.script()->findRoute("tag_branch"));
  EXPECT_THAT(r.ctx().branches(), IsEmpty());
  EXPECT_EQ(r.ctx().routeKind(), RouteKind::kRequest);
}

TEST(ScriptRouteKinds, AFailureRouteRelaysAgain) {
  TestRequest r(invite());
  const ReplyView busy{nullptr, 486, "Busy Here"};
  EXPECT_THAT(runHook(kScript, "to_second", r, &busy), ElementsAre("relay (default) parallel"));
  EXPECT_EQ(r.ctx().routeKind(), RouteKind::kFailure);
  EXPECT_EQ(r.ctx().requestUriText(), "sip:bob@127.0.0.1:5072");
  // Only what this failure route armed: the hooks of the request are not inherited.
  EXPECT_EQ(r.ctx().hooks().onFailure, r.script()->findRoute("last"));
  EXPECT_EQ(r.ctx().hooks().onReply, nullptr);
  EXPECT_EQ(r.ctx().hooks().onBranch, nullptr);
}

TEST(ScriptRouteKinds, AFailureRouteAnswers) {
  for (uint16_t code : {408, 500, 503, 599}) {
    TestRequest r(invite());
    const ReplyView failed{nullptr, code, "whatever"};
    EXPECT_THAT(runHook(kScript, "to_second", r, &failed), ElementsAre("reply 480 Try Later"))
        << code;
  }
  // Neither: the route ends without finishing and the proxy sends the best response upstream.
  TestRequest r(invite());
  const ReplyView declined{nullptr, 603, "Decline"};
  EXPECT_THAT(runHook(kScript, "to_second", r, &declined), IsEmpty());
  EXPECT_FALSE(r.ctx().finished());
}

TEST(ScriptRouteKinds, AReplyRouteSeesTheReply) {
  TestRequest reply(response("SIP/2.0 183 Session Progress"));
  const ReplyView view{&reply.message(), 183, "Session Progress"};
  EXPECT_THAT(runHook(R"(routes:
  request: [ relay ]
  reply:
    watch:
      - if: { reply.code: "18x", method: INVITE, to.user: bob, header: X-Vendor }
        then: [ { remove_header: X-Vendor }, { add_header: { name: X-Seen, value: "${reply.code}" } } ]
      - if: { reply.code: 183 }
        then: [ drop ]
)",
                      "watch", reply, &view),
              ElementsAre("drop"));
  EXPECT_EQ(reply.ctx().routeKind(), RouteKind::kReply);
  EXPECT_THAT(reply.edited(), HasSubstr("X-Seen: 183\n"));
  EXPECT_THAT(reply.edited(), Not(HasSubstr("X-Vendor")));
}

TEST(ScriptRouteKinds, ABranchRouteEditsOrDropsTheBranch) {
  constexpr std::string_view kBranches = R"(routes:
  request: [ relay ]
  branch:
    per_branch:
      - if: { ruri.host: blocked.example.com }
        then: [ drop ]
      - set_ruri_user: "00${ruri.user}"
      - add_header: { name: X-Branch, value: "${ruri}" }
)";
  TestRequest r(invite("sip:49301@gw.example.com"));
  EXPECT_THAT(runHook(kBranches, "per_branch", r), IsEmpty());
  EXPECT_EQ(r.ctx().routeKind(), RouteKind::kBranch);
  EXPECT_EQ(r.ctx().requestUriText(), "sip:0049301@gw.example.com");
  EXPECT_THAT(r.edited(), HasSubstr("X-Branch: sip:0049301@gw.example.com\n"));

  TestRequest blocked(invite("sip:49301@blocked.example.com"));
  EXPECT_THAT(runHook(kBranches, "per_branch", blocked), ElementsAre("drop"));
  EXPECT_TRUE(blocked.ctx().finished());
}

TEST(ScriptRouteKinds, EachRunStartsAtDepthZeroInItsKind) {
  std::shared_ptr<const RoutingScript> script = compileOk(R"(routes:
  request: [ { route: helper } ]
  helper: [ { log: "x" } ]
  failure:
    failed: [ { route: failed_helper } ]
    failed_helper: [ { log: "y" } ]
)");
  ASSERT_NE(script, nullptr);
  TestRequest r(invite(), "192.0.2.10", 5060, transport::Protocol::kUdp, /*withTracer=*/true);
  // A context left in another kind and depth is put right by each entry point.
  r.ctx().setRouteKind(RouteKind::kBranch);
  r.ctx().setRouteDepth(7);
  script->runRequest(r.ctx());
  EXPECT_EQ(r.ctx().routeKind(), RouteKind::kRequest);
  EXPECT_EQ(r.ctx().routeDepth(), 0);
  r.ctx().setRouteDepth(5);
  script->runHook(*script->findRoute("failed"), r.ctx());
  EXPECT_EQ(r.ctx().routeKind(), RouteKind::kFailure);
  EXPECT_EQ(r.ctx().routeDepth(), 0);
  EXPECT_THAT(r.tracer().lines,
              ElementsAre("route request @0", "step route helper (line 2) @0", "route helper @1",
                          "step log info \"x\" (line 3) @1", "route failed @0",
                          "step route failed_helper (line 5) @0", "route failed_helper @1",
                          "step log info \"y\" (line 6) @1"));
}

// --- errors of the sections ---------------------------------------------------------------------

TEST(ScriptRouteKindErrors, NamesAreUniqueAcrossKinds) {
  EXPECT_THAT(errorsOf("routes:\n  request: []\n  busy: []\n  failure:\n    busy: []\n"),
              ElementsAre("strowger.yaml:5:5: routes.failure.busy: route name already taken by "
                          "the request route at line 3; route names are unique across route "
                          "kinds"));
  EXPECT_THAT(errorsOf("routes:\n  request: []\n  reply:\n    x: []\n  branch:\n    x: []\n"),
              ElementsAre("strowger.yaml:6:5: routes.branch.x: route name already taken by the "
                          "reply route at line 4; route names are unique across route kinds"));
  EXPECT_THAT(errorsOf("routes:\n  request: []\n  failure:\n    x: []\n    x: []\n"),
              ElementsAre("strowger.yaml:5:5: routes.failure.x: route defined twice (first at "
                          "line 4)"));
  // A route named after a kind would read as a section, or take the request's place.
  EXPECT_THAT(errorsOf("routes:\n  request: []\n  failure:\n    request: []\n    reply: []\n"),
              ElementsAre("strowger.yaml:4:5: routes.failure.request: route name already taken "
                          "by the request route at line 2; route names are unique across route "
                          "kinds",
                          "strowger.yaml:5:5: routes.failure.reply: the name \"reply\" is the "
                          "name of a route kind; choose another name"));
  EXPECT_THAT(errorsOf("routes:\n  failure:\n    request: [ relay ]\n"),
              ElementsAre("strowger.yaml:2:3: routes: missing the \"request\" route, where every "
                          "request starts",
                          "strowger.yaml:3:5: routes.failure.request: the name \"request\" is the "
                          "name of a route kind; choose another name"));
}

TEST(ScriptRouteKindErrors, SectionsAreMappingsOfNamedRoutes) {
  EXPECT_THAT(errorsOf("routes:\n  request: []\n  failure:\n    - relay\n"),
              ElementsAre("strowger.yaml:4:5: routes.failure: expected a mapping of named "
                          "failure routes, such as {NAME: [STEPS], ...}, got a list; each failure "
                          "route has a name, by which on_failure arms it"));
  EXPECT_THAT(errorsOf("routes:\n  request: []\n  reply: drop\n"),
              ElementsAre("strowger.yaml:3:10: routes.reply: expected a mapping of named reply "
                          "routes, such as {NAME: [STEPS], ...}, got \"drop\""));
  EXPECT_THAT(errorsOf("routes:\n  request: []\n  branch:\n    b: drop\n"),
              ElementsAre("strowger.yaml:4:8: routes.branch.b: expected a list of steps, got "
                          "\"drop\""));
  EXPECT_THAT(errorsOf("routes:\n  request: []\n  branch:\n    \"b c\": []\n"),
              ElementsAre("strowger.yaml:4:5: routes.branch: expected a route name (letters, "
                          "digits, '_', '-', '.'), got \"b c\""));
}

TEST(ScriptRouteKindErrors, ErrorsInsideAKindNameTheirPath) {
  EXPECT_THAT(
      errorsOf("routes:\n  request: []\n  failure:\n    f:\n      - if: { reply.code: 700 }\n"
               "        then: [ forwrad ]\n"),
      ElementsAre("strowger.yaml:5:27: routes.failure.f[0].if.reply.code: expected a "
                  "status code 100..699, a class such as \"4xx\" or \"18x\", or a range "
                  "such as \"500-599\", got \"700\"",
                  "strowger.yaml:6:17: routes.failure.f[0].then[0].forwrad: unknown step "
                  "\"forwrad\"; did you mean \"forward\"?"));
}

// --- route calls and hooks by kind ---------------------------------------------------------------

TEST(ScriptRouteKindErrors, RouteCallsStayWithinTheirKind) {
  EXPECT_THAT(errorsOf("routes:\n  request:\n    - route: to_vm\n  failure:\n    to_vm: []\n"),
              ElementsAre("strowger.yaml:3:14: routes.request[0].route: \"to_vm\" is a failure "
                          "route; expected a request route; the request routes are request"));
  EXPECT_THAT(errorsOf("routes:\n  request: []\n  helper: []\n  failure:\n    f: [ { route: "
                       "helper } ]\n"),
              ElementsAre("strowger.yaml:5:19: routes.failure.f[0].route: \"helper\" is a request "
                          "route; expected a failure route; the failure routes are f"));
  // Suggestions come from the routes of the same kind.
  EXPECT_THAT(errorsOf("routes:\n  request: []\n  reply:\n    watch: [ { route: wach_more } ]\n"
                       "    watch_more: []\n"),
              ElementsAre("strowger.yaml:4:23: routes.reply.watch[0].route: unknown reply route "
                          "\"wach_more\"; did you mean \"watch_more\"?"));
  // Within a kind, calls work as in request routes.
  TestRequest r(invite());
  const ReplyView timeout{nullptr, 408, "Request Timeout"};
  EXPECT_THAT(runHook("routes:\n  request: []\n  failure:\n    f: [ { route: g }, { reply: 500 } "
                      "]\n    g: [ { reply: [504, \"Gone\"] } ]\n",
                      "f", r, &timeout),
              ElementsAre("reply 504 Gone"));
}

TEST(ScriptRouteKindErrors, HooksNameARouteOfTheirKind) {
  EXPECT_THAT(errorsOf("routes:\n  request: [ { on_failure: watch } ]\n  reply:\n    watch: []\n"
                       "  failure:\n    to_vm: []\n"),
              ElementsAre("strowger.yaml:2:28: routes.request[0].on_failure: \"watch\" is a reply "
                          "route; expected a failure route; the failure routes are to_vm"));
  EXPECT_THAT(errorsOf("routes:\n  request: [ { on_reply: helper } ]\n  helper: []\n"),
              ElementsAre("strowger.yaml:2:26: routes.request[0].on_reply: \"helper\" is a request "
                          "route; expected a reply route; there are none: define one under "
                          "routes.reply"));
  EXPECT_THAT(errorsOf("routes:\n  request: [ { on_branch: tag_brnch } ]\n  branch:\n"
                       "    tag_branch: []\n"),
              ElementsAre("strowger.yaml:2:27: routes.request[0].on_branch: unknown branch route "
                          "\"tag_brnch\"; did you mean \"tag_branch\"?"));
  EXPECT_THAT(errorsOf("routes:\n  request: [ { on_failure: nowhere } ]\n"),
              ElementsAre("strowger.yaml:2:28: routes.request[0].on_failure: unknown failure "
                          "route \"nowhere\"; there are none: define one under routes.failure"));
  EXPECT_THAT(errorsOf("routes:\n  request: [ on_failure ]\n"),
              ElementsAre("strowger.yaml:2:14: routes.request[0].on_failure: expected the name of "
                          "a failure route, got an empty value"));
}

TEST(ScriptRouteKindErrors, AFailureRouteRepliesWithAFinalResponse) {
  EXPECT_THAT(
      errorsOf("routes:\n  request: []\n  failure:\n    f: [ { reply: [180, Ringing] } ]\n"),
      ElementsAre("strowger.yaml:4:20: routes.failure.f[0].reply: expected a final status "
                  "code 200..699 (a failure route ends the transaction), got \"180\""));
  EXPECT_NE(
      compileOk("routes:\n  request: [ { reply: 180 } ]\n  failure:\n    f: [ { reply: 200 } ]\n"),
      nullptr);
}

TEST(ScriptRouteKinds, HooksDoNotFinishAndTheLastArmingWins) {
  TestRequest r(invite());
  EXPECT_THAT(run(R"(routes:
  request:
    - on_failure: first
    - on_failure: second
    - log: "armed"
  failure:
    first: []
    second: []
)",
                  r),
              IsEmpty());
  EXPECT_FALSE(r.ctx().finished());
  EXPECT_EQ(r.ctx().hooks().onFailure, r.script()->findRoute("second"));
}

// --- which step runs in which kind --------------------------------------------------------------

TEST(ScriptRouteKinds, EveryBuiltinStepHasItsKinds) {
  StepRegistry registry;
  ASSERT_TRUE(registerBuiltinSteps(registry));
  const RouteKinds all = RouteKinds::all();
  const RouteKinds requestLike = RouteKind::kRequest | RouteKind::kFailure | RouteKind::kBranch;
  const RouteKinds relaying = RouteKind::kRequest | RouteKind::kFailure;
  const RouteKinds request = RouteKind::kRequest;
  const std::map<std::string, RouteKinds> conditions = {
      {"method", all},
      {"ruri.user", requestLike},
      {"ruri.host", requestLike},
      {"ruri.port", requestLike},
      {"ruri.scheme", requestLike},
      {"ruri.param.NAME", requestLike},
      {"from.user", all},
      {"from.host", all},
      {"to.user", all},
      {"to.host", all},
      {"header", all},
      {"src_ip", all},
      {"transport", all},
      {"addressed_to_me", request},
      {"has_to_tag", requestLike},
      {"loose_route", request},
      {"reply.code", RouteKind::kReply | RouteKind::kFailure},
      {"reply.reason", RouteKind::kReply | RouteKind::kFailure},
  };
  const std::map<std::string, RouteKinds> actions = {
      {"reply", relaying},
      {"forward", request},
      {"relay", relaying},
      {"on_failure", relaying},
      {"on_reply", relaying},
      {"on_branch", relaying},
      {"append_branch", relaying},
      {"record_route", request},
      {"loose_route", request},
      {"drop", RouteKind::kRequest | RouteKind::kReply | RouteKind::kBranch},
      {"set_ruri", requestLike},
      {"set_ruri_user", requestLike},
      {"set_ruri_host", requestLike},
      {"set_ruri_port", requestLike},
      {"set_next_hop", requestLike},
      {"add_header", all},
      {"remove_header", all},
      {"replace_header", all},
      {"route", all},
      {"log", all},
  };
  EXPECT_EQ(registry.conditionNames().size(), conditions.size());
  for (const std::string& name : registry.conditionNames()) {
    ASSERT_TRUE(conditions.contains(name)) << name;
    const std::string lookup = name == "ruri.param.NAME" ? "ruri.param.x" : name;
    EXPECT_EQ(registry.findCondition(lookup)->routeKinds, conditions.at(name)) << name;
  }
  EXPECT_EQ(registry.actionNames().size(), actions.size());
  for (const std::string& name : registry.actionNames()) {
    ASSERT_TRUE(actions.contains(name)) << name;
    EXPECT_EQ(registry.findAction(name)->routeKinds, actions.at(name)) << name;
  }
}

// The compiler enforces the kinds: each step written in a route of a kind it may not run in.
TEST(ScriptRouteKindErrors, StepsOutsideTheirKinds) {
  auto inRoute = [](std::string_view kind, std::string_view step) {
    return errorsOf("routes:\n  request: []\n  " + std::string(kind) + ":\n    r:\n      - " +
                    std::string(step) + "\n");
  };
  EXPECT_THAT(inRoute("failure", "forward"),
              ElementsAre("strowger.yaml:5:9: routes.failure.r[0].forward: \"forward\" may not be "
                          "used in a failure route, only in request routes"));
  EXPECT_THAT(inRoute("reply", "reply: 500"),
              ElementsAre("strowger.yaml:5:9: routes.reply.r[0].reply: \"reply\" may not be used "
                          "in a reply route, only in request and failure routes"));
  EXPECT_THAT(inRoute("branch", "relay"),
              ElementsAre("strowger.yaml:5:9: routes.branch.r[0].relay: \"relay\" may not be used "
                          "in a branch route, only in request and failure routes"));
  EXPECT_THAT(inRoute("failure", "drop"),
              ElementsAre("strowger.yaml:5:9: routes.failure.r[0].drop: \"drop\" may not be used "
                          "in a failure route, only in request, reply and branch routes"));
  EXPECT_THAT(inRoute("reply", "set_ruri: \"sip:a@b\""),
              ElementsAre(HasSubstr("\"set_ruri\" may not be used in a reply route, only in "
                                    "request, failure and branch routes")));
  EXPECT_THAT(inRoute("reply", "{ on_failure: r }"),
              ElementsAre(HasSubstr("\"on_failure\" may not be used in a reply route")));
  EXPECT_THAT(inRoute("branch", "{ append_branch: \"sip:a@b\" }"),
              ElementsAre(HasSubstr("\"append_branch\" may not be used in a branch route")));
  EXPECT_THAT(inRoute("failure", "record_route"),
              ElementsAre(HasSubstr("\"record_route\" may not be used in a failure route")));
  EXPECT_THAT(inRoute("failure", "{ if: { addressed_to_me: true }, then: [] }"),
              ElementsAre("strowger.yaml:5:17: routes.failure.r[0].if.addressed_to_me: "
                          "\"addressed_to_me\" may not be used in a failure route, only in "
                          "request routes"));
  EXPECT_THAT(inRoute("reply", "{ if: { ruri.user: bob }, then: [] }"),
              ElementsAre(HasSubstr("\"ruri.user\" may not be used in a reply route, only in "
                                    "request, failure and branch routes")));
  EXPECT_THAT(inRoute("reply", "{ if: { has_to_tag: true }, then: [] }"),
              ElementsAre(HasSubstr("\"has_to_tag\" may not be used in a reply route")));
  EXPECT_THAT(errorsOf("routes:\n  request:\n    - if: { reply.code: 486 }\n      then: []\n"),
              ElementsAre("strowger.yaml:3:13: routes.request[0].if.reply.code: \"reply.code\" "
                          "may not be used in a request route, only in failure and reply routes"));
  EXPECT_THAT(inRoute("branch", "{ if: { reply.reason: x }, then: [] }"),
              ElementsAre(HasSubstr("\"reply.reason\" may not be used in a branch route")));
  // Nested steps are checked against the kind of the route they are written in.
  EXPECT_THAT(inRoute("failure",
                      "{ if: { method: INVITE }, then: [ { if: { src_ip: \"10.0.0.0/8\" "
                      "}, then: [ loose_route ] } ] }"),
              ElementsAre(HasSubstr("routes.failure.r[0].then[0].then[0].loose_route: "
                                    "\"loose_route\" may not be used in a failure route")));
}

TEST(ScriptRouteKinds, StepsAcceptedInTheirKinds) {
  EXPECT_NE(compileOk(R"(routes:
  request: [ relay ]
  failure:
    f:
      - if: { method: INVITE, ruri.user: bob, from.host: example.com, header: X-A,
              src_ip: "10.0.0.0/8", transport: udp, has_to_tag: false,
              reply.code: "4xx", reply.reason: { regex: busy } }
        then: [ { set_ruri_host: example.net }, { set_next_hop: "sip:10.0.0.1" },
                { append_branch: "sip:bob@10.0.0.2" }, on_reply: r, on_branch: b,
                { relay: { fork: serial } } ]
      - reply: 500
  reply:
    r:
      - if: { method: INVITE, to.user: bob, header: X-A, src_ip: "10.0.0.0/8", transport: tcp,
              reply.code: 200, reply.reason: OK }
        then: [ { replace_header: { name: X-A, value: b } }, { route: r2 }, drop ]
    r2: [ { log: "${reply.code}" } ]
  branch:
    b:
      - if: { method: INVITE, ruri.host: example.com, has_to_tag: false }
        then: [ { set_ruri_user: x }, { remove_header: X-A }, drop ]
)"),
            nullptr);
}

// --- relay -------------------------------------------------------------------------------------

TEST(ScriptRelay, BareRelaysToTheRequestUriAndFinishes) {
  TestRequest r(invite());
  EXPECT_THAT(run("routes:\n  request:\n    - relay\n    - reply: 500\n", r),
              ElementsAre("relay (default) parallel"));
  EXPECT_TRUE(r.ctx().finished());
  EXPECT_FALSE(r.actions().relayedTo.has_value());
}

TEST(ScriptRelay, AFailedRelayStillEndsTheScript) {
  TestRequest r(invite());
  r.actions().relayResult = false;
  EXPECT_THAT(run("routes:\n  request:\n    - relay\n    - reply: 500\n", r),
              ElementsAre("relay (default) parallel"));
  EXPECT_TRUE(r.ctx().finished());
}

TEST(ScriptRelay, ToAFixedDestination) {
  TestRequest r(invite());
  EXPECT_THAT(
      run("routes:\n  request:\n    - relay: { to: \"sip:127.0.0.1:5070;transport=tcp\" }\n", r),
      ElementsAre("relay sip:127.0.0.1:5070;transport=tcp parallel"));
  ASSERT_TRUE(r.actions().relayedTo.has_value());
  EXPECT_EQ(r.actions().relayedTo->host, "127.0.0.1");
  EXPECT_EQ(r.actions().relayedTo->port, 5070);
  EXPECT_EQ(r.actions().relayedTo->protocol, transport::Protocol::kTcp);
  EXPECT_FALSE(r.ctx().requestUriRewritten());
}

TEST(ScriptRelay, ForkModes) {
  for (const auto& [params, call] :
       {std::pair{"{ fork: serial }", "relay (default) serial"},
        std::pair{"{ fork: parallel }", "relay (default) parallel"},
        std::pair{"{ to: \"sip:[2001:db8::9]\", fork: serial }", "relay sip:[2001:db8::9] serial"},
        std::pair{"{}", "relay (default) parallel"}}) {
    TestRequest r(invite());
    EXPECT_THAT(run("routes:\n  request:\n    - relay: " + std::string(params) + "\n", r),
                ElementsAre(call))
        << params;
  }
}

TEST(ScriptRelay, ToADestinationReadFromTheMessage) {
  TestRequest r(invite("sip:bob@example.com", "X-Dest: 10.0.0.7:5080\n"));
  EXPECT_THAT(
      run("routes:\n  request:\n    - relay: { to: \"sip:${hdr.X-Dest}\", fork: serial }\n", r),
      ElementsAre("relay sip:10.0.0.7:5080 serial"));
  EXPECT_EQ(r.actions().relayedTo->port, 5080);

  TestRequest bad(invite("sip:bob@example.com", "X-Dest: not a host\n"));
  EXPECT_THAT(run("routes:\n  request:\n    - relay: { to: \"sip:${hdr.X-Dest}\" }\n", bad),
              ElementsAre("reply 503 Cannot Forward"));
  EXPECT_TRUE(bad.ctx().finished());
}

TEST(ScriptRelay, Errors) {
  EXPECT_THAT(errorsOf("routes:\n  request:\n    - relay: { fork: random }\n"),
              ElementsAre("strowger.yaml:3:22: routes.request[0].relay: expected parallel or "
                          "serial, got \"random\""));
  EXPECT_THAT(errorsOf("routes:\n  request:\n    - relay: { too: \"sip:10.0.0.1\" }\n"),
              ElementsAre("strowger.yaml:3:16: routes.request[0].relay: unknown key \"too\"; did "
                          "you mean \"to\"?"));
  EXPECT_THAT(errorsOf("routes:\n  request:\n    - relay: { to: \"sips:10.0.0.1\" }\n"),
              ElementsAre("strowger.yaml:3:20: routes.request[0].relay: sips: needs TLS, which "
                          "this version does not support; use sip: with transport=udp or tcp"));
  EXPECT_THAT(errorsOf("routes:\n  request:\n    - relay: { to: [ a ] }\n"),
              ElementsAre("strowger.yaml:3:20: routes.request[0].relay: expected a SIP URI such "
                          "as \"sip:192.0.2.1:5060\", got a list"));
  EXPECT_THAT(errorsOf("routes:\n  request:\n    - relay: \"sip:10.0.0.1\"\n"),
              ElementsAre("strowger.yaml:3:14: routes.request[0].relay: expected no parameters, "
                          "or {to: \"sip:HOST[:PORT][;transport=udp|tcp]\", fork: parallel | "
                          "serial}, got \"sip:10.0.0.1\""));
}

// --- append_branch -----------------------------------------------------------------------------

TEST(ScriptAppendBranch, BranchesAreCollectedForTheRelay) {
  TestRequest r(invite("sip:bob@example.com", "X-Cell: 491701234\n"));
  EXPECT_THAT(run(R"(routes:
  request:
    - append_branch: "sip:bob@192.0.2.5"
    - append_branch: { uri: "sip:${hdr.X-Cell}@gw.example.com", q: 0.5, next_hop: "sip:10.0.0.9:5080;transport=tcp" }
    - append_branch: { uri: "tel:+4930123", q: 0 }
    - relay: { fork: serial }
)",
                  r),
              ElementsAre("relay (default) serial"));
  const std::vector<BranchTarget>& branches = r.ctx().branches();
  ASSERT_EQ(branches.size(), 3u);
  EXPECT_EQ(branches[0].uri, "sip:bob@192.0.2.5");
  EXPECT_EQ(branches[0].q, 1.0);
  EXPECT_FALSE(branches[0].nextHop.has_value());
  EXPECT_EQ(branches[1].uri, "sip:491701234@gw.example.com");
  EXPECT_EQ(branches[1].q, 0.5);
  ASSERT_TRUE(branches[1].nextHop.has_value());
  EXPECT_EQ(branches[1].nextHop->host, "10.0.0.9");
  EXPECT_EQ(branches[1].nextHop->port, 5080);
  EXPECT_EQ(branches[1].nextHop->protocol, transport::Protocol::kTcp);
  EXPECT_EQ(branches[2].uri, "tel:+4930123");
  EXPECT_EQ(branches[2].q, 0.0);
  // The Request-URI itself is not touched: it is the first branch.
  EXPECT_FALSE(r.ctx().requestUriRewritten());
}

TEST(ScriptAppendBranch, AValueThatIsNotAUriAddsNoBranch) {
  TestRequest r(invite("sip:bob@example.com", "X-Target: not a uri\nX-Hop: bad host\n"));
  EXPECT_THAT(run(R"(routes:
  request:
    - append_branch: "${hdr.X-Target}"
    - append_branch: { uri: "sip:bob@192.0.2.5", next_hop: "sip:${hdr.X-Hop}" }
    - append_branch: "sip:${ruri.user}@192.0.2.6"
)",
                  r),
              IsEmpty());
  ASSERT_EQ(r.ctx().branches().size(), 1u);
  EXPECT_EQ(r.ctx().branches()[0].uri, "sip:bob@192.0.2.6");
  EXPECT_FALSE(r.ctx().finished());
}

TEST(ScriptAppendBranch, Errors) {
  EXPECT_THAT(errorsOf("routes:\n  request:\n    - append_branch: \"mailto:bob@example.com\"\n"),
              ElementsAre("strowger.yaml:3:22: routes.request[0].append_branch: expected a sip:, "
                          "sips: or tel: URI such as \"sip:alice@example.com\", got "
                          "\"mailto:bob@example.com\""));
  EXPECT_THAT(errorsOf("routes:\n  request:\n    - append_branch: { uri: \"sip:a@b\", q: 1.5 }\n"),
              ElementsAre("strowger.yaml:3:43: routes.request[0].append_branch: expected a q-value "
                          "from 0 to 1, such as 0.5, got \"1.5\""));
  EXPECT_THAT(errorsOf("routes:\n  request:\n    - append_branch: { uri: \"sip:a@b\", q: high }\n"),
              ElementsAre(HasSubstr("expected a q-value from 0 to 1, such as 0.5, got \"high\"")));
  EXPECT_THAT(errorsOf("routes:\n  request:\n    - append_branch: { uri: \"sip:a@b\", q: -0.1 }\n"),
              ElementsAre(HasSubstr("expected a q-value from 0 to 1")));
  EXPECT_THAT(errorsOf("routes:\n  request:\n    - append_branch: { q: 0.5 }\n"),
              ElementsAre("strowger.yaml:3:22: routes.request[0].append_branch: missing \"uri\"; "
                          "expected a URI such as \"sip:bob@192.0.2.5\", or {uri: URI, q: 0.5, "
                          "next_hop: URI}"));
  EXPECT_THAT(
      errorsOf("routes:\n  request:\n    - append_branch: { uri: \"sip:a@b\", nexthop: x }\n"),
      ElementsAre("strowger.yaml:3:40: routes.request[0].append_branch: unknown key \"nexthop\"; "
                  "did you mean \"next_hop\"?"));
  EXPECT_THAT(errorsOf("routes:\n  request:\n    - append_branch: { uri: \"sip:a@b\", next_hop: "
                       "\"sip:10.0.0.1;transport=sctp\" }\n"),
              ElementsAre(HasSubstr("transport \"sctp\" is not supported by this version")));
  EXPECT_THAT(errorsOf("routes:\n  request:\n    - append_branch: \"sip:${ruri.usr}@b\"\n"),
              ElementsAre(HasSubstr("unknown variable \"${ruri.usr}\"")));
  EXPECT_THAT(errorsOf("routes:\n  request:\n    - append_branch\n"),
              ElementsAre(HasSubstr("routes.request[0].append_branch: expected a URI such as "
                                    "\"sip:bob@192.0.2.5\", or {uri: URI, q: 0.5, next_hop: URI}, "
                                    "got an empty value")));
}

// --- reply.code, reply.reason ----------------------------------------------------------------

// Whether `condition` holds in a failure route for a final response `code` `reason`.
bool holdsFor(std::string_view condition, uint16_t code, std::string_view reason = "Whatever") {
  const std::string yaml =
      "routes:\n  request: []\n  failure:\n    f:\n      - if: " + std::string(condition) +
      "\n        then: [ { reply: [200, \"yes\"] } ]"
      "\n        else: [ { reply: [404, \"no\"] } ]\n";
  TestRequest r(invite());
  const ReplyView view{nullptr, code, reason};
  const std::vector<std::string> calls = runHook(yaml, "f", r, &view);
  EXPECT_FALSE(calls.empty());
  return !calls.empty() && calls.back() == "reply 200 yes";
}

TEST(ScriptReplyConditions, CodeForms) {
  EXPECT_TRUE(holdsFor("{ reply.code: 486 }", 486));
  EXPECT_FALSE(holdsFor("{ reply.code: 486 }", 487));
  EXPECT_TRUE(holdsFor("{ reply.code: \"4xx\" }", 400));
  EXPECT_TRUE(holdsFor("{ reply.code: \"4xx\" }", 499));
  EXPECT_FALSE(holdsFor("{ reply.code: \"4xx\" }", 500));
  EXPECT_FALSE(holdsFor("{ reply.code: \"4xx\" }", 399));
  EXPECT_TRUE(holdsFor("{ reply.code: \"18x\" }", 183));
  EXPECT_FALSE(holdsFor("{ reply.code: \"18x\" }", 190));
  EXPECT_TRUE(holdsFor("{ reply.code: \"6XX\" }", 603));
  EXPECT_TRUE(holdsFor("{ reply.code: \"500-599\" }", 500));
  EXPECT_TRUE(holdsFor("{ reply.code: \"500-599\" }", 599));
  EXPECT_FALSE(holdsFor("{ reply.code: \"500-599\" }", 600));
  EXPECT_TRUE(holdsFor("{ reply.code: \"480-480\" }", 480));
  EXPECT_TRUE(holdsFor("{ reply.code: [ 404, \"6xx\", \"500-503\" ] }", 502));
  EXPECT_TRUE(holdsFor("{ reply.code: [ 404, \"6xx\", \"500-503\" ] }", 404));
  EXPECT_TRUE(holdsFor("{ reply.code: [ 404, \"6xx\", \"500-503\" ] }", 699));
  EXPECT_FALSE(holdsFor("{ reply.code: [ 404, \"6xx\", \"500-503\" ] }", 504));
  EXPECT_TRUE(holdsFor("{ not: { reply.code: \"2xx\" } }", 408));
}

TEST(ScriptReplyConditions, NoReplyMatchesNoCode) {
  TestRequest r(invite());
  EXPECT_THAT(runHook("routes:\n  request: []\n  failure:\n    f:\n"
                      "      - if: { reply.code: \"100-699\" }\n        then: [ { reply: 500 } ]\n"
                      "      - if: { reply.reason: { present: false } }\n"
                      "        then: [ { reply: 404 } ]\n",
                      "f", r, nullptr),
              ElementsAre("reply 404 Not Found"));
}

TEST(ScriptReplyConditions, Reason) {
  EXPECT_TRUE(holdsFor("{ reply.reason: \"Busy Here\" }", 486, "Busy Here"));
  // Reason phrases compare case-insensitively.
  EXPECT_TRUE(holdsFor("{ reply.reason: \"busy here\" }", 486, "Busy Here"));
  EXPECT_FALSE(holdsFor("{ reply.reason: \"Busy\" }", 486, "Busy Here"));
  EXPECT_TRUE(holdsFor("{ reply.reason: { regex: \"^busy\" } }", 486, "BUSY everywhere"));
  EXPECT_TRUE(
      holdsFor("{ reply.reason: { prefix: \"Temporarily\" } }", 480, "Temporarily Unavailable"));
  EXPECT_TRUE(holdsFor("{ reply.reason: [ Decline, \"Busy Here\" ] }", 603, "Decline"));
}

TEST(ScriptReplyConditions, Errors) {
  auto errors = [](std::string_view value) {
    return errorsOf("routes:\n  request: []\n  reply:\n    r:\n      - if: { reply.code: " +
                    std::string(value) + " }\n        then: []\n");
  };
  const std::string expected =
      "expected a status code 100..699, a class such as \"4xx\" or \"18x\", or a range such as "
      "\"500-599\", got ";
  EXPECT_THAT(
      errors("700"),
      ElementsAre("strowger.yaml:5:27: routes.reply.r[0].if.reply.code: " + expected + "\"700\""));
  EXPECT_THAT(errors("99"), ElementsAre(HasSubstr(expected + "\"99\"")));
  EXPECT_THAT(errors("\"7xx\""), ElementsAre(HasSubstr(expected + "\"7xx\"")));
  EXPECT_THAT(errors("\"4x4\""), ElementsAre(HasSubstr(expected + "\"4x4\"")));
  EXPECT_THAT(errors("\"xxx\""), ElementsAre(HasSubstr(expected + "\"xxx\"")));
  EXPECT_THAT(errors("\"4xxx\""), ElementsAre(HasSubstr(expected + "\"4xxx\"")));
  EXPECT_THAT(errors("\"599-500\""), ElementsAre(HasSubstr(expected + "\"599-500\"")));
  EXPECT_THAT(errors("\"500-\""), ElementsAre(HasSubstr(expected + "\"500-\"")));
  EXPECT_THAT(errors("busy"), ElementsAre(HasSubstr(expected + "\"busy\"")));
  EXPECT_THAT(
      errors("[ 486, \"6x\" ]"),
      ElementsAre("strowger.yaml:5:34: routes.reply.r[0].if.reply.code: " + expected + "\"6x\""));
  EXPECT_THAT(errors("[]"), ElementsAre(HasSubstr("or a list of them, got a list")));
  EXPECT_THAT(errors("{ code: 486 }"), ElementsAre(HasSubstr("or a list of them, got a mapping")));
  EXPECT_THAT(errorsOf("routes:\n  request: []\n  reply:\n    r:\n"
                       "      - if: { reply.reason: { regex: \"(\" } }\n        then: []\n"),
              ElementsAre(StartsWith("strowger.yaml:5:38: routes.reply.r[0].if.reply.reason: "
                                     "invalid regular expression \"(\"")));
}

// --- reply routes: the message is the reply ------------------------------------------------------

TEST(ScriptRouteKinds, MethodInAReplyRouteIsTheCSeqMethod) {
  constexpr std::string_view kWatch = R"(routes:
  request: []
  reply:
    r:
      - if: { method: INVITE }
        then: [ { log: "${method} ${reply.code} ${reply.reason}" }, drop ]
)";
  TestRequest invite180(response());
  const ReplyView ringing{&invite180.message(), 180, "Ringing"};
  EXPECT_THAT(runHook(kWatch, "r", invite180, &ringing), ElementsAre("drop"));

  TestRequest bye200(response("SIP/2.0 200 OK", "BYE"));
  const ReplyView ok{&bye200.message(), 200, "OK"};
  EXPECT_THAT(runHook(kWatch, "r", bye200, &ok), IsEmpty());
}

TEST(ScriptRouteKinds, ReplyValues) {
  TestRequest r(response("SIP/2.0 486 Busy Here"));
  const ReplyView busy{&r.message(), 486, "Busy Here"};
  r.ctx().setReply(&busy);
  for (const auto& [text, expected] :
       {std::pair{"${reply.code}", "486"}, std::pair{"${reply.reason}", "Busy Here"},
        std::pair{"${method}", "INVITE"}, std::pair{"${to.tag}", "a6c85cf"}}) {
    Expected<Value, std::string> value = Value::compile(text);
    ASSERT_TRUE(value.hasValue()) << text;
    std::string out;
    value->appendTo(r.ctx(), out);
    EXPECT_EQ(out, expected) << text;
  }
  // Without a reply they read as empty.
  TestRequest request(invite());
  std::string out;
  Value::compile("[${reply.code}${reply.reason}]")->appendTo(request.ctx(), out);
  EXPECT_EQ(out, "[]");
}

// --- explain mode --------------------------------------------------------------------------------

TEST(ScriptRouteKinds, ExplainShowsWhatARelayTakes) {
  TestRequest r(invite(), "192.0.2.10", 5060, transport::Protocol::kUdp, /*withTracer=*/true);
  run(R"(routes:
  request:
    - on_failure: f
    - on_branch: b
    - append_branch: { uri: "sip:${ruri.user}@192.0.2.5", q: 0.25 }
    - set_next_hop: "sip:10.0.0.1"
    - relay: { fork: serial }
  failure:
    f: []
  branch:
    b: []
)",
      r);
  EXPECT_THAT(r.tracer().lines,
              ElementsAre("route request @0", "step on_failure f (line 3) @0",
                          "step on_branch b (line 4) @0",
                          "step append_branch \"sip:${ruri.user}@192.0.2.5\" q=0.25 "
                          "(\"sip:bob@192.0.2.5\") (line 5) @0",
                          "step set_next_hop sip:10.0.0.1 (line 6) @0",
                          "step relay (stateful), serial forking (next hop sip:10.0.0.1 + 1 "
                          "branch; on_branch b; on_failure f) (line 7) @0"));
}

TEST(ScriptRouteKinds, ExplainDescribesRelayTargets) {
  TestRequest r(invite("sip:bob@example.com", "X-Dest: 10.0.0.7\n"), "192.0.2.10", 5060,
                transport::Protocol::kUdp, /*withTracer=*/true);
  run("routes:\n  request:\n    - append_branch: { uri: \"sip:a@b\", next_hop: \"sip:10.0.0.2\" }\n"
      "    - relay: { to: \"sip:${hdr.X-Dest}\" }\n",
      r);
  EXPECT_THAT(
      r.tracer().lines,
      ElementsAre("route request @0", "step append_branch \"sip:a@b\" via sip:10.0.0.2 (line 3) @0",
                  "step relay (stateful) to sip:${hdr.X-Dest} (sip:10.0.0.7) (line 4) @0"));
}

}  // namespace
}  // namespace strowger::script::test

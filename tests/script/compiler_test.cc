// The compiler: the accepted shape, and every error with its position and message.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "test_support.h"

namespace strowger::script::test {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// The sketch of docs/routing.md, as an operator writes it.
constexpr std::string_view kSketch = R"(server:
  listen: [ "udp:0.0.0.0:5060" ]
routes:
  request:
    - if: { method: OPTIONS, addressed_to_me: true }
      then: [ { reply: [200, "OK"] } ]
    - if: { has_to_tag: true }
      then: [ { route: in_dialog } ]
    - record_route
    - if: { ruri.user: { regex: "^\\+?[0-9]{7,15}$" } }
      then: [ { forward: { to: "sip:127.0.0.1:5070;transport=udp" } } ]
      else: [ { reply: [404, "Not Found"] } ]
    - forward
  in_dialog:
    - if: { not: { loose_route: true } }
      then: [ { reply: [404, "Not Here"] } ]
    - forward
)";

TEST(ScriptCompiler, TheSketchCompiles) {
  std::shared_ptr<const RoutingScript> script = compileOk(kSketch);
  ASSERT_NE(script, nullptr);
  EXPECT_THAT(script->routeNames(), ElementsAre("request", "in_dialog"));
  ASSERT_NE(script->findRoute("in_dialog"), nullptr);
  EXPECT_EQ(script->findRoute("in_dialog")->kind(), RouteKind::kRequest);
  EXPECT_EQ(script->findRoute("nowhere"), nullptr);
}

TEST(ScriptCompiler, TheSketchRoutesRequests) {
  {
    TestRequest request(invite("sip:+4930123456@example.com"));
    EXPECT_THAT(run(kSketch, request),
                ElementsAre("record_route", "forward sip:127.0.0.1:5070;transport=udp"));
    EXPECT_TRUE(request.ctx().finished());
  }
  {
    TestRequest request(invite("sip:bob@example.com"));
    EXPECT_THAT(run(kSketch, request), ElementsAre("record_route", "reply 404 Not Found"));
  }
  {
    // In-dialog: the To tag sends it to in_dialog, where loose_route says no Route names us.
    std::string text = invite("sip:bob@192.0.2.20");
    text.replace(text.find("To: <sip:bob@example.com>"), 25, "To: <sip:bob@example.com>;tag=x");
    TestRequest request(text);
    EXPECT_THAT(run(kSketch, request), ElementsAre("loose_route", "reply 404 Not Here"));
  }
  {
    TestRequest request(
        "OPTIONS sip:192.0.2.1 SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bK1\n"
        "From: <sip:a@example.com>;tag=1\nTo: <sip:192.0.2.1>\nCall-ID: o1\nCSeq: 1 OPTIONS\n"
        "Max-Forwards: 70\nContent-Length: 0\n\n");
    EXPECT_THAT(run(kSketch, request), ElementsAre("reply 200 OK"));
  }
}

TEST(ScriptCompiler, StepsTakeEveryDocumentedForm) {
  EXPECT_NE(compileOk(R"(routes:
  request:
    - record_route
    - record_route:
    - { loose_route: }
    - if: { method: [INVITE, BYE], any: [ { transport: udp }, { src_ip: "10.0.0.0/8" } ] }
      then:
        - log: "call to ${ruri.user}"
        - log: { level: warning, message: "from ${src.ip}" }
      else: [ drop ]
    - if: { all: [ { ruri.host: example.com }, { not: { has_to_tag: true } } ] }
      then: [ { route: other } ]
    - reply: 404
    - reply: [486]
    - reply: { code: 503, reason: "Maintenance", headers: [ "Retry-After: 60" ] }
  other: []
  empty:
)"),
            nullptr);
}

TEST(ScriptCompiler, TheExamplesInTheDocumentationCompile) {
  // Every ```yaml block of docs/routing.md and docs/configuration.md that is a whole routes
  // section.
  int compiled = 0;
  for (const char* name : {"routing.md", "configuration.md"}) {
    std::ifstream file(std::string(STROWGER_DOCS_DIR) + "/" + name);
    ASSERT_TRUE(file) << name;
    std::stringstream text;
    text << file.rdbuf();
    const std::string doc = text.str();
    for (std::size_t at = doc.find("```yaml\n"); at != std::string::npos;
         at = doc.find("```yaml\n", at + 1)) {
      const std::size_t begin = at + 8;
      const std::string block = doc.substr(begin, doc.find("```", begin) - begin);
      if (!block.starts_with("routes:")) continue;
      SCOPED_TRACE(std::string(name) + ": " + block);
      EXPECT_NE(compileOk(block), nullptr);
      ++compiled;
    }
  }
  EXPECT_GE(compiled, 3);
}

// --- errors: each names file:line:column, the path and what was expected ----------------------

TEST(ScriptCompilerErrors, UnknownStepSuggestsTheClosest) {
  EXPECT_THAT(errorsOf("routes:\n  request:\n    - record_route\n    - forwrad\n"),
              ElementsAre("strowger.yaml:4:7: routes.request[1].forwrad: unknown step "
                          "\"forwrad\"; did you mean \"forward\"?"));
  EXPECT_THAT(errorsOf("routes:\n  request:\n    - { sanity: { strict: true } }\n"),
              ElementsAre(AllOf(StartsWith("strowger.yaml:3:9: routes.request[0].sanity: unknown "
                                           "step \"sanity\"; expected one of reply, forward, "),
                                HasSubstr(", or an if"))));
}

TEST(ScriptCompilerErrors, ConditionsAndActionsInTheWrongPlace) {
  EXPECT_THAT(errorsOf("routes:\n  request:\n    - method: INVITE\n"),
              ElementsAre("strowger.yaml:3:7: routes.request[0].method: \"method\" is a "
                          "condition; conditions go in an if step: {if: {CONDITIONS}, then: "
                          "[STEPS], else: [STEPS]}"));
  EXPECT_THAT(errorsOf("routes:\n  request:\n    - if: { forward: true }\n      then: [ drop ]\n"),
              ElementsAre("strowger.yaml:3:13: routes.request[0].if.forward: \"forward\" is an "
                          "action, not a condition; actions go in then: or else:"));
  EXPECT_THAT(errorsOf("routes:\n  request:\n    - if: { mehtod: INVITE }\n      then: [ drop ]\n"),
              ElementsAre("strowger.yaml:3:13: routes.request[0].if.mehtod: unknown condition "
                          "\"mehtod\"; did you mean \"method\"?"));
}

TEST(ScriptCompilerErrors, WrongParameterTypes) {
  EXPECT_THAT(
      errorsOf("routes:\n  request:\n    - reply: { text: 404 }\n"),
      ElementsAre(
          "strowger.yaml:3:14: routes.request[0].reply: missing \"code\"; expected [CODE, "
          "\"REASON\"] or {code: CODE, reason: \"REASON\", headers: [\"Name: value\", ...]}",
          "strowger.yaml:3:16: routes.request[0].reply: unknown key \"text\"; expected code, "
          "reason and headers"));
  EXPECT_THAT(errorsOf("routes:\n  request:\n    - reply: [404, Not, Found]\n"),
              ElementsAre(HasSubstr("strowger.yaml:3:14: routes.request[0].reply: expected "
                                    "[CODE, \"REASON\"] or {code: CODE")));
  EXPECT_THAT(errorsOf("routes:\n  request:\n    - record_route: yes\n"),
              ElementsAre("strowger.yaml:3:21: routes.request[0].record_route: takes no "
                          "parameters; write \"- record_route\", got \"yes\""));
  EXPECT_THAT(errorsOf("routes:\n  request:\n    - if: { has_to_tag: yes }\n      then: [drop]\n"),
              ElementsAre("strowger.yaml:3:25: routes.request[0].if.has_to_tag: expected true or "
                          "false, got \"yes\""));
  EXPECT_THAT(errorsOf("routes:\n  request:\n    - forward: \"sip:10.0.0.1\"\n"),
              ElementsAre("strowger.yaml:3:16: routes.request[0].forward: expected no "
                          "parameters, or {to: \"sip:HOST[:PORT][;transport=udp|tcp]\"}, got "
                          "\"sip:10.0.0.1\""));
  EXPECT_THAT(errorsOf("routes:\n  request:\n    - log: { level: warn, message: x }\n"),
              ElementsAre("strowger.yaml:3:21: routes.request[0].log: expected one of trace, "
                          "debug, info, warning, error, critical, got \"warn\"; did you mean "
                          "\"warning\"?"));
}

TEST(ScriptCompilerErrors, StatusCodesAreChecked) {
  EXPECT_THAT(errorsOf("routes:\n  request:\n    - reply: [700, \"Nope\"]\n"),
              ElementsAre("strowger.yaml:3:15: routes.request[0].reply: expected a status code "
                          "100..699, got \"700\""));
  EXPECT_THAT(errorsOf("routes:\n  request:\n    - reply: { code: 99 }\n"),
              ElementsAre("strowger.yaml:3:22: routes.request[0].reply: expected a status code "
                          "100..699, got \"99\""));
  EXPECT_THAT(errorsOf("routes:\n  request:\n    - reply: [4o4]\n"),
              ElementsAre(HasSubstr("3:15: routes.request[0].reply: expected a status code")));
}

TEST(ScriptCompilerErrors, BadRegex) {
  EXPECT_THAT(
      errorsOf("routes:\n  request:\n    - if: { ruri.user: { regex: \"^(12\" } }\n"
               "      then: [ drop ]\n"),
      ElementsAre(AllOf(StartsWith("strowger.yaml:3:33: routes.request[0].if.ruri.user: invalid "
                                   "regular expression \"^(12\": "))));
}

// std::regex recurses once per group level: a deeply nested pattern would overflow the stack of
// --check-config or of a reloading daemon. It is refused before it reaches std::regex.
TEST(ScriptCompilerErrors, RegexTooDeepOrTooLong) {
  const std::string deep = std::string(30000, '(') + "a" + std::string(30000, ')');
  EXPECT_THAT(errorsOf("routes:\n  request:\n    - if: { ruri.user: { regex: \"" + deep +
                       "\" } }\n      then: [ drop ]\n"),
              ElementsAre(HasSubstr("regular expression longer than 4096 bytes")));
  const std::string nested = std::string(40, '(') + "a" + std::string(40, ')');
  EXPECT_THAT(errorsOf("routes:\n  request:\n    - if: { ruri.user: { regex: \"" + nested +
                       "\" } }\n      then: [ drop ]\n"),
              ElementsAre(StartsWith("strowger.yaml:3:33: routes.request[0].if.ruri.user: "
                                     "regular expression nests groups deeper than 32 levels")));
  const std::string fine = std::string(20, '(') + "a" + std::string(20, ')');
  EXPECT_TRUE(compileOk("routes:\n  request:\n    - if: { ruri.user: { regex: \"" + fine +
                        "\" } }\n      then: [ drop ]\n"));
}

// libstdc++ reads a repeat count without checking for overflow (undefined behaviour, found by
// fuzz_routes_compiler) and copies the repeated part once per count: counts above 1000 are
// refused before std::regex sees them. Escaped braces, and braces inside a class, are no counts.
TEST(ScriptCompilerErrors, RegexRepeatCountsAreBounded) {
  auto withRegex = [](const std::string& regex) {
    return "routes:\n  request:\n    - if: { ruri.user: { regex: '" + regex +
           "' } }\n      then: [ drop ]\n";
  };
  for (const char* huge :
       {"^[0-9]{6,1499999999999999999999}$", "a{1001}", "a{2,99999}", "(ab){0,1001}"}) {
    EXPECT_THAT(errorsOf(withRegex(huge)),
                ElementsAre(HasSubstr("regular expression repeats more than 1000 times")))
        << huge;
  }
  for (const char* fine : {"^\\+[1-9][0-9]{6,14}$", "a{1000}", "x[{]99999", "\\{123456\\}"}) {
    EXPECT_TRUE(compileOk(withRegex(fine))) << fine;
  }
}

// Each level of aliases doubles what they stand for: 30 levels would be a billion steps. The
// compiler stops at its bound with one error instead of exhausting memory.
TEST(ScriptCompilerErrors, AliasesCannotBlowUpTheScript) {
  std::string yaml =
      "routes:\n  request:\n    - if: { method: INVITE }\n      then: &s0 [ drop ]\n";
  for (int level = 1; level <= 30; ++level) {
    const std::string previous = "*s" + std::to_string(level - 1);
    yaml += "    - if: { method: INVITE }\n      then: &s" + std::to_string(level) +
            " [ { if: { method: INVITE }, then: " + previous + ", else: " + previous + " } ]\n";
  }
  const auto errors = errorsOf(yaml);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_THAT(errors[0], HasSubstr("the routing script is too large: more than 50000 steps"));
}

TEST(ScriptCompilerErrors, BadCidr) {
  EXPECT_THAT(
      errorsOf("routes:\n  request:\n    - if: { src_ip: [ \"10.0.0.0/8\", \"10.0.0.0/33\", "
               "\"pbx.example.com\", \"10.1.0.0/8\" ] }\n      then: [ drop ]\n"),
      ElementsAre("strowger.yaml:3:37: routes.request[0].if.src_ip: the prefix length of "
                  "\"10.0.0.0/33\" must be 0..32 for an IPv4 address",
                  "strowger.yaml:3:52: routes.request[0].if.src_ip: expected an IPv4 or IPv6 "
                  "address with an optional /PREFIX, such as \"10.0.0.0/8\" or \"2001:db8::/32\", "
                  "got \"pbx.example.com\"",
                  "strowger.yaml:3:71: routes.request[0].if.src_ip: \"10.1.0.0/8\" has bits set "
                  "after the first 8; did you mean \"10.0.0.0/8\"?"));
}

TEST(ScriptCompilerErrors, UnknownRoute) {
  EXPECT_THAT(errorsOf("routes:\n  request:\n    - route: in_dialgo\n  in_dialog: []\n"),
              ElementsAre("strowger.yaml:3:14: routes.request[0].route: unknown request "
                          "route \"in_dialgo\"; did you mean \"in_dialog\"?"));
  EXPECT_THAT(errorsOf("routes:\n  request:\n    - route: pstn\n  in_dialog: []\n"),
              ElementsAre("strowger.yaml:3:14: routes.request[0].route: unknown request "
                          "route \"pstn\"; the request routes are in_dialog, request"));
}

TEST(ScriptCompilerErrors, MissingRequestRoute) {
  EXPECT_THAT(errorsOf("routes:\n  in_dialog: [ forward ]\n"),
              ElementsAre("strowger.yaml:2:3: routes: missing the \"request\" route, where every "
                          "request starts"));
  EXPECT_THAT(errorsOf("routes: [ forward ]\n"),
              ElementsAre("strowger.yaml:1:9: routes: expected a mapping of named routes, with "
                          "at least \"request\", got a list"));
}

TEST(ScriptCompilerErrors, IfThenElseStructure) {
  EXPECT_THAT(errorsOf("routes:\n  request:\n    - then: [ forward ]\n"),
              ElementsAre("strowger.yaml:3:7: routes.request[0]: \"then\" without \"if\"; an if "
                          "step is {if: {CONDITIONS}, then: [STEPS], else: [STEPS]}"));
  EXPECT_THAT(errorsOf("routes:\n  request:\n    - if: { method: BYE }\n"),
              ElementsAre("strowger.yaml:3:7: routes.request[0]: \"if\" without \"then\"; an if "
                          "step is {if: {CONDITIONS}, then: [STEPS], else: [STEPS]}"));
  EXPECT_THAT(errorsOf("routes:\n  request:\n    - if: { method: BYE }\n      thne: [ drop ]\n"),
              ElementsAre("strowger.yaml:3:7: routes.request[0]: \"if\" without \"then\"; an if "
                          "step is {if: {CONDITIONS}, then: [STEPS], else: [STEPS]}",
                          "strowger.yaml:4:7: routes.request[0]: unknown key \"thne\" in an if "
                          "step; did you mean \"then\"?"));
  EXPECT_THAT(errorsOf("routes:\n  request:\n    - if: { method: BYE }\n      then: drop\n"),
              ElementsAre("strowger.yaml:4:13: routes.request[0].then: expected a list of steps, "
                          "such as [ forward ], got \"drop\""));
  EXPECT_THAT(errorsOf("routes:\n  request:\n    - if: [ { method: BYE } ]\n      then: [drop]\n"),
              ElementsAre("strowger.yaml:3:11: routes.request[0].if: expected a mapping of "
                          "conditions such as {method: INVITE, has_to_tag: false}, got a list; "
                          "conditions that must all hold go in one mapping, or use all: [...] or "
                          "any: [...]"));
  EXPECT_THAT(errorsOf("routes:\n  request:\n    - if: { any: [] }\n      then: [drop]\n"),
              ElementsAre("strowger.yaml:3:18: routes.request[0].if.any: expected a list of "
                          "condition mappings, such as [ {method: INVITE}, {method: BYE} ], got a "
                          "list"));
  EXPECT_THAT(
      errorsOf("routes:\n  request:\n    - if: { method: BYE, method: ACK }\n      then: [drop]\n"),
      ElementsAre("strowger.yaml:3:26: routes.request[0].if: \"method\" given twice (first at "
                  "line 3); use all: [...] to test it twice"));
}

TEST(ScriptCompilerErrors, OneStepPerListItem) {
  EXPECT_THAT(errorsOf("routes:\n  request:\n    - { record_route: , forward: }\n"),
              ElementsAre("strowger.yaml:3:7: routes.request[0]: a step is one name with its "
                          "parameters, but this one has 2 (record_route, forward); start each "
                          "step with its own \"- \""));
  EXPECT_THAT(errorsOf("routes:\n  request:\n    - [ forward ]\n"),
              ElementsAre("strowger.yaml:3:7: routes.request[0]: expected a step: a name such as "
                          "forward, {name: parameters}, or {if: {CONDITIONS}, then: [STEPS], "
                          "else: [STEPS]}, got a list"));
  EXPECT_THAT(errorsOf("routes:\n  request: forward\n"),
              ElementsAre("strowger.yaml:2:12: routes.request: expected a list of steps, got "
                          "\"forward\""));
}

TEST(ScriptCompilerErrors, RouteNames) {
  EXPECT_THAT(errorsOf("routes:\n  request: []\n  \"a b\": []\n"),
              ElementsAre("strowger.yaml:3:3: routes: expected a route name (letters, digits, "
                          "'_', '-', '.'), got \"a b\""));
  EXPECT_THAT(errorsOf("routes:\n  request: []\n  x: []\n  x: [ drop ]\n"),
              ElementsAre("strowger.yaml:4:3: routes.x: route defined twice (first at line 3)"));
}

TEST(ScriptCompilerErrors, UnknownVariable) {
  EXPECT_THAT(errorsOf("routes:\n  request:\n    - log: \"call to ${ruri.usr}\"\n"),
              ElementsAre("strowger.yaml:3:12: routes.request[0].log: unknown variable "
                          "\"${ruri.usr}\"; did you mean \"${ruri.user}\"?"));
  EXPECT_THAT(errorsOf("routes:\n  request:\n    - set_ruri_user: \"${to.user\"\n"),
              ElementsAre("strowger.yaml:3:22: routes.request[0].set_ruri_user: \"${\" without "
                          "its closing \"}\" in \"${to.user\" (write $$ for a literal $)"));
}

TEST(ScriptCompilerErrors, MethodsAreCaseSensitive) {
  EXPECT_THAT(errorsOf("routes:\n  request:\n    - if: { method: invite }\n      then: [drop]\n"),
              ElementsAre("strowger.yaml:3:21: routes.request[0].if.method: methods are "
                          "case-sensitive (RFC 3261 §7.1): \"invite\" never matches; did you mean "
                          "\"INVITE\"?"));
}

TEST(ScriptCompilerErrors, HeadersTheProxyMaintains) {
  EXPECT_THAT(errorsOf("routes:\n  request:\n    - remove_header: Via\n"
                       "    - add_header: { name: Call-ID, value: x }\n"
                       "    - replace_header: { name: t, value: x }\n"),
              ElementsAre(HasSubstr("strowger.yaml:3:22: routes.request[0].remove_header: "
                                    "\"Via\" (Via) is maintained by the proxy"),
                          HasSubstr("strowger.yaml:4:27: routes.request[1].add_header: "
                                    "\"Call-ID\" (Call-ID) is maintained"),
                          HasSubstr("strowger.yaml:5:31: routes.request[2].replace_header: \"t\" "
                                    "(To) is maintained")));
}

TEST(ScriptCompilerErrors, Destinations) {
  EXPECT_THAT(errorsOf("routes:\n  request:\n    - forward: { to: \"sips:10.0.0.1\" }\n"),
              ElementsAre("strowger.yaml:3:22: routes.request[0].forward: sips: needs TLS, which "
                          "this version does not support; use sip: with transport=udp or tcp"));
  EXPECT_THAT(
      errorsOf("routes:\n  request:\n    - set_next_hop: \"sip:10.0.0.1;transport=sctp\"\n"),
      ElementsAre("strowger.yaml:3:21: routes.request[0].set_next_hop: transport \"sctp\" is not "
                  "supported by this version; use udp or tcp"));
  EXPECT_THAT(errorsOf("routes:\n  request:\n    - set_ruri: \"mailto:bob@example.com\"\n"),
              ElementsAre("strowger.yaml:3:17: routes.request[0].set_ruri: expected a sip:, sips: "
                          "or tel: URI such as \"sip:alice@example.com\", got "
                          "\"mailto:bob@example.com\""));
  EXPECT_THAT(errorsOf("routes:\n  request:\n    - set_ruri_host: \"pbx example\"\n"
                       "    - set_ruri_port: 70000\n"),
              ElementsAre("strowger.yaml:3:22: routes.request[0].set_ruri_host: expected a host "
                          "such as \"pbx.example.com\", \"192.0.2.1\" or \"[2001:db8::1]\", got "
                          "\"pbx example\"",
                          "strowger.yaml:4:22: routes.request[1].set_ruri_port: expected a port "
                          "1..65535 (empty removes it), got \"70000\""));
}

TEST(ScriptCompilerErrors, AllErrorsAreCollectedInDocumentOrder) {
  const std::vector<std::string> errors = errorsOf(R"(routes:
  in_dialog:
    - route: nowhere
  request:
    - forwrad
    - if: { ruri.user: { regex: "(" } }
      then: [ { reply: [1000] } ]
)");
  EXPECT_THAT(errors,
              ElementsAre(HasSubstr("strowger.yaml:3:14: routes.in_dialog[0].route"),
                          HasSubstr("strowger.yaml:5:7: routes.request[0].forwrad"),
                          HasSubstr("strowger.yaml:6:33: routes.request[1].if.ruri.user"),
                          HasSubstr("strowger.yaml:7:25: routes.request[1].then[0].reply")));
}

TEST(ScriptCompilerErrors, ErrorsConvertToTheConfigurationForm) {
  ScriptError e{"a.yaml", 3, 7, "routes.request[0]", "bad"};
  EXPECT_EQ(e.toString(), "a.yaml:3:7: routes.request[0]: bad");
  EXPECT_EQ((ScriptError{"a.yaml", 0, 0, "", "bad"}).toString(), "a.yaml: bad");
}

}  // namespace
}  // namespace strowger::script::test

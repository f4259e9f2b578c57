// Every built-in action, run against hand-built requests and the recording ProxyActions.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <sstream>

#include "test_support.h"

namespace strowger::script::test {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

std::string routes(std::string_view steps) {
  return "routes:\n  request:\n" + std::string(steps);
}

// --- reply, forward, drop: the steps that finish a message ------------------------------------

TEST(ScriptActions, ReplyForms) {
  {
    TestRequest r(invite());
    EXPECT_THAT(run(routes("    - reply: [486, \"Busy Here\"]\n    - forward\n"), r),
                ElementsAre("reply 486 Busy Here"));
    EXPECT_TRUE(r.ctx().finished());
  }
  {
    TestRequest r(invite());
    EXPECT_THAT(run(routes("    - reply: 404\n"), r), ElementsAre("reply 404 Not Found"));
  }
  {
    TestRequest r(invite());
    EXPECT_THAT(run(routes("    - reply: [480]\n"), r),
                ElementsAre("reply 480 Temporarily Unavailable"));
  }
  {
    TestRequest r(invite());
    EXPECT_THAT(run(routes("    - reply: { code: 503, reason: Maintenance, headers: [ "
                           "\"Retry-After: 60\", \"X-Reason: planned\" ] }\n"),
                    r),
                ElementsAre("reply 503 Maintenance [Retry-After: 60] [X-Reason: planned]"));
  }
  {
    TestRequest r(invite("sip:bob@example.com", "X-Evil: a\n b\n"));
    EXPECT_THAT(
        run(routes("    - reply: { code: 302, headers: [ \"Contact: <sip:${ruri.user}@pbx>\", "
                   "\"X-Echo: ${hdr.X-Evil}\" ] }\n"),
            r),
        ElementsAre("reply 302 Moved Temporarily [Contact: <sip:bob@pbx>] [X-Echo: a   b]"));
  }
}

TEST(ScriptActions, ForwardToTheRequestUriOrTheNextHop) {
  TestRequest r(invite());
  EXPECT_THAT(run(routes("    - forward\n    - reply: 500\n"), r),
              ElementsAre("forward (default)"));
  EXPECT_TRUE(r.ctx().finished());
  EXPECT_FALSE(r.actions().forwardedTo.has_value());
}

TEST(ScriptActions, ForwardToAFixedDestination) {
  TestRequest r(invite());
  EXPECT_THAT(run(routes("    - forward: { to: \"sip:127.0.0.1:5070;transport=tcp\" }\n"), r),
              ElementsAre("forward sip:127.0.0.1:5070;transport=tcp"));
  ASSERT_TRUE(r.actions().forwardedTo.has_value());
  const NextHop& hop = *r.actions().forwardedTo;
  EXPECT_EQ(hop.host, "127.0.0.1");
  EXPECT_EQ(hop.port, 5070);
  EXPECT_EQ(hop.protocol, transport::Protocol::kTcp);
  // The Request-URI is left alone.
  EXPECT_EQ(r.ctx().requestUriText(), "sip:bob@example.com");
  EXPECT_FALSE(r.ctx().requestUriRewritten());

  TestRequest v6(invite());
  run(routes("    - forward: { to: \"sip:[2001:db8::9]\" }\n"), v6);
  ASSERT_TRUE(v6.actions().forwardedTo.has_value());
  EXPECT_EQ(v6.actions().forwardedTo->host, "2001:db8::9");
  EXPECT_EQ(v6.actions().forwardedTo->port, 0);
  EXPECT_FALSE(v6.actions().forwardedTo->protocol.has_value());
}

TEST(ScriptActions, ForwardToADestinationReadFromTheMessage) {
  TestRequest r(invite("sip:bob@example.com", "X-Dest: 10.0.0.7:5080\n"));
  EXPECT_THAT(run(routes("    - forward: { to: \"sip:${hdr.X-Dest};transport=udp\" }\n"), r),
              ElementsAre("forward sip:10.0.0.7:5080;transport=udp"));
  EXPECT_EQ(r.actions().forwardedTo->port, 5080);

  // A destination that does not read as a SIP URI is answered, not guessed at.
  TestRequest bad(invite("sip:bob@example.com", "X-Dest: not a host\n"));
  EXPECT_THAT(run(routes("    - forward: { to: \"sip:${hdr.X-Dest}\" }\n"), bad),
              ElementsAre("reply 503 Cannot Forward"));
  EXPECT_TRUE(bad.ctx().finished());
}

TEST(ScriptActions, AFailedForwardStillEndsTheScript) {
  // The proxy answers a failed forward itself; the script must not answer a second time.
  TestRequest r(invite());
  r.actions().forwardResult = false;
  EXPECT_THAT(run(routes("    - forward\n    - reply: 500\n"), r),
              ElementsAre("forward (default)"));
  EXPECT_TRUE(r.ctx().finished());
}

TEST(ScriptActions, Drop) {
  TestRequest r(invite());
  EXPECT_THAT(run(routes("    - drop\n    - forward\n"), r), ElementsAre("drop"));
  EXPECT_TRUE(r.ctx().finished());
}

TEST(ScriptActions, ReachingTheEndLeavesTheMessageUnfinished) {
  TestRequest r(invite());
  EXPECT_THAT(run(routes("    - record_route\n"), r), ElementsAre("record_route"));
  EXPECT_FALSE(r.ctx().finished());
}

TEST(ScriptActions, RecordRouteAndLooseRouteContinue) {
  TestRequest r(invite());
  r.actions().looseRouteResult = true;
  EXPECT_THAT(run(routes("    - record_route\n    - loose_route\n    - forward\n"), r),
              ElementsAre("record_route", "loose_route", "forward (default)"));
}

// --- the Request-URI and the next hop ---------------------------------------------------------

// The Request-URI after `steps` ran on an INVITE to `ruri` (with `headers`).
std::string rewritten(std::string_view steps, std::string_view ruri,
                      std::string_view headers = "") {
  TestRequest r(invite(ruri, headers));
  run(routes(steps), r);
  // The script leaves the received message and the editor alone: the proxy writes the new
  // Request-URI once, when it forwards.
  EXPECT_THAT(r.edited(), HasSubstr("INVITE " + std::string(ruri) + " SIP/2.0"));
  return std::string(r.ctx().requestUriText());
}

TEST(ScriptActions, SetRequestUri) {
  EXPECT_EQ(rewritten("    - set_ruri: \"sip:carol@pbx.example.com;transport=tcp\"\n",
                      "sip:bob@example.com"),
            "sip:carol@pbx.example.com;transport=tcp");
  EXPECT_EQ(
      rewritten("    - set_ruri: \"sip:${to.user}@${src.ip}:${src.port}\"\n", "sip:x@example.com"),
      "sip:bob@192.0.2.10:5060");
  // A value from the message that is no URI leaves the Request-URI as it was.
  EXPECT_EQ(rewritten("    - set_ruri: \"${hdr.X-Target}\"\n", "sip:bob@example.com",
                      "X-Target: not a uri\n"),
            "sip:bob@example.com");
}

TEST(ScriptActions, SetRequestUriUser) {
  EXPECT_EQ(rewritten("    - set_ruri_user: carol\n", "sip:bob@example.com;user=phone"),
            "sip:carol@example.com;user=phone");
  EXPECT_EQ(rewritten("    - set_ruri_user: carol\n", "sip:example.com:5070"),
            "sip:carol@example.com:5070");
  EXPECT_EQ(rewritten("    - set_ruri_user: carol\n", "sip:bob:secret@[2001:db8::1]"),
            "sip:carol:secret@[2001:db8::1]");
  EXPECT_EQ(rewritten("    - set_ruri_user: carol\n", "sip:[2001:db8::1]"),
            "sip:carol@[2001:db8::1]");
  EXPECT_EQ(rewritten("    - set_ruri_user: \"\"\n", "sip:bob:secret@example.com"),
            "sip:example.com");
  // Characters a user part may not hold are escaped; escapes already there are kept.
  EXPECT_EQ(rewritten("    - set_ruri_user: \"a b@c%41\"\n", "sip:bob@example.com"),
            "sip:a%20b%40c%41@example.com");
  EXPECT_EQ(rewritten("    - set_ruri_user: \"+1${from.user}\"\n", "sip:bob@example.com"),
            "sip:+1alice@example.com");
  EXPECT_EQ(rewritten("    - set_ruri_user: \"+4930555\"\n", "tel:+4930123;phone-context=x"),
            "tel:+4930555;phone-context=x");
}

TEST(ScriptActions, SetRequestUriHostAndPort) {
  EXPECT_EQ(rewritten("    - set_ruri_host: pbx.example.com\n", "sip:bob@example.com:5070;lr"),
            "sip:bob@pbx.example.com:5070;lr");
  EXPECT_EQ(rewritten("    - set_ruri_host: \"2001:db8::2\"\n", "sip:bob@example.com"),
            "sip:bob@[2001:db8::2]");
  EXPECT_EQ(rewritten("    - set_ruri_host: \"192.0.2.7\"\n", "sip:bob@[2001:db8::1]:5080"),
            "sip:bob@192.0.2.7:5080");
  EXPECT_EQ(rewritten("    - set_ruri_port: 5080\n", "sip:bob@example.com;transport=tcp"),
            "sip:bob@example.com:5080;transport=tcp");
  EXPECT_EQ(rewritten("    - set_ruri_port: \"5090\"\n", "sip:bob@[2001:db8::1]:5080"),
            "sip:bob@[2001:db8::1]:5090");
  EXPECT_EQ(rewritten("    - set_ruri_port: \"\"\n", "sip:bob@example.com:5080;lr"),
            "sip:bob@example.com;lr");
  EXPECT_EQ(rewritten("    - set_ruri_host: \"${hdr.X-Host}\"\n", "sip:bob@example.com",
                      "X-Host: bad host\n"),
            "sip:bob@example.com");
  EXPECT_EQ(rewritten("    - set_ruri_port: \"${hdr.X-Port}\"\n", "sip:bob@example.com",
                      "X-Port: 99999\n"),
            "sip:bob@example.com");
  // tel: has no host.
  EXPECT_EQ(rewritten("    - set_ruri_host: example.com\n", "tel:+4930123"), "tel:+4930123");
}

TEST(ScriptActions, RewritesBuildOnEachOther) {
  EXPECT_EQ(rewritten("    - set_ruri_host: pbx.example.com\n    - set_ruri_port: 5080\n"
                      "    - set_ruri_user: \"9${ruri.user}\"\n",
                      "sip:100@example.com"),
            "sip:9100@pbx.example.com:5080");
}

TEST(ScriptActions, SetNextHopKeepsTheRequestUri) {
  TestRequest r(invite("sip:100@tenant-a.example.com"));
  EXPECT_THAT(run(routes("    - set_next_hop: \"sip:10.0.0.5:5080;transport=tcp\"\n"
                         "    - forward\n"),
                  r),
              ElementsAre("forward (default)"));
  ASSERT_TRUE(r.ctx().nextHop().has_value());
  EXPECT_EQ(r.ctx().nextHop()->host, "10.0.0.5");
  EXPECT_EQ(r.ctx().nextHop()->port, 5080);
  EXPECT_EQ(r.ctx().nextHop()->protocol, transport::Protocol::kTcp);
  EXPECT_EQ(r.ctx().nextHop()->uri, "sip:10.0.0.5:5080;transport=tcp");
  EXPECT_EQ(r.ctx().requestUriText(), "sip:100@tenant-a.example.com");

  TestRequest dynamic(invite("sip:100@tenant-a.example.com", "X-Pbx: 10.0.0.6\n"));
  run(routes("    - set_next_hop: \"sip:${hdr.X-Pbx}\"\n"), dynamic);
  ASSERT_TRUE(dynamic.ctx().nextHop().has_value());
  EXPECT_EQ(dynamic.ctx().nextHop()->host, "10.0.0.6");

  TestRequest bad(invite("sip:100@tenant-a.example.com", "X-Pbx: ???\n"));
  run(routes("    - set_next_hop: \"sip:${hdr.X-Pbx}\"\n"), bad);
  EXPECT_FALSE(bad.ctx().nextHop().has_value());
}

// --- headers -----------------------------------------------------------------------------------

TEST(ScriptActions, AddHeader) {
  TestRequest r(invite());
  run(routes("    - add_header: { name: X-Tenant, value: acme }\n"
             "    - add_header: { name: X-From, value: \"${from.user} via ${transport}\" }\n"),
      r);
  EXPECT_THAT(r.edited(), HasSubstr("Content-Length: 0\nX-Tenant: acme\nX-From: alice via udp\n"));
}

TEST(ScriptActions, RemoveHeader) {
  TestRequest r(invite("sip:bob@example.com",
                       "X-Internal: 1\nSubject: hi\nX-Internal: 2\ns: compact\nP-Other: x\n"));
  run(routes("    - remove_header: x-internal\n    - remove_header: Subject\n"
             "    - remove_header: X-Absent\n"),
      r);
  const std::string out = r.edited();
  EXPECT_THAT(out, Not(HasSubstr("X-Internal")));
  EXPECT_THAT(out, Not(HasSubstr("Subject")));
  EXPECT_THAT(out, Not(HasSubstr("s: compact")));
  EXPECT_THAT(out, HasSubstr("P-Other: x\n"));
}

TEST(ScriptActions, ReplaceHeader) {
  TestRequest r(invite("sip:bob@example.com", "X-Tenant: a\nX-Tenant: b\n"));
  run(routes("    - replace_header: { name: X-Tenant, value: \"${ruri.host}\" }\n"
             "    - replace_header: { name: X-New, value: fresh }\n"),
      r);
  const std::string out = r.edited();
  EXPECT_THAT(out, HasSubstr("X-Tenant: example.com\n"));
  EXPECT_THAT(out, Not(HasSubstr("X-Tenant: a")));
  EXPECT_THAT(out, Not(HasSubstr("X-Tenant: b")));
  EXPECT_THAT(out, HasSubstr("X-New: fresh\n"));
}

TEST(ScriptActions, AHeaderLineIsEditedOnce) {
  // The first edit of a received line wins, and a removal wins over a replacement.
  TestRequest r(invite("sip:bob@example.com", "X-A: 1\nX-B: 1\n"));
  run(routes("    - replace_header: { name: X-A, value: first }\n"
             "    - replace_header: { name: X-A, value: second }\n"
             "    - replace_header: { name: X-B, value: replaced }\n"
             "    - remove_header: X-B\n"),
      r);
  const std::string out = r.edited();
  EXPECT_THAT(out, HasSubstr("X-A: first\n"));
  EXPECT_THAT(out, Not(HasSubstr("second")));
  EXPECT_THAT(out, Not(HasSubstr("X-B")));
}

// --- route calls -------------------------------------------------------------------------------

TEST(ScriptActions, RouteCallsReturnUnlessTheMessageIsFinished) {
  TestRequest r(invite());
  EXPECT_THAT(run(R"(routes:
  request:
    - route: mark
    - route: finish
    - reply: 500
  mark:
    - record_route
  finish:
    - forward
    - reply: 500
)",
                  r),
              ElementsAre("record_route", "forward (default)"));
}

TEST(ScriptActions, RouteCallsAreBoundedInDepth) {
  TestRequest r(invite(), "192.0.2.10", 5060, transport::Protocol::kUdp, /*withTracer=*/true);
  run(R"(routes:
  request:
    - route: again
  again:
    - record_route
    - route: again
)",
      r);
  const std::vector<std::string>& calls = r.actions().calls;
  ASSERT_EQ(calls.size(), static_cast<std::size_t>(kMaxRouteDepth) + 1);
  EXPECT_EQ(calls.back(), "reply 500 Server Internal Error");
  EXPECT_TRUE(r.ctx().finished());
  EXPECT_EQ(r.tracer().lines.back(),
            "step route again: more than 32 nested route calls; reply 500 (line 6) @32");
}

// --- log ---------------------------------------------------------------------------------------

class ScriptLog : public ::testing::Test {
 protected:
  void SetUp() override {
    previous_ = spdlog::default_logger();
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_st>(out_);
    sink->set_pattern("[%l] %v");
    auto logger = std::make_shared<spdlog::logger>("script-test", sink);
    logger->set_level(spdlog::level::info);
    spdlog::set_default_logger(logger);
  }
  void TearDown() override { spdlog::set_default_logger(previous_); }

  std::ostringstream out_;
  std::shared_ptr<spdlog::logger> previous_;
};

TEST_F(ScriptLog, WritesTheLineWithItsFields) {
  TestRequest r(invite("sip:bob@example.com", "X-Evil: a\n b\n"));
  run(routes("    - log: \"call from ${from.user} (${src.ip}:${src.port}) to ${ruri}\"\n"
             "    - log: { level: warning, message: \"evil ${hdr.X-Evil}\" }\n"
             "    - log: { level: debug, message: \"not shown\" }\n"),
      r);
  EXPECT_EQ(out_.str(),
            "[info] call from alice (192.0.2.10:5060) to sip:bob@example.com\n"
            "[warning] evil a\\x0d\\x0a b\n");
}

}  // namespace
}  // namespace strowger::script::test

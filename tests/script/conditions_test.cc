// Every built-in condition, run against hand-built requests.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "test_support.h"

namespace strowger::script::test {
namespace {

using ::testing::ElementsAre;

// Whether `condition` (a YAML flow mapping) holds for `request`.
bool holds(std::string_view condition, TestRequest& request) {
  const std::string yaml = "routes:\n  request:\n    - if: " + std::string(condition) +
                           "\n      then: [ { reply: [200, \"yes\"] } ]"
                           "\n      else: [ { reply: [404, \"no\"] } ]\n";
  const std::vector<std::string> calls = run(yaml, request);
  EXPECT_FALSE(calls.empty());
  return !calls.empty() && calls.back() == "reply 200 yes";
}

bool holds(std::string_view condition, std::string_view requestText) {
  TestRequest request(requestText);
  return holds(condition, request);
}

TEST(ScriptConditions, Method) {
  const std::string inv = invite();
  EXPECT_TRUE(holds("{ method: INVITE }", inv));
  EXPECT_FALSE(holds("{ method: BYE }", inv));
  EXPECT_TRUE(holds("{ method: [ BYE, INVITE ] }", inv));
  EXPECT_FALSE(holds("{ method: [ BYE, CANCEL ] }", inv));
  // Extension methods are tokens like any other.
  std::string foo = inv;
  foo.replace(0, 6, "FOO");
  foo.replace(foo.find("CSeq: 314159 INVITE"), 19, "CSeq: 314159 FOO");
  EXPECT_TRUE(holds("{ method: FOO }", foo));
}

TEST(ScriptConditions, RequestUriUser) {
  const std::string inv = invite("sip:+4930123456@example.com;user=phone");
  EXPECT_TRUE(holds("{ ruri.user: \"+4930123456\" }", inv));
  EXPECT_TRUE(holds("{ ruri.user: [ \"alice\", \"+4930123456\" ] }", inv));
  EXPECT_TRUE(holds("{ ruri.user: { regex: \"^\\\\+?[0-9]{7,15}$\" } }", inv));
  EXPECT_FALSE(holds("{ ruri.user: { regex: \"^[0-9]+$\" } }", inv));
  EXPECT_TRUE(holds("{ ruri.user: { prefix: \"+49\" } }", inv));
  EXPECT_FALSE(holds("{ ruri.user: { prefix: \"+44\" } }", inv));
  EXPECT_TRUE(holds("{ ruri.user: { present: true } }", inv));
  // User parts compare case-sensitively, after decoding escapes (RFC 3261 §19.1.4).
  EXPECT_FALSE(holds("{ ruri.user: Bob }", invite("sip:bob@example.com")));
  EXPECT_TRUE(holds("{ ruri.user: bob }", invite("sip:%62ob@example.com")));
  // No user: absent for `present`, the empty string for the other tests.
  const std::string noUser = invite("sip:example.com");
  EXPECT_TRUE(holds("{ ruri.user: { present: false } }", noUser));
  EXPECT_TRUE(holds("{ ruri.user: \"\" }", noUser));
  EXPECT_FALSE(holds("{ ruri.user: { prefix: \"+\" } }", noUser));
}

TEST(ScriptConditions, RegexSubjectsAreBounded) {
  const std::string longUser(2000, '1');
  const std::string inv = invite("sip:" + longUser + "@example.com");
  EXPECT_TRUE(holds("{ ruri.user: { prefix: \"111\" } }", inv));
  EXPECT_FALSE(holds("{ ruri.user: { regex: \"^1+$\" } }", inv));
}

TEST(ScriptConditions, RequestUriHostPortSchemeParams) {
  const std::string inv = invite("sip:bob@PBX.Example.com:5070;transport=TCP;lr");
  EXPECT_TRUE(holds("{ ruri.host: pbx.example.com }", inv));
  EXPECT_TRUE(holds("{ ruri.host: { regex: \"example\\\\.COM$\" } }", inv));
  EXPECT_TRUE(holds("{ ruri.host: { prefix: pbx. } }", inv));
  EXPECT_TRUE(holds("{ ruri.port: \"5070\" }", inv));
  EXPECT_TRUE(holds("{ ruri.port: 5070 }", inv));
  EXPECT_FALSE(holds("{ ruri.port: 5060 }", inv));
  EXPECT_TRUE(holds("{ ruri.port: { present: false } }", invite("sip:bob@example.com")));
  EXPECT_TRUE(holds("{ ruri.scheme: SIP }", inv));
  EXPECT_FALSE(holds("{ ruri.scheme: sips }", inv));
  EXPECT_TRUE(holds("{ ruri.param.transport: tcp }", inv));
  EXPECT_TRUE(holds("{ ruri.param.lr: { present: true } }", inv));
  EXPECT_TRUE(holds("{ ruri.param.lr: \"\" }", inv));
  EXPECT_TRUE(holds("{ ruri.param.maddr: { present: false } }", inv));
  // An IPv6 host compares without brackets, whichever way the configuration writes it.
  const std::string v6 = invite("sip:bob@[2001:db8::1]:5060");
  EXPECT_TRUE(holds("{ ruri.host: \"[2001:db8::1]\" }", v6));
  EXPECT_TRUE(holds("{ ruri.host: \"2001:db8::1\" }", v6));
}

TEST(ScriptConditions, FromAndTo) {
  const std::string inv = invite("sip:bob@example.com");
  EXPECT_TRUE(holds("{ from.user: alice, from.host: EXAMPLE.COM }", inv));
  EXPECT_FALSE(holds("{ from.user: Alice }", inv));
  EXPECT_TRUE(holds("{ to.user: bob, to.host: example.com }", inv));
  EXPECT_FALSE(holds("{ to.host: example.org }", inv));
}

TEST(ScriptConditions, ConditionsSeeTheRewrittenRequestUri) {
  TestRequest request(invite("sip:bob@example.com"));
  EXPECT_THAT(run(R"(routes:
  request:
    - set_ruri_user: "carol"
    - if: { ruri.user: carol }
      then: [ { reply: [200, "rewritten"] } ]
)",
                  request),
              ElementsAre("reply 200 rewritten"));
}

TEST(ScriptConditions, Header) {
  const std::string inv =
      invite("sip:bob@example.com", "X-Tenant: acme\nX-Tenant: globex\ns: Urgent call\n");
  EXPECT_TRUE(holds("{ header: X-Tenant }", inv));
  EXPECT_TRUE(holds("{ header: x-tenant }", inv));
  EXPECT_TRUE(holds("{ header: { name: X-Tenant } }", inv));
  EXPECT_FALSE(holds("{ header: X-Other }", inv));
  // A compact form is the same header (RFC 3261 §7.3.3).
  EXPECT_TRUE(holds("{ header: Subject }", inv));
  EXPECT_TRUE(holds("{ header: { name: Subject, prefix: Urgent } }", inv));
  // Any line of the name may match.
  EXPECT_TRUE(holds("{ header: { name: X-Tenant, equals: globex } }", inv));
  EXPECT_FALSE(holds("{ header: { name: X-Tenant, equals: Globex } }", inv));
  EXPECT_TRUE(holds("{ header: { name: X-Tenant, regex: \"^glo\" } }", inv));
  EXPECT_TRUE(holds("{ header: { name: X-Other, present: false } }", inv));
  EXPECT_FALSE(holds("{ header: { name: X-Tenant, present: false } }", inv));
}

TEST(ScriptConditions, SourceAddress) {
  const std::string inv = invite();
  {
    TestRequest request(inv, "10.1.2.3");
    EXPECT_TRUE(holds("{ src_ip: \"10.0.0.0/8\" }", request));
  }
  {
    TestRequest request(inv, "11.1.2.3");
    EXPECT_FALSE(holds("{ src_ip: [ \"10.0.0.0/8\", \"192.168.0.0/16\" ] }", request));
  }
  {
    TestRequest request(inv, "192.168.7.1");
    EXPECT_TRUE(holds("{ src_ip: [ \"10.0.0.0/8\", \"192.168.0.0/16\" ] }", request));
  }
  {
    TestRequest request(inv, "2001:db8:1::5");
    EXPECT_TRUE(holds("{ src_ip: \"2001:db8::/32\" }", request));
  }
  {
    TestRequest request(inv, "2001:db9::5");
    EXPECT_FALSE(holds("{ src_ip: \"2001:db8::/32\" }", request));
  }
  {
    // An IPv4 peer seen through an IPv6 socket is an IPv4 address.
    TestRequest request(inv, "::ffff:10.9.8.7");
    EXPECT_TRUE(holds("{ src_ip: \"10.0.0.0/8\" }", request));
  }
  {
    TestRequest request(inv, "10.9.8.7");
    EXPECT_FALSE(holds("{ src_ip: \"::/0\" }", request));
    EXPECT_TRUE(holds("{ src_ip: \"10.9.8.7\" }", request));
  }
  {
    TestRequest request(inv, "10.9.8.6");
    EXPECT_FALSE(holds("{ src_ip: \"10.9.8.7\" }", request));
    EXPECT_TRUE(holds("{ src_ip: \"0.0.0.0/0\" }", request));
    EXPECT_TRUE(holds("{ src_ip: \"10.9.8.6/31\" }", request));
  }
}

TEST(ScriptConditions, Transport) {
  {
    TestRequest request(invite(), "192.0.2.10", 5060, transport::Protocol::kTcp);
    EXPECT_TRUE(holds("{ transport: tcp }", request));
  }
  {
    TestRequest request(invite(), "192.0.2.10", 5060, transport::Protocol::kTcp);
    EXPECT_FALSE(holds("{ transport: udp }", request));
  }
  EXPECT_TRUE(holds("{ transport: udp }", invite()));
  EXPECT_TRUE(holds("{ transport: [ tcp, udp ] }", invite()));
}

TEST(ScriptConditions, AddressedToMe) {
  // RecordingActions treats 192.0.2.1 (any port) and proxy.example.com:5060 as this proxy.
  EXPECT_TRUE(holds("{ addressed_to_me: true }", invite("sip:192.0.2.1")));
  EXPECT_TRUE(holds("{ addressed_to_me: true }", invite("sip:bob@192.0.2.1:5080")));
  EXPECT_TRUE(holds("{ addressed_to_me: true }", invite("sip:proxy.example.com:5060")));
  EXPECT_FALSE(holds("{ addressed_to_me: true }", invite("sip:proxy.example.com:5070")));
  EXPECT_FALSE(holds("{ addressed_to_me: true }", invite("sip:bob@example.com")));
  EXPECT_TRUE(holds("{ addressed_to_me: false }", invite("sip:bob@example.com")));
  EXPECT_FALSE(holds("{ addressed_to_me: true }", invite("tel:+4930123456")));
}

TEST(ScriptConditions, HasToTag) {
  std::string inDialog = invite();
  inDialog.replace(inDialog.find("To: <sip:bob@example.com>"), 25,
                   "To: <sip:bob@example.com>;tag=8321234356");
  EXPECT_TRUE(holds("{ has_to_tag: true }", inDialog));
  EXPECT_FALSE(holds("{ has_to_tag: false }", inDialog));
  EXPECT_FALSE(holds("{ has_to_tag: true }", invite()));
}

TEST(ScriptConditions, LooseRouteTestsWhatTheProxyDid) {
  TestRequest routed(invite());
  routed.actions().looseRouteResult = true;
  EXPECT_TRUE(holds("{ loose_route: true }", routed));
  EXPECT_THAT(routed.actions().calls, ElementsAre("loose_route", "reply 200 yes"));

  TestRequest notRouted(invite());
  EXPECT_TRUE(holds("{ not: { loose_route: true } }", notRouted));
  EXPECT_TRUE(holds("{ loose_route: false }", invite()));
}

TEST(ScriptConditions, AllAnyNot) {
  const std::string inv = invite("sip:bob@example.com");
  // Several keys in one mapping: all must hold.
  EXPECT_TRUE(holds("{ method: INVITE, ruri.user: bob }", inv));
  EXPECT_FALSE(holds("{ method: INVITE, ruri.user: carol }", inv));
  EXPECT_TRUE(holds("{ all: [ { method: INVITE }, { to.user: bob } ] }", inv));
  EXPECT_FALSE(holds("{ all: [ { method: INVITE }, { to.user: carol } ] }", inv));
  EXPECT_TRUE(holds("{ any: [ { method: BYE }, { to.user: bob } ] }", inv));
  EXPECT_FALSE(holds("{ any: [ { method: BYE }, { to.user: carol } ] }", inv));
  EXPECT_TRUE(holds("{ not: { method: BYE } }", inv));
  EXPECT_FALSE(holds("{ not: { method: INVITE, to.user: bob } }", inv));
  EXPECT_TRUE(holds("{ not: { any: [ { method: BYE }, { method: ACK } ] } }", inv));
  EXPECT_TRUE(holds("{ any: [ { all: [ { method: BYE } ] }, { not: { to.user: x } } ] }", inv));
}

TEST(ScriptConditions, EvaluationStopsAtTheFirstDecidingTerm) {
  // loose_route acts when it is tested; a term after the deciding one is never tested.
  TestRequest any(invite());
  EXPECT_TRUE(holds("{ any: [ { method: INVITE }, { loose_route: true } ] }", any));
  EXPECT_THAT(any.actions().calls, ElementsAre("reply 200 yes"));
  TestRequest all(invite());
  EXPECT_FALSE(holds("{ all: [ { method: BYE }, { loose_route: true } ] }", all));
  EXPECT_THAT(all.actions().calls, ElementsAre("reply 404 no"));
}

}  // namespace
}  // namespace strowger::script::test

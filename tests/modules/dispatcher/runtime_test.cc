// The sets in service: health kept across a reload, live calls counted and released, next hops,
// Request-URI rewriting and the probes.
#include <gtest/gtest.h>

#include "runtime.h"
#include "strowger/sip/message.h"

namespace strowger::dispatcher {
namespace {

DispatcherConfig configWith(
    std::initializer_list<std::pair<std::string, std::vector<std::string>>> sets) {
  DispatcherConfig config;
  for (const auto& [name, uris] : sets) {
    SetConfig set;
    set.name = name;
    for (const std::string& uri : uris) {
      DestinationConfig d;
      EXPECT_TRUE(parseDestinationUri(uri, d)) << uri;
      set.destinations.push_back(d);
    }
    config.sets.push_back(set);
  }
  return config;
}

TEST(DispatcherRuntime, ReloadKeepsTheStateOfDestinationsThatRemain) {
  uint64_t nextId = 1;
  auto first = buildSnapshot(configWith({{"gw", {"sip:10.0.0.1", "sip:10.0.0.2", "sip:10.0.0.3"}},
                                         {"b", {"sip:10.0.0.1"}}}),
                             nullptr, nextId);
  const SetRuntime& gw = *first->find("gw");
  const HealthRules rules{1, 1, true};
  gw.destinations[1].status->health.failure(Failure{FailureSource::kProbe, "timeout"}, rules);
  gw.destinations[2].status->health.disable();
  gw.counter->store(41);
  EXPECT_EQ(gw.destinations[1].status->health.state(), HealthState::kInactive);
  // The same URI in another set is another destination.
  EXPECT_NE(first->find("b")->destinations[0].status, gw.destinations[0].status);

  auto second = buildSnapshot(
      configWith({{"gw", {"sip:10.0.0.3", "sip:10.0.0.2", "sip:10.0.0.9"}}}), first.get(), nextId);
  const SetRuntime& reloaded = *second->find("gw");
  EXPECT_EQ(second->find("b"), nullptr);
  EXPECT_EQ(reloaded.destinations[0].status, gw.destinations[2].status);
  EXPECT_EQ(reloaded.destinations[0].status->health.state(), HealthState::kDisabled);
  EXPECT_EQ(reloaded.destinations[1].status->health.state(), HealthState::kInactive);
  EXPECT_EQ(reloaded.destinations[2].status->health.state(), HealthState::kActive);
  EXPECT_EQ(reloaded.destinations[2].status->id, 5u);
  EXPECT_EQ(reloaded.counter->load(), 41u);
}

TEST(DispatcherRuntime, LiveCallsCountedUntilReleased) {
  auto a = std::make_shared<DestinationStatus>(1);
  auto b = std::make_shared<DestinationStatus>(2);
  {
    auto attempt = std::make_shared<Attempt>();
    attempt->liveCall.moveTo(a);
    LiveCall other(a);
    EXPECT_EQ(a->liveCalls.load(), 2);
    // dispatcher.next moves the call to the next destination.
    attempt->liveCall.moveTo(b);
    EXPECT_EQ(a->liveCalls.load(), 1);
    EXPECT_EQ(b->liveCalls.load(), 1);
    // Released with the request's state: the other holder keeps its count.
    std::shared_ptr<void> state = attempt;
    attempt.reset();
    EXPECT_EQ(b->liveCalls.load(), 1);
    state.reset();
    EXPECT_EQ(b->liveCalls.load(), 0);
  }
  EXPECT_EQ(a->liveCalls.load(), 0);
}

TEST(DispatcherRuntime, NextHop) {
  DestinationEntry entry;
  ASSERT_TRUE(parseDestinationUri("sip:10.0.0.2:5070;transport=tcp", entry.config));
  entry.listener = 2;
  const script::NextHop hop = hopFor(entry);
  EXPECT_EQ(hop.host, "10.0.0.2");
  EXPECT_EQ(hop.port, 5070);
  EXPECT_EQ(hop.protocol, transport::Protocol::kTcp);
  EXPECT_EQ(hop.listener, 2);
  EXPECT_EQ(hop.uri, "sip:10.0.0.2:5070;transport=tcp");
}

TEST(DispatcherRuntime, RewriteHostPortKeepsUserAndParameters) {
  DestinationConfig d;
  ASSERT_TRUE(parseDestinationUri("sip:10.0.0.1:5080", d));
  EXPECT_EQ(rewriteHostPort("sip:+4930123@carrier.example;user=phone", d),
            "sip:+4930123@10.0.0.1:5080;user=phone");
  DestinationConfig v6;
  ASSERT_TRUE(parseDestinationUri("sip:[2001:db8::1]", v6));
  EXPECT_EQ(rewriteHostPort("sip:bob@example.com:5060", v6), "sip:bob@[2001:db8::1]");
  EXPECT_FALSE(rewriteHostPort("tel:+4930123", d).has_value());
}

TEST(DispatcherRuntime, ProbeIsAWellFormedOptions) {
  ProbeRequest probe;
  probe.target = "sip:10.0.0.1:5060";
  probe.from = "sip:dispatcher@strowger.invalid";
  probe.viaProtocol = "UDP";
  probe.viaHost = "127.0.0.1";
  probe.viaPort = 5060;
  probe.destinationId = 12;
  probe.sequence = 3;
  const std::string bytes = buildProbe(probe);
  sip::Message message;
  ASSERT_TRUE(message.parse(bytes)) << bytes;
  EXPECT_EQ(message.methodText(), "OPTIONS");
  EXPECT_EQ(message.requestUriText(), "sip:10.0.0.1:5060");
  ASSERT_TRUE(message.topVia());
  EXPECT_EQ(message.topVia()->branch, "z9hG4bKdsp12.3");
  EXPECT_EQ(parseProbeBranch(message.topVia()->branch),
            (std::optional<std::pair<uint64_t, uint64_t>>{{12, 3}}));
  EXPECT_FALSE(message.from()->tag.empty());
  EXPECT_EQ(message.to()->uri.raw, "sip:10.0.0.1:5060");
  EXPECT_NE(bytes.find("Max-Forwards: 70\r\n"), std::string::npos);
  EXPECT_NE(bytes.find("CSeq: 3 OPTIONS\r\n"), std::string::npos);
  EXPECT_TRUE(bytes.ends_with("Content-Length: 0\r\n\r\n"));
  EXPECT_FALSE(parseProbeBranch("z9hG4bKka12.3").has_value());
  EXPECT_FALSE(parseProbeBranch("z9hG4bKdsp12").has_value());
  EXPECT_FALSE(parseProbeBranch("z9hG4bKdspx.1").has_value());
}

}  // namespace
}  // namespace strowger::dispatcher

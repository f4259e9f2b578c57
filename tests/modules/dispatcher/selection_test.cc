// The selection algorithms: each one's distribution over many selections, and the failover order
// it leaves.
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "selection.h"

namespace strowger::dispatcher {
namespace {

std::vector<Candidate> candidates(std::initializer_list<int> weights) {
  std::vector<Candidate> out;
  std::size_t index = 0;
  for (int weight : weights)
    out.push_back(Candidate{index++, weight, 0, 0});
  return out;
}

// How often each destination comes first over `n` selections.
std::map<std::size_t, int> firstChoices(Algorithm algorithm, const std::vector<Candidate>& usable,
                                        int n, uint64_t seed = 7) {
  std::mt19937_64 random(seed);
  std::map<std::size_t, int> counts;
  for (int i = 0; i < n; ++i) {
    SelectionInput input;
    input.counter = static_cast<uint64_t>(i);
    input.random = random();
    input.hash = hashKey("call-" + std::to_string(i) + "@example.com");
    const auto order = orderCandidates(algorithm, usable, input);
    EXPECT_EQ(order.size(), usable.size());
    ++counts[order.front()];
  }
  return counts;
}

TEST(DispatcherSelection, RoundRobinIsEven) {
  const auto counts = firstChoices(Algorithm::kRoundRobin, candidates({1, 1, 1}), 300);
  EXPECT_EQ(counts, (std::map<std::size_t, int>{{0, 100}, {1, 100}, {2, 100}}));
  // The rest follow in list order, wrapping round: the failover order.
  SelectionInput input;
  input.counter = 4;
  EXPECT_EQ(orderCandidates(Algorithm::kRoundRobin, candidates({1, 1, 1}), input),
            (std::vector<std::size_t>{1, 2, 0}));
}

TEST(DispatcherSelection, WeightedHonoursWeights) {
  const int n = 30000;
  const auto counts = firstChoices(Algorithm::kWeighted, candidates({10, 30, 60}), n);
  EXPECT_NEAR(counts.at(0), n * 0.10, n * 0.015);
  EXPECT_NEAR(counts.at(1), n * 0.30, n * 0.015);
  EXPECT_NEAR(counts.at(2), n * 0.60, n * 0.015);
}

TEST(DispatcherSelection, WeightZeroIsOnlyForFailover) {
  const auto counts = firstChoices(Algorithm::kWeighted, candidates({0, 50, 50}), 2000);
  EXPECT_EQ(counts.count(0), 0u);
  SelectionInput input;
  input.random = 0;  // draws the first weight that is not 0
  EXPECT_EQ(orderCandidates(Algorithm::kWeighted, candidates({0, 50, 50}), input),
            (std::vector<std::size_t>{1, 0, 2}));
}

TEST(DispatcherSelection, RandomIsUniform) {
  const int n = 30000;
  const auto counts = firstChoices(Algorithm::kRandom, candidates({1, 1, 1, 1}), n);
  for (std::size_t i = 0; i < 4; ++i)
    EXPECT_NEAR(counts.at(i), n / 4, n * 0.015);
}

TEST(DispatcherSelection, HashesAreStableAndSpread) {
  const auto usable = candidates({1, 1, 1});
  SelectionInput input;
  input.hash = hashKey("a84b4c76e66710@pc33.atlanta.com");
  const auto first = orderCandidates(Algorithm::kHashCallId, usable, input);
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(orderCandidates(Algorithm::kHashCallId, usable, input), first);
  // Many keys spread over all destinations, roughly evenly.
  const int n = 30000;
  const auto counts = firstChoices(Algorithm::kHashCallId, usable, n);
  for (std::size_t i = 0; i < 3; ++i)
    EXPECT_NEAR(counts.at(i), n / 3, n * 0.02);
}

TEST(DispatcherSelection, HashMovesOnlyWhenMembersChange) {
  std::vector<Candidate> all = candidates({1, 1, 1, 1});
  std::vector<Candidate> withoutTwo = {all[0], all[1], all[3]};
  int moved = 0, movedOffTwo = 0;
  const int n = 3000;
  for (int i = 0; i < n; ++i) {
    SelectionInput input;
    input.hash = hashKey("user" + std::to_string(i) + "@example.com");
    const std::size_t before = orderCandidates(Algorithm::kHashFrom, all, input).front();
    // Same members: same choice.
    EXPECT_EQ(orderCandidates(Algorithm::kHashFrom, all, input).front(), before);
    const std::size_t after = orderCandidates(Algorithm::kHashFrom, withoutTwo, input).front();
    EXPECT_NE(after, 2u);
    if (after != before) ++moved;
    if (before == 2) ++movedOffTwo;
  }
  // Every key that was on the missing member moved; the others may move (the list is shorter),
  // and they all come back when it returns (the hash of the full list is unchanged above).
  EXPECT_GT(movedOffTwo, 0);
  EXPECT_GE(moved, movedOffTwo);
}

TEST(DispatcherSelection, PriorityOrder) {
  std::vector<Candidate> usable = {
      {0, 1, 5, 0}, {1, 1, 1, 0}, {2, 1, 5, 0}, {3, 1, 0, 0}, {4, 1, 1, 0}};
  const auto counts = firstChoices(Algorithm::kPriority, usable, 100);
  EXPECT_EQ(counts, (std::map<std::size_t, int>{{3, 100}}));
  EXPECT_EQ(orderCandidates(Algorithm::kPriority, usable, SelectionInput{}),
            (std::vector<std::size_t>{3, 1, 4, 0, 2}));
}

TEST(DispatcherSelection, LeastCallsPicksTheLeastLoaded) {
  std::vector<Candidate> usable = {{0, 1, 0, 7}, {1, 1, 0, 2}, {2, 1, 0, 5}};
  const auto counts = firstChoices(Algorithm::kLeastCalls, usable, 50);
  EXPECT_EQ(counts, (std::map<std::size_t, int>{{1, 50}}));
  EXPECT_EQ(orderCandidates(Algorithm::kLeastCalls, usable, SelectionInput{}),
            (std::vector<std::size_t>{1, 2, 0}));
  // Equal loads are shared out.
  const auto idle = firstChoices(Algorithm::kLeastCalls, candidates({1, 1, 1}), 300);
  EXPECT_EQ(idle, (std::map<std::size_t, int>{{0, 100}, {1, 100}, {2, 100}}));
}

TEST(DispatcherSelection, NothingUsable) {
  EXPECT_TRUE(orderCandidates(Algorithm::kRoundRobin, {}, SelectionInput{}).empty());
}

TEST(DispatcherSelection, OnlyTheUsableAreOrdered) {
  // Indexes are the destinations' positions in their set, whichever are left out.
  std::vector<Candidate> usable = {{1, 1, 0, 0}, {3, 1, 0, 0}};
  SelectionInput input;
  input.counter = 1;
  EXPECT_EQ(orderCandidates(Algorithm::kRoundRobin, usable, input),
            (std::vector<std::size_t>{3, 1}));
}

TEST(DispatcherSelection, DigestUsername) {
  EXPECT_EQ(digestUsername("Digest username=\"alice\", realm=\"example.com\", nonce=\"x\""),
            "alice");
  EXPECT_EQ(digestUsername("digest realm=\"r\",USERNAME=bob,nonce=\"n\""), "bob");
  EXPECT_EQ(digestUsername("Basic YWxpY2U6c2VjcmV0"), "");
  EXPECT_EQ(digestUsername("Digest realm=\"r\""), "");
  EXPECT_EQ(digestUsername("Digest username=\"unterminated"), "");
}

}  // namespace
}  // namespace strowger::dispatcher

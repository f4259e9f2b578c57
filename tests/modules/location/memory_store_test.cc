// The memory store's rules: upsert and remove by id, expiry, lookup order, and that concurrent
// registrations of one AOR never interleave while lookups see whole records.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "memory_store.h"
#include "store_factory.h"

namespace strowger::location {
namespace {

constexpr int64_t kNow = 1'700'000'000;

Binding binding(const std::string& aor, const std::string& contact, int64_t expiresAt,
                uint16_t qMilli = 1000, int64_t updatedAt = kNow) {
  Binding b;
  // Tests need stable, distinct ids only; the real ones are bindingId()'s.
  b.id = aor + "|" + contact;
  b.aor = aor;
  b.contact = contact;
  b.callId = "call-" + contact;
  b.cseq = 1;
  b.qMilli = qMilli;
  b.expiresAt = expiresAt;
  b.updatedAt = updatedAt;
  return b;
}

DecideFn upserting(std::vector<Binding> bindings) {
  return [bindings](const std::vector<Binding>&, int64_t) {
    BindingChanges c;
    c.upsert = bindings;
    return c;
  };
}

DecideFn removing(std::vector<std::string> ids) {
  return [ids](const std::vector<Binding>&, int64_t) {
    BindingChanges c;
    c.remove = ids;
    return c;
  };
}

class MemoryStoreTest : public ::testing::Test {
 protected:
  UpdateOutcome update(const std::string& aor, DecideFn decide) {
    UpdateOutcome result;
    bool called = false;
    store_.update(aor, std::move(decide), [&](UpdateOutcome o) {
      result = std::move(o);
      called = true;
    });
    EXPECT_TRUE(called) << "memory mode answers inline";
    return result;
  }
  LookupOutcome lookup(const std::string& aor, int64_t now = kNow) {
    LookupOutcome result;
    bool called = false;
    store_.lookup(aor, now, [&](LookupOutcome o) {
      result = std::move(o);
      called = true;
    });
    EXPECT_TRUE(called) << "memory mode answers inline";
    return result;
  }
  static std::vector<std::string> contacts(const std::vector<Binding>& bindings) {
    std::vector<std::string> out;
    for (const Binding& b : bindings)
      out.push_back(b.contact);
    return out;
  }

  std::atomic<int64_t> now_{kNow};
  MemoryStore store_{[this] { return now_.load(); }};
};

TEST_F(MemoryStoreTest, UpsertInsertsThenReplacesById) {
  UpdateOutcome first =
      update("alice@example.com",
             upserting({binding("alice@example.com", "sip:a@192.0.2.1", kNow + 3600)}));
  EXPECT_TRUE(first.applied);
  EXPECT_FALSE(first.durable) << "memory mode is never durable";
  ASSERT_EQ(first.bindings.size(), 1u);

  Binding renewed = binding("alice@example.com", "sip:a@192.0.2.1", kNow + 7200);
  renewed.cseq = 2;
  UpdateOutcome second = update("alice@example.com", upserting({renewed}));
  ASSERT_EQ(second.bindings.size(), 1u);
  EXPECT_EQ(second.bindings[0], renewed);

  LookupOutcome found = lookup("alice@example.com");
  EXPECT_TRUE(found.ok);
  EXPECT_TRUE(found.known);
  ASSERT_EQ(found.bindings.size(), 1u);
  EXPECT_EQ(found.bindings[0].cseq, 2u);
  EXPECT_EQ(store_.stats().bindings, 1u);
}

TEST_F(MemoryStoreTest, DecideSeesCurrentBindingsAndRemovesById) {
  const std::string aor = "bob@example.com";
  update(aor, upserting({binding(aor, "sip:b1@192.0.2.1", kNow + 60),
                         binding(aor, "sip:b2@192.0.2.2", kNow + 60)}));
  std::vector<std::string> seen;
  UpdateOutcome out = update(aor, [&](const std::vector<Binding>& current, int64_t now) {
    EXPECT_EQ(now, kNow);
    seen = contacts(current);
    BindingChanges c;
    c.remove = {aor + "|sip:b1@192.0.2.1", "no-such-id"};
    return c;
  });
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<std::string>{"sip:b1@192.0.2.1", "sip:b2@192.0.2.2"}));
  EXPECT_EQ(contacts(out.bindings), std::vector<std::string>{"sip:b2@192.0.2.2"});
  EXPECT_EQ(contacts(lookup(aor).bindings), std::vector<std::string>{"sip:b2@192.0.2.2"});
}

TEST_F(MemoryStoreTest, LookupSortsByQThenMostRecent) {
  const std::string aor = "carol@example.com";
  update(aor, upserting({binding(aor, "sip:low@h", kNow + 60, 100, kNow),
                         binding(aor, "sip:old@h", kNow + 60, 1000, kNow - 100),
                         binding(aor, "sip:new@h", kNow + 60, 1000, kNow),
                         binding(aor, "sip:mid@h", kNow + 60, 500, kNow + 5)}));
  EXPECT_EQ(contacts(lookup(aor).bindings),
            (std::vector<std::string>{"sip:new@h", "sip:old@h", "sip:mid@h", "sip:low@h"}));
}

TEST_F(MemoryStoreTest, ExpiredBindingsAreHiddenFromLookupAndDecide) {
  const std::string aor = "dave@example.com";
  update(aor, upserting({binding(aor, "sip:short@h", kNow + 10),
                         binding(aor, "sip:long@h", kNow + 100)}));
  EXPECT_EQ(lookup(aor, kNow + 10).bindings.size(), 1u) << "expiresAt is the first second gone";
  EXPECT_EQ(lookup(aor, kNow + 9).bindings.size(), 2u);

  now_ = kNow + 50;
  std::size_t seen = 0;
  update(aor, [&](const std::vector<Binding>& current, int64_t) {
    seen = current.size();
    return BindingChanges{};
  });
  EXPECT_EQ(seen, 1u);

  LookupOutcome gone = lookup(aor, kNow + 200);
  EXPECT_TRUE(gone.known) << "an AOR stays known until the expiry timer removes it";
  EXPECT_TRUE(gone.bindings.empty());
}

TEST_F(MemoryStoreTest, UnknownAor) {
  LookupOutcome out = lookup("nobody@example.com");
  EXPECT_TRUE(out.ok);
  EXPECT_FALSE(out.known);
  EXPECT_TRUE(out.bindings.empty());
}

TEST_F(MemoryStoreTest, ExpireRemovesExpiredBindingsAndEmptyAors) {
  update("a@h",
         upserting({binding("a@h", "sip:1@h", kNow + 10), binding("a@h", "sip:2@h", kNow + 100)}));
  update("b@h", upserting({binding("b@h", "sip:1@h", kNow + 10)}));
  update("c@h", upserting({binding("c@h", "sip:1@h", kNow + 100)}));
  update("c@h", removing({"c@h|sip:1@h"}));  // unregistered: c@h is forgotten at once
  EXPECT_FALSE(lookup("c@h").known) << "an AOR whose last binding was removed is not found";
  EXPECT_EQ(store_.stats().aors, 2u);
  EXPECT_EQ(store_.stats().bindings, 3u);

  EXPECT_EQ(store_.expire(kNow + 5), 0u);
  EXPECT_TRUE(lookup("b@h").known);
  EXPECT_TRUE(lookup("b@h", kNow + 10).bindings.empty());
  EXPECT_TRUE(lookup("b@h", kNow + 10).known) << "all expired: known until the expiry run";
  EXPECT_EQ(store_.expire(kNow + 10), 2u);
  EXPECT_FALSE(lookup("b@h").known);
  EXPECT_EQ(contacts(lookup("a@h").bindings), std::vector<std::string>{"sip:2@h"});

  StoreStats s = store_.stats();
  EXPECT_EQ(s.aors, 1u);
  EXPECT_EQ(s.bindings, 1u);
  EXPECT_EQ(s.expired, 2u);
}

TEST_F(MemoryStoreTest, RemoveOneBinding) {
  update("e@h",
         upserting({binding("e@h", "sip:1@h", kNow + 60), binding("e@h", "sip:2@h", kNow + 60)}));
  store_.remove("e@h", "e@h|sip:1@h");
  store_.remove("e@h", "e@h|unknown");
  store_.remove("unknown@h", "e@h|sip:2@h");
  EXPECT_EQ(contacts(lookup("e@h").bindings), std::vector<std::string>{"sip:2@h"});
  EXPECT_EQ(store_.stats().bindings, 1u);
}

TEST_F(MemoryStoreTest, SnapshotListsEveryUnexpiredBinding) {
  for (int i = 0; i < 50; ++i) {
    const std::string aor = "user" + std::to_string(i) + "@h";
    update(aor, upserting({binding(aor, "sip:x@h", kNow + (i % 2 == 0 ? 10 : 100))}));
  }
  EXPECT_EQ(store_.snapshot(kNow).size(), 50u);
  EXPECT_EQ(store_.snapshot(kNow + 10).size(), 25u);
}

TEST_F(MemoryStoreTest, FindAndEraseForTheDatabaseModes) {
  update("f@h", upserting({binding("f@h", "sip:1@h", kNow + 10)}));
  ASSERT_TRUE(store_.find("f@h", "f@h|sip:1@h"));
  EXPECT_TRUE(store_.find("f@h", "f@h|sip:1@h").has_value()) << "find() ignores expiry";
  EXPECT_FALSE(store_.find("f@h", "f@h|sip:2@h"));
  EXPECT_FALSE(store_.find("g@h", "f@h|sip:1@h"));
  EXPECT_TRUE(store_.erase("f@h", "f@h|sip:1@h"));
  EXPECT_FALSE(store_.erase("f@h", "f@h|sip:1@h"));
}

TEST_F(MemoryStoreTest, MergeAddsOnlyWhatMemoryLacksAndSkipAllows) {
  Binding inMemory = binding("m@h", "sip:1@h", kNow + 60);
  inMemory.cseq = 7;
  update("m@h", upserting({inMemory}));

  Binding staleCopy = inMemory;
  staleCopy.cseq = 3;
  std::vector<Binding> loaded = {staleCopy, binding("m@h", "sip:2@h", kNow + 60),
                                 binding("m@h", "sip:3@h", kNow + 60),
                                 binding("n@h", "sip:1@h", kNow + 60)};
  std::size_t added = store_.merge(loaded, [](const Binding& b) { return b.contact == "sip:3@h"; });
  EXPECT_EQ(added, 2u);
  LookupOutcome m = lookup("m@h");
  ASSERT_EQ(m.bindings.size(), 2u);
  EXPECT_EQ(store_.find("m@h", inMemory.id)->cseq, 7u) << "memory wins";
  EXPECT_TRUE(lookup("n@h").known);
  EXPECT_EQ(store_.stats().bindings, 3u);
}

TEST_F(MemoryStoreTest, ChangeObserverHearsUpdatesAndRemovals) {
  std::vector<std::string> heard;
  store_.setChangeObserver([&](const std::string& aor, const std::vector<std::string>& ids) {
    for (const std::string& id : ids)
      heard.push_back(aor + ":" + id);
  });
  update("o@h", upserting({binding("o@h", "sip:1@h", kNow + 60)}));
  update("o@h", removing({"o@h|sip:1@h"}));
  update("o@h", [](const std::vector<Binding>&, int64_t) { return BindingChanges{}; });
  store_.remove("o@h", "o@h|sip:1@h");  // already gone: nothing changes
  EXPECT_EQ(heard, (std::vector<std::string>{"o@h:o@h|sip:1@h", "o@h:o@h|sip:1@h"}));
}

// Registrations of one AOR from several threads: each reads the binding's cseq and writes it
// plus one. Interleaving would lose increments.
TEST_F(MemoryStoreTest, UpdatesOfOneAorNeverInterleave) {
  constexpr int kThreads = 4;
  constexpr int kEach = 500;
  const std::string aor = "counter@h";
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) {
        store_.update(
            aor,
            [&](const std::vector<Binding>& current, int64_t) {
              Binding b = current.empty() ? binding(aor, "sip:c@h", kNow + 60) : current[0];
              if (!current.empty()) ++b.cseq;
              BindingChanges c;
              c.upsert.push_back(b);
              return c;
            },
            [](UpdateOutcome) {});
      }
    });
  }
  for (auto& t : threads)
    t.join();
  LookupOutcome out = lookup(aor);
  ASSERT_EQ(out.bindings.size(), 1u);
  EXPECT_EQ(out.bindings[0].cseq, static_cast<uint32_t>(kThreads * kEach));
}

// Writers replace two bindings together (same cseq); readers on other threads must always see
// the pair from one update, never half of one and half of another.
TEST_F(MemoryStoreTest, LookupsSeeWholeRecordsWhileWritersRun) {
  const std::string aor = "pair@h";
  std::atomic<bool> stop{false};
  std::atomic<int> torn{0};
  std::atomic<int> lookups{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < 2; ++w) {
    threads.emplace_back([&, w] {
      for (uint32_t i = 1; i <= 2000; ++i) {
        Binding a = binding(aor, "sip:a@h", kNow + 60);
        Binding b = binding(aor, "sip:b@h", kNow + 60);
        a.cseq = b.cseq = i * 2 + static_cast<uint32_t>(w);
        store_.update(aor, upserting({a, b}), [](UpdateOutcome) {});
      }
    });
  }
  for (int r = 0; r < 2; ++r) {
    threads.emplace_back([&] {
      while (!stop.load()) {
        store_.lookup(aor, kNow, [&](LookupOutcome o) {
          if (o.bindings.size() == 2 && o.bindings[0].cseq != o.bindings[1].cseq) ++torn;
          ++lookups;
        });
      }
    });
  }
  threads[0].join();
  threads[1].join();
  stop = true;
  for (std::size_t i = 2; i < threads.size(); ++i)
    threads[i].join();
  EXPECT_EQ(torn.load(), 0);
  EXPECT_GT(lookups.load(), 0);
}

TEST(StorageModeTest, Names) {
  EXPECT_EQ(storageModeName(StorageMode::kMemory), "memory");
  EXPECT_EQ(storageModeName(StorageMode::kWriteThrough), "write_through");
  EXPECT_EQ(storageModeName(StorageMode::kDbOnly), "db_only");
}

TEST(MakeStoreTest, MemoryModeStartsAtOnceAndAnswersInline) {
  StoreSettings settings;
  settings.clock = [] { return kNow; };
  std::unique_ptr<ManagedStore> store = makeStore(settings);
  ASSERT_TRUE(store);
  EXPECT_EQ(store->mode(), StorageMode::kMemory);
  EXPECT_TRUE(store->lookupIsInline());
  EXPECT_TRUE(store->start());
  bool answered = false;
  store->update("z@h", upserting({binding("z@h", "sip:z@h", kNow + 1)}),
                [&](UpdateOutcome o) { answered = o.applied; });
  EXPECT_TRUE(answered);
  store->stop();
}

}  // namespace
}  // namespace strowger::location

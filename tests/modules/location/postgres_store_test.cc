// The PostgreSQL modes against a real server (tests/support/postgres): the schema, write_through
// (writes, loading back, outages and owed writes, a full queue) and db_only (nodes sharing one
// database, outages, registrations of one AOR serialised across nodes).
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "pg_server.h"
#include "store_factory.h"

namespace strowger::location {
namespace {

using namespace std::chrono_literals;
using testing::PgServer;

constexpr auto kWait = 30s;

Binding binding(const std::string& aor, const std::string& contact, int64_t expiresAt,
                const std::string& node = "node-a") {
  Binding b;
  b.id = aor + "|" + contact;  // stable and distinct; the real ids are bindingId()'s
  b.aor = aor;
  b.contact = contact;
  b.path = "<sip:edge.example.com;lr>";
  b.callId = "call-" + contact;
  b.cseq = 1;
  b.qMilli = 1000;
  b.userAgent = "Test/1.0";
  b.protocol = transport::Protocol::kUdp;
  b.source = *net::SocketAddress::parse("2001:db8::7", 5070);
  b.listener = 1;
  b.node = node;
  b.expiresAt = expiresAt;
  b.updatedAt = systemNow();
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

// Callbacks may run on a database thread, possibly after a timed-out wait: the promise is shared.
template <class T>
T await(const std::function<void(std::function<void(T)>)>& call) {
  auto promise = std::make_shared<std::promise<T>>();
  auto future = promise->get_future();
  call([promise](T value) { promise->set_value(std::move(value)); });
  if (future.wait_for(kWait) != std::future_status::ready) {
    ADD_FAILURE() << "no answer within " << kWait.count() << " s";
    return T{};
  }
  return future.get();
}

UpdateOutcome update(LocationStore& store, const std::string& aor, DecideFn decide) {
  return await<UpdateOutcome>(
      [&](std::function<void(UpdateOutcome)> done) { store.update(aor, decide, done); });
}

LookupOutcome lookup(LocationStore& store, const std::string& aor, int64_t now = systemNow()) {
  return await<LookupOutcome>(
      [&](std::function<void(LookupOutcome)> done) { store.lookup(aor, now, done); });
}

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds limit = kWait) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return condition();
}

// Captures what the stores log (and still prints it, for a failing test's output).
class LogCapture {
 public:
  LogCapture() : sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(1000)) {
    auto logger = std::make_shared<spdlog::logger>(
        "test", spdlog::sinks_init_list{sink_, std::make_shared<spdlog::sinks::stderr_sink_mt>()});
    logger->set_level(spdlog::level::trace);
    previous_ = spdlog::default_logger();
    spdlog::set_default_logger(logger);
  }
  ~LogCapture() { spdlog::set_default_logger(previous_); }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  int count(spdlog::level::level_enum level, const std::string& part) {
    int n = 0;
    for (const auto& message : sink_->last_raw()) {
      std::string text(message.payload.data(), message.payload.size());
      if (message.level == level && text.find(part) != std::string::npos) ++n;
    }
    return n;
  }

 private:
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
  std::shared_ptr<spdlog::logger> previous_;
};

class LocationPgTest : public testing::PgTest {
 protected:
  void SetUp() override {
    PgTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    auto db = server().createDatabase();
    ASSERT_TRUE(db) << db.error();
    conninfo_ = *db;
    database_ = conninfo_.substr(conninfo_.find("dbname=") + 7);
    database_ = database_.substr(0, database_.find(' '));
  }

  StoreSettings settings(StorageMode mode, const std::string& node = "node-a") {
    StoreSettings s;
    s.mode = mode;
    s.conninfo = conninfo_;
    s.node = node;
    s.connectTimeout = 2s;
    s.reconnectMin = 100ms;
    s.reconnectMax = 400ms;
    return s;
  }

  std::unique_ptr<ManagedStore> started(StorageMode mode, const std::string& node = "node-a") {
    auto store = makeStore(settings(mode, node));
    auto ok = store->start();
    EXPECT_TRUE(ok) << ok.error();
    return store;
  }

  std::string scalar(const std::string& sql) {
    auto value = server().scalar(sql, database_);
    EXPECT_TRUE(value) << sql << ": " << value.error();
    return value ? *value : std::string();
  }
  void sql(const std::string& statement) {
    auto r = server().query(statement, database_);
    ASSERT_TRUE(r) << statement << ": " << r.error();
  }
  int rowCount(const std::string& where = "true") {
    return std::stoi(scalar("SELECT count(*) FROM location WHERE " + where));
  }

  std::string conninfo_;
  std::string database_;
};

// Schema

using LocationSchemaTest = LocationPgTest;

TEST_F(LocationSchemaTest, AppliedToAnEmptyDatabaseOnce) {
  LogCapture log;
  auto first = started(StorageMode::kWriteThrough);
  EXPECT_EQ(scalar("SELECT version FROM strowger_schema WHERE component = 'location'"), "1");
  EXPECT_EQ(scalar("SELECT count(*) FROM pg_indexes WHERE tablename = 'location'"), "3");
  EXPECT_EQ(log.count(spdlog::level::info, "applied location-001.sql"), 1);
  ASSERT_TRUE(
      update(*first, "a@h", upserting({binding("a@h", "sip:a@h", systemNow() + 600)})).durable);
  first->stop();

  auto second = started(StorageMode::kDbOnly);
  auto third = started(StorageMode::kWriteThrough);
  EXPECT_EQ(log.count(spdlog::level::info, "applied location-001.sql"), 1) << "not re-applied";
  EXPECT_EQ(rowCount(), 1);
  EXPECT_EQ(lookup(*third, "a@h").bindings.size(), 1u);
}

TEST_F(LocationSchemaTest, NodesStartingTogetherApplyItOnce) {
  LogCapture log;
  std::vector<std::unique_ptr<ManagedStore>> stores;
  for (int i = 0; i < 4; ++i)
    stores.push_back(makeStore(settings(StorageMode::kDbOnly)));
  std::vector<std::future<Expected<void, std::string>>> starts;
  for (auto& store : stores) {
    starts.push_back(std::async(std::launch::async, [&store] { return store->start(); }));
  }
  for (auto& s : starts) {
    auto r = s.get();
    EXPECT_TRUE(r) << r.error();
  }
  EXPECT_EQ(log.count(spdlog::level::info, "applied location-001.sql"), 1);
}

TEST_F(LocationSchemaTest, RefusesASchemaNewerThanItKnows) {
  started(StorageMode::kDbOnly)->stop();
  sql("UPDATE strowger_schema SET version = 99 WHERE component = 'location'");
  for (StorageMode mode : {StorageMode::kWriteThrough, StorageMode::kDbOnly}) {
    auto store = makeStore(settings(mode));
    auto r = store->start();
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().find("version 99"), std::string::npos) << r.error();
    EXPECT_NE(r.error().find("newer"), std::string::npos) << r.error();
  }
}

TEST_F(LocationSchemaTest, RefusesATableWithoutARecordedVersion) {
  sql("CREATE TABLE location (id text PRIMARY KEY)");
  auto store = makeStore(settings(StorageMode::kDbOnly));
  auto r = store->start();
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("strowger_schema"), std::string::npos) << r.error();
}

// write_through

using LocationWriteThroughTest = LocationPgTest;

TEST_F(LocationWriteThroughTest, UpdateIsDurableOnceTheRowIsThere) {
  auto store = started(StorageMode::kWriteThrough);
  EXPECT_TRUE(store->lookupIsInline());
  Binding b = binding("alice@example.com", "sip:alice@192.0.2.1", systemNow() + 600);
  b.regId = 2;
  b.natted = true;
  UpdateOutcome out = update(*store, b.aor, upserting({b}));
  EXPECT_TRUE(out.applied);
  EXPECT_TRUE(out.durable);
  ASSERT_EQ(out.bindings.size(), 1u);
  EXPECT_EQ(scalar("SELECT contact || ' ' || source || ' ' || reg_id || ' ' || natted || ' ' || "
                   "node FROM location WHERE id = '" +
                   b.id + "'"),
            "sip:alice@192.0.2.1 [2001:db8::7]:5070 2 true node-a");

  out = update(*store, b.aor, removing({b.id}));
  EXPECT_TRUE(out.durable);
  EXPECT_TRUE(out.bindings.empty());
  EXPECT_EQ(rowCount(), 0);

  StoreStats s = store->stats();
  EXPECT_EQ(s.dbWrites, 2u);
  EXPECT_EQ(s.dbErrors, 0u);
  EXPECT_EQ(s.owed, 0u);
  EXPECT_TRUE(s.dbUp);
}

TEST_F(LocationWriteThroughTest, ANewStoreLoadsTheBindingsBack) {
  const int64_t now = systemNow();
  std::vector<Binding> written = {binding("a@h", "sip:1@h", now + 600),
                                  binding("a@h", "sip:2@h", now + 900),
                                  binding("b@h", "sip:1@h", now + 600)};
  written[1].qMilli = 500;
  {
    auto first = started(StorageMode::kWriteThrough);
    ASSERT_TRUE(update(*first, "a@h", upserting({written[0], written[1]})).durable);
    ASSERT_TRUE(update(*first, "b@h", upserting({written[2]})).durable);
    first->stop();
  }
  // A row that expired while no store ran stays out of memory.
  sql("UPDATE location SET expires_at = " + std::to_string(now - 1) + " WHERE aor = 'b@h'");

  LogCapture log;
  auto second = started(StorageMode::kWriteThrough);
  LookupOutcome a = lookup(*second, "a@h");
  ASSERT_EQ(a.bindings.size(), 2u);
  EXPECT_EQ(a.bindings[0], written[0]) << "every field survives the round trip";
  EXPECT_EQ(a.bindings[1], written[1]);
  EXPECT_FALSE(lookup(*second, "b@h").known);
  EXPECT_EQ(second->stats().bindings, 2u);
  EXPECT_EQ(log.count(spdlog::level::info, "loaded 2 bindings"), 1);
}

TEST_F(LocationWriteThroughTest, AnOutageOwesTheWritesAndTheyAreFlushedAfter) {
  LogCapture log;
  auto store = started(StorageMode::kWriteThrough);
  Binding b = binding("bob@h", "sip:bob@h", systemNow() + 600);
  ASSERT_TRUE(update(*store, b.aor, upserting({b})).durable);

  ASSERT_TRUE(server().stop());
  b.cseq = 2;
  UpdateOutcome out = update(*store, b.aor, upserting({b}));
  EXPECT_TRUE(out.applied);
  EXPECT_FALSE(out.durable);
  b.cseq = 3;
  b.qMilli = 300;
  out = update(*store, b.aor, upserting({b}));
  EXPECT_TRUE(out.applied);
  EXPECT_FALSE(out.durable);
  Binding other = binding("carol@h", "sip:carol@h", systemNow() + 600);
  EXPECT_FALSE(update(*store, other.aor, upserting({other})).durable);

  StoreStats s = store->stats();
  EXPECT_EQ(s.owed, 2u) << "two bindings, however often each changed";
  EXPECT_FALSE(s.dbUp);
  ASSERT_EQ(lookup(*store, b.aor).bindings.size(), 1u) << "memory still answers";
  EXPECT_EQ(lookup(*store, b.aor).bindings[0].cseq, 3u);
  // Some time with the database down: the reconnect attempts do not log again.
  std::this_thread::sleep_for(600ms);
  EXPECT_EQ(log.count(spdlog::level::warn, "PostgreSQL is unreachable"), 1);

  ASSERT_TRUE(server().start());
  ASSERT_TRUE(eventually([&] {
    StoreStats now = store->stats();
    return now.dbUp && now.owed == 0;
  })) << "owed "
      << store->stats().owed;
  EXPECT_EQ(scalar("SELECT cseq || ' ' || q_milli FROM location WHERE id = '" + b.id + "'"),
            "3 300");
  EXPECT_EQ(rowCount("aor = 'carol@h'"), 1);
  EXPECT_TRUE(eventually(
      [&] { return log.count(spdlog::level::info, "wrote 2 owed binding changes") == 1; }));
  EXPECT_EQ(log.count(spdlog::level::warn, "PostgreSQL is unreachable"), 1);

  // And writing goes on as before.
  b.cseq = 4;
  EXPECT_TRUE(update(*store, b.aor, upserting({b})).durable);
  EXPECT_EQ(scalar("SELECT cseq FROM location WHERE id = '" + b.id + "'"), "4");
}

TEST_F(LocationWriteThroughTest, StartsWithTheDatabaseDownAndLoadsWhenItIsBack) {
  const int64_t now = systemNow();
  Binding kept = binding("x@h", "sip:kept@h", now + 600);
  Binding changed = binding("x@h", "sip:changed@h", now + 600);
  Binding removed = binding("y@h", "sip:removed@h", now + 600);
  {
    auto first = started(StorageMode::kWriteThrough);
    ASSERT_TRUE(update(*first, "x@h", upserting({kept, changed})).durable);
    ASSERT_TRUE(update(*first, "y@h", upserting({removed})).durable);
    first->stop();
  }
  ASSERT_TRUE(server().stop());

  LogCapture log;
  auto store = started(StorageMode::kWriteThrough);
  EXPECT_FALSE(store->stats().dbUp);
  EXPECT_EQ(log.count(spdlog::level::warn, "PostgreSQL is unreachable"), 1);
  EXPECT_FALSE(lookup(*store, "x@h").known) << "nothing loaded yet";
  // Changed in memory while the rows are out of reach: memory must win when they are loaded.
  changed.cseq = 9;
  EXPECT_FALSE(update(*store, "x@h", upserting({changed})).durable);
  // Registered and removed again while down: the old row must not come back.
  EXPECT_FALSE(update(*store, "y@h", upserting({removed})).durable);
  EXPECT_FALSE(update(*store, "y@h", removing({removed.id})).durable);

  ASSERT_TRUE(server().start());
  ASSERT_TRUE(eventually([&] {
    StoreStats s = store->stats();
    return s.dbUp && s.owed == 0 && lookup(*store, "x@h").bindings.size() == 2;
  }));
  LookupOutcome x = lookup(*store, "x@h");
  for (const Binding& b : x.bindings) {
    if (b.id == changed.id) {
      EXPECT_EQ(b.cseq, 9u) << "memory wins";
    } else {
      EXPECT_EQ(b, kept);
    }
  }
  EXPECT_TRUE(lookup(*store, "y@h").bindings.empty());
  EXPECT_EQ(scalar("SELECT cseq FROM location WHERE id = '" + changed.id + "'"), "9");
  EXPECT_EQ(rowCount("aor = 'y@h'"), 0);
}

TEST_F(LocationWriteThroughTest, AFullQueueOwesTheWrite) {
  StoreSettings s = settings(StorageMode::kWriteThrough);
  s.poolSize = 1;
  s.queueBound = 1;
  auto store = makeStore(s);
  ASSERT_TRUE(store->start());
  const int64_t expires = systemNow() + 600;
  // The thread has its connection, statements prepared, before the table is locked.
  ASSERT_TRUE(update(*store, "q@h", upserting({binding("q@h", "sip:0@h", expires)})).durable);

  // Hold the table from another session so that the database thread blocks on its next write.
  PGconn* blocker = PQconnectdb(conninfo_.c_str());
  ASSERT_EQ(PQstatus(blocker), CONNECTION_OK);
  PQclear(PQexec(blocker, "BEGIN; LOCK TABLE location IN ACCESS EXCLUSIVE MODE"));

  auto promise = std::make_shared<std::promise<UpdateOutcome>>();
  store->update("q@h", upserting({binding("q@h", "sip:1@h", expires)}),
                [promise](UpdateOutcome o) { promise->set_value(std::move(o)); });
  ASSERT_TRUE(eventually([&] {
    return std::stoi(server()
                         .scalar("SELECT count(*) FROM pg_stat_activity WHERE "
                                 "wait_event_type = 'Lock'")
                         .valueOr("0")) > 0;
  })) << "the first write waits for the lock";
  // The first write holds the thread, the second fills the queue, the third is owed.
  store->update("q@h", upserting({binding("q@h", "sip:2@h", expires)}), [](UpdateOutcome) {});
  UpdateOutcome third = update(*store, "q@h", upserting({binding("q@h", "sip:3@h", expires)}));
  EXPECT_TRUE(third.applied);
  EXPECT_FALSE(third.durable);
  EXPECT_EQ(store->stats().owed, 1u);

  PQclear(PQexec(blocker, "COMMIT"));
  PQfinish(blocker);
  auto first = promise->get_future();
  ASSERT_EQ(first.wait_for(kWait), std::future_status::ready);
  EXPECT_TRUE(first.get().durable);
  EXPECT_TRUE(eventually([&] { return store->stats().owed == 0; }));
  EXPECT_EQ(rowCount("aor = 'q@h'"), 4);
}

TEST_F(LocationWriteThroughTest, ExpiryRemovesRowsToo) {
  std::atomic<int64_t> now{systemNow()};
  StoreSettings s = settings(StorageMode::kWriteThrough);
  s.clock = [&now] { return now.load(); };
  auto store = makeStore(s);
  ASSERT_TRUE(store->start());
  const int64_t start = now;
  ASSERT_TRUE(update(*store, "e@h",
                     upserting({binding("e@h", "sip:short@h", start + 10),
                                binding("e@h", "sip:long@h", start + 100)}))
                  .durable);
  EXPECT_EQ(store->expire(start + 10), 1u);
  EXPECT_TRUE(eventually([&] { return rowCount() == 1; }));
  EXPECT_EQ(store->stats().expired, 1u);
}

// db_only

using LocationDbOnlyTest = LocationPgTest;

TEST_F(LocationDbOnlyTest, NodesSharingTheDatabaseShareBindings) {
  auto a = started(StorageMode::kDbOnly, "node-a");
  auto b = started(StorageMode::kDbOnly, "node-b");
  EXPECT_FALSE(a->lookupIsInline());
  Binding x = binding("shared@h", "sip:x@h", systemNow() + 600, "node-a");
  UpdateOutcome out = update(*a, x.aor, upserting({x}));
  EXPECT_TRUE(out.applied);
  EXPECT_TRUE(out.durable);
  ASSERT_EQ(out.bindings.size(), 1u);

  LookupOutcome seen = lookup(*b, x.aor);
  EXPECT_TRUE(seen.ok);
  EXPECT_TRUE(seen.known);
  ASSERT_EQ(seen.bindings.size(), 1u);
  EXPECT_EQ(seen.bindings[0], x);
  EXPECT_TRUE(b->snapshot(systemNow()).empty()) << "db_only keeps nothing in memory";

  LookupOutcome unknown = lookup(*b, "nobody@h");
  EXPECT_TRUE(unknown.ok);
  EXPECT_FALSE(unknown.known);
}

TEST_F(LocationDbOnlyTest, ANodeNeverDeletesAnotherNodesBindings) {
  auto a = started(StorageMode::kDbOnly, "node-a");
  auto b = started(StorageMode::kDbOnly, "node-b");
  const int64_t now = systemNow();
  const std::string aor = "two-phones@h";
  Binding fromA = binding(aor, "sip:desk@h", now + 600, "node-a");
  Binding fromB = binding(aor, "sip:mobile@h", now + 600, "node-b");
  Binding laterFromA = binding("old@h", "sip:old@h", now + 600, "node-a");
  ASSERT_TRUE(update(*a, aor, upserting({fromA})).applied);
  ASSERT_TRUE(update(*a, laterFromA.aor, upserting({laterFromA})).applied);

  std::vector<std::string> seenByB;
  UpdateOutcome out = update(*b, aor, [&](const std::vector<Binding>& current, int64_t) {
    for (const Binding& c : current)
      seenByB.push_back(c.contact);
    BindingChanges changes;
    changes.upsert = {fromB};
    return changes;
  });
  EXPECT_EQ(seenByB, std::vector<std::string>{"sip:desk@h"}) << "decide sees the other node's";
  EXPECT_EQ(out.bindings.size(), 2u);

  b->remove(aor, fromB.id);
  EXPECT_TRUE(eventually([&] { return rowCount("node = 'node-b'") == 0; }));
  b->expire(now + 1);
  EXPECT_TRUE(eventually([&] { return b->stats().dbWrites >= 3; }));
  ASSERT_EQ(lookup(*b, aor).bindings.size(), 1u) << "node-a's unexpired binding stays";
  EXPECT_EQ(lookup(*a, aor).bindings[0], fromA);

  // Expired rows go, whichever node wrote them.
  b->expire(now + 601);
  EXPECT_TRUE(eventually([&] { return rowCount() == 0; }));
  // Counted once the DELETE has returned, a moment after the rows are gone.
  EXPECT_TRUE(eventually([&] { return b->stats().expired == 2; })) << b->stats().expired;
}

TEST_F(LocationDbOnlyTest, TheDatabaseDownFailsRequestsUntilItIsBack) {
  LogCapture log;
  auto store = started(StorageMode::kDbOnly);
  Binding x = binding("down@h", "sip:x@h", systemNow() + 600);
  ASSERT_TRUE(update(*store, x.aor, upserting({x})).applied);

  ASSERT_TRUE(server().stop());
  LookupOutcome failed = lookup(*store, x.aor);
  EXPECT_FALSE(failed.ok);
  EXPECT_FALSE(failed.error.empty());
  UpdateOutcome notApplied = update(*store, x.aor, upserting({x}));
  EXPECT_FALSE(notApplied.applied);
  EXPECT_FALSE(notApplied.durable);
  EXPECT_FALSE(notApplied.error.empty());
  EXPECT_FALSE(store->stats().dbUp);
  EXPECT_GT(store->stats().dbErrors, 0u);
  EXPECT_EQ(log.count(spdlog::level::warn, "PostgreSQL is unreachable"), 1);

  ASSERT_TRUE(server().start());
  EXPECT_TRUE(eventually([&] { return lookup(*store, x.aor).ok; }));
  EXPECT_EQ(lookup(*store, x.aor).bindings.size(), 1u);
  EXPECT_TRUE(update(*store, x.aor, upserting({x})).applied);
  EXPECT_EQ(log.count(spdlog::level::warn, "PostgreSQL is unreachable"), 1);
}

TEST_F(LocationDbOnlyTest, AFullQueueFailsAtOnce) {
  StoreSettings s = settings(StorageMode::kDbOnly);
  s.poolSize = 1;
  s.queueBound = 1;
  auto store = makeStore(s);
  ASSERT_TRUE(store->start());

  // decide runs on the database thread: hold it there.
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<bool> holding{false};
  auto first = std::make_shared<std::promise<UpdateOutcome>>();
  store->update(
      "full@h",
      [&holding, released](const std::vector<Binding>&, int64_t) {
        holding = true;
        released.wait();
        return BindingChanges{};
      },
      [first](UpdateOutcome o) { first->set_value(std::move(o)); });
  ASSERT_TRUE(eventually([&] { return holding.load(); }));
  store->lookup("full@h", systemNow(), [](LookupOutcome) {});  // fills the queue
  LookupOutcome refused = lookup(*store, "full@h");
  EXPECT_FALSE(refused.ok);
  EXPECT_NE(refused.error.find("queue"), std::string::npos) << refused.error;
  UpdateOutcome notApplied = update(*store, "full@h", upserting({}));
  EXPECT_FALSE(notApplied.applied);

  release.set_value();
  auto outcome = first->get_future();
  ASSERT_EQ(outcome.wait_for(kWait), std::future_status::ready);
  EXPECT_TRUE(outcome.get().applied);
}

// Two nodes registering the same AOR at once, each reading the binding's cseq and writing it plus
// one: with the AOR serialised across nodes, no increment is lost, even for the first
// registration (no row to lock yet).
TEST_F(LocationDbOnlyTest, RegistrationsOfOneAorSerialiseAcrossNodes) {
  auto a = started(StorageMode::kDbOnly, "node-a");
  auto b = started(StorageMode::kDbOnly, "node-b");
  constexpr int kThreads = 4;
  constexpr int kEach = 25;
  const std::string aor = "contended@h";
  const int64_t expires = systemNow() + 600;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      ManagedStore& store = t % 2 == 0 ? *a : *b;
      for (int i = 0; i < kEach; ++i) {
        UpdateOutcome out = update(store, aor, [&](const std::vector<Binding>& current, int64_t) {
          Binding next = current.empty() ? binding(aor, "sip:c@h", expires) : current[0];
          if (!current.empty()) ++next.cseq;
          BindingChanges c;
          c.upsert = {next};
          return c;
        });
        if (!out.applied) ++failures;
      }
    });
  }
  for (auto& t : threads)
    t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(scalar("SELECT cseq FROM location WHERE aor = '" + aor + "'"),
            std::to_string(kThreads * kEach));
}

}  // namespace
}  // namespace strowger::location

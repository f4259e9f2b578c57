#include "transaction_user.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <mutex>
#include <unordered_map>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "proxy_core.h"
#include "routing.h"
#include "strowger/script/script.h"
#include "strowger/sip/editor.h"
#include "strowger/sip/reply.h"
#include "strowger/transaction/key.h"

namespace strowger::proxy {
namespace {

using namespace detail;
using std::chrono::milliseconds;
using transaction::TimePoint;
using transaction::TimerHandle;
using transaction::TimerName;
using transaction::TransactionKey;
using transport::Destination;
using transport::Protocol;

constexpr unsigned kShards = 64;  // a power of two, at most 256 (two hex digits in the branch)
constexpr std::size_t kMaxBranches = 32;  // per relayed request, over every failure-route round
constexpr milliseconds kTick{10};
constexpr std::chrono::seconds kRefusalLogInterval{10};
// How often worker 0 looks whether the load went down enough to hand memory back.
constexpr std::chrono::seconds kTrimInterval{5};

// A transaction's timers: the twelve of §17 by TimerName, then this layer's own.
constexpr std::size_t kTimerFr = transaction::kTimerNameCount;  // final-response timer of a branch
constexpr std::size_t kTimerLinger = kTimerFr + 1;  // how long an accepted INVITE is remembered
constexpr std::size_t kTimerSlots = kTimerLinger + 1;

enum class Role : uint8_t {
  kServer,        // the relayed request's server transaction
  kCancelServer,  // a CANCEL received for it
  kBranch,        // the client transaction of one branch
  kCancelClient,  // a CANCEL this proxy sent on a branch
};

bool isInvite(const sip::Message& m) {
  return m.method() == sip::Method::kInvite;
}

uint16_t classOf(uint16_t status) {
  return static_cast<uint16_t>(status / 100);
}

// RFC 3261 §18.2.2 and RFC 3581: where responses to `request` go.
Destination replyDestination(const transport::ReceivedMessage& received,
                             const sip::Message& request) {
  Destination d;
  d.protocol = received.protocol;
  d.address = received.source;
  d.connection = received.connection;
  d.listener = static_cast<int>(received.listener);
  if (received.protocol == Protocol::kUdp) {
    const auto& via = request.topVia();
    if (via && !via->hasRport) d.address.setPort(via->sentBy.hasPort ? via->sentBy.port : 5060);
  }
  return d;
}

// A To tag that is the same for every retransmission of the request.
std::string localToTag(const sip::Message& request) {
  Hash64 h;
  h.add(callIdOf(request));
  const auto& from = request.from();
  h.add(from ? from->tag : std::string_view{});
  const auto& via = request.topVia();
  h.add(via ? via->branch : std::string_view{});
  return hex16(h.state);
}

char hexDigit(unsigned v) {
  return "0123456789abcdef"[v & 0xF];
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The shard number written in one of this proxy's stateful branches, or -1.
int shardOfBranch(std::string_view branch) {
  const std::string_view cookie = sip::kBranchMagicCookie;
  if (branch.size() < cookie.size() + kStatefulBranchTag.size() + 2) return -1;
  if (!branch.starts_with(cookie)) return -1;
  std::string_view rest = branch.substr(cookie.size());
  if (!rest.starts_with(kStatefulBranchTag)) return -1;
  const int hi = hexValue(rest[2]);
  const int lo = hexValue(rest[3]);
  if (hi < 0 || lo < 0) return -1;
  const int shard = hi * 16 + lo;
  return shard < static_cast<int>(kShards) ? shard : -1;
}

// Whether a Via value follows the top one (in the same header line or in another; the stateless
// path parsed them all already).
bool viasBelowTop(const sip::Message& response) {
  const auto& vias = response.vias();
  return vias && vias->size() >= 2;
}

thread_local unsigned tlsWorkerSlot = 0;

// The server key onRequest() built for the request this worker is handling, so that relay(),
// called for the same request a moment later by the script, does not build it again.
struct LastServerKey {
  const char* bytes = nullptr;
  std::size_t size = 0;
  transaction::TransactionKey key;
};
thread_local LastServerKey tlsLastServerKey;

Expected<transaction::TransactionKey, transaction::KeyErrc> serverKeyOf(
    const sip::Message& request) {
  const std::string_view bytes = request.bytes();
  if (tlsLastServerKey.bytes == bytes.data() && tlsLastServerKey.size == bytes.size()) {
    return tlsLastServerKey.key;
  }
  auto key = transaction::serverKey(request);
  if (key) tlsLastServerKey = {bytes.data(), bytes.size(), *key};
  return key;
}
// The packet a response being handled came in, for the reply route's src_ip / transport.
thread_local const transport::ReceivedMessage* tlsResponsePacket = nullptr;

}  // namespace

struct alignas(64) WorkerCounters {
  std::atomic<uint64_t> created{0}, destroyed{0}, timeouts{0}, retransmissions{0}, absorbed{0},
      refused{0}, cancelled{0}, branches{0};
  std::array<std::atomic<uint64_t>, 7> completed{};
  static void bump(std::atomic<uint64_t>& c) { c.fetch_add(1, std::memory_order_relaxed); }
};

struct Context;
struct Shard;

// One transaction of any of the four kinds, and the glue between its state machine and the shard:
// it implements the machine's actions on the outbound side and the shard's timer wheel.
struct Txn final : transaction::TransactionActions {
  TransactionUser::Impl& tu;
  Shard& shard;
  Context& ctx;
  Role role;
  uint64_t serial;
  std::size_t branch = 0;  // kBranch, kCancelClient: index into Context::branches
  std::unique_ptr<transaction::Transaction> machine;
  TransactionKey key;
  bool indexed = false;
  bool done = false;  // terminated (or abandoned); no longer counted in the context
  bool sendFailed = false;
  Destination peer;
  std::array<TimerHandle, kTimerSlots> timers{};

  Txn(TransactionUser::Impl& t, Shard& s, Context& c, Role r, uint64_t n)
      : tu(t), shard(s), ctx(c), role(r), serial(n) {}

  void send(std::string_view bytes, transaction::SendKind kind) override;
  void passResponse(const sip::Message& response) override;
  void startTimer(TimerName timer, milliseconds after) override;
  void cancelTimer(TimerName timer) override;
  void timedOut(TimerName timer) override;
  void transportFailed() override;
  void terminated() override;

  void arm(std::size_t slot, milliseconds after);
  void disarm(std::size_t slot);
  bool isClient() const { return role == Role::kBranch || role == Role::kCancelClient; }
};

struct Branch {
  std::string id;  // the branch parameter of this proxy's Via
  Destination to;
  std::unique_ptr<Txn> txn;
  std::unique_ptr<Txn> cancel;
  uint16_t status = 0;       // the final status, received or synthesised (408, 503)
  std::string response;      // the final response (300-699) as received, edited by the reply route
  bool provisional = false;  // a 1xx arrived (an INVITE branch may now be cancelled, §9.1)
  bool final = false;
  bool cancelWanted = false;  // to be cancelled as soon as a provisional response arrives
};

// The response context of one relayed request (§16.7).
struct Context {
  uint64_t id = 0;
  Shard* shard = nullptr;
  std::shared_ptr<const script::RoutingScript> script;
  script::TransactionHooks hooks;
  // The request's state (request_state.h): every route of the transaction sees it; released
  // with the context.
  std::shared_ptr<script::RequestState> state;
  TransactionSettings settings;
  // The request as relayed, without this proxy's Via: branches are built from it, failure routes
  // read it, local replies answer it. `request` views into `requestBytes`; neither moves.
  std::string requestBytes;
  sip::Message request;
  transport::ReceivedMessage received;  // `bytes` views into requestBytes
  Destination upstream;
  std::string toTag;
  uint32_t loop = 0;
  bool invite = false;

  std::unique_ptr<Txn> server;
  std::vector<std::unique_ptr<Txn>> cancelServers;
  std::vector<Branch> branches;
  std::vector<std::vector<RelayTarget>> laterGroups;  // serial forking: the groups still to try

  int liveTxns = 0;
  int starting = 0;  // > 0 while branches are being started: completion is decided after
  bool finalSent = false;
  bool accepted = false;  // an INVITE answered 2xx (RFC 6026): retransmissions still absorbed
  bool cancelled = false;
  bool released = false;
  bool compacted = false;
};

struct alignas(64) Shard {
  std::mutex mutex;
  transaction::TimerWheel wheel;
  std::unordered_map<TransactionKey, Txn*, transaction::TransactionKeyHash> servers;
  std::unordered_map<TransactionKey, Txn*, transaction::TransactionKeyHash> clients;
  std::unordered_map<uint64_t, Txn*> bySerial;
  std::unordered_map<uint64_t, std::unique_ptr<Context>> contexts;
  std::vector<std::unique_ptr<Context>> dead;  // destroyed when the event that ended them is over
  std::vector<uint64_t> settled;  // contexts that may give back memory at the end of the event
  uint64_t nextSerial = 1;
  unsigned index = 0;

  explicit Shard(TimePoint origin) : wheel(origin) {}
};

struct TransactionUser::Impl {
  ProxyCore& proxy;
  bool injectedClock;
  ClockFn clock;
  std::atomic<std::shared_ptr<const TransactionSettings>> settings;
  std::vector<std::unique_ptr<Shard>> shards;
  std::unique_ptr<WorkerCounters[]> counters;
  std::atomic<int64_t> live{0};
  std::atomic<int64_t> lastRefusalLog{0};
  std::atomic<uint64_t> refusedSinceLog{0};
  std::atomic<uint64_t> nextContextId;
  // Worker 0 only: when it last looked, and the most live transactions since it last trimmed.
  TimePoint lastTrimCheck{};
  int64_t peakSinceTrim = 0;
  static constexpr unsigned kCounterSlots = 64;

  Impl(ProxyCore& p, ClockFn c)
      : proxy(p),
        injectedClock(static_cast<bool>(c)),
        clock(c ? std::move(c) : ClockFn([] { return transaction::Clock::now(); })),
        settings(std::make_shared<const TransactionSettings>()),
        counters(new WorkerCounters[kCounterSlots]) {
    const TimePoint origin = clock();
    for (unsigned i = 0; i < kShards; ++i) {
      shards.push_back(std::make_unique<Shard>(origin));
      shards.back()->index = i;
    }
    // Context ids go into branch parameters: start from the wall clock so that a restarted proxy
    // does not reuse the branches of the one before (RFC 3261 §8.1.1.7 asks for uniqueness in
    // time). A clock brought by a test or a fuzzer seeds them instead, so that its runs repeat.
    const auto seed = injectedClock ? clock().time_since_epoch()
                                    : std::chrono::system_clock::now().time_since_epoch();
    nextContextId =
        static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(seed).count())
        << 8;
  }

  WorkerCounters& stats() { return counters[tlsWorkerSlot % kCounterSlots]; }

  // --- matching and entry points ---
  bool onRequest(const transport::ReceivedMessage& received, const sip::Message& request);
  bool onResponse(const sip::Message& response);
  bool relay(RelayRequest& request);
  void handleCancel(Shard& shard, Context& ctx, const transport::ReceivedMessage& received,
                    const sip::Message& cancel, TransactionKey key);

  // --- branches ---
  void startTargets(Context& ctx, std::vector<RelayTarget> targets, script::ForkMode mode);
  void startBranch(Context& ctx, const RelayTarget& target);
  void onBranchResponse(Txn& txn, const sip::Message& response);
  void endBranch(Context& ctx, std::size_t index, uint16_t status);
  void cancelBranch(Context& ctx, std::size_t index);
  void sendCancel(Context& ctx, std::size_t index);
  void cancelOthers(Context& ctx, std::size_t except);
  void onFrTimer(Txn& txn);
  void abandon(Txn& txn);

  // --- the final response ---
  void decide(Context& ctx);
  void sendBest(Context& ctx);
  void respondLocally(Context& ctx, uint16_t status, std::string_view reason,
                      std::span<const std::string_view> headers = {});
  void respondUpstream(Context& ctx, uint16_t status, std::string bytes);
  void forwardUpstream(Context& ctx, const sip::Message& response, sip::MessageEditor& editor);

  // --- bookkeeping ---
  Txn& newTxn(Shard& shard, Context& ctx, Role role, std::unique_ptr<Txn>& slot);
  void indexTxn(Txn& txn, TransactionKey key);
  void unindex(Txn& txn);
  void txnDone(Txn& txn);
  void maybeRelease(Context& ctx);
  void compact(Context& ctx);
  void reap(Shard& shard);
  void fire(Shard& shard, uint64_t cookie);
  bool runBranchRoute(Context& ctx, sip::MessageEditor& editor, std::string& uri, Destination& to);
  void runFailureRoute(Context& ctx, const script::Route& route, std::size_t best);
  void refuse(const transport::ReceivedMessage& received, const sip::Message& request);
  void returnMemoryAfterLoad(TimePoint now);
};

// The allocator keeps what a burst of calls freed; once the transactions of a load are gone
// (fewer than a quarter of the peak live since the last trim, and at least 1000 fewer), the
// free pages go back to the system, so the daemon's memory returns to its baseline after a load.
void TransactionUser::Impl::returnMemoryAfterLoad(TimePoint now) {
  const int64_t current = live.load(std::memory_order_relaxed);
  peakSinceTrim = std::max(peakSinceTrim, current);
  if (now - lastTrimCheck < kTrimInterval) return;
  lastTrimCheck = now;
  if (peakSinceTrim - current < 1000 || current * 4 > peakSinceTrim) return;
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
  peakSinceTrim = current;
}

// --- Txn: the machine's actions ---------------------------------------------------------------

void Txn::send(std::string_view bytes, transaction::SendKind kind) {
  using transaction::SendKind;
  if (kind == SendKind::kRequestRetransmission || kind == SendKind::kResponseRetransmission) {
    WorkerCounters::bump(tu.stats().retransmissions);
  }
  Outbound* out = tu.proxy.outbound();
  const bool request = kind == SendKind::kRequest || kind == SendKind::kRequestRetransmission ||
                       kind == SendKind::kAck;
  if (!out || out->send(peer, bytes, request) != transport::SendStatus::kSent) sendFailed = true;
}

void Txn::passResponse(const sip::Message& response) {
  tu.onBranchResponse(*this, response);
}

void Txn::startTimer(TimerName timer, milliseconds after) {
  arm(static_cast<std::size_t>(timer), after);
}

void Txn::cancelTimer(TimerName timer) {
  disarm(static_cast<std::size_t>(timer));
}

void Txn::arm(std::size_t slot, milliseconds after) {
  disarm(slot);
  timers[slot] = shard.wheel.schedule(tu.clock() + after, (serial << 4) | slot);
}

void Txn::disarm(std::size_t slot) {
  if (timers[slot].valid()) shard.wheel.cancel(timers[slot]);
  timers[slot] = TimerHandle{};
}

void Txn::timedOut(TimerName timer) {
  // B or F: the branch's peer never answered (§17.1.1.2, §17.1.2.2). H: the upstream side never
  // acknowledged a non-2xx final response; nothing is owed to anyone.
  if (role == Role::kBranch && !ctx.branches[branch].final) {
    WorkerCounters::bump(tu.stats().timeouts);
    tu.endBranch(ctx, branch, 408);
  }
  (void)timer;
}

void Txn::transportFailed() {
  if (role == Role::kBranch && !ctx.branches[branch].final) tu.endBranch(ctx, branch, 503);
}

void Txn::terminated() {
  tu.txnDone(*this);
}

// --- bookkeeping -----------------------------------------------------------------------------

Txn& TransactionUser::Impl::newTxn(Shard& shard, Context& ctx, Role role,
                                   std::unique_ptr<Txn>& slot) {
  slot = std::make_unique<Txn>(*this, shard, ctx, role, shard.nextSerial++);
  shard.bySerial.emplace(slot->serial, slot.get());
  ++ctx.liveTxns;
  return *slot;
}

void TransactionUser::Impl::indexTxn(Txn& txn, TransactionKey key) {
  txn.key = std::move(key);
  auto& map = txn.isClient() ? txn.shard.clients : txn.shard.servers;
  txn.indexed = map.emplace(txn.key, &txn).second;
}

void TransactionUser::Impl::unindex(Txn& txn) {
  if (!txn.indexed) return;
  auto& map = txn.isClient() ? txn.shard.clients : txn.shard.servers;
  map.erase(txn.key);
  txn.indexed = false;
}

// A transaction's machine terminated (or the TU gave up on it). The INVITE server transaction of a
// call answered 2xx is remembered a while longer (RFC 6026's Accepted state): retransmissions of
// the INVITE are still absorbed instead of being relayed as a new request.
void TransactionUser::Impl::txnDone(Txn& txn) {
  if (txn.done) return;
  Context& ctx = txn.ctx;
  if (txn.role == Role::kServer && ctx.accepted && !txn.timers[kTimerLinger].valid()) {
    txn.arm(kTimerLinger, 64 * ctx.settings.timers.t1);
    return;
  }
  txn.done = true;
  for (std::size_t slot = 0; slot < kTimerSlots; ++slot)
    txn.disarm(slot);
  unindex(txn);
  --ctx.liveTxns;
  if (ctx.finalSent && !ctx.compacted) ctx.shard->settled.push_back(ctx.id);
  maybeRelease(ctx);
}

// Stops a client transaction without waiting for its timers: a branch given up before any
// provisional response (§9.1: such a branch is not cancelled, its retransmissions just stop).
void TransactionUser::Impl::abandon(Txn& txn) {
  txnDone(txn);
}

void TransactionUser::Impl::maybeRelease(Context& ctx) {
  // A context that has not answered upstream yet is never released, even with no transaction
  // left running: what ended the last one (a timer, a send failure) is about to decide the final
  // response, maybe through a failure route that starts new branches in this same context.
  if (ctx.released || !ctx.finalSent || ctx.liveTxns > 0 || ctx.starting > 0) return;
  ctx.released = true;
  Shard& shard = *ctx.shard;
  auto it = shard.contexts.find(ctx.id);
  if (it == shard.contexts.end()) return;
  shard.dead.push_back(std::move(it->second));
  shard.contexts.erase(it);
}

// A context whose final response went upstream and whose branches have all ended waits only for
// its server transaction's timers (J, I, or the 64*T1 of an answered INVITE): up to 32 s. It
// gives back what it no longer needs — the request, the branches, the finished state machines —
// so that memory under load is the lingering keys, not whole calls.
void TransactionUser::Impl::compact(Context& ctx) {
  if (ctx.compacted || !ctx.finalSent) return;
  for (const Branch& b : ctx.branches) {
    if ((b.txn && !b.txn->done) || (b.cancel && !b.cancel->done)) return;
  }
  Shard& shard = *ctx.shard;
  auto drop = [&](std::unique_ptr<Txn>& t) {
    if (!t || !t->done) return;
    shard.bySerial.erase(t->serial);
    t.reset();
  };
  for (Branch& b : ctx.branches) {
    drop(b.txn);
    drop(b.cancel);
  }
  std::vector<Branch>().swap(ctx.branches);
  for (auto& t : ctx.cancelServers)
    drop(t);
  if (ctx.server && ctx.server->machine && ctx.server->machine->terminatedState()) {
    ctx.server->machine.reset();  // an accepted INVITE: only its key is needed now
  }
  ctx.request = sip::Message();
  std::string().swap(ctx.requestBytes);
  ctx.received.bytes = {};
  ctx.script.reset();
  ctx.compacted = true;
}

// Destroys what the event just handled has finished with, once no frame refers to it.
void TransactionUser::Impl::reap(Shard& shard) {
  for (const uint64_t id : shard.settled) {
    const auto it = shard.contexts.find(id);
    if (it == shard.contexts.end()) continue;
    Context& ctx = *it->second;
    compact(ctx);
    maybeRelease(ctx);  // may move it to `dead`: `it` is not used after this
  }
  shard.settled.clear();
  while (!shard.dead.empty()) {
    std::vector<std::unique_ptr<Context>> dead;
    dead.swap(shard.dead);
    for (auto& ctx : dead) {
      auto drop = [&](std::unique_ptr<Txn>& t) {
        if (!t) return;
        shard.bySerial.erase(t->serial);
        unindex(*t);
        for (std::size_t slot = 0; slot < kTimerSlots; ++slot)
          t->disarm(slot);
      };
      drop(ctx->server);
      for (auto& t : ctx->cancelServers)
        drop(t);
      for (Branch& b : ctx->branches) {
        drop(b.txn);
        drop(b.cancel);
      }
      live.fetch_sub(1, std::memory_order_relaxed);
      WorkerCounters::bump(stats().destroyed);
    }
  }
}

void TransactionUser::Impl::fire(Shard& shard, uint64_t cookie) {
  const auto it = shard.bySerial.find(cookie >> 4);
  if (it == shard.bySerial.end()) return;
  Txn& txn = *it->second;
  const std::size_t slot = cookie & 0xF;
  txn.timers[slot] = TimerHandle{};
  if (slot == kTimerFr) {
    onFrTimer(txn);
  } else if (slot == kTimerLinger) {
    txn.ctx.accepted = false;
    txnDone(txn);
  } else if (txn.machine && !txn.done) {
    txn.machine->onTimer(static_cast<TimerName>(slot));
    if (txn.sendFailed && !txn.machine->terminatedState()) {
      txn.sendFailed = false;
      txn.machine->onTransportError();
    }
  }
}

// --- requests before the script ----------------------------------------------------------------

bool TransactionUser::Impl::onRequest(const transport::ReceivedMessage& received,
                                      const sip::Message& request) {
  // A proxy that only forwards statelessly never pays for the lookup.
  tlsLastServerKey.bytes = nullptr;  // a new message: whatever was kept is stale
  if (live.load(std::memory_order_relaxed) == 0) return false;
  auto key = serverKeyOf(request);
  if (!key) return false;
  Shard& shard = *shards[transaction::shardOf(*key, kShards)];
  std::lock_guard lock(shard.mutex);
  const auto found = shard.servers.find(*key);
  if (found != shard.servers.end()) {
    Txn& txn = *found->second;
    if (request.method() == sip::Method::kAck) {
      // The ACK of a 2xx is end to end (a new transaction, routed by the script); only an RFC
      // 2543 ACK can match an accepted INVITE by its fields.
      if (txn.ctx.accepted) return false;
    } else {
      WorkerCounters::bump(stats().absorbed);
    }
    if (txn.machine && !txn.machine->terminatedState()) {
      if (auto* invite = dynamic_cast<transaction::InviteServerTransaction*>(txn.machine.get())) {
        invite->onRequest(request);
      } else if (auto* other =
                     dynamic_cast<transaction::NonInviteServerTransaction*>(txn.machine.get())) {
        other->onRequest(request);
      }
    }
    reap(shard);
    return true;
  }
  if (request.method() != sip::Method::kCancel) return false;
  // §16.10: a CANCEL for a relayed INVITE.
  auto inviteKey = transaction::inviteKeyFor(request);
  if (!inviteKey) return false;
  const auto invite = shard.servers.find(*inviteKey);
  if (invite == shard.servers.end() || invite->second->role != Role::kServer) return false;
  WorkerCounters::bump(stats().cancelled);
  handleCancel(shard, invite->second->ctx, received, request, std::move(*key));
  reap(shard);
  return true;
}

void TransactionUser::Impl::handleCancel(Shard& shard, Context& ctx,
                                         const transport::ReceivedMessage& received,
                                         const sip::Message& cancel, TransactionKey key) {
  ctx.cancelServers.emplace_back();
  Txn& txn = newTxn(shard, ctx, Role::kCancelServer, ctx.cancelServers.back());
  txn.peer = replyDestination(received, cancel);
  indexTxn(txn, std::move(key));
  auto machine = std::make_unique<transaction::NonInviteServerTransaction>(
      ctx.settings.timers, received.protocol == Protocol::kTcp, txn);
  auto* raw = machine.get();
  txn.machine = std::move(machine);
  raw->start(cancel);
  std::string ok;
  sip::ReplyOptions options;
  const std::string tag = localToTag(cancel);
  options.toTag = tag;
  const std::string ip = received.source.ip();
  options.receivedIp = ip;
  options.receivedPort = received.source.port();
  sip::buildReply(cancel, 200, "OK", options, ok);
  raw->respond(200, std::move(ok));
  if (ctx.finalSent) return;  // nothing left to cancel; the final response went already
  ctx.cancelled = true;
  ctx.laterGroups.clear();
  for (std::size_t i = 0; i < ctx.branches.size(); ++i)
    cancelBranch(ctx, i);
  decide(ctx);
}

// --- responses ---------------------------------------------------------------------------------

bool TransactionUser::Impl::onResponse(const sip::Message& response) {
  const auto& via = response.topVia();
  if (!via) return false;
  const int shardIndex = shardOfBranch(via->branch);
  if (shardIndex < 0) return false;
  auto key = transaction::clientKey(response);
  if (!key) return false;
  Shard& shard = *shards[static_cast<std::size_t>(shardIndex)];
  std::lock_guard lock(shard.mutex);
  const auto found = shard.clients.find(*key);
  if (found == shard.clients.end()) return false;
  Txn& txn = *found->second;
  // §16.7 step 3: a response to a relayed request with no Via left after ours has nowhere to go;
  // the stateless path drops and counts it. (The response to a CANCEL this proxy made has only
  // its Via, as it should.)
  if (txn.role == Role::kBranch && !viasBelowTop(response)) return false;
  if (txn.machine && !txn.done) {
    if (auto* invite = dynamic_cast<transaction::InviteClientTransaction*>(txn.machine.get())) {
      invite->onResponse(response);
    } else if (auto* other =
                   dynamic_cast<transaction::NonInviteClientTransaction*>(txn.machine.get())) {
      other->onResponse(response);
    }
    if (txn.sendFailed && !txn.machine->terminatedState()) {
      txn.sendFailed = false;
      txn.machine->onTransportError();
    }
  }
  reap(shard);
  return true;
}

namespace {

// The ProxyActions of a reply route (it may edit the reply and drop a provisional one) and of a
// branch route (it may change that branch's copy, or drop the branch): only `drop` does anything;
// the compiler keeps every other action out of those routes.
class HookRouteActions final : public script::ProxyActions {
 public:
  explicit HookRouteActions(ProxyCore& proxy) : proxy_(proxy) {}
  void reply(uint16_t, std::string_view, std::span<const std::string>) override {}
  bool relay(const script::NextHop*, script::ForkMode) override { return false; }
  bool forward(const script::NextHop*) override { return false; }
  void recordRoute() override {}
  bool looseRoute() override { return false; }
  bool isLocal(std::string_view host, uint16_t port) const override {
    return proxy_.isLocal(host, port);
  }
  void drop() override { dropped = true; }
  bool dropped = false;

 private:
  ProxyCore& proxy_;
};

}  // namespace

void TransactionUser::Impl::onBranchResponse(Txn& txn, const sip::Message& response) {
  if (txn.role != Role::kBranch) return;  // the 200 (or error) for a CANCEL: nothing to do
  Context& ctx = txn.ctx;
  const std::size_t index = txn.branch;
  const uint16_t status = response.statusCode();
  {
    Branch& b = ctx.branches[index];
    if (status < 200 && ctx.invite && !b.provisional) {
      b.provisional = true;
      // The INVITE now waits for its final response as long as fr_inv_timeout says (timer C).
      txn.arm(kTimerFr, ctx.settings.frInvTimeout);
      if (b.cancelWanted) sendCancel(ctx, index);
    }
  }
  if (status == 100) return;  // hop by hop (§16.7 step 5)

  sip::MessageEditor editor(response);
  if (ctx.hooks.onReply) {
    HookRouteActions actions(proxy);
    script::MessageContext mc(response, editor,
                              tlsResponsePacket ? *tlsResponsePacket : ctx.received, actions);
    script::ReplyView view{&response, status, response.reasonPhrase()};
    mc.setReply(&view);
    mc.setRouteKind(script::RouteKind::kReply);
    mc.adoptState(ctx.state);
    ctx.hooks.onReply->run(mc);
    if (!ctx.state) ctx.state = mc.sharedState();
    if (actions.dropped) {
      if (status < 200) return;
      spdlog::debug(
          "call-id={} the reply route dropped a final {}; a final response cannot be "
          "dropped",
          callIdOf(response), status);
    }
  }

  Branch& b = ctx.branches[index];
  if (status < 200) {
    if (!ctx.finalSent) forwardUpstream(ctx, response, editor);
    return;
  }
  if (b.final) {
    // A final response after the branch was given up (timer, CANCEL): a 2xx still reaches the
    // caller, who must be able to end that call (§16.7 step 5); anything else is only absorbed.
    if (classOf(status) == 2 && ctx.invite) forwardUpstream(ctx, response, editor);
    return;
  }
  b.final = true;
  b.status = status;
  txn.disarm(kTimerFr);
  if (classOf(status) == 2) {
    forwardUpstream(ctx, response, editor);
    if (ctx.invite) {
      // §16.7 step 10 and §16.10: the call is answered; the other branches are not wanted.
      ctx.laterGroups.clear();
      cancelOthers(ctx, index);
    }
    decide(ctx);
    return;
  }
  editor.serializeTo(b.response);
  if (classOf(status) == 6) {
    // §16.7 step 5: a 6xx ends the search: the other branches are cancelled and the 6xx goes
    // up without waiting for their 487s (which their client transactions still absorb).
    ctx.laterGroups.clear();
    cancelOthers(ctx, index);
    for (Branch& other : ctx.branches) {
      if (!other.final) other.final = true;  // status 0: not a candidate for the best response
    }
  }
  decide(ctx);
}

void TransactionUser::Impl::endBranch(Context& ctx, std::size_t index, uint16_t status) {
  Branch& b = ctx.branches[index];
  if (b.final) return;
  b.final = true;
  b.status = status;
  decide(ctx);
}

// fr_timeout / fr_inv_timeout fired on a branch still without a final response.
void TransactionUser::Impl::onFrTimer(Txn& txn) {
  Context& ctx = txn.ctx;
  if (txn.role != Role::kBranch) return;
  const std::size_t index = txn.branch;
  if (ctx.branches[index].final || ctx.branches[index].cancel) {
    // The branch was already given up (a 2xx or 6xx elsewhere, a CANCEL) and its peer has not
    // ended the INVITE since: one that never answered cannot be cancelled (§9.1), one that was
    // cancelled had 64*T1 to answer the CANCEL (§9.1); its client transaction stops here.
    if (!txn.done) abandon(txn);
    if (!ctx.branches[index].final) endBranch(ctx, index, 487);
    return;
  }
  WorkerCounters::bump(stats().timeouts);
  if (ctx.invite && ctx.branches[index].provisional) {
    // §16.8: cancel it; the client transaction stays (64*T1 at most) to receive the 487.
    sendCancel(ctx, index);
  } else if (!txn.done) {
    abandon(txn);
  }
  endBranch(ctx, index, 408);
}

void TransactionUser::Impl::cancelBranch(Context& ctx, std::size_t index) {
  Branch& b = ctx.branches[index];
  if (b.final || !ctx.invite) return;
  if (b.provisional) {
    sendCancel(ctx, index);
  } else {
    // §9.1: a CANCEL may not be sent before a provisional response; it goes when one arrives,
    // and the branch ends with fr_timeout otherwise.
    b.cancelWanted = true;
  }
}

void TransactionUser::Impl::cancelOthers(Context& ctx, std::size_t except) {
  for (std::size_t i = 0; i < ctx.branches.size(); ++i) {
    if (i != except) cancelBranch(ctx, i);
  }
}

void TransactionUser::Impl::sendCancel(Context& ctx, std::size_t index) {
  Branch& b = ctx.branches[index];
  if (b.cancel || !b.txn) return;
  auto* invite = dynamic_cast<transaction::InviteClientTransaction*>(b.txn->machine.get());
  if (!invite) return;
  sip::Message request;
  if (!request.parse(invite->request())) return;
  std::string cancel;
  if (!transaction::buildCancel(request, cancel)) return;
  Shard& shard = *ctx.shard;
  Txn& txn = newTxn(shard, ctx, Role::kCancelClient, b.cancel);
  txn.branch = index;
  txn.peer = b.to;
  indexTxn(txn, transaction::clientKey(b.id, "CANCEL"));
  auto machine = std::make_unique<transaction::NonInviteClientTransaction>(
      ctx.settings.timers, b.to.protocol == Protocol::kTcp, txn);
  auto* raw = machine.get();
  txn.machine = std::move(machine);
  raw->start(std::move(cancel));
  if (txn.sendFailed && !raw->terminatedState()) raw->onTransportError();
  // §9.1: the cancelled INVITE has 64*T1 to end with its final response (a 487, normally).
  if (b.txn && !b.txn->done) b.txn->arm(kTimerFr, 64 * ctx.settings.timers.t1);
}

// --- relaying ----------------------------------------------------------------------------------

void TransactionUser::Impl::refuse(const transport::ReceivedMessage& received,
                                   const sip::Message& request) {
  WorkerCounters::bump(stats().refused);
  refusedSinceLog.fetch_add(1, std::memory_order_relaxed);
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          transaction::Clock::now().time_since_epoch())
                          .count();
  int64_t last = lastRefusalLog.load(std::memory_order_relaxed);
  const int64_t interval = std::chrono::milliseconds(kRefusalLogInterval).count();
  if (now - last >= interval &&
      lastRefusalLog.compare_exchange_strong(last, now, std::memory_order_relaxed)) {
    spdlog::warn(
        "transactions: {} live, the bound (server.transactions.max) is reached; {} "
        "new request(s) answered 503 since the last report",
        live.load(std::memory_order_relaxed),
        refusedSinceLog.exchange(0, std::memory_order_relaxed));
  }
  if (request.method() == sip::Method::kAck) return;
  const std::string retryAfter = "Retry-After: " + std::to_string(settings.load()->retryAfter);
  const std::string_view headers[] = {retryAfter};
  std::string out;
  sip::ReplyOptions options;
  const std::string tag = localToTag(request);
  options.toTag = tag;
  options.extraHeaders = headers;
  const std::string ip = received.source.ip();
  options.receivedIp = ip;
  options.receivedPort = received.source.port();
  sip::buildReply(request, 503, "Service Unavailable", options, out);
  if (Outbound* outbound = proxy.outbound()) {
    outbound->send(replyDestination(received, request), out, false);
  }
}

bool TransactionUser::Impl::relay(RelayRequest& r) {
  const sip::Message& original = *r.original;
  const transport::ReceivedMessage& received = *r.received;
  auto key = serverKeyOf(original);
  tlsLastServerKey.bytes = nullptr;
  if (!key) return false;
  const auto current = settings.load();
  Shard& shard = *shards[transaction::shardOf(*key, kShards)];
  std::lock_guard lock(shard.mutex);
  if (shard.servers.contains(*key)) {
    // A retransmission that overtook its original through the script: the transaction answers.
    WorkerCounters::bump(stats().absorbed);
    return true;
  }
  if (live.load(std::memory_order_relaxed) >= static_cast<int64_t>(current->maxLive)) {
    refuse(received, original);
    return false;
  }
  auto owned = std::make_unique<Context>();
  Context& ctx = *owned;
  ctx.id = nextContextId.fetch_add(1, std::memory_order_relaxed);
  ctx.shard = &shard;
  ctx.script = r.script;
  ctx.hooks = r.hooks;
  ctx.state = r.state;
  ctx.settings = *current;
  ctx.settings.timers.timerC = milliseconds{0};  // fr_inv_timeout plays timer C's part
  ctx.requestBytes.assign(r.relayed);
  if (!ctx.request.parse(ctx.requestBytes)) {
    spdlog::warn("call-id={} the relayed request does not parse; not relayed", callIdOf(original));
    return false;
  }
  ctx.received = received;
  ctx.received.bytes = ctx.requestBytes;
  ctx.upstream = replyDestination(received, original);
  ctx.toTag = localToTag(original);
  ctx.loop = loopHash(original);
  ctx.invite = isInvite(original);
  shard.contexts.emplace(ctx.id, std::move(owned));
  live.fetch_add(1, std::memory_order_relaxed);
  WorkerCounters::bump(stats().created);

  Txn& server = newTxn(shard, ctx, Role::kServer, ctx.server);
  server.peer = ctx.upstream;
  indexTxn(server, std::move(*key));
  const bool reliable = received.protocol == Protocol::kTcp;
  ++ctx.starting;
  if (ctx.invite) {
    auto machine = std::make_unique<transaction::InviteServerTransaction>(ctx.settings.timers,
                                                                          reliable, server);
    auto* raw = machine.get();
    server.machine = std::move(machine);
    raw->start(ctx.request);
  } else {
    auto machine = std::make_unique<transaction::NonInviteServerTransaction>(ctx.settings.timers,
                                                                             reliable, server);
    auto* raw = machine.get();
    server.machine = std::move(machine);
    raw->start(ctx.request);
  }
  startTargets(ctx, std::move(r.targets), r.mode);
  --ctx.starting;
  const bool started = std::any_of(ctx.branches.begin(), ctx.branches.end(),
                                   [](const Branch& b) { return b.txn != nullptr; });
  decide(ctx);
  maybeRelease(ctx);
  reap(shard);
  return started;
}

void TransactionUser::Impl::startTargets(Context& ctx, std::vector<RelayTarget> targets,
                                         script::ForkMode mode) {
  ++ctx.starting;
  if (mode == script::ForkMode::kSerial && targets.size() > 1) {
    // RFC 3261 §16.6 and RFC 3263-style q groups: highest q first; equal q in parallel.
    std::stable_sort(targets.begin(), targets.end(),
                     [](const RelayTarget& a, const RelayTarget& b) { return a.q > b.q; });
    std::vector<std::vector<RelayTarget>> groups;
    for (RelayTarget& t : targets) {
      if (groups.empty() || groups.back().front().q != t.q) groups.emplace_back();
      groups.back().push_back(std::move(t));
    }
    for (std::size_t i = groups.size(); i-- > 1;)
      ctx.laterGroups.insert(ctx.laterGroups.begin(), std::move(groups[i]));
    targets = std::move(groups.front());
  }
  for (const RelayTarget& t : targets)
    startBranch(ctx, t);
  --ctx.starting;
  maybeRelease(ctx);
}

// Runs the branch route for one branch; false when it dropped the branch.
bool TransactionUser::Impl::runBranchRoute(Context& ctx, sip::MessageEditor& editor,
                                           std::string& uri, Destination& to) {
  HookRouteActions actions(proxy);
  script::MessageContext mc(ctx.request, editor, ctx.received, actions);
  mc.setRouteKind(script::RouteKind::kBranch);
  mc.adoptState(ctx.state);
  if (!uri.empty()) mc.setRequestUri(uri);
  ctx.hooks.onBranch->run(mc);
  if (!ctx.state) ctx.state = mc.sharedState();
  if (actions.dropped) return false;
  if (mc.requestUriRewritten()) uri = std::string(mc.requestUriText());
  if (mc.nextHop()) {
    const script::NextHop& hop = *mc.nextHop();
    auto address = net::SocketAddress::parse(stripBrackets(hop.host), hop.port ? hop.port : 5060);
    if (address) {
      to.address = *address;
      to.protocol = hop.protocol.value_or(Protocol::kUdp);
      to.connection = 0;
      to.listener = hop.listener;
    }
  }
  return true;
}

void TransactionUser::Impl::startBranch(Context& ctx, const RelayTarget& target) {
  if (ctx.branches.size() >= kMaxBranches) {
    spdlog::warn("call-id={} more than {} branches for one request; no more are started",
                 callIdOf(ctx.request), kMaxBranches);
    return;
  }
  const std::size_t index = ctx.branches.size();
  ctx.branches.emplace_back();
  Shard& shard = *ctx.shard;
  {
    std::string id(sip::kBranchMagicCookie);
    id.append(kStatefulBranchTag);
    id.push_back(hexDigit(shard.index >> 4));
    id.push_back(hexDigit(shard.index));
    id.append(hex16(ctx.id)).append(hex8(ctx.loop)).append(".").append(std::to_string(index));
    ctx.branches[index].id = std::move(id);
  }
  Destination to = target.to;
  std::string uri = target.uri;
  sip::MessageEditor editor(ctx.request);
  if (ctx.hooks.onBranch && !runBranchRoute(ctx, editor, uri, to)) {
    ctx.branches[index].final = true;  // dropped by the branch route: not a candidate
    ctx.branches[index].status = 0;
    return;
  }
  if (!uri.empty() && uri != ctx.request.requestUriText()) editor.setRequestUri(uri);
  if (!target.route.empty()) editor.prependHeader("Route", target.route);
  const transport::Listener* out = proxy.listenerFor(
      to.protocol, to.address.isIpv6(),
      to.listener >= 0 ? static_cast<uint32_t>(to.listener) : ctx.received.listener);
  if (!out || to.address.isBroadcastOrMulticast()) {
    spdlog::warn("call-id={} no listener can reach {} for a branch", callIdOf(ctx.request),
                 to.address.toString());
    endBranch(ctx, index, 503);
    return;
  }
  to.listener = static_cast<int>(out->index);
  ctx.branches[index].to = to;
  std::string via = "SIP/2.0/";
  via.append(transport::protocolName(out->protocol))
      .append(" ")
      .append(sipHostOf(out->advertisedHost))
      .append(":")
      .append(std::to_string(out->advertisedPort))
      .append(";branch=")
      .append(ctx.branches[index].id);
  editor.prependVia(via);
  if (to.protocol == Protocol::kTcp) editor.ensureContentLength();
  std::string bytes = editor.serialize();

  Txn& txn = newTxn(shard, ctx, Role::kBranch, ctx.branches[index].txn);
  txn.branch = index;
  txn.peer = to;
  indexTxn(txn, transaction::clientKey(ctx.branches[index].id, ctx.request.methodText()));
  WorkerCounters::bump(stats().branches);
  const bool reliable = to.protocol == Protocol::kTcp;
  txn.arm(kTimerFr, ctx.settings.frTimeout);
  if (ctx.invite) {
    auto machine =
        std::make_unique<transaction::InviteClientTransaction>(ctx.settings.timers, reliable, txn);
    auto* raw = machine.get();
    txn.machine = std::move(machine);
    raw->start(std::move(bytes));
  } else {
    auto machine = std::make_unique<transaction::NonInviteClientTransaction>(ctx.settings.timers,
                                                                             reliable, txn);
    auto* raw = machine.get();
    txn.machine = std::move(machine);
    raw->start(std::move(bytes));
  }
  if (spdlog::should_log(spdlog::level::debug)) {
    spdlog::debug("call-id={} relayed {} to {}:{} (branch {})", callIdOf(ctx.request),
                  ctx.request.methodText(), transport::protocolName(to.protocol),
                  to.address.toString(), index);
  }
  if (txn.sendFailed && !txn.machine->terminatedState()) {
    txn.sendFailed = false;
    txn.machine->onTransportError();
  }
}

// --- the final response ------------------------------------------------------------------------

std::size_t bestBranch(const Context& ctx);

// §16.7 step 4-6: when every branch has its final response (and no serial group is left), the
// best one goes upstream, unless a failure route relays the request again or answers it.
void TransactionUser::Impl::decide(Context& ctx) {
  if (ctx.starting > 0 || ctx.finalSent) return;
  for (const Branch& b : ctx.branches) {
    if (!b.final) return;
  }
  if (!ctx.cancelled && !ctx.laterGroups.empty()) {
    std::vector<RelayTarget> next = std::move(ctx.laterGroups.front());
    ctx.laterGroups.erase(ctx.laterGroups.begin());
    startTargets(ctx, std::move(next), script::ForkMode::kParallel);
    decide(ctx);
    return;
  }
  if (!ctx.cancelled && ctx.hooks.onFailure) {
    const script::Route* route = ctx.hooks.onFailure;
    ctx.hooks.onFailure = nullptr;  // as in Kamailio: a failure route arms itself again
    runFailureRoute(ctx, *route, bestBranch(ctx));
    if (ctx.finalSent) return;
    for (const Branch& b : ctx.branches) {
      if (!b.final) return;  // it relayed again: wait for the new branches
    }
    if (!ctx.laterGroups.empty()) {
      decide(ctx);
      return;
    }
  }
  sendBest(ctx);
}

// The best response (§16.7 step 6): a 6xx, else the lowest class; within a class a response
// received beats one made up for a timeout, and 401/407 beat the other 4xx (their challenges are
// gathered from every branch). branches.size() when no branch has a final status >= 300.
std::size_t bestBranch(const Context& ctx) {
  auto rank = [](const Branch& b) {
    const uint16_t cls = classOf(b.status);
    int r = cls == 6 ? 0 : cls * 10;
    if (b.response.empty()) r += 5;
    if (b.status == 401 || b.status == 407) r -= 1;
    return r;
  };
  std::size_t best = ctx.branches.size();
  for (std::size_t i = 0; i < ctx.branches.size(); ++i) {
    const Branch& b = ctx.branches[i];
    if (b.status < 300) continue;
    if (best == ctx.branches.size() || rank(b) < rank(ctx.branches[best])) best = i;
  }
  return best;
}

void TransactionUser::Impl::sendBest(Context& ctx) {
  const std::size_t best = bestBranch(ctx);
  if (ctx.cancelled) {
    // §16.10: the caller gave up; it hears 487 whatever the branches said.
    if (best < ctx.branches.size() && ctx.branches[best].status == 487 &&
        !ctx.branches[best].response.empty()) {
      // the callee's own 487 (below)
    } else {
      respondLocally(ctx, 487, "Request Terminated");
      return;
    }
  }
  if (best == ctx.branches.size()) {
    respondLocally(ctx, 503, "Cannot Forward");
    return;
  }
  const Branch& b = ctx.branches[best];
  if (b.response.empty()) {
    respondLocally(ctx, b.status, b.status == 408 ? "Request Timeout" : "Cannot Forward");
    return;
  }
  if (b.status == 503) {
    // §16.7 step 6: a 503 means that server is unavailable, not this proxy.
    respondLocally(ctx, 500, "Server Internal Error");
    return;
  }
  sip::Message response;
  if (!response.parse(b.response)) {
    respondLocally(ctx, 500, "Server Internal Error");
    return;
  }
  sip::MessageEditor editor(response);
  if (b.status == 401 || b.status == 407) {
    // §16.7 step 7: every branch's challenge goes up in the one response.
    const std::string_view name = b.status == 401 ? "WWW-Authenticate" : "Proxy-Authenticate";
    std::vector<sip::Message> others(ctx.branches.size());
    for (std::size_t i = 0; i < ctx.branches.size(); ++i) {
      const Branch& o = ctx.branches[i];
      if (i == best || o.response.empty() || (o.status != 401 && o.status != 407)) continue;
      if (!others[i].parse(o.response)) continue;
      for (sip::HeaderId source :
           {sip::HeaderId::kWwwAuthenticate, sip::HeaderId::kProxyAuthenticate}) {
        for (const sip::HeaderField& h : others[i].all(source))
          editor.appendHeader(name, h.value);
      }
    }
  }
  forwardUpstream(ctx, response, editor);
}

void TransactionUser::Impl::forwardUpstream(Context& ctx, const sip::Message& response,
                                            sip::MessageEditor& editor) {
  // Our Via goes (§16.7 step 9); the response then follows the next Via, which the server
  // transaction's destination already stands for.
  if (const sip::HeaderField* via = response.find(sip::HeaderId::kVia)) {
    const auto& top = response.topVia();
    if (top) editor.removeListElement(*via, top->raw);
  }
  if (ctx.upstream.protocol == Protocol::kTcp) editor.ensureContentLength();
  respondUpstream(ctx, response.statusCode(), editor.serialize());
}

void TransactionUser::Impl::respondLocally(Context& ctx, uint16_t status, std::string_view reason,
                                           std::span<const std::string_view> headers) {
  std::string out;
  sip::ReplyOptions options;
  options.toTag = ctx.toTag;
  options.extraHeaders = headers;
  sip::buildReply(ctx.request, status, reason, options, out);
  respondUpstream(ctx, status, std::move(out));
}

void TransactionUser::Impl::respondUpstream(Context& ctx, uint16_t status, std::string bytes) {
  const bool final = status >= 200;
  if (final && !ctx.finalSent) {
    ctx.finalSent = true;
    ctx.laterGroups.clear();
    WorkerCounters::bump(stats().completed[std::min<uint16_t>(classOf(status), 6)]);
    if (ctx.invite && classOf(status) == 2) ctx.accepted = true;
    ctx.shard->settled.push_back(ctx.id);
  } else if (final) {
    // A further 2xx of a forked INVITE (§16.7 step 5): statelessly, the transaction has ended.
    if (Outbound* out = proxy.outbound()) out->send(ctx.upstream, bytes, false);
    return;
  }
  Txn* server = ctx.server.get();
  if (server && server->machine && !server->machine->terminatedState()) {
    if (auto* invite = dynamic_cast<transaction::InviteServerTransaction*>(server->machine.get())) {
      invite->respond(status, std::move(bytes));
    } else if (auto* other =
                   dynamic_cast<transaction::NonInviteServerTransaction*>(server->machine.get())) {
      other->respond(status, std::move(bytes));
    }
    if (server->sendFailed && !server->machine->terminatedState()) {
      server->sendFailed = false;
      server->machine->onTransportError();
    }
  } else if (Outbound* out = proxy.outbound()) {
    out->send(ctx.upstream, bytes, false);
  }
}

namespace {

// The ProxyActions of a failure route: answer upstream, or relay again in the same transaction.
class FailureRouteActions final : public script::ProxyActions {
 public:
  FailureRouteActions(
      ProxyCore& proxy,
      std::function<void(uint16_t, std::string_view, std::span<const std::string>)> reply,
      std::function<bool(const script::NextHop*, script::ForkMode)> relay)
      : proxy_(proxy), reply_(std::move(reply)), relay_(std::move(relay)) {}
  void bind(script::MessageContext* mc) { mc_ = mc; }
  void reply(uint16_t status, std::string_view reason,
             std::span<const std::string> headers) override {
    if (mc_) mc_->finish();
    reply_(status, reason, headers);
  }
  bool relay(const script::NextHop* hop, script::ForkMode mode) override {
    if (mc_) mc_->finish();
    return relay_(hop, mode);
  }
  bool forward(const script::NextHop*) override { return false; }
  void recordRoute() override {}
  bool looseRoute() override { return false; }
  bool isLocal(std::string_view host, uint16_t port) const override {
    return proxy_.isLocal(host, port);
  }
  void drop() override {
    if (mc_) mc_->finish();
  }

 private:
  ProxyCore& proxy_;
  std::function<void(uint16_t, std::string_view, std::span<const std::string>)> reply_;
  std::function<bool(const script::NextHop*, script::ForkMode)> relay_;
  script::MessageContext* mc_ = nullptr;
};

}  // namespace

void TransactionUser::Impl::runFailureRoute(Context& ctx, const script::Route& route,
                                            std::size_t best) {
  sip::Message bestResponse;
  script::ReplyView view;
  if (best < ctx.branches.size()) {
    const Branch& b = ctx.branches[best];
    view.code = b.status;
    if (!b.response.empty() && bestResponse.parse(b.response)) {
      view.message = &bestResponse;
      view.reason = bestResponse.reasonPhrase();
    } else {
      view.reason = sip::defaultReasonPhrase(b.status);
    }
  } else {
    view.code = 503;
    view.reason = "Cannot Forward";
  }
  // The route runs over its own copy of the request: relaying again re-parses ctx.request, which
  // must not pull the message from under the route still running.
  const std::string snapshotBytes = ctx.requestBytes;
  sip::Message snapshot;
  if (!snapshot.parse(snapshotBytes)) return;
  sip::MessageEditor editor(snapshot);
  script::MessageContext* running = nullptr;

  auto reply = [&](uint16_t status, std::string_view reason, std::span<const std::string> headers) {
    std::vector<std::string_view> lines(headers.begin(), headers.end());
    respondLocally(ctx, status, reason.empty() ? sip::defaultReasonPhrase(status) : reason, lines);
  };
  auto relayAgain = [&](const script::NextHop* hop, script::ForkMode mode) {
    script::MessageContext& mc = *running;
    auto resolve = [&](std::string_view uri,
                       const std::optional<script::NextHop>& next) -> std::optional<Destination> {
      if (next) {
        auto address =
            net::SocketAddress::parse(stripBrackets(next->host), next->port ? next->port : 5060);
        if (!address) return std::nullopt;
        return Destination{next->protocol.value_or(Protocol::kUdp), *address, next->connection,
                           next->listener};
      }
      const auto& routes = snapshot.routes();
      if (routes && !routes->empty()) return destinationForUri(routes->front().uri);
      auto parsed = sip::parseUri(uri);
      if (!parsed) return std::nullopt;
      return destinationForUri(*parsed);
    };
    std::optional<script::NextHop> main;
    if (hop) {
      main = *hop;
    } else if (mc.nextHop()) {
      main = mc.nextHop();
    }
    const std::string mainUri(mc.requestUriText());
    std::vector<RelayTarget> targets;
    if (auto d = resolve(mainUri, main)) {
      targets.push_back(RelayTarget{mainUri, *d, 1.0, main ? main->route : std::string()});
    } else {
      spdlog::warn("call-id={} failure route: {} has no usable address", callIdOf(snapshot),
                   main ? main->uri : mainUri);
    }
    for (const script::BranchTarget& extra : mc.branches()) {
      if (auto d = resolve(extra.uri, extra.nextHop)) {
        targets.push_back(RelayTarget{extra.uri, *d, extra.q,
                                      extra.nextHop ? extra.nextHop->route : std::string()});
      }
    }
    if (targets.empty()) return false;
    // What the route changed in the request is what the new branches carry.
    if (mc.requestUriRewritten()) editor.setRequestUri(mc.requestUriText());
    ctx.requestBytes = editor.serialize();
    if (!ctx.request.parse(ctx.requestBytes)) {
      ctx.requestBytes = snapshotBytes;
      ctx.request.parse(ctx.requestBytes);
      return false;
    }
    ctx.received.bytes = ctx.requestBytes;
    ctx.hooks = mc.hooks();
    const std::size_t before = ctx.branches.size();
    startTargets(ctx, std::move(targets), mode);
    return ctx.branches.size() > before;
  };

  FailureRouteActions actions(proxy, reply, relayAgain);
  script::MessageContext mc(snapshot, editor, ctx.received, actions);
  running = &mc;
  actions.bind(&mc);
  mc.setRouteKind(script::RouteKind::kFailure);
  mc.setReply(&view);
  // Reply and branch routes stay armed for new branches; the failure route must arm itself again.
  mc.hooks() = ctx.hooks;
  mc.hooks().onFailure = nullptr;
  // Made now, not on first use: branches the route starts run their branch routes with it.
  if (!ctx.state) ctx.state = std::make_shared<script::RequestState>();
  mc.adoptState(ctx.state);
  ++ctx.starting;
  route.run(mc);
  --ctx.starting;
}

// --- TransactionUser ---------------------------------------------------------------------------

TransactionUser::TransactionUser(ProxyCore& proxy, ClockFn clock)
    : impl_(std::make_unique<Impl>(proxy, std::move(clock))) {}

TransactionUser::~TransactionUser() = default;

void TransactionUser::update(const TransactionSettings& settings) {
  impl_->settings.store(std::make_shared<const TransactionSettings>(settings));
}

bool TransactionUser::onRequest(const transport::ReceivedMessage& received,
                                const sip::Message& request) {
  tlsWorkerSlot = received.worker;
  return impl_->onRequest(received, request);
}

bool TransactionUser::onResponse(const transport::ReceivedMessage& received,
                                 const sip::Message& response) {
  tlsWorkerSlot = received.worker;
  tlsResponsePacket = &received;
  const bool matched = impl_->onResponse(response);
  tlsResponsePacket = nullptr;
  return matched;
}

bool TransactionUser::relay(RelayRequest& request) {
  tlsWorkerSlot = request.received->worker;
  return impl_->relay(request);
}

void TransactionUser::advanceTimers(unsigned worker, unsigned workers) {
  tlsWorkerSlot = worker;
  const TimePoint now = impl_->clock();
  if (worker == 0) impl_->returnMemoryAfterLoad(now);
  for (unsigned s = worker; s < kShards; s += std::max(1u, workers)) {
    Shard& shard = *impl_->shards[s];
    std::lock_guard lock(shard.mutex);
    shard.wheel.advance(now, [&](uint64_t cookie) { impl_->fire(shard, cookie); });
    impl_->reap(shard);
  }
}

// One worker's 10 ms tick: advances the wheels of the shards that worker looks after.
struct TransactionUser::Ticker {
  boost::asio::steady_timer timer;
  TransactionUser& tu;
  unsigned worker;
  unsigned workers;

  Ticker(boost::asio::io_context& io, TransactionUser& owner, unsigned w, unsigned n)
      : timer(io), tu(owner), worker(w), workers(n) {}

  void arm() {
    timer.expires_after(kTick);
    timer.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      tu.advanceTimers(worker, workers);
      // Not re-armed once the daemon stops, so the worker's event loop can run out of work.
      if (!tu.ticking_.load(std::memory_order_acquire)) return;
      arm();
    });
  }
};

void TransactionUser::startTimers(transport::TransportLayer& transport) {
  ticking_.store(true, std::memory_order_release);
  const unsigned workers = transport.workerCount();
  for (unsigned w = 0; w < workers; ++w) {
    boost::asio::io_context* io = transport.ioContext(w);
    if (!io) continue;
    tickers_.push_back(std::make_unique<Ticker>(*io, *this, w, workers));
    tickers_.back()->arm();
  }
}

void TransactionUser::quiesceTimers() {
  ticking_.store(false, std::memory_order_release);
}

void TransactionUser::stopTimers() {
  ticking_.store(false, std::memory_order_release);
  tickers_.clear();
}

TransactionStats TransactionUser::stats() const {
  TransactionStats s;
  auto get = [](const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  uint64_t destroyed = 0;
  for (unsigned i = 0; i < Impl::kCounterSlots; ++i) {
    const WorkerCounters& c = impl_->counters[i];
    s.created += get(c.created);
    destroyed += get(c.destroyed);
    s.timeouts += get(c.timeouts);
    s.retransmissions += get(c.retransmissions);
    s.absorbed += get(c.absorbed);
    s.refused += get(c.refused);
    s.cancelled += get(c.cancelled);
    s.branches += get(c.branches);
    for (std::size_t k = 0; k < 7; ++k)
      s.completed[k] += get(c.completed[k]);
  }
  s.live = s.created >= destroyed ? s.created - destroyed : 0;
  return s;
}

}  // namespace strowger::proxy

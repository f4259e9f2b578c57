#include "pg_pool.h"

#include <algorithm>
#include <cassert>
#include <utility>

namespace strowger::location::pg {
namespace {

// Jobs a thread runs, at most, before it turns to deferred work that is waiting.
constexpr int kJobsBetweenIdle = 16;

}  // namespace

Pool::Pool(Options options, Hooks hooks) : options_(std::move(options)), hooks_(std::move(hooks)) {
  const std::size_t threads = std::max(1u, options_.threads);
  boundPerPartition_ = std::max<std::size_t>(1, options_.queueBound / threads);
  partitions_.reserve(threads);
  for (std::size_t i = 0; i < threads; ++i)
    partitions_.push_back(std::make_unique<Partition>());
  // Nothing is taken before start().
  stopping_ = true;
}

Pool::~Pool() {
  stop();
}

void Pool::start() {
  if (started_) return;
  started_ = true;
  stopping_ = false;
  for (std::size_t i = 0; i < partitions_.size(); ++i) {
    partitions_[i]->thread = std::thread([this, i] { run(i); });
  }
}

void Pool::stop() {
  if (!started_) return;
  started_ = false;
  stopping_ = true;
  for (auto& part : partitions_) {
    std::lock_guard lock(part->mutex);
    part->wakeup.notify_all();
  }
  for (auto& part : partitions_) {
    if (part->thread.joinable()) part->thread.join();
  }
}

std::size_t Pool::partitionOf(std::string_view aor) const {
  return std::hash<std::string_view>{}(aor) % partitions_.size();
}

bool Pool::post(std::size_t partition, Job job) {
  Partition& part = *partitions_[partition];
  std::lock_guard lock(part.mutex);
  // Checked under the partition's lock: a thread leaves only with its queue empty and
  // stopping_ set, so a job accepted here is always run.
  if (stopping_ || part.queue.size() >= boundPerPartition_) return false;
  part.queue.push_back(std::move(job));
  part.wakeup.notify_one();
  return true;
}

void Pool::wake(std::size_t partition) {
  Partition& part = *partitions_[partition];
  std::lock_guard lock(part.mutex);
  part.idleWanted = true;
  part.wakeup.notify_one();
}

void Pool::reportUp() {
  bool wasDown = false;
  std::chrono::milliseconds downFor{0};
  {
    std::lock_guard lock(healthMutex_);
    up_.store(true, std::memory_order_release);
    wasDown = downReported_;
    downReported_ = false;
    downFor = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - downSince_);
  }
  if (!wasDown) return;
  if (hooks_.up) hooks_.up(downFor);
  // The others may be deep in their backoff; the database is there now.
  for (auto& part : partitions_) {
    std::lock_guard lock(part->mutex);
    part->retryNow = true;
    part->wakeup.notify_one();
  }
}

void Pool::reportDown(const std::string& error) {
  {
    std::lock_guard lock(healthMutex_);
    up_.store(false, std::memory_order_release);
    if (downReported_) return;
    downReported_ = true;
    downSince_ = Clock::now();
  }
  if (hooks_.down) hooks_.down(error);
}

bool Pool::connect(std::size_t index, Connection& connection, Clock::time_point& nextAttempt,
                   std::chrono::milliseconds& delay, Clock::time_point& lastAttempt) {
  lastAttempt = Clock::now();
  Expected<void, std::string> ready = connection.open(options_.connection);
  if (ready && hooks_.prepare) ready = hooks_.prepare(connection);
  if (ready) {
    delay = options_.reconnectMin;
    reportUp();
    Partition& part = *partitions_[index];
    std::lock_guard lock(part.mutex);
    part.idleWanted = true;
    return true;
  }
  connection.close();
  reportDown(ready.error());
  nextAttempt = lastAttempt + delay;
  delay = std::min(delay * 2, options_.reconnectMax);
  return false;
}

void Pool::run(std::size_t index) {
  Partition& part = *partitions_[index];
  Connection connection;
  Clock::time_point nextAttempt{};  // the first attempt is at once
  Clock::time_point lastAttempt{};
  std::chrono::milliseconds delay = options_.reconnectMin;
  int jobsSinceIdle = 0;

  enum class Next : uint8_t { kJob, kConnect, kIdle, kExit };
  for (;;) {
    Job job;
    Next next = Next::kExit;
    {
      std::unique_lock lock(part.mutex);
      for (;;) {
        if (part.retryNow) {
          part.retryNow = false;
          nextAttempt = Clock::now();
          delay = options_.reconnectMin;
        }
        // Deferred work waits for a quiet moment, but not forever: a queue that never drains
        // must not starve it.
        if (part.idleWanted && connection.isOpen() &&
            (part.queue.empty() || jobsSinceIdle >= kJobsBetweenIdle)) {
          part.idleWanted = false;
          jobsSinceIdle = 0;
          next = Next::kIdle;
          break;
        }
        if (!part.queue.empty()) {
          job = std::move(part.queue.front());
          part.queue.pop_front();
          ++jobsSinceIdle;
          next = Next::kJob;
          break;
        }
        if (stopping_) break;
        if (!connection.isOpen()) {
          if (Clock::now() >= nextAttempt) {
            next = Next::kConnect;
            break;
          }
          part.wakeup.wait_until(lock, nextAttempt);
          continue;
        }
        part.wakeup.wait(lock);
      }
    }

    switch (next) {
      case Next::kExit:
        return;
      case Next::kConnect:
        connect(index, connection, nextAttempt, delay, lastAttempt);
        continue;
      case Next::kIdle: {
        IdleResult r = hooks_.idle ? hooks_.idle(connection, index) : IdleResult::kIdle;
        if (r == IdleResult::kConnectionLost) {
          connection.close();
          nextAttempt = Clock::now();
        } else if (r == IdleResult::kMore) {
          std::lock_guard lock(part.mutex);
          part.idleWanted = true;
        }
        continue;
      }
      case Next::kJob:
        break;
    }

    // A job for a thread without a connection: worth a try now rather than at the end of the
    // backoff, but not more often than reconnectMin (and not while stopping: stop() must not
    // wait for connection timeouts).
    bool fresh = false;
    if (!connection.isOpen() && !stopping_ && Clock::now() >= lastAttempt + options_.reconnectMin) {
      fresh = connect(index, connection, nextAttempt, delay, lastAttempt);
    }
    Connection* c = connection.isOpen() ? &connection : nullptr;
    bool retried = false;
    while (job(c) == JobResult::kConnectionLost) {
      assert(c != nullptr);
      if (c == nullptr) break;
      connection.close();
      nextAttempt = Clock::now();
      // A connection that sat idle may have been cut (the server restarted) while the server is
      // fine: one new connection gets a second go before the job is told there is none.
      if (!retried && !fresh && !stopping_ &&
          connect(index, connection, nextAttempt, delay, lastAttempt)) {
        retried = true;
        fresh = true;
        continue;
      }
      c = nullptr;
    }
  }
}

}  // namespace strowger::location::pg

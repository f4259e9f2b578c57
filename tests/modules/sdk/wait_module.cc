// A module for testing the SDK itself: `wait.resume` suspends the request and resumes it from
// another thread after the configured delay, adding a header first, so that a test can see the
// script go on after the step; `wait.answer` suspends and answers from the resumption.
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

#include "strowger/module/module.h"
#include "strowger/module/section.h"

namespace {

using namespace strowger;

struct Shared {
  std::atomic<int64_t> delayMs{20};
  std::atomic<uint64_t> resumed{0};
};

// Resumes `suspension` from a thread of its own after the delay (like a database answer).
void later(std::shared_ptr<Shared> shared, std::shared_ptr<script::Suspension> suspension,
           std::function<void(script::MessageContext&)> then) {
  std::thread([shared, suspension, then = std::move(then)]() mutable {
    std::this_thread::sleep_for(std::chrono::milliseconds(shared->delayMs.load()));
    shared->resumed.fetch_add(1);
    suspension->resume(std::move(then));
  }).detach();
}

class ResumeStep final : public script::Action {
 public:
  explicit ResumeStep(std::shared_ptr<Shared> shared) : shared_(std::move(shared)) {}
  void run(script::MessageContext& ctx) const override {
    std::shared_ptr<script::Suspension> suspension = ctx.suspend();
    if (!suspension) return;  // explain mode: go on at once
    later(shared_, suspension, [](script::MessageContext& resumed) {
      resumed.editor().appendHeader("X-Resumed", "yes");
    });
  }
  std::string describe() const override { return "wait.resume"; }

 private:
  std::shared_ptr<Shared> shared_;
};

class AnswerStep final : public script::Action {
 public:
  explicit AnswerStep(std::shared_ptr<Shared> shared) : shared_(std::move(shared)) {}
  void run(script::MessageContext& ctx) const override {
    std::shared_ptr<script::Suspension> suspension = ctx.suspend();
    if (!suspension) return;
    later(shared_, suspension, [](script::MessageContext& resumed) {
      resumed.actions().reply(202, "Answered After Waiting", {});
    });
  }
  std::string describe() const override { return "wait.answer"; }

 private:
  std::shared_ptr<Shared> shared_;
};

// Drops its suspension without resuming: the daemon must answer 500.
class LoseStep final : public script::Action {
 public:
  void run(script::MessageContext& ctx) const override { (void)ctx.suspend(); }
  std::string describe() const override { return "wait.lose"; }
};

class WaitModule final : public module::Module {
 public:
  bool configure(module::ConfigureContext& context) override {
    module::SectionReader reader(context, context.section());
    int64_t delay = 20;
    reader.integer("delay_ms", 0, 5000, delay);
    if (!reader.finish()) return false;
    pendingDelay_ = delay;
    auto add = [&](std::string name, auto make) {
      script::ActionSpec spec;
      spec.name = std::move(name);
      spec.usage = "no parameters";
      spec.factory = [make](const YAML::Node&, script::CompileContext&) { return make(); };
      auto added = context.steps().addAction(std::move(spec));
      if (!added) context.error(context.section(), {}, added.error());
    };
    auto shared = shared_;
    add("wait.resume", [shared] { return std::make_unique<ResumeStep>(shared); });
    add("wait.answer", [shared] { return std::make_unique<AnswerStep>(shared); });
    add("wait.lose", [] { return std::make_unique<LoseStep>(); });
    return true;
  }
  void commit() override { shared_->delayMs = pendingDelay_; }
  Expected<void, std::string> start(module::Host& host) override {
    spdlog::info("wait module started with {} workers", host.workerCount());
    return {};
  }
  void statistics(module::StatsWriter& out) const override {
    out.counter("resumed", shared_->resumed.load());
  }

 private:
  std::shared_ptr<Shared> shared_ = std::make_shared<Shared>();
  int64_t pendingDelay_ = 20;
};

}  // namespace

STROWGER_MODULE(WaitModule, "wait", "1.0", "test module: suspends and resumes requests")

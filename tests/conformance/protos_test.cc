// PROTOS c07-sip robustness suite: all 4527 INVITE test cases, each run through everything the
// proxy does with a datagram (parse, sanity checks, every accessor, an editing round, a 400
// reply). Any accept/reject outcome is fine; what must hold is: no crash, no sanitizer report,
// no case taking long, and the valid reference case 0 is accepted.
//
// 461 of the cases exist only in the tarball; a ctest fixture extracts it into the build tree
// (STROWGER_PROTOS_DIR) before this test runs.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "corpus.h"
#include "exercise.h"
#include "strowger/sip/message.h"

#ifndef STROWGER_PROTOS_DIR
#error "STROWGER_PROTOS_DIR must be defined by the build"
#endif

#if defined(__SANITIZE_ADDRESS__)
#define STROWGER_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define STROWGER_SANITIZED 1
#endif
#endif

namespace strowger::conformance {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kCaseCount = 4527;
#ifdef STROWGER_SANITIZED
constexpr auto kCaseBound = std::chrono::seconds(5);  // sanitizers slow everything down
#else
constexpr auto kCaseBound = std::chrono::seconds(1);
#endif
// A case still running after this long is a hang: name it and abort, rather than wait for the
// ctest timeout to kill the process without saying which case it was.
constexpr auto kHangAfter = std::chrono::seconds(60);

// Names the case that is stuck.
class Watchdog {
 public:
  explicit Watchdog(const std::vector<std::string>& names)
      : names_(names), thread_([this] { run(); }) {}
  ~Watchdog() {
    stop_ = true;
    thread_.join();
  }
  void start(std::size_t index) {
    index_ = index;
    startedNs_ = Clock::now().time_since_epoch().count();
  }

 private:
  void run() {
    while (!stop_) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      const auto started = Clock::time_point(Clock::duration(startedNs_.load()));
      if (startedNs_.load() != 0 && Clock::now() - started > kHangAfter) {
        std::fprintf(stderr, "PROTOS case %s hangs (over %lld s)\n", names_[index_.load()].c_str(),
                     static_cast<long long>(kHangAfter.count()));
        std::abort();
      }
    }
  }

  const std::vector<std::string>& names_;
  std::atomic<bool> stop_{false};
  std::atomic<std::size_t> index_{0};
  std::atomic<Clock::rep> startedNs_{0};
  std::thread thread_;
};

TEST(Protos, AllCases) {
  STROWGER_SHARED_DIR_OR_SKIP(shared, "protos-c07-sip");
  const fs::path tarball = shared / "invites-rendered.tar.xz";
  std::error_code ec;
  if (!fs::is_regular_file(tarball, ec)) {
    GTEST_SKIP() << "PROTOS tarball not found: " << tarball.string();
  }
  const fs::path invites = fs::path(STROWGER_PROTOS_DIR) / "invites";
  ASSERT_TRUE(fs::is_directory(invites, ec))
      << invites.string() << " is missing: the protos extraction fixture did not run";

  const std::vector<std::string> names = listFiles(invites, ".sip");
  ASSERT_EQ(names.size(), kCaseCount) << "cases found in " << invites.string();

  std::size_t accepted = 0;
  std::size_t rejectedByParse = 0;
  std::size_t rejectedByChecks = 0;
  std::size_t reported = 0;
  std::map<std::string, std::size_t> reasons;
  Clock::duration slowest{};
  std::string slowestName;
  bool sawCaseZero = false;

  sip::Message message;  // reused across cases, as a receive loop does
  {
    Watchdog watchdog(names);
    for (std::size_t i = 0; i < names.size(); ++i) {
      const std::string& name = names[i];
      const auto bytes = readFile(invites / name);
      ASSERT_TRUE(bytes.has_value()) << "cannot read " << name;

      watchdog.start(i);
      const auto started = Clock::now();
      const ExerciseResult result = exercise(message, view(*bytes), sip::Framing::kDatagram);
      const auto elapsed = Clock::now() - started;

      if (elapsed > slowest) {
        slowest = elapsed;
        slowestName = name;
      }
      EXPECT_LE(elapsed, kCaseBound)
          << name << " took "
          << std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count() << " ms";
      for (const std::string& violation : result.violations) {
        if (++reported <= 50) ADD_FAILURE() << name << ": " << violation;
      }

      if (!result.parsed) {
        ++rejectedByParse;
        ++reasons["parse " + std::string(errcName(result.parseError.code))];
      } else if (!result.sane) {
        ++rejectedByChecks;
        ++reasons["check " + std::string(errcName(result.sanityError.code))];
      } else {
        ++accepted;
      }
      if (name == "case-0000.sip") {
        sawCaseZero = true;
        EXPECT_TRUE(result.parsed) << "case 0: " << describe(result.parseError);
        EXPECT_TRUE(result.sane) << "case 0: " << describe(result.sanityError);
        EXPECT_TRUE(result.isRequest);
      }
    }
  }
  EXPECT_TRUE(sawCaseZero);
  EXPECT_LE(reported, 0u) << reported << " invariant violations in all";

  std::printf(
      "PROTOS c07-sip: %zu cases, %zu accepted, %zu rejected (%zu by the parser, %zu by "
      "the sanity checks); slowest %s, %lld us\n",
      names.size(), accepted, rejectedByParse + rejectedByChecks, rejectedByParse, rejectedByChecks,
      slowestName.c_str(),
      static_cast<long long>(
          std::chrono::duration_cast<std::chrono::microseconds>(slowest).count()));
  for (const auto& [reason, count] : reasons)
    std::printf("  %-32s %zu\n", reason.c_str(), count);
  RecordProperty("accepted", static_cast<int>(accepted));
  RecordProperty("rejected", static_cast<int>(rejectedByParse + rejectedByChecks));
}

}  // namespace
}  // namespace strowger::conformance

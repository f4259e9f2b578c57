#include "cli.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <vector>

namespace strowger::runtime {
namespace {

Expected<CommandLine, std::string> parse(std::initializer_list<const char*> args) {
  const std::vector<const char*> v(args);
  return parseCommandLine(v);
}

TEST(RuntimeCli, RunWithConfig) {
  for (auto args : {std::initializer_list<const char*>{"-c", "s.yaml"},
                    std::initializer_list<const char*>{"--config", "s.yaml"},
                    std::initializer_list<const char*>{"--config=s.yaml"}}) {
    Expected<CommandLine, std::string> cl = parse(args);
    ASSERT_TRUE(cl) << cl.error();
    EXPECT_EQ(cl->mode, CommandLine::Mode::kRun);
    EXPECT_EQ(cl->configPath, "s.yaml");
    EXPECT_FALSE(cl->overrides.workers);
    EXPECT_FALSE(cl->overrides.logLevel);
  }
}

TEST(RuntimeCli, CheckConfig) {
  Expected<CommandLine, std::string> cl = parse({"--check-config", "s.yaml"});
  ASSERT_TRUE(cl) << cl.error();
  EXPECT_EQ(cl->mode, CommandLine::Mode::kCheckConfig);
  EXPECT_EQ(cl->configPath, "s.yaml");
}

TEST(RuntimeCli, VersionAndHelp) {
  EXPECT_EQ(parse({"--version"})->mode, CommandLine::Mode::kVersion);
  EXPECT_EQ(parse({"--help"})->mode, CommandLine::Mode::kHelp);
  EXPECT_EQ(parse({"-h"})->mode, CommandLine::Mode::kHelp);
  EXPECT_EQ(parse({"-c", "s.yaml", "--version"})->mode, CommandLine::Mode::kVersion);
}

TEST(RuntimeCli, Overrides) {
  Expected<CommandLine, std::string> cl =
      parse({"--workers", "8", "-c", "s.yaml", "--log-level=debug"});
  ASSERT_TRUE(cl) << cl.error();
  EXPECT_EQ(cl->overrides.workers, 8u);
  EXPECT_EQ(cl->overrides.logLevel, LogLevel::kDebug);
  EXPECT_EQ(parse({"-c", "s.yaml", "--workers=auto"})->overrides.workers, kWorkersAuto);
}

TEST(RuntimeCli, BadUsage) {
  struct Case {
    std::vector<const char*> args;
    std::string error;
  };
  const std::vector<Case> cases = {
      {{}, "no configuration file given; use -c FILE to run or --check-config FILE"},
      {{"-c"}, "--config needs a value"},
      {{"--config="}, "--config needs a value"},
      {{"-c", "a.yaml", "-c", "b.yaml"}, "--config given twice"},
      {{"-c", "a.yaml", "--check-config", "b.yaml"},
       "--config and --check-config exclude each other"},
      {{"-c", "a.yaml", "--frobnicate"}, "unknown option \"--frobnicate\""},
      {{"-c", "a.yaml", "extra"}, "unexpected argument \"extra\""},
      {{"--version=2"}, "--version takes no value"},
      {{"-c", "a.yaml", "--workers", "0"},
       "--workers: expected \"auto\" or an integer 1..256, got \"0\""},
      {{"-c", "a.yaml", "--workers", "many"},
       "--workers: expected \"auto\" or an integer 1..256, got \"many\""},
      {{"-c", "a.yaml", "--log-level", "loud"},
       "--log-level: expected one of trace, debug, info, warning, error, critical, off, got "
       "\"loud\""},
  };
  for (const Case& c : cases) {
    Expected<CommandLine, std::string> cl = parseCommandLine(c.args);
    ASSERT_FALSE(cl) << c.error;
    EXPECT_EQ(cl.error(), c.error);
  }
}

}  // namespace
}  // namespace strowger::runtime

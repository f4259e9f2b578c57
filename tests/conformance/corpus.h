// Access to the shared conformance corpus (RFC 4475, RFC 5118, real-world captures, PROTOS).
//
// The corpus lives outside the project (CMake cache path STROWGER_SHARED_DIR) and is read in
// place, byte for byte. When it is absent every test that needs it reports a skip, never a pass.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "strowger/expected.h"
#include "strowger/sip/parse_error.h"

namespace strowger::conformance {

// The configured shared directory (it holds `conformance/`).
std::filesystem::path sharedRoot();

// `<shared>/conformance/<sub>` when that directory exists, nullopt otherwise.
std::optional<std::filesystem::path> sharedDir(std::string_view sub);

// The whole file, byte-exact, in a buffer of exactly its size (so a read one past the end is
// caught by AddressSanitizer). nullopt when the file cannot be read.
std::optional<std::vector<char>> readFile(const std::filesystem::path& path);

inline std::string_view view(const std::vector<char>& bytes) {
  return {bytes.data(), bytes.size()};
}

// An exact-size heap copy of `bytes`, for parsing text built in the test.
inline std::vector<char> exactCopy(std::string_view bytes) {
  return std::vector<char>(bytes.begin(), bytes.end());
}

// Names (not paths) of the regular files in `dir` whose name ends in `suffix`, sorted.
std::vector<std::string> listFiles(const std::filesystem::path& dir, std::string_view suffix = {});

// "kBadVia" for ParseErrc::kBadVia.
std::string_view errcName(sip::ParseErrc code);

// Formats an error as `kBadVia 400 "Bad Via"`.
std::string describe(const sip::ParseError& error);

// gtest assertions over Expected<T, ParseError>, printing the error when it is not what is wanted.
template <class T>
::testing::AssertionResult isOk(const Expected<T, sip::ParseError>& result) {
  if (result.hasValue()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "error " << describe(result.error());
}

template <class T>
::testing::AssertionResult isError(const Expected<T, sip::ParseError>& result,
                                   sip::ParseErrc code) {
  if (result.hasValue()) {
    return ::testing::AssertionFailure() << "succeeded, expected " << errcName(code);
  }
  if (result.error().code != code) {
    return ::testing::AssertionFailure()
           << "error " << describe(result.error()) << ", expected " << errcName(code);
  }
  return ::testing::AssertionSuccess();
}

template <class T>
::testing::AssertionResult isError(const Expected<T, sip::ParseError>& result, sip::ParseErrc code,
                                   uint16_t status) {
  auto same = isError(result, code);
  if (!same) return same;
  if (result.error().status != status) {
    return ::testing::AssertionFailure()
           << "error " << describe(result.error()) << ", expected status " << status;
  }
  return ::testing::AssertionSuccess();
}

// `text` repeated `times` times.
std::string repeat(std::string_view text, std::size_t times);

// A test-name-safe form of a file name: its stem with every non-alphanumeric character as '_'.
std::string testNameOf(std::string_view fileName);

}  // namespace strowger::conformance

namespace strowger::sip {
// Lets gtest print ParseErrc values by name.
void PrintTo(ParseErrc code, std::ostream* os);
}  // namespace strowger::sip

#define STROWGER_ASSERT_OK(expr) ASSERT_TRUE(::strowger::conformance::isOk(expr))
#define STROWGER_EXPECT_OK(expr) EXPECT_TRUE(::strowger::conformance::isOk(expr))

// Declares `const std::filesystem::path& var` = the shared corpus directory `sub`, or skips the
// current test when the corpus is not there.
#define STROWGER_SHARED_DIR_OR_SKIP(var, sub)                                                 \
  const auto var##Found = ::strowger::conformance::sharedDir(sub);                            \
  if (!var##Found) {                                                                          \
    GTEST_SKIP() << "shared corpus directory not found: "                                     \
                 << (::strowger::conformance::sharedRoot() / "conformance" / (sub)).string(); \
  }                                                                                           \
  const std::filesystem::path& var = *var##Found

// The users list and users file (modules/auth/users.h).
#include "users.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace strowger::auth {
namespace {

struct Problem {
  int line, column;
  std::string key, message;
};

std::vector<Problem> read(const std::string& yaml, UserTable& table,
                          HashSet hashes = {true, true}) {
  std::vector<Problem> problems;
  const YAML::Node root = YAML::Load(yaml);
  readUsers(root["users"], "users", hashes, table,
            [&](const YAML::Node& node, const std::string& key, const std::string& message) {
              problems.push_back({node.Mark().line + 1, node.Mark().column + 1, key, message});
            });
  return problems;
}

TEST(UsersTest, PasswordBecomesHa1ForEachConfiguredHash) {
  UserTable table;
  const auto problems = read(R"(users:
  - { user: alice, domain: example.com, password: secret }
)",
                             table);
  ASSERT_TRUE(problems.empty()) << problems[0].message;
  const UserRecord* alice = table.find("alice", "example.com");
  ASSERT_NE(alice, nullptr);
  EXPECT_EQ(alice->ha1For(DigestHash::kMd5),
            ha1(DigestAlgorithm::kMd5, "alice", "example.com", "secret"));
  EXPECT_EQ(alice->ha1For(DigestHash::kSha256),
            ha1(DigestAlgorithm::kSha256, "alice", "example.com", "secret"));
  EXPECT_EQ(alice->ha1For(DigestHash::kMd5).size(), 32u);
  EXPECT_EQ(alice->ha1For(DigestHash::kSha256).size(), 64u);
  // The domain is compared without regard to case; the user exactly.
  EXPECT_NE(table.find("alice", "EXAMPLE.com"), nullptr);
  EXPECT_EQ(table.find("Alice", "example.com"), nullptr);
  EXPECT_EQ(table.find("alice", "example.org"), nullptr);
}

TEST(UsersTest, OnlyTheConfiguredHashesAreComputed) {
  UserTable table;
  ASSERT_TRUE(read("users: [ { user: a, domain: d, password: p } ]", table, {false, true}).empty());
  EXPECT_TRUE(table.find("a", "d")->ha1For(DigestHash::kMd5).empty());
  EXPECT_FALSE(table.find("a", "d")->ha1For(DigestHash::kSha256).empty());
}

TEST(UsersTest, Ha1GivenIsKeptLowerCase) {
  UserTable table;
  const std::string md5(32, 'A'), sha(64, 'b');
  ASSERT_TRUE(
      read("users: [ { user: bob, domain: d, ha1_md5: " + md5 + ", ha1_sha256: " + sha + " } ]",
           table)
          .empty());
  EXPECT_EQ(table.find("bob", "d")->ha1For(DigestHash::kMd5), std::string(32, 'a'));
  EXPECT_EQ(table.find("bob", "d")->ha1For(DigestHash::kSha256), sha);
}

TEST(UsersTest, BadHa1LengthsAreRefusedWithPosition) {
  UserTable table;
  const auto problems = read(R"(users:
  - user: bob
    domain: d
    ha1_md5: 0123456789abcdef0123456789abcde
  - user: carol
    domain: d
    ha1_sha256: 0123456789abcdef0123456789abcdef
  - { user: dave, domain: d, ha1_md5: zz23456789abcdef0123456789abcdef }
)",
                             table);
  ASSERT_EQ(problems.size(), 3u);
  EXPECT_EQ(problems[0].key, "users[0].ha1_md5");
  EXPECT_EQ(problems[0].line, 4);
  EXPECT_EQ(problems[0].column, 14);
  EXPECT_NE(problems[0].message.find("expected 32 hex digits"), std::string::npos);
  EXPECT_NE(problems[0].message.find("got 31 characters"), std::string::npos);
  EXPECT_EQ(problems[1].key, "users[1].ha1_sha256");
  EXPECT_EQ(problems[1].line, 7);
  EXPECT_NE(problems[1].message.find("expected 64 hex digits"), std::string::npos);
  EXPECT_EQ(problems[2].key, "users[2].ha1_md5");
  EXPECT_NE(problems[2].message.find("not all hex"), std::string::npos);
  // The secret itself is never in a message.
  EXPECT_EQ(problems[2].message.find("zz23"), std::string::npos);
  EXPECT_EQ(table.size(), 0u);
}

TEST(UsersTest, StructuralProblems) {
  UserTable table;
  const auto problems = read(R"(users:
  - { user: a, domain: d }
  - { user: b, domain: d, password: p, ha1_md5: 0123456789abcdef0123456789abcdef }
  - { user: c, pasword: p, domain: d }
  - { domain: d, password: p }
  - just-a-name
  - { user: e, domain: d, password: p }
  - { user: e, domain: D, password: q }
)",
                             table);
  ASSERT_EQ(problems.size(), 6u);
  EXPECT_NE(problems[0].message.find("missing password"), std::string::npos);
  EXPECT_NE(problems[1].message.find("not both"), std::string::npos);
  EXPECT_EQ(problems[2].key, "users[2].pasword");
  EXPECT_NE(problems[2].message.find("did you mean \"password\"?"), std::string::npos);
  EXPECT_EQ(problems[3].key, "users[3].user");
  EXPECT_EQ(problems[4].key, "users[4]");
  EXPECT_EQ(problems[4].line, 6);
  EXPECT_NE(problems[5].message.find("listed twice"), std::string::npos);
  EXPECT_EQ(table.size(), 1u);
}

class UsersFileTest : public ::testing::Test {
 protected:
  std::string write(const std::string& text) {
    std::ofstream(path_) << text;
    return path_;
  }
  void TearDown() override { std::remove(path_.c_str()); }
  std::string path_ = ::testing::TempDir() + "auth-users-" + std::to_string(::getpid()) + ".yaml";
};

TEST_F(UsersFileTest, LoadsUsers) {
  UserTable table;
  std::vector<std::string> errors;
  EXPECT_TRUE(loadUsersFile(write("users:\n  - { user: a, domain: d, password: p }\n"),
                            {true, false}, table, errors));
  EXPECT_TRUE(errors.empty());
  EXPECT_EQ(table.size(), 1u);
}

TEST_F(UsersFileTest, ErrorsNameTheFileLineAndColumn) {
  UserTable table;
  std::vector<std::string> errors;
  const std::string file = write("users:\n  - user: a\n    domain: d\n    ha1_md5: abc\n");
  EXPECT_FALSE(loadUsersFile(file, {true, false}, table, errors));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].rfind(file + ":4:14: users[0].ha1_md5: expected 32 hex digits", 0), 0u)
      << errors[0];
}

TEST_F(UsersFileTest, SyntaxErrorsAndWrongShapes) {
  UserTable table;
  std::vector<std::string> errors;
  const std::string file = write("users:\n  - { user: a, domain: d\n");
  EXPECT_FALSE(loadUsersFile(file, {true, false}, table, errors));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].rfind(file + ":", 0), 0u) << errors[0];

  errors.clear();
  write("people: []\n");
  EXPECT_FALSE(loadUsersFile(file, {true, false}, table, errors));
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0], file + ":1:1: people: unknown key; a users file has only \"users:\"");

  errors.clear();
  EXPECT_FALSE(loadUsersFile(file + ".absent", {true, false}, table, errors));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("cannot read"), std::string::npos);
}

}  // namespace
}  // namespace strowger::auth

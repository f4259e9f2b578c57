// The users digest authentication knows: user, domain (the realm they authenticate in) and HA1
// per hash (RFC 7616 §3.4.2: H(user ":" realm ":" password)), from the module's `users:` list or
// a users file of the same shape. A password is turned into HA1 when it is read and not kept.
#pragma once

#include <yaml-cpp/yaml.h>

#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "digest.h"

namespace strowger::auth {

// The base hash of an algorithm: what HA1 is computed with (MD5-sess uses MD5's HA1).
enum class DigestHash : uint8_t { kMd5 = 0, kSha256 = 1 };
DigestHash hashOf(DigestAlgorithm algorithm) noexcept;
size_t ha1HexLength(DigestHash hash) noexcept;  // 32, 64

struct UserRecord {
  std::string user;
  std::string domain;
  std::string ha1[2];  // by DigestHash, lower-case hex; empty when not known for that hash

  const std::string& ha1For(DigestHash hash) const { return ha1[static_cast<size_t>(hash)]; }
};

class UserTable {
 public:
  // False when (user, domain) is already in the table.
  bool add(UserRecord record);
  const UserRecord* find(std::string_view user, std::string_view domain) const;
  size_t size() const noexcept { return users_.size(); }

 private:
  static std::string keyOf(std::string_view user, std::string_view domain);
  std::unordered_map<std::string, UserRecord> users_;
};

// Which HA1s a password is turned into: one per hash of the configured algorithms.
struct HashSet {
  bool md5 = false;
  bool sha256 = false;
};

// Reports a problem at `node`; `key` is the path below the list's owner ("users[2].ha1_md5").
using UsersErrorSink =
    std::function<void(const YAML::Node& node, const std::string& key, const std::string& message)>;

// Reads a `users:` list into `table`. `path` names the list in messages ("users"). Each entry is
// {user, domain, password} or {user, domain, ha1_md5 and/or ha1_sha256}. Returns false when it
// reported anything.
bool readUsers(const YAML::Node& list, const std::string& path, HashSet hashes, UserTable& table,
               const UsersErrorSink& error);

// Reads a users file (YAML with a top-level `users:` list). Each problem is appended to `errors`
// as "FILE:LINE:COLUMN: KEY: MESSAGE". Returns false when there was any.
bool loadUsersFile(const std::string& fileName, HashSet hashes, UserTable& table,
                   std::vector<std::string>& errors);

}  // namespace strowger::auth

#include "users.h"

#include <algorithm>
#include <array>
#include <cctype>

namespace strowger::auth {
namespace {

std::string describe(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return "an empty value";
  if (node.IsSequence()) return "a list";
  if (node.IsMap()) return "a mapping";
  return "\"" + node.Scalar() + "\"";
}

bool isHex(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; });
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](char c) {
    return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  });
  return text;
}

constexpr std::array<std::string_view, 5> kUserKeys = {"user", "domain", "password", "ha1_md5",
                                                       "ha1_sha256"};

// The closest known key to a misspelt one, for "did you mean".
std::string suggestion(std::string_view given) {
  std::string_view best;
  size_t bestDistance = 3;
  for (std::string_view candidate : kUserKeys) {
    // Levenshtein distance, small strings only.
    std::vector<size_t> row(candidate.size() + 1);
    for (size_t j = 0; j <= candidate.size(); ++j)
      row[j] = j;
    for (size_t i = 1; i <= given.size(); ++i) {
      size_t diagonal = row[0];
      row[0] = i;
      for (size_t j = 1; j <= candidate.size(); ++j) {
        const size_t above = row[j];
        const bool same = std::tolower(static_cast<unsigned char>(given[i - 1])) ==
                          std::tolower(static_cast<unsigned char>(candidate[j - 1]));
        row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (same ? 0 : 1)});
        diagonal = above;
      }
    }
    if (row[candidate.size()] < bestDistance) {
      bestDistance = row[candidate.size()];
      best = candidate;
    }
  }
  return best.empty() ? std::string() : "; did you mean \"" + std::string(best) + "\"?";
}

}  // namespace

DigestHash hashOf(DigestAlgorithm algorithm) noexcept {
  return algorithm == DigestAlgorithm::kSha256 || algorithm == DigestAlgorithm::kSha256Sess
             ? DigestHash::kSha256
             : DigestHash::kMd5;
}

size_t ha1HexLength(DigestHash hash) noexcept {
  return hash == DigestHash::kSha256 ? 64 : 32;
}

std::string UserTable::keyOf(std::string_view user, std::string_view domain) {
  // A line feed appears in neither a SIP user nor a host.
  std::string key;
  key.reserve(user.size() + domain.size() + 1);
  key.append(user).push_back('\n');
  key.append(lower(std::string(domain)));
  return key;
}

bool UserTable::add(UserRecord record) {
  std::string key = keyOf(record.user, record.domain);
  return users_.emplace(std::move(key), std::move(record)).second;
}

const UserRecord* UserTable::find(std::string_view user, std::string_view domain) const {
  auto it = users_.find(keyOf(user, domain));
  return it == users_.end() ? nullptr : &it->second;
}

bool readUsers(const YAML::Node& list, const std::string& path, HashSet hashes, UserTable& table,
               const UsersErrorSink& error) {
  if (!list.IsDefined() || list.IsNull()) return true;
  if (!list.IsSequence()) {
    error(
        list, path,
        "expected a list of {user, domain, password or ha1_md5/ha1_sha256}, got " + describe(list));
    return false;
  }
  bool ok = true;
  size_t index = 0;
  for (const YAML::Node& entry : list) {
    const std::string at = path + "[" + std::to_string(index++) + "]";
    if (!entry.IsMap()) {
      error(entry, at,
            "expected a mapping {user, domain, password or ha1_md5/ha1_sha256}, got " +
                describe(entry));
      ok = false;
      continue;
    }
    UserRecord record;
    std::string password;
    bool hasPassword = false, hasHa1 = false, entryOk = true;
    for (const auto& pair : entry) {
      const std::string key = pair.first.IsScalar() ? pair.first.Scalar() : std::string();
      const YAML::Node& value = pair.second;
      const std::string keyPath = at + "." + key;
      if (std::find(kUserKeys.begin(), kUserKeys.end(), key) == kUserKeys.end()) {
        error(pair.first, keyPath,
              "unknown key; expected user, domain, password, ha1_md5 or ha1_sha256" +
                  suggestion(key));
        entryOk = false;
        continue;
      }
      if (!value.IsScalar() || value.Scalar().empty()) {
        error(value, keyPath, "expected a non-empty text, got " + describe(value));
        entryOk = false;
        continue;
      }
      const std::string& text = value.Scalar();
      if (key == "user") {
        record.user = text;
      } else if (key == "domain") {
        record.domain = text;
      } else if (key == "password") {
        password = text;
        hasPassword = true;
      } else {
        const DigestHash hash = key == "ha1_md5" ? DigestHash::kMd5 : DigestHash::kSha256;
        const size_t length = ha1HexLength(hash);
        if (text.size() != length || !isHex(text)) {
          // The value is a secret: its length is said, never the value.
          error(value, keyPath,
                "expected " + std::to_string(length) + " hex digits (" +
                    (hash == DigestHash::kMd5 ? "MD5" : "SHA-256") + " HA1), got " +
                    std::to_string(text.size()) + " characters" +
                    (isHex(text) ? "" : " that are not all hex digits"));
          entryOk = false;
          continue;
        }
        record.ha1[static_cast<size_t>(hash)] = lower(text);
        hasHa1 = true;
      }
    }
    if (record.user.empty() && entryOk) {
      error(entry, at + ".user", "missing; each user needs user and domain");
      entryOk = false;
    }
    if (record.domain.empty() && entryOk) {
      error(entry, at + ".domain", "missing; each user needs user and domain (the realm)");
      entryOk = false;
    }
    if (entryOk && hasPassword && hasHa1) {
      error(entry, at + ".password", "give either password or ha1_md5/ha1_sha256, not both");
      entryOk = false;
    }
    if (entryOk && !hasPassword && !hasHa1) {
      error(entry, at, "missing password (or ha1_md5/ha1_sha256)");
      entryOk = false;
    }
    if (!entryOk) {
      ok = false;
      continue;
    }
    if (hasPassword) {
      if (hashes.md5) {
        record.ha1[0] = ha1(DigestAlgorithm::kMd5, record.user, record.domain, password);
      }
      if (hashes.sha256) {
        record.ha1[1] = ha1(DigestAlgorithm::kSha256, record.user, record.domain, password);
      }
      std::fill(password.begin(), password.end(), '\0');
    }
    const std::string name = record.user + "@" + record.domain;
    if (!table.add(std::move(record))) {
      error(entry, at, "user " + name + " is listed twice");
      ok = false;
    }
  }
  return ok;
}

bool loadUsersFile(const std::string& fileName, HashSet hashes, UserTable& table,
                   std::vector<std::string>& errors) {
  auto at = [&](const YAML::Mark& mark) {
    if (mark.is_null()) return fileName;
    return fileName + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
  };
  YAML::Node root;
  try {
    root = YAML::LoadFile(fileName);
  } catch (const YAML::BadFile&) {
    errors.push_back(fileName + ": cannot read the users file");
    return false;
  } catch (const YAML::Exception& e) {
    errors.push_back(at(e.mark) + ": " + e.msg);
    return false;
  }
  if (!root.IsMap()) {
    errors.push_back(at(root.Mark()) + ": expected a mapping with a \"users:\" list, got " +
                     describe(root));
    return false;
  }
  bool ok = true;
  bool hasList = false;
  for (const auto& pair : root) {
    const std::string key = pair.first.IsScalar() ? pair.first.Scalar() : std::string();
    if (key == "users") {
      hasList = true;
    } else {
      errors.push_back(at(pair.first.Mark()) + ": " + key +
                       ": unknown key; a users file has only \"users:\"");
      ok = false;
    }
  }
  if (!hasList) {
    errors.push_back(at(root.Mark()) + ": users: missing; a users file has a \"users:\" list");
    return false;
  }
  const YAML::Node& constRoot = root;
  const YAML::Node list = constRoot["users"];
  try {
    ok = readUsers(list, "users", hashes, table,
                   [&](const YAML::Node& node, const std::string& key, const std::string& message) {
                     errors.push_back(at(node.Mark()) + ": " + key + ": " + message);
                   }) &&
         ok;
  } catch (const YAML::Exception& e) {
    errors.push_back(at(e.mark) + ": " + e.msg);
    ok = false;
  }
  return ok;
}

}  // namespace strowger::auth

// The `auth` module: digest authentication of requests (RFC 3261 §22, RFC 7616, RFC 8760) against
// a users list, a users file, a PostgreSQL subscriber table, or any of them together; trusted
// source address ranges that need none (from the configuration and a table); and bans of sources
// (and users) that fail too often, logged in a fixed format for fail2ban (docs/auth.md).
//
// The digest and nonce computations, the ban tracker, the users table, credentials parsing and
// the address ranges are in their own files (the core library, unit-tested without the daemon);
// this file reads the settings and applies them to requests.
#include <malloc.h>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ban.h"
#include "cidr.h"
#include "credentials.h"
#include "digest.h"
#include "nonce.h"
#include "strowger/module/module.h"
#include "strowger/module/section.h"
#include "strowger/script/request_state.h"
#include "strowger/script/value.h"
#include "strowger/sip/header_id.h"
#include "subscriber_db.h"
#include "users.h"

namespace strowger::auth {
namespace {

// Nonces whose counts are tracked at once, and keys (sources, users) the ban tracker follows.
constexpr size_t kNonceCountCapacity = 1 << 16;
constexpr size_t kBanCapacity = 1 << 16;
// How long start() waits for the first database load before going on with the configuration's
// users alone (the load goes on in the background).
constexpr std::chrono::seconds kFirstLoadWait{5};

constexpr std::string_view kUserVariable = "auth.user";
constexpr std::string_view kRealmVariable = "auth.realm";

enum class BanAction : uint8_t { kReject, kDrop };

struct Settings {
  std::string realm;  // empty: from the request (To host for REGISTER, else From host)
  std::vector<DigestAlgorithm> algorithms = {DigestAlgorithm::kSha256, DigestAlgorithm::kMd5};
  std::shared_ptr<const NonceFactory> nonces;
  std::shared_ptr<const UserTable> users;
  std::map<std::string, std::shared_ptr<const CidrList>, std::less<>> trusted;
  BanPolicy ban;
  BanAction banAction = BanAction::kReject;
  bool banPerUser = true;
  bool randomSecret = false;
  DatabaseSettings database;
};

struct Counters {
  std::atomic<uint64_t> challenges{0}, successes{0}, failures{0}, stale{0}, replays{0};
  std::atomic<uint64_t> bans{0}, bannedDropped{0}, bannedRejected{0}, toMismatch{0};
};

int64_t unixNow() {
  return static_cast<int64_t>(std::time(nullptr));
}

int64_t steadySeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string randomBytes(size_t count) {
  std::string bytes(count, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(bytes.data()), static_cast<int>(count)) != 1) {
    // Without randomness nonces could be forged by anyone who guesses the key: refuse them all.
    return {};
  }
  return bytes;
}

// A name from a request, safe for one log line and for fail2ban's parsing: printable ASCII other
// than space and '=' kept, anything else as '?'.
std::string forLog(std::string_view text) {
  std::string out;
  out.reserve(std::min<size_t>(text.size(), 128));
  for (char c : text.substr(0, 128)) {
    const auto u = static_cast<unsigned char>(c);
    out.push_back(u > 0x20 && u < 0x7F && c != '=' ? c : '?');
  }
  return out;
}

// realm="..." needs " and \ escaped.
std::string quoted(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

// The value of `key` in `section`, for positions in messages (undefined when absent). Looked up
// without the SectionReader, which would take it for a second read of the key.
YAML::Node valueOf(const YAML::Node& section, const char* key) {
  if (!section.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
  return section[key];
}

class AuthModule;

enum class ChallengeStyle : uint8_t { kAuto, kWww, kProxy };
enum class CheckTo : uint8_t { kAuto, kAlways, kNever };

struct RequireParams {
  std::optional<script::Value> realm;
  ChallengeStyle challenge = ChallengeStyle::kAuto;
  bool removeCredentials = true;
  std::string userHeader;
  CheckTo checkTo = CheckTo::kAuto;
};

// `auth.require`: the request carries valid credentials for the realm, or is challenged.
class RequireStep final : public script::Action {
 public:
  RequireStep(AuthModule& module, std::shared_ptr<const Settings> compiled, RequireParams params)
      : module_(module), compiled_(std::move(compiled)), params_(std::move(params)) {}

  void run(script::MessageContext& ctx) const override;
  std::string describe() const override {
    std::string text = "auth.require";
    if (params_.realm) text += " realm " + params_.realm->source();
    if (params_.challenge == ChallengeStyle::kWww) text += " (401)";
    if (params_.challenge == ChallengeStyle::kProxy) text += " (407)";
    return text;
  }

 private:
  std::string realmFor(const script::MessageContext& ctx, const Settings& settings) const;
  void challenge(script::MessageContext& ctx, const Settings& settings, bool www,
                 std::string_view realm, bool stale) const;
  // A failed attempt: counted toward bans, then answered with a new challenge (a phone with a
  // wrong password retries, and the ban stops a guesser), or with the ban when it started one.
  void fail(script::MessageContext& ctx, const Settings& settings, bool www, std::string_view realm,
            std::string_view user, std::string_view why) const;

  AuthModule& module_;
  std::shared_ptr<const Settings> compiled_;
  RequireParams params_;
};

// `auth.check_from`: the From user is the one who authenticated.
class CheckFromStep final : public script::Action {
 public:
  CheckFromStep(uint16_t status, std::string reason)
      : status_(status), reason_(std::move(reason)) {}

  void run(script::MessageContext& ctx) const override {
    const script::RequestState* state = ctx.stateIfAny();
    const std::string* user = state ? state->variable(kUserVariable) : nullptr;
    const auto& from = ctx.message().from();
    if (user != nullptr && !user->empty() && from && from->uri.unescapedUser() == *user) return;
    if (ctx.message().method() == sip::Method::kAck) {
      ctx.actions().drop();
      return;
    }
    ctx.actions().reply(status_, reason_, {});
  }
  std::string describe() const override {
    return "auth.check_from (else " + std::to_string(status_) + " " + reason_ + ")";
  }

 private:
  uint16_t status_;
  std::string reason_;
};

// `auth.trusted: NAME` (or a list of names): the source address is in one of the named lists,
// as the configuration gives them or as the database's trusted table adds to them now.
class TrustedCondition final : public script::Condition {
 public:
  TrustedCondition(std::vector<std::shared_ptr<const CidrList>> lists,
                   std::vector<std::string> names, const SubscriberDatabase& database)
      : lists_(std::move(lists)), names_(std::move(names)), database_(database) {}
  bool test(script::MessageContext& ctx) const override {
    const net::SocketAddress& source = ctx.received().source;
    for (const auto& list : lists_) {
      if (list->contains(source)) return true;
    }
    const std::shared_ptr<const DatabaseSnapshot> snapshot = database_.snapshot();
    if (snapshot->trusted.empty()) return false;
    for (const std::string& name : names_) {
      auto it = snapshot->trusted.find(name);
      if (it != snapshot->trusted.end() && it->second.contains(source)) return true;
    }
    return false;
  }
  std::string describe() const override {
    std::string text = "auth.trusted ";
    for (size_t i = 0; i < names_.size(); ++i)
      text += (i == 0 ? "" : ", ") + names_[i];
    return text;
  }

 private:
  std::vector<std::shared_ptr<const CidrList>> lists_;
  std::vector<std::string> names_;
  const SubscriberDatabase& database_;
};

class AuthModule final : public module::Module {
 public:
  AuthModule()
      : randomSecret_(randomBytes(32)),
        bans_(steadySeconds, kBanCapacity),
        nonceCounts_(kNonceCountCapacity) {
    // The HA1 an unknown user's response is checked against, so that an unknown user costs the
    // same work as a wrong password and the answers cannot tell them apart.
    const std::string filler = randomBytes(16);
    dummyHa1_[0] = ha1(DigestAlgorithm::kMd5, "-", "-", filler);
    dummyHa1_[1] = ha1(DigestAlgorithm::kSha256, "-", "-", filler);
  }

  bool configure(module::ConfigureContext& context) override;

  void commit() override {
    if (pending_->randomSecret) {
      spdlog::warn(
          "auth: no secret configured; nonces are signed with a random key of this process, so "
          "they do not survive a restart and other nodes do not accept them");
    }
    spdlog::info("auth: {} users, {} trusted lists, nonce lifetime {} s{}", pending_->users->size(),
                 pending_->trusted.size(), pending_->nonces->lifetimeSeconds(),
                 pending_->database.enabled() ? ", users and lists from the database too" : "");
    active_.store(pending_, std::memory_order_release);
    // A reload reads the database again too (and with new settings, if they changed).
    database_.configure(pending_->database);
  }

  Expected<void, std::string> start(module::Host&) override {
    // Without the database in time the daemon still starts, with the configuration's users; the
    // loader has logged why and keeps trying.
    database_.start(kFirstLoadWait);
    return {};
  }

  void stop() override { database_.stop(); }

  void statistics(module::StatsWriter& out) const override {
    const std::shared_ptr<const Settings> settings = active_.load(std::memory_order_acquire);
    out.counter("challenges", counters_.challenges.load());
    out.counter("successes", counters_.successes.load());
    out.counter("failures", counters_.failures.load());
    out.counter("stale", counters_.stale.load());
    out.counter("replays", counters_.replays.load());
    out.counter("to_mismatch", counters_.toMismatch.load());
    out.counter("bans", counters_.bans.load());
    out.counter("banned_now", bans_.bannedCount());
    out.counter("banned_dropped", counters_.bannedDropped.load());
    out.counter("banned_rejected", counters_.bannedRejected.load());
    out.counter("users", settings ? settings->users->size() : 0);
    out.counter("trusted_lists", settings ? settings->trusted.size() : 0);
    const DatabaseStats db = database_.stats();
    if (db.configured) {
      out.text("db", db.up ? "up" : "DOWN");
      out.counter("db_users", db.users);
      out.counter("db_loads", db.loads);
      out.counter("db_failures", db.failures);
    }
  }

  BanTracker& bans() { return bans_; }
  NonceCounts& nonceCounts() { return nonceCounts_; }
  const SubscriberDatabase& database() const { return database_; }
  Counters& counters() { return counters_; }
  const std::string& dummyHa1(DigestHash hash) const {
    return dummyHa1_[static_cast<size_t>(hash)];
  }

 private:
  std::unique_ptr<const script::Action> compileRequire(const YAML::Node& params,
                                                       script::CompileContext& compile,
                                                       std::shared_ptr<const Settings> settings);

  // Kept across reloads: a reload must not lift bans or forget which nonce counts were used.
  const std::string randomSecret_;
  BanTracker bans_;
  NonceCounts nonceCounts_;
  Counters counters_;
  std::array<std::string, 2> dummyHa1_;
  // Outlives every configuration: steps of any of them read its newest snapshot.
  SubscriberDatabase database_;
  std::shared_ptr<const Settings> pending_;
  std::atomic<std::shared_ptr<const Settings>> active_;
};

bool AuthModule::configure(module::ConfigureContext& context) {
  auto next = std::make_shared<Settings>();
  module::SectionReader reader(context, context.section());
  bool ok = true;
  reader.string("realm", next->realm);

  if (const YAML::Node algorithms = reader.child("algorithms"); algorithms.IsDefined()) {
    next->algorithms.clear();
    if (!algorithms.IsSequence() || algorithms.size() == 0) {
      context.error(algorithms, "algorithms",
                    "expected a non-empty list of SHA-256, MD5, SHA-256-sess, MD5-sess");
      ok = false;
    } else {
      for (const YAML::Node& name : algorithms) {
        const auto parsed = name.IsScalar() ? parseDigestAlgorithm(name.Scalar()) : std::nullopt;
        if (!parsed || (name.IsScalar() && name.Scalar().empty())) {
          context.error(
              name, "algorithms",
              "expected SHA-256, MD5, SHA-256-sess or MD5-sess, got " + script::describeNode(name));
          ok = false;
        } else if (std::find(next->algorithms.begin(), next->algorithms.end(), *parsed) !=
                   next->algorithms.end()) {
          context.error(name, "algorithms", "lists " + name.Scalar() + " twice");
          ok = false;
        } else {
          next->algorithms.push_back(*parsed);
        }
      }
    }
  }
  HashSet hashes;
  for (DigestAlgorithm algorithm : next->algorithms) {
    (hashOf(algorithm) == DigestHash::kMd5 ? hashes.md5 : hashes.sha256) = true;
  }

  std::string secret;
  const YAML::Node secretNode = valueOf(context.section(), "secret");
  reader.string("secret", secret);
  if (!secret.empty() && secret.size() < 16) {
    context.error(secretNode, "secret",
                  "expected at least 16 characters (32 random ones are best), got " +
                      std::to_string(secret.size()));
    ok = false;
  }
  next->randomSecret = secret.empty();
  int64_t lifetime = 300;
  reader.integer("nonce_lifetime", 1, 86400, lifetime);
  next->nonces = std::make_shared<NonceFactory>(secret.empty() ? randomSecret_ : secret, lifetime);

  auto users = std::make_shared<UserTable>();
  const UsersErrorSink inlineErrors = [&](const YAML::Node& node, const std::string& key,
                                          const std::string& message) {
    context.error(node, key, message);
  };
  ok = readUsers(reader.child("users"), "users", hashes, *users, inlineErrors) && ok;
  std::string usersFile;
  const YAML::Node usersFileNode = valueOf(context.section(), "users_file");
  reader.string("users_file", usersFile);
  if (!usersFile.empty()) {
    std::filesystem::path path(usersFile);
    if (path.is_relative()) {
      path = std::filesystem::path(std::string(context.file())).parent_path() / path;
    }
    std::vector<std::string> errors;
    if (!loadUsersFile(path.string(), hashes, *users, errors)) {
      for (const std::string& error : errors)
        context.error(usersFileNode, "users_file", error);
      ok = false;
    }
    // The file's YAML tree (several times the size of the table it yields) has been freed, but
    // glibc keeps freed memory of the control thread's arena: give it back, or a 20 000-user
    // file leaves the daemon 60 MB larger for good.
    ::malloc_trim(0);
  }
  next->users = users;

  if (const YAML::Node trusted = reader.child("trusted");
      trusted.IsDefined() && !trusted.IsNull()) {
    if (!trusted.IsMap()) {
      context.error(trusted, "trusted",
                    "expected a mapping of list names to address ranges ({pbx: [\"10.0.0.0/8\"]})");
      ok = false;
    } else {
      for (const auto& pair : trusted) {
        const std::string name = pair.first.Scalar();
        const std::string key = "trusted." + name;
        auto list = std::make_shared<CidrList>();
        const YAML::Node& ranges = pair.second;
        if (!ranges.IsSequence()) {
          context.error(ranges, key,
                        "expected a list of addresses and ADDRESS/PREFIX ranges, got " +
                            script::describeNode(ranges));
          ok = false;
          continue;
        }
        for (const YAML::Node& text : ranges) {
          std::string error =
              "expected an address or ADDRESS/PREFIX, got " + script::describeNode(text);
          const auto range =
              text.IsScalar() ? CidrRange::parse(text.Scalar(), &error) : std::nullopt;
          if (!range) {
            context.error(text, key, error);
            ok = false;
            continue;
          }
          list->add(*range);
        }
        next->trusted.emplace(name, std::move(list));
      }
    }
  }

  if (const YAML::Node database = reader.child("database");
      database.IsDefined() && !database.IsNull()) {
    module::SectionReader db(context, database, "database");
    if (db.string("conninfo", next->database.conninfo) && database.IsMap() &&
        next->database.conninfo.empty()) {
      context.error(database, "database.conninfo",
                    "missing; expected a libpq connection string (\"host=/run/postgresql "
                    "dbname=strowger\")");
      ok = false;
    }
    for (auto [key, target] : {std::pair<const char*, std::string*>{"table", &next->database.table},
                               {"trusted_table", &next->database.trustedTable}}) {
      const YAML::Node node = valueOf(database, key);
      if (!db.string(key, *target) || !node.IsDefined() || target->empty()) continue;
      if (std::string error; !isTableName(*target, &error)) {
        context.error(node, std::string("database.") + key, error);
        ok = false;
      }
    }
    if (next->database.table.empty()) next->database.table = "subscriber";
    db.integer("refresh", 0, 86400, next->database.refreshSeconds);
    ok = db.finish() && ok;
  }

  {
    module::SectionReader ban(context, reader.child("ban"), "ban");
    ban.integer("threshold", 0, 1'000'000, next->ban.threshold);
    ban.integer("window", 1, 86400, next->ban.windowSeconds);
    ban.integer("duration", 1, 31 * 86400, next->ban.durationSeconds);
    int action = 0;
    ban.choice("action", {"reject", "drop"}, action);
    next->banAction = static_cast<BanAction>(action);
    ban.boolean("per_user", next->banPerUser);
    ok = ban.finish() && ok;
  }
  ok = reader.finish() && ok;

  std::shared_ptr<const Settings> compiled = next;
  script::ActionSpec require;
  require.name = "auth.require";
  require.usage =
      "no parameters, or {realm: VALUE, challenge: auto|401|407, remove_credentials: BOOL, "
      "user_header: NAME, check_to: auto|true|false}";
  require.factory = [this, compiled](const YAML::Node& params, script::CompileContext& compile) {
    return compileRequire(params, compile, compiled);
  };

  script::ActionSpec checkFrom;
  checkFrom.name = "auth.check_from";
  checkFrom.usage = "no parameters, or {reply: [CODE, REASON]}";
  checkFrom.factory = [](const YAML::Node& params,
                         script::CompileContext& compile) -> std::unique_ptr<const script::Action> {
    uint16_t status = 403;
    std::string reason = "Forbidden";
    if (params.IsDefined() && !params.IsNull()) {
      if (!params.IsMap()) {
        compile.expected(params, "no parameters, or {reply: [CODE, REASON]}");
        return nullptr;
      }
      for (const auto& pair : params) {
        if (pair.first.Scalar() != "reply") {
          compile.error(pair.first, "unknown key \"" + pair.first.Scalar() + "\"; expected reply");
          return nullptr;
        }
        const YAML::Node& reply = pair.second;
        int code = 0;
        if (!reply.IsSequence() || reply.size() != 2 || !reply[0].IsScalar() ||
            !reply[1].IsScalar() || !YAML::convert<int>::decode(reply[0], code) || code < 400 ||
            code > 699) {
          compile.expected(reply, "[CODE, REASON] with a CODE from 400 to 699");
          return nullptr;
        }
        status = static_cast<uint16_t>(code);
        reason = reply[1].Scalar();
      }
    }
    return std::make_unique<CheckFromStep>(status, std::move(reason));
  };

  script::ConditionSpec trustedSpec;
  trustedSpec.name = "auth.trusted";
  trustedSpec.usage = "LIST_NAME or [LIST_NAME, ...] (the lists of auth's trusted:)";
  trustedSpec.routeKinds = script::RouteKind::kRequest;
  trustedSpec.factory = [compiled, this](const YAML::Node& params, script::CompileContext& compile)
      -> std::unique_ptr<const script::Condition> {
    std::vector<YAML::Node> names;
    if (params.IsScalar() && !params.Scalar().empty()) {
      names.push_back(params);
    } else if (params.IsSequence() && params.size() > 0) {
      for (const YAML::Node& name : params)
        names.push_back(name);
    } else {
      compile.expected(params, "a trusted list name, or a list of them");
      return nullptr;
    }
    std::vector<std::shared_ptr<const CidrList>> lists;
    std::vector<std::string> listNames;
    for (const YAML::Node& name : names) {
      auto it = name.IsScalar() ? compiled->trusted.find(name.Scalar()) : compiled->trusted.end();
      if (it == compiled->trusted.end()) {
        std::string known;
        for (const auto& [listName, list] : compiled->trusted) {
          known += (known.empty() ? "" : ", ") + listName;
        }
        // A list the database fills is declared too, so that a misspelt name is caught here.
        const std::string hint =
            compiled->database.trustedTable.empty()
                ? std::string()
                : " (a list of the database's " + compiled->database.trustedTable +
                      " table is declared there too, maybe empty: " +
                      (name.IsScalar() ? name.Scalar() : std::string("NAME")) + ": [])";
        compile.error(name, "unknown trusted list " + script::describeNode(name) + "; " +
                                (known.empty() ? std::string("modules.auth.trusted defines none")
                                               : "modules.auth.trusted defines " + known) +
                                hint);
        return nullptr;
      }
      lists.push_back(it->second);
      listNames.push_back(it->first);
    }
    return std::make_unique<TrustedCondition>(std::move(lists), std::move(listNames), database_);
  };

  script::StepRegistry& steps = context.steps();
  for (auto added :
       {steps.addAction(std::move(require)), steps.addAction(std::move(checkFrom)),
        steps.addCondition(std::move(trustedSpec)), steps.addVariable(std::string(kUserVariable)),
        steps.addVariable(std::string(kRealmVariable))}) {
    if (!added) {
      context.error(context.section(), {}, added.error());
      ok = false;
    }
  }
  pending_ = std::move(compiled);
  return ok;
}

std::unique_ptr<const script::Action> AuthModule::compileRequire(
    const YAML::Node& params, script::CompileContext& compile,
    std::shared_ptr<const Settings> settings) {
  RequireParams parsed;
  if (params.IsDefined() && !params.IsNull()) {
    if (!params.IsMap()) {
      compile.expected(params,
                       "no parameters, or a mapping with realm, challenge, remove_credentials, "
                       "user_header, check_to");
      return nullptr;
    }
    for (const auto& pair : params) {
      const std::string key = pair.first.Scalar();
      const YAML::Node& value = pair.second;
      const std::string text = value.IsScalar() ? value.Scalar() : std::string();
      if (key == "realm") {
        parsed.realm = compile.compileValue(value);
        if (!parsed.realm) return nullptr;
      } else if (key == "challenge") {
        if (text == "auto") {
          parsed.challenge = ChallengeStyle::kAuto;
        } else if (text == "401") {
          parsed.challenge = ChallengeStyle::kWww;
        } else if (text == "407") {
          parsed.challenge = ChallengeStyle::kProxy;
        } else {
          compile.expected(value, "auto, 401 or 407");
          return nullptr;
        }
      } else if (key == "remove_credentials") {
        if (text != "true" && text != "false") {
          compile.expected(value, "true or false");
          return nullptr;
        }
        parsed.removeCredentials = text == "true";
      } else if (key == "user_header") {
        const bool token = !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
        });
        if (!token) {
          compile.expected(value, "a header name (X-Auth-User)");
          return nullptr;
        }
        parsed.userHeader = text;
      } else if (key == "check_to") {
        if (text == "auto") {
          parsed.checkTo = CheckTo::kAuto;
        } else if (text == "true") {
          parsed.checkTo = CheckTo::kAlways;
        } else if (text == "false") {
          parsed.checkTo = CheckTo::kNever;
        } else {
          compile.expected(value, "auto, true or false");
          return nullptr;
        }
      } else {
        compile.error(pair.first, "unknown key \"" + key +
                                      "\"; expected realm, challenge, remove_credentials, "
                                      "user_header or check_to");
        return nullptr;
      }
    }
  }
  return std::make_unique<RequireStep>(*this, std::move(settings), std::move(parsed));
}

std::string RequireStep::realmFor(const script::MessageContext& ctx,
                                  const Settings& settings) const {
  std::string realm;
  if (params_.realm) {
    params_.realm->appendTo(ctx, realm);
    return realm;
  }
  if (!settings.realm.empty()) return settings.realm;
  const sip::Message& m = ctx.message();
  const auto& party = m.method() == sip::Method::kRegister ? m.to() : m.from();
  if (party) realm = std::string(party->uri.host());
  return realm;
}

void RequireStep::challenge(script::MessageContext& ctx, const Settings& settings, bool www,
                            std::string_view realm, bool stale) const {
  module_.counters().challenges.fetch_add(1, std::memory_order_relaxed);
  if (ctx.message().method() == sip::Method::kAck) {  // an ACK cannot be answered
    ctx.actions().drop();
    return;
  }
  const std::string nonce = settings.nonces->make(unixNow());
  const std::string_view header = www ? "WWW-Authenticate: " : "Proxy-Authenticate: ";
  std::vector<std::string> lines;
  lines.reserve(settings.algorithms.size());
  for (DigestAlgorithm algorithm : settings.algorithms) {
    std::string line(header);
    line += "Digest realm=" + quoted(realm) + ", nonce=\"" + nonce + "\", qop=\"auth\", algorithm=";
    line += digestAlgorithmName(algorithm);
    if (stale) line += ", stale=true";
    lines.push_back(std::move(line));
  }
  if (www) {
    ctx.actions().reply(401, "Unauthorized", lines);
  } else {
    ctx.actions().reply(407, "Proxy Authentication Required", lines);
  }
}

void banned(script::MessageContext& ctx, const Settings& settings, Counters& counters) {
  if (settings.banAction == BanAction::kDrop || ctx.message().method() == sip::Method::kAck) {
    counters.bannedDropped.fetch_add(1, std::memory_order_relaxed);
    ctx.actions().drop();
  } else {
    counters.bannedRejected.fetch_add(1, std::memory_order_relaxed);
    ctx.actions().reply(403, "Forbidden", {});
  }
}

std::string sourceKey(const script::MessageContext& ctx) {
  return "source " + ctx.received().source.unmapped().ip();
}

std::string userKey(std::string_view user, std::string_view realm) {
  std::string key = "user ";
  key.append(user).push_back('@');
  key.append(realm);
  return key;
}

// Counts a failure from the request's source (and for `user`@`realm` when bans are per user, and
// `user` is not empty). Returns true when that started a ban; each ban start logs one line.
bool countFailure(const script::MessageContext& ctx, const Settings& settings, BanTracker& bans,
                  Counters& counters, std::string_view realm, std::string_view user) {
  counters.failures.fetch_add(1, std::memory_order_relaxed);
  bool started = false;
  auto announce = [&](std::string_view subject, uint32_t count) {
    counters.bans.fetch_add(1, std::memory_order_relaxed);
    // The format is documented (docs/auth.md) and matched by fail2ban filters: keep it stable.
    spdlog::warn("auth: ban {} reason=failures count={} window={}s duration={}s", subject, count,
                 settings.ban.windowSeconds, settings.ban.durationSeconds);
    started = true;
  };
  if (auto count = bans.recordFailure(sourceKey(ctx), settings.ban)) {
    announce("source=" + ctx.received().source.unmapped().ip(), *count);
  }
  if (settings.banPerUser && !user.empty()) {
    if (auto count = bans.recordFailure(userKey(user, realm), settings.ban)) {
      announce("user=" + forLog(user) + "@" + forLog(realm), *count);
    }
  }
  return started;
}

void RequireStep::fail(script::MessageContext& ctx, const Settings& settings, bool www,
                       std::string_view realm, std::string_view user, std::string_view why) const {
  spdlog::debug("auth: {} from {} for {}@{} refused: {}", ctx.message().methodText(),
                ctx.received().source.unmapped().ip(), forLog(user), forLog(realm), why);
  if (countFailure(ctx, settings, module_.bans(), module_.counters(), realm, user)) {
    banned(ctx, settings, module_.counters());
    return;
  }
  challenge(ctx, settings, www, realm, false);
}

void RequireStep::run(script::MessageContext& ctx) const {
  // The settings of the configuration this step was compiled in: a reload brings new steps with
  // new settings, so the users, realm and lists a step uses always match its script.
  const Settings& settings = *compiled_;
  const sip::Message& m = ctx.message();
  if (!m.isRequest()) return;
  Counters& counters = module_.counters();
  if (module_.bans().banned(sourceKey(ctx))) {
    banned(ctx, settings, counters);
    return;
  }
  const std::string realm = realmFor(ctx, settings);
  bool www = params_.challenge == ChallengeStyle::kWww;
  if (params_.challenge == ChallengeStyle::kAuto) {
    const auto& ruri = m.requestUri();
    www = m.method() == sip::Method::kRegister ||
          (ruri && ruri->isSip() &&
           ctx.actions().isLocal(ruri->host(), ruri->hostPort.hasPort ? ruri->port() : 0));
  }
  const sip::HeaderId credentialsId =
      www ? sip::HeaderId::kAuthorization : sip::HeaderId::kProxyAuthorization;

  // The credentials for our realm; others (for a proxy or registrar further on) are left alone.
  const sip::HeaderField* header = nullptr;
  ParsedCredentials credentials;
  for (const sip::HeaderField& line : m.all(credentialsId)) {
    ParsedCredentials parsed = parseDigestCredentials(line.value);
    if (parsed.problem == CredentialsProblem::kNotDigest || parsed.fields.realm != realm) continue;
    header = &line;
    credentials = std::move(parsed);
    break;
  }
  if (header == nullptr) {
    challenge(ctx, settings, www, realm, false);
    return;
  }
  const DigestCredentials& c = credentials.fields;
  if (settings.banPerUser && !c.username.empty() &&
      module_.bans().banned(userKey(c.username, realm))) {
    banned(ctx, settings, counters);
    return;
  }
  if (!credentials.ok()) {
    fail(ctx, settings, www, realm, c.username, "malformed credentials: " + credentials.detail);
    return;
  }
  const int64_t now = unixNow();
  switch (settings.nonces->check(c.nonce, now)) {
    case NonceCheck::kValid:
      break;
    case NonceCheck::kStale:
      // The client knew the password when it got that nonce; it only waited too long.
      counters.stale.fetch_add(1, std::memory_order_relaxed);
      challenge(ctx, settings, www, realm, true);
      return;
    case NonceCheck::kInvalid:
      // Not ours (another secret, a restart with a random one): no password was tried with it.
      challenge(ctx, settings, www, realm, false);
      return;
  }
  if (c.uri != m.requestUriText()) {
    fail(ctx, settings, www, realm, c.username, "uri does not match the Request-URI");
    return;
  }
  const std::optional<DigestAlgorithm> algorithm = parseDigestAlgorithm(c.algorithm);
  if (!algorithm || std::find(settings.algorithms.begin(), settings.algorithms.end(), *algorithm) ==
                        settings.algorithms.end()) {
    fail(ctx, settings, www, realm, c.username, "algorithm not offered");
    return;
  }
  const std::optional<DigestQop> qop = parseDigestQop(c.qop);
  const std::optional<uint32_t> nc = parseNonceCount(c.nc);
  if (qop != DigestQop::kAuth || !nc || c.cnonce.empty()) {
    fail(ctx, settings, www, realm, c.username, "qop=auth with nc and cnonce required");
    return;
  }
  // An unknown user is checked against a dummy HA1: the same work and the same answer as a
  // wrong password.
  const DigestHash hash = hashOf(*algorithm);
  // The configuration's users first: on a clash its record wins, as a whole.
  const UserRecord* user = settings.users->find(c.username, realm);
  std::shared_ptr<const DatabaseSnapshot> database;  // keeps `user` alive when it is from there
  if (user == nullptr) {
    database = module_.database().snapshot();
    user = database->users.find(c.username, realm);
  }
  const bool known = user != nullptr && !user->ha1For(hash).empty();
  const std::string& ha1Hex = known ? user->ha1For(hash) : module_.dummyHa1(hash);
  const std::string expected =
      digestResponse(*algorithm, sessionHa1(*algorithm, ha1Hex, c.nonce, c.cnonce), c.nonce, c.nc,
                     c.cnonce, DigestQop::kAuth, m.methodText(), c.uri);
  if (!digestEqual(expected, c.response) || !known) {
    fail(ctx, settings, www, realm, c.username, "wrong response or unknown user");
    return;
  }
  const std::optional<int64_t> issued = NonceFactory::issuedAt(c.nonce);
  if (!issued || !module_.nonceCounts().accept(c.nonce, *issued, *nc)) {
    counters.replays.fetch_add(1, std::memory_order_relaxed);
    fail(ctx, settings, www, realm, c.username, "nonce count replayed");
    return;
  }
  const bool checkTo = params_.checkTo == CheckTo::kAlways ||
                       (params_.checkTo == CheckTo::kAuto && m.method() == sip::Method::kRegister);
  if (checkTo) {
    const auto& to = m.to();
    if (!to || to->uri.unescapedUser() != c.username) {
      counters.toMismatch.fetch_add(1, std::memory_order_relaxed);
      // Counted toward the source's ban like a wrong password (trying others' addresses is
      // probing too), not toward the user's: the user did know the password.
      if (countFailure(ctx, settings, module_.bans(), counters, realm, {})) {
        banned(ctx, settings, counters);
      } else if (m.method() == sip::Method::kAck) {
        ctx.actions().drop();
      } else {
        ctx.actions().reply(403, "Forbidden", {});
      }
      return;
    }
  }

  counters.successes.fetch_add(1, std::memory_order_relaxed);
  if (settings.banPerUser) module_.bans().clearFailures(userKey(c.username, realm));
  script::RequestState& state = ctx.state();
  state.setVariable(kUserVariable, c.username);
  state.setVariable(kRealmVariable, realm);
  if (params_.removeCredentials) ctx.editor().removeHeader(*header);
  if (!params_.userHeader.empty()) {
    // Whatever the client sent under that name goes: only this step may vouch for a user.
    for (const sip::HeaderField& line : m.headers()) {
      if (sip::equalsIgnoreCase(line.name, params_.userHeader)) ctx.editor().removeHeader(line);
    }
    ctx.editor().appendHeader(params_.userHeader, c.username);
  }
}

}  // namespace
}  // namespace strowger::auth

STROWGER_MODULE(strowger::auth::AuthModule, "auth", "1.0",
                "digest authentication, trusted sources, brute-force bans")

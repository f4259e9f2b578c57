#include "subscriber_db.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <set>
#include <span>
#include <vector>

#include "pg_connection.h"

namespace strowger::auth {
namespace {

constexpr std::array<std::string_view, 3> kRequiredUserColumns = {"username", "domain", "ha1"};
constexpr std::string_view kSha256Column = "ha1_sha256";
constexpr std::array<std::string_view, 2> kTrustedColumns = {"list", "cidr"};

bool isHex(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; });
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](char c) {
    return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  });
  return out;
}

// "public.subscriber" -> "\"public\".\"subscriber\"": quoted, so that the name is taken exactly
// as configured (isTableName has already refused anything a quote could not hold).
std::string quotedTable(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '.') {
      out += "\".\"";
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
  return out;
}

LoadError errorOf(const location::pg::Result& result, std::string_view what) {
  return LoadError{std::string(what) + ": " + result.error(), result.lost()};
}

// The columns `table` has, or an error when it does not exist.
Expected<std::set<std::string>, LoadError> columnsOf(location::pg::Connection& connection,
                                                     std::string_view table) {
  const std::string quoted = quotedTable(table);
  const std::array<const char*, 1> params = {quoted.c_str()};
  location::pg::Result exists =
      connection.execParams("SELECT to_regclass($1::text) IS NOT NULL", params);
  if (!exists.ok()) return unexpected(errorOf(exists, "looking up table " + std::string(table)));
  if (exists.value(0, 0) != "t") {
    return unexpected(LoadError{"table " + std::string(table) + " does not exist", false});
  }
  location::pg::Result columns = connection.execParams(
      "SELECT attname::text FROM pg_catalog.pg_attribute "
      "WHERE attrelid = to_regclass($1::text) AND attnum > 0 AND NOT attisdropped",
      params);
  if (!columns.ok()) {
    return unexpected(errorOf(columns, "reading the columns of table " + std::string(table)));
  }
  std::set<std::string> names;
  for (int row = 0; row < columns.rows(); ++row)
    names.emplace(columns.value(row, 0));
  return names;
}

// An error naming the first of `required` that `columns` lacks, and what the table needs.
std::optional<LoadError> missingColumn(const std::set<std::string>& columns,
                                       std::span<const std::string_view> required,
                                       std::string_view table, std::string_view expected) {
  for (std::string_view name : required) {
    if (!columns.contains(std::string(name))) {
      return LoadError{"table " + std::string(table) + " has no column " + std::string(name) +
                           " (expected " + std::string(expected) + ")",
                       false};
    }
  }
  return std::nullopt;
}

Expected<void, LoadError> loadUsers(location::pg::Connection& connection, std::string_view table,
                                    DatabaseSnapshot& snapshot) {
  auto columns = columnsOf(connection, table);
  if (!columns) return unexpected(std::move(columns.error()));
  if (auto missing = missingColumn(columns.value(), kRequiredUserColumns, table,
                                   "username, domain, ha1 and optionally ha1_sha256")) {
    return unexpected(std::move(*missing));
  }
  const bool hasSha256 = columns.value().contains(std::string(kSha256Column));
  const std::string sql = std::string("SELECT username::text, domain::text, ha1::text, ") +
                          (hasSha256 ? "ha1_sha256::text" : "NULL::text") + " FROM " +
                          quotedTable(table);
  location::pg::Result rows = connection.exec(sql.c_str());
  if (!rows.ok()) return unexpected(errorOf(rows, "reading table " + std::string(table)));
  for (int row = 0; row < rows.rows(); ++row) {
    // SQL NULL reads as "": a hash without a value is a hash the user cannot use.
    UserRecord record;
    record.user = std::string(rows.value(row, 0));
    record.domain = std::string(rows.value(row, 1));
    const std::string_view md5 = rows.value(row, 2);
    const std::string_view sha256 = rows.value(row, 3);
    const bool md5Ok = md5.empty() || (md5.size() == ha1HexLength(DigestHash::kMd5) && isHex(md5));
    const bool sha256Ok =
        sha256.empty() || (sha256.size() == ha1HexLength(DigestHash::kSha256) && isHex(sha256));
    if (record.user.empty() || record.domain.empty() || !md5Ok || !sha256Ok ||
        (md5.empty() && sha256.empty())) {
      ++snapshot.skippedRows;
      continue;
    }
    record.ha1[static_cast<size_t>(DigestHash::kMd5)] = lower(md5);
    record.ha1[static_cast<size_t>(DigestHash::kSha256)] = lower(sha256);
    if (!snapshot.users.add(std::move(record))) ++snapshot.skippedRows;  // a duplicate
  }
  return {};
}

Expected<void, LoadError> loadTrusted(location::pg::Connection& connection, std::string_view table,
                                      DatabaseSnapshot& snapshot) {
  auto columns = columnsOf(connection, table);
  if (!columns) return unexpected(std::move(columns.error()));
  if (auto missing =
          missingColumn(columns.value(), kTrustedColumns, table, "list and cidr (text or inet)")) {
    return unexpected(std::move(*missing));
  }
  const std::string sql = "SELECT list::text, cidr::text FROM " + quotedTable(table);
  location::pg::Result rows = connection.exec(sql.c_str());
  if (!rows.ok()) return unexpected(errorOf(rows, "reading table " + std::string(table)));
  for (int row = 0; row < rows.rows(); ++row) {
    const std::string_view list = rows.value(row, 0);
    const auto range = CidrRange::parse(rows.value(row, 1));
    if (list.empty() || !range) {
      ++snapshot.skippedRows;
      continue;
    }
    snapshot.trusted[std::string(list)].add(*range);
  }
  return {};
}

bool isIdentifier(std::string_view part) {
  if (part.empty() || part.size() > 63) return false;
  if (std::isdigit(static_cast<unsigned char>(part.front()))) return false;
  return std::all_of(part.begin(), part.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_';
  });
}

}  // namespace

bool isTableName(std::string_view name, std::string* error) {
  const size_t dot = name.find('.');
  const bool ok = dot == std::string_view::npos
                      ? isIdentifier(name)
                      : isIdentifier(name.substr(0, dot)) && isIdentifier(name.substr(dot + 1));
  if (!ok && error != nullptr) {
    *error =
        "expected a table name (letters, digits and _, not starting with a digit), or "
        "SCHEMA.TABLE, got \"" +
        std::string(name) + "\"";
  }
  return ok;
}

Expected<DatabaseSnapshot, LoadError> loadSnapshot(location::pg::Connection& connection,
                                                   const DatabaseSettings& settings) {
  DatabaseSnapshot snapshot;
  // One transaction, so that both tables are read as of one moment.
  location::pg::Result begin =
      connection.exec("BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY");
  if (!begin.ok()) return unexpected(errorOf(begin, "starting a transaction"));
  Expected<void, LoadError> read = loadUsers(connection, settings.table, snapshot);
  if (read && !settings.trustedTable.empty()) {
    read = loadTrusted(connection, settings.trustedTable, snapshot);
  }
  location::pg::Result end = connection.exec(read ? "COMMIT" : "ROLLBACK");
  if (!read) return unexpected(std::move(read.error()));
  if (!end.ok()) return unexpected(errorOf(end, "ending the transaction"));
  return snapshot;
}

SubscriberDatabase::SubscriberDatabase() = default;

SubscriberDatabase::~SubscriberDatabase() {
  stop();
}

void SubscriberDatabase::configure(const DatabaseSettings& settings) {
  std::lock_guard lock(mutex_);
  settings_ = settings;
  if (!settings.enabled()) {
    snapshot_.store(std::make_shared<const DatabaseSnapshot>(), std::memory_order_release);
    up_.store(false);
    return;
  }
  loadRequested_ = true;
  wake_.notify_all();
}

bool SubscriberDatabase::start(std::chrono::milliseconds firstLoadWait) {
  std::unique_lock lock(mutex_);
  if (running_) return up_.load();
  running_ = true;
  const uint64_t before = attempts_;
  const uint64_t loadsBefore = loads_.load();
  const bool enabled = settings_.enabled();
  if (enabled) loadRequested_ = true;
  thread_ = std::thread([this] { run(); });
  if (!enabled) return true;
  loaded_.wait_for(lock, firstLoadWait, [&] { return attempts_ > before; });
  return loads_.load() > loadsBefore;
}

void SubscriberDatabase::stop() {
  {
    std::lock_guard lock(mutex_);
    if (!running_) return;
    running_ = false;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  connection_.reset();
}

void SubscriberDatabase::reloadNow() {
  std::lock_guard lock(mutex_);
  loadRequested_ = true;
  wake_.notify_all();
}

DatabaseStats SubscriberDatabase::stats() const {
  DatabaseStats out;
  {
    std::lock_guard lock(mutex_);
    out.configured = settings_.enabled();
  }
  out.up = up_.load();
  out.users = snapshot()->users.size();
  out.loads = loads_.load();
  out.failures = failures_.load();
  return out;
}

void SubscriberDatabase::run() {
  std::unique_lock lock(mutex_);
  while (running_) {
    if (!loadRequested_) {
      const auto wakeUp = [this] { return !running_ || loadRequested_; };
      std::optional<std::chrono::seconds> interval;
      if (settings_.enabled()) {
        if (settings_.refreshSeconds > 0) {
          interval = std::chrono::seconds(settings_.refreshSeconds);
        } else if (!up_.load()) {
          interval = kRetryWithoutRefresh;
        }
      }
      if (interval) {
        wake_.wait_for(lock, *interval, wakeUp);
      } else {
        wake_.wait(lock, wakeUp);
      }
      if (!running_) break;
    }
    loadRequested_ = false;
    const DatabaseSettings settings = settings_;
    lock.unlock();
    if (settings.enabled()) {
      loadOnce(settings);
    } else {
      connection_.reset();  // the database was taken out of the configuration
    }
    lock.lock();
    ++attempts_;
    loaded_.notify_all();
  }
}

void SubscriberDatabase::loadOnce(const DatabaseSettings& settings) {
  auto connect = [&]() -> Expected<void, LoadError> {
    connection_ = std::make_unique<location::pg::Connection>();
    location::pg::Connection::Options options;
    options.conninfo = settings.conninfo;
    options.applicationName = "strowger-auth";
    if (auto opened = connection_->open(options); !opened) {
      connection_.reset();
      return unexpected(LoadError{opened.error(), true});
    }
    connectedTo_ = settings.conninfo;
    return {};
  };

  Expected<DatabaseSnapshot, LoadError> loaded = unexpected(LoadError{});
  const bool reused =
      connection_ != nullptr && connection_->isOpen() && connectedTo_ == settings.conninfo;
  if (auto connected = reused ? Expected<void, LoadError>() : connect(); !connected) {
    loaded = unexpected(std::move(connected.error()));
  } else {
    loaded = loadSnapshot(*connection_, settings);
    // A session kept from the last load may have been cut off since (the server restarted);
    // that says nothing about the server now: one more try on a new session.
    if (!loaded && loaded.error().connectionLost && reused) {
      if (auto again = connect(); !again) {
        loaded = unexpected(std::move(again.error()));
      } else {
        loaded = loadSnapshot(*connection_, settings);
      }
    }
  }

  if (!loaded) {
    const LoadError& error = loaded.error();
    if (error.connectionLost) connection_.reset();
    failures_.fetch_add(1);
    up_.store(false);
    const size_t cached = snapshot()->users.size();
    // An outage is logged when it starts; a problem with the tables whenever it changes, so
    // that a half-done fix shows.
    if (error.connectionLost) {
      if (!reportedDown_) {
        spdlog::warn("auth: database unavailable, serving {} cached users: {}", cached,
                     error.message);
      }
    } else if (!reportedDown_ || error.message != lastReportedError_) {
      spdlog::error("auth: database load failed, serving {} cached users: {}", cached,
                    error.message);
    }
    reportedDown_ = true;
    lastReportedError_ = error.message;
    return;
  }

  DatabaseSnapshot& fresh = loaded.value();
  const size_t users = fresh.users.size();
  size_t ranges = 0;
  for (const auto& [name, list] : fresh.trusted)
    ranges += list.size();
  const size_t skipped = fresh.skippedRows;
  const bool first = loads_.load() == 0;
  snapshot_.store(std::make_shared<const DatabaseSnapshot>(std::move(fresh)),
                  std::memory_order_release);
  loads_.fetch_add(1);
  up_.store(true);
  if (reportedDown_) {
    spdlog::info("auth: database available again, {} users and {} trusted ranges loaded", users,
                 ranges);
  } else if (first) {
    spdlog::info("auth: {} users and {} trusted ranges loaded from the database", users, ranges);
  } else {
    spdlog::debug("auth: {} users and {} trusted ranges loaded from the database", users, ranges);
  }
  if (skipped > 0 && skipped != lastSkipped_) {
    // The rows' values are not printed: they hold HA1s.
    spdlog::warn(
        "auth: {} database rows skipped (an empty username, domain or list, an HA1 that is not "
        "32 or 64 hex digits, none at all, a duplicate, or a bad address range)",
        skipped);
  }
  lastSkipped_ = skipped;
  reportedDown_ = false;
  lastReportedError_.clear();
}

}  // namespace strowger::auth

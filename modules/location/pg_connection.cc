#include "pg_connection.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>

namespace strowger::location::pg {
namespace {

// Both numbers of the two-int advisory lock space: the first names Strowger's location store
// ("Lo"), the second is the AOR's hash. Keeps clear of the schema lock and of other users.
constexpr std::string_view kLockAorSql = "SELECT pg_advisory_xact_lock(21615, hashtext($1::text))";

struct StatementText {
  Statement statement;
  std::string name;
  std::string sql;
  int params;
};

const std::vector<StatementText>& statementTexts() {
  static const std::vector<StatementText> texts = [] {
    const std::string columns(kColumns);
    std::string values;
    for (int i = 1; i <= kColumnCount; ++i)
      values += (i == 1 ? "$" : ", $") + std::to_string(i);
    // Every column but the key takes the new value.
    std::string assignments;
    std::string_view rest = kColumns;
    bool first = true;
    while (!rest.empty()) {
      std::size_t comma = rest.find(',');
      std::string_view name = rest.substr(0, comma);
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 2);
      if (name == "id") continue;
      if (!first) assignments += ", ";
      first = false;
      assignments += std::string(name) + " = EXCLUDED." + std::string(name);
    }
    return std::vector<StatementText>{
        {Statement::kUpsert, "strowger_location_upsert",
         "INSERT INTO location (" + columns + ") VALUES (" + values +
             ") ON CONFLICT (id) DO UPDATE SET " + assignments,
         kColumnCount},
        {Statement::kDeleteById, "strowger_location_delete",
         "DELETE FROM location WHERE id = $1 AND aor = $2", 2},
        {Statement::kSelectAor, "strowger_location_select",
         "SELECT " + columns + " FROM location WHERE aor = $1", 1},
        {Statement::kSelectAorLocked, "strowger_location_select_locked",
         "SELECT " + columns + " FROM location WHERE aor = $1 FOR UPDATE", 1},
        {Statement::kLockAor, "strowger_location_lock", std::string(kLockAorSql), 1},
        {Statement::kDeleteExpired, "strowger_location_expire",
         "DELETE FROM location WHERE expires_at <= $1", 1},
        {Statement::kSelectUnexpired, "strowger_location_load",
         "SELECT " + columns + " FROM location WHERE expires_at > $1", 1},
    };
  }();
  return texts;
}

const StatementText& textOf(Statement statement) {
  const auto& texts = statementTexts();
  return *std::find_if(texts.begin(), texts.end(),
                       [statement](const StatementText& t) { return t.statement == statement; });
}

// libpq's messages run over several lines ("...failed: No such file or directory\n\tIs the server
// running locally...?\n"); a log line reads better with every run of blanks made one space.
std::string oneLine(const char* message) {
  std::string out;
  bool blank = false;
  for (const char* p = message ? message : ""; *p != '\0'; ++p) {
    const bool space = *p == ' ' || *p == '\n' || *p == '\t' || *p == '\r';
    if (space) {
      blank = !out.empty();
      continue;
    }
    if (blank) out += ' ';
    blank = false;
    out += *p;
  }
  return out;
}

// SQLSTATE classes that mean the session cannot go on: 08 connection exception, 57P01..57P03
// (admin shutdown, crash shutdown, cannot connect now).
bool isSessionFailure(const char* sqlstate) {
  if (sqlstate == nullptr) return false;
  if (std::strncmp(sqlstate, "08", 2) == 0) return true;
  return std::strncmp(sqlstate, "57P0", 4) == 0;
}

}  // namespace

int Result::rows() const {
  return result_ ? PQntuples(result_.get()) : 0;
}

uint64_t Result::affected() const {
  if (!result_) return 0;
  const char* text = PQcmdTuples(result_.get());
  uint64_t n = 0;
  std::from_chars(text, text + std::strlen(text), n);
  return n;
}

RowView Result::row(int i) const {
  RowView out;
  for (int c = 0; c < kColumnCount && c < PQnfields(result_.get()); ++c) {
    if (PQgetisnull(result_.get(), i, c)) continue;
    out[c] = std::string_view(PQgetvalue(result_.get(), i, c),
                              static_cast<std::size_t>(PQgetlength(result_.get(), i, c)));
  }
  return out;
}

std::string_view Result::value(int row, int column) const {
  if (!result_ || row >= rows() || column >= PQnfields(result_.get())) return {};
  return std::string_view(PQgetvalue(result_.get(), row, column),
                          static_cast<std::size_t>(PQgetlength(result_.get(), row, column)));
}

Connection::~Connection() {
  close();
}

void Connection::close() {
  if (conn_) PQfinish(conn_);
  conn_ = nullptr;
}

Expected<void, std::string> Connection::open(const Options& options) {
  close();
  // libpq rounds a connect_timeout of 1 up to 2; below that it means "wait forever".
  const std::string timeout = std::to_string(std::max<int64_t>(2, options.connectTimeout.count()));
  // Keywords before "dbname" are defaults: the expanded conninfo overrides them. Over TCP, a
  // database host that vanished without a word (no RST) is noticed within about a minute rather
  // than the kernel's quarter of an hour, so a database thread never hangs for long.
  const char* keywords[] = {
      "connect_timeout",     "application_name", "keepalives_idle", "keepalives_count",
      "keepalives_interval", "tcp_user_timeout", "dbname",          nullptr};
  const char* values[] = {timeout.c_str(), options.applicationName.c_str(), "30",   "3", "10",
                          "60000",         options.conninfo.c_str(),        nullptr};
  PGconn* conn = PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
  if (conn == nullptr) return unexpected(std::string("out of memory"));
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string error = oneLine(PQerrorMessage(conn));
    PQfinish(conn);
    return unexpected(std::move(error));
  }
  conn_ = conn;
  // Notices ("relation already exists, skipping") are not ours to print.
  PQsetNoticeProcessor(
      conn_, [](void*, const char*) {}, nullptr);
  return {};
}

Expected<void, std::string> Connection::prepareStatements() {
  for (const StatementText& t : statementTexts()) {
    Result r = finish(PQprepare(conn_, t.name.c_str(), t.sql.c_str(), t.params, nullptr));
    if (!r.ok()) return unexpected("preparing " + t.name + ": " + r.error());
  }
  return {};
}

Result Connection::finish(PGresult* raw) {
  Result r;
  r.result_.reset(raw);
  const ExecStatusType status = raw ? PQresultStatus(raw) : PGRES_FATAL_ERROR;
  r.ok_ = status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
  if (r.ok_) return r;
  r.error_ = oneLine(raw ? PQresultErrorMessage(raw) : PQerrorMessage(conn_));
  if (r.error_.empty()) r.error_ = oneLine(PQerrorMessage(conn_));
  r.lost_ = PQstatus(conn_) != CONNECTION_OK ||
            isSessionFailure(raw ? PQresultErrorField(raw, PG_DIAG_SQLSTATE) : nullptr);
  return r;
}

Result Connection::exec(Statement statement, std::span<const char* const> params) {
  const StatementText& t = textOf(statement);
  return finish(PQexecPrepared(conn_, t.name.c_str(), static_cast<int>(params.size()),
                               params.data(), nullptr, nullptr, /*resultFormat=*/0));
}

Result Connection::exec(const char* sql) {
  return finish(PQexec(conn_, sql));
}

Result Connection::execParams(const char* sql, std::span<const char* const> params) {
  return finish(PQexecParams(conn_, sql, static_cast<int>(params.size()), nullptr, params.data(),
                             nullptr, nullptr, /*resultFormat=*/0));
}

Result Connection::upsert(const Binding& b) {
  const Row row = toRow(b);
  std::array<const char*, kColumnCount> params{};
  for (int i = 0; i < kColumnCount; ++i)
    params[i] = row[i] ? row[i]->c_str() : nullptr;
  return exec(Statement::kUpsert, params);
}

Result Connection::deleteById(const std::string& id, const std::string& aor) {
  const std::array<const char*, 2> params = {id.c_str(), aor.c_str()};
  return exec(Statement::kDeleteById, params);
}

std::vector<Binding> Connection::bindingsOf(const Result& result, std::size_t* skipped) {
  std::vector<Binding> out;
  out.reserve(static_cast<std::size_t>(result.rows()));
  for (int i = 0; i < result.rows(); ++i) {
    auto b = fromRow(result.row(i));
    if (b) {
      out.push_back(std::move(b).value());
    } else if (skipped) {
      ++*skipped;
    }
  }
  return out;
}

}  // namespace strowger::location::pg

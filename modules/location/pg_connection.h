// One libpq session with the location store's statements prepared on it. Used by one thread at a
// time; blocking (only ever on a database thread or in start()).
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pg_codec.h"
#include "strowger/expected.h"
#include "strowger/location/binding.h"

namespace strowger::location::pg {

enum class Statement : uint8_t {
  kUpsert,           // $1..$18: the columns (pg_codec.h)
  kDeleteById,       // $1 id, $2 aor
  kSelectAor,        // $1 aor
  kSelectAorLocked,  // $1 aor; FOR UPDATE
  kLockAor,          // $1 aor; transaction-scoped advisory lock
  kDeleteExpired,    // $1 now; returns nothing, counts rows
  kSelectUnexpired,  // $1 now
};

// A statement's outcome. `lost` tells a failure of the session (the server went away or is
// shutting down) from one the server reported for the statement: only the first is an outage.
class Result {
 public:
  Result() = default;
  bool ok() const { return ok_; }
  bool lost() const { return lost_; }
  const std::string& error() const { return error_; }
  int rows() const;
  // Rows a DELETE or UPDATE touched.
  uint64_t affected() const;
  // Row `i` as text values, for the statements that return kColumns.
  RowView row(int i) const;
  std::string_view value(int row, int column) const;

 private:
  friend class Connection;
  std::unique_ptr<PGresult, decltype(&PQclear)> result_{nullptr, &PQclear};
  bool ok_ = false;
  bool lost_ = false;
  std::string error_;
};

class Connection {
 public:
  struct Options {
    std::string conninfo;
    std::chrono::seconds connectTimeout{5};
    std::string applicationName;
  };

  Connection() = default;
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Connects (blocking, at most connectTimeout). Statements are prepared separately, once the
  // schema is known to be there.
  Expected<void, std::string> open(const Options& options);
  Expected<void, std::string> prepareStatements();
  void close();
  bool isOpen() const { return conn_ != nullptr; }
  PGconn* raw() { return conn_; }

  Result exec(Statement statement, std::span<const char* const> params);
  // A statement without parameters ("BEGIN", "COMMIT", a schema file).
  Result exec(const char* sql);
  // A one-off statement with parameters (not worth preparing).
  Result execParams(const char* sql, std::span<const char* const> params);

  // Convenience wrappers.
  Result upsert(const Binding& b);
  Result deleteById(const std::string& id, const std::string& aor);
  // Reads kSelectAor/kSelectAorLocked/kSelectUnexpired rows; rows this build cannot read are
  // skipped and counted in `skipped`.
  static std::vector<Binding> bindingsOf(const Result& result, std::size_t* skipped = nullptr);

 private:
  Result finish(PGresult* raw);

  PGconn* conn_ = nullptr;
};

}  // namespace strowger::location::pg

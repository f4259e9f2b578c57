// Dispatcher sets stored in PostgreSQL: the rows of the table named by `database.table`, read
// with libpq (blocking: only ever on the module's loader thread or in a test), checked as a whole
// and merged into the sets the configuration declares `from_database: true`
// (docs/dispatcher.md, "Sets in PostgreSQL").
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config.h"
#include "strowger/expected.h"

namespace strowger::dispatcher {

// One row of the table, as libpq gives it in text mode; nullopt is SQL NULL.
struct DbRow {
  std::optional<std::string> setid;
  std::optional<std::string> destination;
  std::optional<std::string> weight;    // NULL: 1
  std::optional<std::string> priority;  // NULL: 0
  std::optional<std::string> socket;    // NULL or "": the proxy picks the listener
  std::optional<std::string> attrs;     // "k=v;k=v"; NULL or "": none
};

// The destinations of the table by set name (every setid of the table, declared or not), each
// set's destinations in the order the SELECT returned them (destination URI order).
using DbSets = std::map<std::string, std::vector<DestinationConfig>>;

// "carrier=acme;prefix=00" as attributes, in the order written; an empty text (or one of only
// ';') has none. An error says what was expected.
Expected<std::vector<std::pair<std::string, std::string>>, std::string> parseAttrs(
    std::string_view text);

// How a row is named in messages: `row (setid "gateways", destination "sip:10.0.0.1")`.
std::string describeRow(const DbRow& row);

// Whether a destination's `socket` is one of the proxy's listen addresses.
using SocketCheck = std::function<bool(const SocketSpec&)>;

// Checks every row and groups them by set. The first bad row (no setid or a set name that is not
// one, a bad URI, a URI twice in a set, weight or priority out of range or not a number, a bad
// socket or one that `socketKnown` does not know, bad attrs) fails the whole table, with the
// row's description and what was expected.
Expected<DbSets, std::string> setsFromRows(const std::vector<DbRow>& rows,
                                           const SocketCheck& socketKnown = nullptr);

// The SELECT that reads the table.
std::string selectSql(const DatabaseSettings& settings);

// Connects (at most `connectTimeout`), reads the table and disconnects. The error says what
// failed: the connection, or the query (no such table, a missing column).
Expected<std::vector<DbRow>, std::string> fetchRows(const DatabaseSettings& settings,
                                                    std::chrono::seconds connectTimeout);

// `config` with each `from_database` set's destinations taken from `sets` (none when the table
// has no row for it).
void mergeDatabaseSets(DispatcherConfig& config, const DbSets& sets);

}  // namespace strowger::dispatcher

#include "db_source.h"

#include <charconv>

#include "pg_connection.h"
#include "strowger/diagnostics.h"

namespace strowger::dispatcher {
namespace {

// The SELECT's columns, in this order.
enum Column : int { kSetId, kDestination, kWeight, kPriority, kSocket, kAttrs, kColumnTotal };

// The location store's row view holds more columns than this SELECT returns; each is NULL-aware.
static_assert(location::pg::kColumnCount >= kColumnTotal);

std::optional<int64_t> parseInteger(std::string_view text) {
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// weight and priority: NULL takes the default; anything else must be an integer in range.
Expected<int, std::string> readNumber(const std::optional<std::string>& text, std::string_view name,
                                      int fallback, int max) {
  if (!text) return fallback;
  const auto value = parseInteger(*text);
  if (!value || *value < 0 || *value > max) {
    return unexpected(std::string(name) + " " + diag::inQuotes(*text) +
                      ": expected an integer from 0 to " + std::to_string(max));
  }
  return static_cast<int>(*value);
}

std::string quotedOrNull(const std::optional<std::string>& text) {
  return text ? diag::inQuotes(*text) : std::string("NULL");
}

}  // namespace

Expected<std::vector<std::pair<std::string, std::string>>, std::string> parseAttrs(
    std::string_view text) {
  std::vector<std::pair<std::string, std::string>> out;
  std::string_view rest = text;
  while (!rest.empty()) {
    const std::size_t semicolon = rest.find(';');
    const std::string_view item = rest.substr(0, semicolon);
    rest = semicolon == std::string_view::npos ? std::string_view() : rest.substr(semicolon + 1);
    if (item.empty()) continue;  // "a=1;" and ";;" are tolerated
    const std::size_t equals = item.find('=');
    const std::string_view name = item.substr(0, equals);
    if (equals == std::string_view::npos || !validAttrName(name)) {
      return unexpected("attrs " + diag::inQuotes(text) + ": expected NAME=VALUE;NAME=VALUE with " +
                        "names of letters, digits and '_', got " + diag::inQuotes(item));
    }
    for (const auto& [known, value] : out) {
      if (known == name) {
        return unexpected("attrs " + diag::inQuotes(text) + ": " + diag::inQuotes(name) +
                          " is given twice");
      }
    }
    out.emplace_back(std::string(name), std::string(item.substr(equals + 1)));
  }
  return out;
}

std::string describeRow(const DbRow& row) {
  return "row (setid " + quotedOrNull(row.setid) + ", destination " +
         quotedOrNull(row.destination) + ")";
}

Expected<DbSets, std::string> setsFromRows(const std::vector<DbRow>& rows,
                                           const SocketCheck& socketKnown) {
  DbSets sets;
  for (const DbRow& row : rows) {
    auto fail = [&row](const std::string& what) {
      return unexpected(describeRow(row) + ": " + what);
    };
    if (!row.setid || !validSetName(*row.setid)) {
      return fail("expected a setid of letters, digits, '_' and '-'");
    }
    if (!row.destination) return fail("expected a destination URI, got NULL");
    DestinationConfig destination;
    if (auto parsed = parseDestinationUri(*row.destination, destination); !parsed) {
      return fail(parsed.error());
    }
    std::vector<DestinationConfig>& set = sets[*row.setid];
    for (const DestinationConfig& other : set) {
      if (other.uri == destination.uri) {
        return fail("the set already has this destination; each destination is listed once");
      }
    }
    auto weight = readNumber(row.weight, "weight", 1, kMaxWeight);
    if (!weight) return fail(weight.error());
    destination.weight = *weight;
    auto priority = readNumber(row.priority, "priority", 0, kMaxPriority);
    if (!priority) return fail(priority.error());
    destination.priority = *priority;
    if (row.socket && !row.socket->empty()) {
      auto socket = parseSocketSpec(*row.socket);
      if (!socket) return fail("socket: " + socket.error());
      if (socketKnown && !socketKnown(*socket)) {
        return fail("socket " + diag::inQuotes(*row.socket) +
                    " is not one of this proxy's listen addresses");
      }
      destination.socket = std::move(socket.value());
    }
    if (row.attrs) {
      auto attrs = parseAttrs(*row.attrs);
      if (!attrs) return fail(attrs.error());
      destination.attrs = std::move(attrs.value());
    }
    set.push_back(std::move(destination));
  }
  return sets;
}

std::string selectSql(const DatabaseSettings& settings) {
  // The order makes each set's list, and so the hash algorithms' choices, the same on every
  // load and every node whatever order the rows were written in.
  return "SELECT setid, destination, weight, priority, socket, attrs FROM " + settings.table +
         " ORDER BY setid, destination";
}

Expected<std::vector<DbRow>, std::string> fetchRows(const DatabaseSettings& settings,
                                                    std::chrono::seconds connectTimeout) {
  location::pg::Connection connection;
  location::pg::Connection::Options options;
  options.conninfo = settings.conninfo;
  options.connectTimeout = connectTimeout;
  options.applicationName = "strowger-dispatcher";
  if (auto opened = connection.open(options); !opened) {
    return unexpected("cannot connect: " + opened.error());
  }
  const std::string sql = selectSql(settings);
  const location::pg::Result result = connection.exec(sql.c_str());
  if (!result.ok()) return unexpected("reading table " + settings.table + ": " + result.error());
  std::vector<DbRow> rows;
  rows.reserve(static_cast<std::size_t>(result.rows()));
  for (int i = 0; i < result.rows(); ++i) {
    const location::pg::RowView view = result.row(i);
    auto text = [&view](Column column) -> std::optional<std::string> {
      if (!view[column]) return std::nullopt;
      return std::string(*view[column]);
    };
    rows.push_back(DbRow{text(kSetId), text(kDestination), text(kWeight), text(kPriority),
                         text(kSocket), text(kAttrs)});
  }
  return rows;
}

void mergeDatabaseSets(DispatcherConfig& config, const DbSets& sets) {
  for (SetConfig& set : config.sets) {
    if (!set.fromDatabase) continue;
    const auto found = sets.find(set.name);
    set.destinations = found == sets.end() ? std::vector<DestinationConfig>{} : found->second;
  }
}

}  // namespace strowger::dispatcher

// A Binding as the text values of a row of table `location` (sql/location-001.sql), and back.
// libpq is used in text mode with every value a parameter, so this is all the conversion there is;
// it needs no connection and is tested on its own.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

#include "strowger/expected.h"
#include "strowger/location/binding.h"
#include "strowger/net/socket_address.h"

namespace strowger::location::pg {

inline constexpr int kColumnCount = 18;
// In this order in every SELECT and as the parameters $1..$18 of the upsert.
inline constexpr std::string_view kColumns =
    "id, aor, contact, path, call_id, cseq, q_milli, instance, reg_id, user_agent, protocol, "
    "source, listener, connection, node, expires_at, updated_at, natted";

// The text of each column; nullopt is SQL NULL (reg_id when there is none).
using Row = std::array<std::optional<std::string>, kColumnCount>;
using RowView = std::array<std::optional<std::string_view>, kColumnCount>;

Row toRow(const Binding& b);
// Fails, naming the column, on a value this build could not have written.
Expected<Binding, std::string> fromRow(const RowView& row);

// "192.0.2.1:5060", "[2001:db8::1]:5060", "[fe80::1%2]:5060" (the zone as an interface index, so
// that it parses back); "" for an address that is not set.
std::string formatSource(const net::SocketAddress& address);
std::optional<net::SocketAddress> parseSource(std::string_view text);

}  // namespace strowger::location::pg

#include "strowger/sip/framer.h"

#include <cstring>
#include <optional>

#include "chars.h"
#include "strowger/sip/header_id.h"
#include "strowger/sip/headers.h"

namespace strowger::sip {
namespace {

// Offset just past the empty line ending the header section, searching from `from`; npos if the
// section is not complete yet. CRLF CRLF is the rule; bare LFs are tolerated as the parser does.
std::size_t findHeaderEnd(std::string_view b, std::size_t from) {
  std::size_t i = from;
  while (i < b.size()) {
    const void* p = std::memchr(b.data() + i, '\n', b.size() - i);
    if (!p) return std::string_view::npos;
    std::size_t lf = static_cast<std::size_t>(static_cast<const char*>(p) - b.data());
    if (lf >= 1 && b[lf - 1] == '\n') return lf + 1;                       // LF LF
    if (lf >= 2 && b[lf - 1] == '\r' && b[lf - 2] == '\n') return lf + 1;  // (CR)LF CRLF
    i = lf + 1;
  }
  return std::string_view::npos;
}

// The Content-Length of a complete header section: nullopt if absent, -1 if malformed or
// repeated.
std::optional<int64_t> findContentLength(std::string_view headers) {
  std::optional<int64_t> found;
  std::size_t line = 0;
  while (line < headers.size()) {
    std::size_t lf = headers.find('\n', line);
    if (lf == std::string_view::npos) lf = headers.size();
    // A header may continue on lines that start with SP or HTAB.
    while (lf + 1 < headers.size() && (headers[lf + 1] == ' ' || headers[lf + 1] == '\t')) {
      lf = headers.find('\n', lf + 1);
      if (lf == std::string_view::npos) lf = headers.size();
    }
    std::string_view text = headers.substr(line, lf - line);
    line = lf + 1;
    std::size_t i = 0;
    while (i < text.size() && chars::isToken(text[i]))
      ++i;
    HeaderId id = headerIdFromName(text.substr(0, i));
    if (id != HeaderId::kContentLength) continue;
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t'))
      ++i;
    if (i == text.size() || text[i] != ':') return -1;
    auto value = parseUnsigned(trimLws(text.substr(i + 1)), 0xFFFFFFFFu);
    if (!value) return -1;
    if (found) return -1;  // repeated: refused, as Message::parse does (RFC 4475 §3.3.9)
    found = static_cast<int64_t>(*value);
  }
  return found;
}

}  // namespace

void StreamFramer::reset() noexcept {
  scanned_ = 0;
  headerBytes_ = 0;
  total_ = 0;
}

StreamFramer::Result StreamFramer::next(std::string_view pending) {
  if (total_ == 0) {
    if (scanned_ == 0 && !pending.empty() && (pending[0] == '\r' || pending[0] == '\n')) {
      // Keep-alives between messages (RFC 5626 §4.4.1): CRLFCRLF is a ping, a lone CRLF a pong.
      if (pending.starts_with("\r\n\r\n")) return {Status::kKeepAlive, 4, true, {}};
      if (pending.size() < 4 && std::string_view("\r\n\r\n").starts_with(pending)) {
        return {Status::kNeedMore, 0, false, {}};
      }
      if (pending.starts_with("\r\n")) return {Status::kKeepAlive, 2, false, {}};
      return {Status::kKeepAlive, 1, false, {}};  // a stray LF or CR
    }
    std::size_t from = scanned_ >= 3 ? scanned_ - 3 : 0;
    std::size_t end = findHeaderEnd(pending, from);
    if (end == std::string_view::npos) {
      scanned_ = pending.size();
      if (scanned_ > limits_.maxHeaderBytes) {
        return {Status::kError, 0, false, "Header section too large"};
      }
      return {Status::kNeedMore, 0, false, {}};
    }
    if (end > limits_.maxHeaderBytes) return {Status::kError, 0, false, "Header section too large"};
    auto length = findContentLength(pending.substr(0, end));
    // RFC 3261 §18.3: on a stream, Content-Length MUST be present.
    if (!length) return {Status::kError, 0, false, "Missing Content-Length"};
    if (*length < 0) return {Status::kError, 0, false, "Bad Content-Length"};
    headerBytes_ = end;
    total_ = end + static_cast<std::size_t>(*length);
    if (total_ > limits_.maxMessageBytes) {
      reset();
      return {Status::kError, 0, false, "Message too large"};
    }
  }
  if (pending.size() < total_) return {Status::kNeedMore, 0, false, {}};
  std::size_t length = total_;
  reset();
  return {Status::kMessage, length, false, {}};
}

}  // namespace strowger::sip

// Finds message boundaries in a TCP/TLS byte stream (RFC 3261 §18.3): the header section ends at
// the first empty line, the body is Content-Length octets long. Bytes arrive in arbitrary pieces;
// the framer remembers how far it has scanned so that each byte is looked at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace strowger::sip {

class StreamFramer {
 public:
  struct Limits {
    uint32_t maxMessageBytes = 65535;
    uint32_t maxHeaderBytes = 32768;
  };

  enum class Status : uint8_t {
    kNeedMore,   // read more bytes and call again with the grown buffer
    kMessage,    // a whole message is the first `length` bytes
    kKeepAlive,  // `length` bytes of CRLF keep-alive (RFC 5626 §4.4.1); `ping` says if a pong is
                 // due
    kError,      // the stream cannot be framed any more: close the connection
  };

  struct Result {
    Status status = Status::kNeedMore;
    std::size_t length = 0;
    bool ping = false;
    std::string_view error;  // static text for kError
  };

  StreamFramer() = default;
  explicit StreamFramer(Limits limits) : limits_(limits) {}

  // `pending` holds every byte received and not yet consumed, starting where the current frame
  // starts. After kMessage or kKeepAlive the caller drops `length` bytes from the front and the
  // framer starts a new frame.
  Result next(std::string_view pending);

  // Forgets the scan state (after a connection is reset).
  void reset() noexcept;

 private:
  Limits limits_;
  std::size_t scanned_ = 0;      // bytes already searched for the end of the header section
  std::size_t headerBytes_ = 0;  // header section length incl. the empty line, once found
  std::size_t total_ = 0;        // whole message length, once known
};

}  // namespace strowger::sip

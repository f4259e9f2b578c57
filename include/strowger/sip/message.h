// The zero-copy SIP message: an index over bytes that the caller owns.
//
// Memory rule: a Message never owns the bytes it indexes. The transport keeps the receive buffer
// alive for as long as the Message (and every view it hands out) is used; see
// docs/architecture.md, "Who owns which memory". A Message may be reused for the next datagram:
// parse() resets it and keeps the capacity of its header index.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "strowger/expected.h"
#include "strowger/sip/header_id.h"
#include "strowger/sip/headers.h"
#include "strowger/sip/method.h"
#include "strowger/sip/parse_error.h"
#include "strowger/sip/uri.h"

namespace strowger::sip {

// Bounds that keep hostile input from exhausting memory or time.
struct ParseLimits {
  uint32_t maxMessageBytes = 65535;  // the largest UDP payload; TCP messages obey the same bound
  uint16_t maxHeaders = 256;         // header lines, folded continuations count once
  uint32_t maxLineBytes = 16384;     // one header (with its folded continuations) or the start line
};

// How the bytes arrived. A datagram is one whole message (RFC 3261 §18.3: without Content-Length
// the body runs to the end of the datagram; octets past Content-Length are ignored). Stream
// transports frame with StreamFramer first and must carry Content-Length.
enum class Framing : uint8_t { kDatagram, kStream };

inline constexpr uint16_t kNoHeader = 0xFFFF;

struct HeaderField {
  std::string_view name;   // as written: long or compact form, any case
  std::string_view value;  // without surrounding LWS; may contain folded line breaks
  uint32_t lineBegin = 0;  // offset of the line's first byte within Message::bytes()
  uint32_t lineEnd = 0;    // offset just past the line's end-of-line (and its continuations)
  HeaderId id = HeaderId::kOther;
  uint16_t nextSame = kNoHeader;  // index of the next header with the same id
};

class Message;

// Iterates the header lines that share one id, in message order.
class HeaderRange {
 public:
  class Iterator {
   public:
    Iterator(const std::vector<HeaderField>* headers, uint16_t index)
        : headers_(headers), index_(index) {}
    const HeaderField& operator*() const { return (*headers_)[index_]; }
    const HeaderField* operator->() const { return &(*headers_)[index_]; }
    Iterator& operator++() {
      index_ = (*headers_)[index_].nextSame;
      return *this;
    }
    bool operator==(const Iterator& o) const { return index_ == o.index_; }

   private:
    const std::vector<HeaderField>* headers_;
    uint16_t index_;
  };
  HeaderRange(const std::vector<HeaderField>* headers, uint16_t first)
      : headers_(headers), first_(first) {}
  Iterator begin() const { return {headers_, first_}; }
  Iterator end() const { return {headers_, kNoHeader}; }
  bool empty() const { return first_ == kNoHeader; }

 private:
  const std::vector<HeaderField>* headers_;
  uint16_t first_;
};

template <class T>
using ParseResult = Expected<T, ParseError>;

class Message {
 public:
  Message();
  ~Message();
  Message(Message&&) noexcept;
  Message& operator=(Message&&) noexcept;
  Message(const Message&) = delete;
  Message& operator=(const Message&) = delete;

  // Indexes `bytes` in one pass: start line, every header line, body. Copies nothing. On error
  // the message is left empty and the error says how a request would be answered.
  Expected<void, ParseError> parse(std::string_view bytes, Framing framing = Framing::kDatagram,
                                   const ParseLimits& limits = {});

  // After parse() refused a request, indexes what a reply to it needs: the start line as far as
  // it goes and the header lines up to the first malformed one; Content-Length and the body are
  // ignored. Never fails on a request (only on a response or nothing at all), so that the error
  // reply (400, 505, 513) can copy Via, From, To, Call-ID and CSeq.
  Expected<void, ParseError> parseForReply(std::string_view bytes, const ParseLimits& limits = {});

  // --- start line ---
  bool isRequest() const noexcept { return isRequest_; }
  bool isResponse() const noexcept { return !isRequest_; }
  Method method() const noexcept { return method_; }
  std::string_view methodText() const noexcept { return methodText_; }
  std::string_view requestUriText() const noexcept { return requestUriText_; }
  uint16_t statusCode() const noexcept { return statusCode_; }
  std::string_view reasonPhrase() const noexcept { return reason_; }
  std::string_view version() const noexcept { return version_; }
  std::string_view startLine() const noexcept { return startLine_; }

  // --- raw structure ---
  // The framed message: from the start line to the end of the body. Leading CRLFs and octets
  // after the body (RFC 3261 §18.3) are not part of it.
  std::string_view bytes() const noexcept { return bytes_; }
  std::string_view body() const noexcept { return bytes_.substr(bodyOffset_); }
  uint32_t bodyOffset() const noexcept { return bodyOffset_; }
  // Offset where the header section's terminating empty line starts (new headers go here).
  uint32_t headersEndOffset() const noexcept { return headersEnd_; }
  bool hasContentLength() const noexcept {
    return first_[idx(HeaderId::kContentLength)] != kNoHeader;
  }
  std::size_t trailingBytes() const noexcept { return trailing_; }

  std::span<const HeaderField> headers() const noexcept { return headers_; }
  const HeaderField* find(HeaderId id) const noexcept;
  // By name, case-insensitively; known names (and their compact forms) are found by id.
  const HeaderField* find(std::string_view name) const noexcept;
  const HeaderField* next(const HeaderField& h) const noexcept;
  HeaderRange all(HeaderId id) const noexcept { return {&headers_, first_[idx(id)]}; }
  std::size_t count(HeaderId id) const noexcept;
  bool has(HeaderId id) const noexcept { return first_[idx(id)] != kNoHeader; }

  // --- typed values, parsed on first use and cached; every call returns the same result ---
  // Single-value headers report kMissingHeader when absent and kDuplicateHeader when repeated.
  const ParseResult<Uri>& requestUri() const;
  const ParseResult<Via>& topVia() const;  // the first via-parm only: the proxy's hot path
  const ParseResult<std::vector<Via>>& vias() const;
  const ParseResult<NameAddr>& from() const;
  const ParseResult<NameAddr>& to() const;
  const ParseResult<std::string_view>& callId() const;
  const ParseResult<CSeq>& cseq() const;
  const ParseResult<uint32_t>& maxForwards() const;
  const ParseResult<uint32_t>& expires() const;
  const ParseResult<uint32_t>& contentLength() const;
  const ParseResult<ContentType>& contentType() const;
  const ParseResult<ContactList>& contacts() const;
  const ParseResult<std::vector<NameAddr>>& routes() const;
  const ParseResult<std::vector<NameAddr>>& recordRoutes() const;
  const ParseResult<std::vector<NameAddr>>& paths() const;
  // Authorization / Proxy-Authorization (one entry per header line).
  const ParseResult<std::vector<Credentials>>& credentials(HeaderId id) const;
  // WWW-Authenticate / Proxy-Authenticate.
  const ParseResult<std::vector<Challenge>>& challenges(HeaderId id) const;
  // Supported, Require, Proxy-Require, Unsupported: the option tags of every line.
  const ParseResult<std::vector<std::string_view>>& optionTags(HeaderId id) const;

 private:
  static constexpr std::size_t idx(HeaderId id) { return static_cast<std::size_t>(id); }
  void reset();
  const HeaderField* single(HeaderId id, ParseError* error) const;
  Expected<void, ParseError> parseStartLine(std::string_view line);
  Expected<void, ParseError> index(std::string_view bytes, Framing framing,
                                   const ParseLimits& limits, bool lenient);

  std::string_view bytes_;
  std::string_view startLine_;
  std::string_view methodText_;
  std::string_view requestUriText_;
  std::string_view version_;
  std::string_view reason_;
  uint32_t bodyOffset_ = 0;
  uint32_t headersEnd_ = 0;
  std::size_t trailing_ = 0;
  uint16_t statusCode_ = 0;
  Method method_ = Method::kUnknown;
  bool isRequest_ = false;

  std::vector<HeaderField> headers_;
  std::array<uint16_t, kHeaderIdCount> first_{};
  std::array<uint16_t, kHeaderIdCount> last_{};

  // Typed values live out of line so this header stays light; allocated once per Message and
  // reused by every parse().
  struct Cache;
  struct CacheDeleter {
    void operator()(Cache* c) const noexcept;
  };
  mutable std::unique_ptr<Cache, CacheDeleter> cache_;
  Cache& cache() const;
};

}  // namespace strowger::sip

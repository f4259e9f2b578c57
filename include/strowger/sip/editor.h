// Editing a received message as splices over its original bytes (the way Kamailio's lumps work):
// the original buffer is never touched, so a retransmission or a failover branch can start again
// from it, and the outgoing bytes are written once, by serialize().
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "strowger/sip/message.h"

namespace strowger::sip {

class MessageEditor {
 public:
  explicit MessageEditor(const Message& message);

  // Points the edits at `copy`: the same message parsed again from another buffer holding the
  // same bytes (a request whose routing waited, resumed from its own copy).
  void rebase(const Message& copy);

  // Request-URI of a request (the start line is rewritten around it).
  void setRequestUri(std::string_view uri);

  // Removes a whole header line (with its folded continuations).
  void removeHeader(const HeaderField& header);
  // Removes one element of a comma-separated header value; `element` must be a view into
  // header.value (e.g. NameAddr::raw of a Route). The line goes when it was its only element.
  void removeListElement(const HeaderField& header, std::string_view element);
  // Replaces the value of a header line, keeping its name as written.
  void replaceHeaderValue(const HeaderField& header, std::string_view value);

  // Inserts `Name: value` before `header`, right after the start line, or at the end of the
  // header section.
  void insertBefore(const HeaderField& header, std::string_view name, std::string_view value);
  void prependHeader(std::string_view name, std::string_view value);
  void appendHeader(std::string_view name, std::string_view value);

  // Via goes above the topmost Via; Record-Route above the topmost Record-Route (or first).
  void prependVia(std::string_view value);
  void addRecordRoute(std::string_view value);

  // Replaces the body and keeps Content-Length (and Content-Type, when given) consistent.
  void setBody(std::string_view body, std::string_view contentType = {});
  // Adds a Content-Length when the message has none (a datagram may omit it; streams may not).
  void ensureContentLength();

  bool empty() const noexcept { return splices_.empty(); }
  // Exact size of the serialized message.
  std::size_t size() const;
  // Appends the edited message to `out`, in one pass over the original bytes.
  void serializeTo(std::string& out) const;
  std::string serialize() const;

 private:
  // Inserts at one offset are applied header lines first, then the empty line that closes the
  // header section when the original had none, then the body.
  enum Phase : uint8_t { kHeaders = 0, kTerminator = 1, kBody = 2 };
  struct Splice {
    uint32_t begin;  // replaced range in the original bytes
    uint32_t end;
    uint32_t textOffset;  // replacement, in text_
    uint32_t textLength;
    uint32_t order;  // insertion order, so inserts at one point keep their sequence
    Phase phase;
  };
  // Removed elements of one list header; its splice is rewritten on every removal so that
  // removing several elements never produces overlapping splices.
  struct ListEdit {
    uint32_t lineBegin;
    std::size_t splice;
    std::vector<const char*> removed;
  };

  std::size_t splice(std::size_t begin, std::size_t end,
                     std::initializer_list<std::string_view> parts, Phase phase = kHeaders);
  void resplice(std::size_t index, std::size_t begin, std::size_t end, std::string_view text);
  void insertLine(std::size_t at, std::string_view name, std::string_view value);
  // Removing the last header line also removes the CRLF added to complete it.
  void forgetLineEndOf(const HeaderField& header);
  std::size_t setOrAppendHeader(HeaderId id, std::string_view name, std::string_view value,
                                std::ptrdiff_t existing);
  std::size_t offsetOf(std::string_view view) const noexcept;
  std::vector<uint32_t> sortedOrder() const;

  static constexpr std::ptrdiff_t kNone = -1;
  const Message* message_;
  std::string text_;
  std::vector<Splice> splices_;
  std::vector<ListEdit> listEdits_;
  std::ptrdiff_t lineEndSplice_ = kNone;  // completes a last header line that has no CRLF
  std::ptrdiff_t bodySplice_ = kNone;
  std::ptrdiff_t lengthSplice_ = kNone;
  std::ptrdiff_t typeSplice_ = kNone;
};

}  // namespace strowger::sip

#include "strowger/sip/editor.h"

#include <algorithm>
#include <cassert>
#include <charconv>

#include "chars.h"

namespace strowger::sip {

void MessageEditor::rebase(const Message& copy) {
  assert(copy.bytes() == message_->bytes());
  const char* from = message_->bytes().data();
  const char* to = copy.bytes().data();
  for (ListEdit& edit : listEdits_) {
    for (const char*& element : edit.removed)
      element = to + (element - from);
  }
  message_ = &copy;
}

MessageEditor::MessageEditor(const Message& message) : message_(&message) {
  // A datagram may end without the empty line that closes the header section (RFC 4475
  // §3.1.2.15), even without the last line's CRLF. Whatever is sent on gets both.
  std::string_view bytes = message.bytes();
  if (!bytes.empty() && message.headersEndOffset() == message.bodyOffset()) {
    std::size_t n = bytes.size();
    if (bytes[n - 1] != '\n') lineEndSplice_ = static_cast<std::ptrdiff_t>(splice(n, n, {"\r\n"}));
    splice(n, n, {"\r\n"}, kTerminator);
  }
}

std::size_t MessageEditor::offsetOf(std::string_view view) const noexcept {
  const char* base = message_->bytes().data();
  assert(view.data() >= base && view.data() <= base + message_->bytes().size());
  return static_cast<std::size_t>(view.data() - base);
}

std::size_t MessageEditor::splice(std::size_t begin, std::size_t end,
                                  std::initializer_list<std::string_view> parts, Phase phase) {
  Splice s{static_cast<uint32_t>(begin),           static_cast<uint32_t>(end),
           static_cast<uint32_t>(text_.size()),    0,
           static_cast<uint32_t>(splices_.size()), phase};
  for (std::string_view part : parts)
    text_.append(part);
  s.textLength = static_cast<uint32_t>(text_.size() - s.textOffset);
  splices_.push_back(s);
  return splices_.size() - 1;
}

void MessageEditor::resplice(std::size_t index, std::size_t begin, std::size_t end,
                             std::string_view text) {
  Splice& s = splices_[index];
  s.begin = static_cast<uint32_t>(begin);
  s.end = static_cast<uint32_t>(end);
  s.textOffset = static_cast<uint32_t>(text_.size());
  s.textLength = static_cast<uint32_t>(text.size());
  text_.append(text);  // the old text stays behind unused: edits are few and short
}

void MessageEditor::insertLine(std::size_t at, std::string_view name, std::string_view value) {
  splice(at, at, {name, ": ", value, "\r\n"});
}

void MessageEditor::setRequestUri(std::string_view uri) {
  std::string_view current = message_->requestUriText();
  if (!message_->isRequest() || current.empty()) return;
  std::size_t begin = offsetOf(current);
  splice(begin, begin + current.size(), {uri});
}

void MessageEditor::forgetLineEndOf(const HeaderField& header) {
  if (lineEndSplice_ != kNone && header.lineEnd == message_->bytes().size()) {
    std::size_t n = message_->bytes().size();
    resplice(static_cast<std::size_t>(lineEndSplice_), n, n, {});
  }
}

void MessageEditor::removeHeader(const HeaderField& header) {
  splice(header.lineBegin, header.lineEnd, {});
  forgetLineEndOf(header);
}

void MessageEditor::removeListElement(const HeaderField& header, std::string_view element) {
  auto edit = std::find_if(listEdits_.begin(), listEdits_.end(),
                           [&](const ListEdit& e) { return e.lineBegin == header.lineBegin; });
  if (edit == listEdits_.end()) {
    std::size_t index = splice(header.lineBegin, header.lineBegin, {});
    listEdits_.push_back({header.lineBegin, index, {}});
    edit = listEdits_.end() - 1;
  }
  edit->removed.push_back(element.data());
  std::string remaining;
  forEachListElement(header.value, [&](std::string_view e) {
    if (std::find(edit->removed.begin(), edit->removed.end(), e.data()) != edit->removed.end()) {
      return;
    }
    if (!remaining.empty()) remaining.append(", ");
    remaining.append(e);
  });
  if (remaining.empty()) {
    resplice(edit->splice, header.lineBegin, header.lineEnd, {});  // it was the last element
    forgetLineEndOf(header);
  } else {
    std::size_t begin = offsetOf(header.value);
    resplice(edit->splice, begin, begin + header.value.size(), remaining);
  }
}

void MessageEditor::replaceHeaderValue(const HeaderField& header, std::string_view value) {
  std::size_t begin = offsetOf(header.value);
  splice(begin, begin + header.value.size(), {value});
}

void MessageEditor::insertBefore(const HeaderField& header, std::string_view name,
                                 std::string_view value) {
  insertLine(header.lineBegin, name, value);
}

void MessageEditor::prependHeader(std::string_view name, std::string_view value) {
  // Right after the start line's end of line.
  std::string_view line = message_->startLine();
  std::size_t at = offsetOf(line) + line.size();
  std::string_view bytes = message_->bytes();
  if (at < bytes.size() && bytes[at] == '\r') ++at;
  if (at < bytes.size() && bytes[at] == '\n') ++at;
  insertLine(at, name, value);
}

void MessageEditor::appendHeader(std::string_view name, std::string_view value) {
  insertLine(message_->headersEndOffset(), name, value);
}

void MessageEditor::prependVia(std::string_view value) {
  if (const HeaderField* via = message_->find(HeaderId::kVia)) {
    insertBefore(*via, "Via", value);
  } else {
    prependHeader("Via", value);
  }
}

void MessageEditor::addRecordRoute(std::string_view value) {
  if (const HeaderField* rr = message_->find(HeaderId::kRecordRoute)) {
    insertBefore(*rr, "Record-Route", value);
  } else {
    prependHeader("Record-Route", value);
  }
}

// Sets the value of a header the editor manages (Content-Length, Content-Type): the same splice
// is reused on later calls so that setting the body twice leaves one consistent header.
std::size_t MessageEditor::setOrAppendHeader(HeaderId id, std::string_view name,
                                             std::string_view value, std::ptrdiff_t existing) {
  if (const HeaderField* h = message_->find(id)) {
    std::size_t begin = offsetOf(h->value);
    if (existing == kNone) return splice(begin, begin + h->value.size(), {value});
    resplice(static_cast<std::size_t>(existing), begin, begin + h->value.size(), value);
    return static_cast<std::size_t>(existing);
  }
  std::size_t at = message_->headersEndOffset();
  if (existing == kNone) return splice(at, at, {name, ": ", value, "\r\n"});
  std::string line;
  line.append(name).append(": ").append(value).append("\r\n");
  resplice(static_cast<std::size_t>(existing), at, at, line);
  return static_cast<std::size_t>(existing);
}

void MessageEditor::setBody(std::string_view body, std::string_view contentType) {
  std::size_t begin = message_->bodyOffset();
  std::size_t end = message_->bytes().size();
  if (bodySplice_ == kNone) {
    bodySplice_ = static_cast<std::ptrdiff_t>(splice(begin, end, {body}, kBody));
  } else {
    resplice(static_cast<std::size_t>(bodySplice_), begin, end, body);
  }
  char digits[24];
  auto [last, ec] = std::to_chars(digits, digits + sizeof digits, body.size());
  std::string_view length(digits, static_cast<std::size_t>(last - digits));
  lengthSplice_ = static_cast<std::ptrdiff_t>(
      setOrAppendHeader(HeaderId::kContentLength, "Content-Length", length, lengthSplice_));
  if (!contentType.empty()) {
    typeSplice_ = static_cast<std::ptrdiff_t>(
        setOrAppendHeader(HeaderId::kContentType, "Content-Type", contentType, typeSplice_));
  }
}

void MessageEditor::ensureContentLength() {
  if (message_->hasContentLength() || lengthSplice_ != kNone) return;
  char digits[24];
  auto [last, ec] = std::to_chars(digits, digits + sizeof digits, message_->body().size());
  lengthSplice_ = static_cast<std::ptrdiff_t>(
      setOrAppendHeader(HeaderId::kContentLength, "Content-Length",
                        std::string_view(digits, static_cast<std::size_t>(last - digits)), kNone));
}

namespace {

// Applies splices in offset order. A splice overlapping an earlier one is skipped: callers edit
// disjoint parts of a message, so that only happens on misuse, and it must not corrupt output.
template <class Splices, class Sink>
void walk(std::string_view original, std::string_view text, const std::vector<uint32_t>& order,
          const Splices& splices, Sink&& sink) {
  std::size_t cursor = 0;
  for (uint32_t i : order) {
    const auto& s = splices[i];
    if (s.begin < cursor) continue;
    sink(original.substr(cursor, s.begin - cursor));
    sink(text.substr(s.textOffset, s.textLength));
    cursor = s.end;
  }
  sink(original.substr(cursor));
}

}  // namespace

std::vector<uint32_t> MessageEditor::sortedOrder() const {
  std::vector<uint32_t> order(splices_.size());
  for (uint32_t i = 0; i < order.size(); ++i)
    order[i] = i;
  std::sort(order.begin(), order.end(), [this](uint32_t a, uint32_t b) {
    const Splice& x = splices_[a];
    const Splice& y = splices_[b];
    if (x.begin != y.begin) return x.begin < y.begin;
    if (x.phase != y.phase) return x.phase < y.phase;
    bool xInsert = x.begin == x.end;
    bool yInsert = y.begin == y.end;
    if (xInsert != yInsert) return xInsert;  // inserts before a removal starting at that point
    return x.order < y.order;
  });
  return order;
}

std::size_t MessageEditor::size() const {
  std::size_t total = 0;
  walk(message_->bytes(), text_, sortedOrder(), splices_,
       [&](std::string_view s) { total += s.size(); });
  return total;
}

void MessageEditor::serializeTo(std::string& out) const {
  std::vector<uint32_t> order = sortedOrder();
  std::size_t total = 0;
  walk(message_->bytes(), text_, order, splices_, [&](std::string_view s) { total += s.size(); });
  out.reserve(out.size() + total);
  walk(message_->bytes(), text_, order, splices_, [&](std::string_view s) { out.append(s); });
}

std::string MessageEditor::serialize() const {
  std::string out;
  serializeTo(out);
  return out;
}

}  // namespace strowger::sip

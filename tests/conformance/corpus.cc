#include "corpus.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <iterator>
#include <system_error>

#ifndef STROWGER_SHARED_DIR
#error "STROWGER_SHARED_DIR must be defined by the build"
#endif

namespace strowger::conformance {

namespace fs = std::filesystem;

fs::path sharedRoot() {
  return fs::path(STROWGER_SHARED_DIR);
}

std::optional<fs::path> sharedDir(std::string_view sub) {
  fs::path dir = sharedRoot() / "conformance" / fs::path(std::string(sub));
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return std::nullopt;
  return dir;
}

std::optional<std::vector<char>> readFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::vector<char> tmp((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return std::nullopt;
  // Copying from a random-access range allocates exactly size() octets.
  return std::vector<char>(tmp.begin(), tmp.end());
}

std::vector<std::string> listFiles(const fs::path& dir, std::string_view suffix) {
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    std::string name = it->path().filename().string();
    if (!suffix.empty() && !name.ends_with(suffix)) continue;
    names.push_back(std::move(name));
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string_view errcName(sip::ParseErrc code) {
  using E = sip::ParseErrc;
  switch (code) {
    case E::kNone:
      return "kNone";
    case E::kEmpty:
      return "kEmpty";
    case E::kTooLarge:
      return "kTooLarge";
    case E::kTooManyHeaders:
      return "kTooManyHeaders";
    case E::kLineTooLong:
      return "kLineTooLong";
    case E::kTruncated:
      return "kTruncated";
    case E::kBadStartLine:
      return "kBadStartLine";
    case E::kBadVersion:
      return "kBadVersion";
    case E::kBadStatusCode:
      return "kBadStatusCode";
    case E::kBadHeaderLine:
      return "kBadHeaderLine";
    case E::kBadContentLength:
      return "kBadContentLength";
    case E::kMultipleContentLength:
      return "kMultipleContentLength";
    case E::kBadUri:
      return "kBadUri";
    case E::kUnsupportedUriScheme:
      return "kUnsupportedUriScheme";
    case E::kBadVia:
      return "kBadVia";
    case E::kBadNameAddr:
      return "kBadNameAddr";
    case E::kBadCSeq:
      return "kBadCSeq";
    case E::kBadCallId:
      return "kBadCallId";
    case E::kBadMaxForwards:
      return "kBadMaxForwards";
    case E::kBadExpires:
      return "kBadExpires";
    case E::kBadContact:
      return "kBadContact";
    case E::kBadContentType:
      return "kBadContentType";
    case E::kBadAuthorization:
      return "kBadAuthorization";
    case E::kBadChallenge:
      return "kBadChallenge";
    case E::kBadOptionTag:
      return "kBadOptionTag";
    case E::kMissingHeader:
      return "kMissingHeader";
    case E::kDuplicateHeader:
      return "kDuplicateHeader";
    case E::kCSeqMethodMismatch:
      return "kCSeqMethodMismatch";
    case E::kBadExtension:
      return "kBadExtension";
  }
  return "ParseErrc(?)";
}

std::string describe(const sip::ParseError& error) {
  std::string out(errcName(error.code));
  out += ' ';
  out += std::to_string(error.status);
  out += " \"";
  out += error.reason;
  out += '"';
  return out;
}

std::string repeat(std::string_view text, std::size_t times) {
  std::string out;
  out.reserve(text.size() * times);
  for (std::size_t i = 0; i < times; ++i)
    out += text;
  return out;
}

std::string testNameOf(std::string_view fileName) {
  std::string_view stem = fileName;
  if (auto dot = stem.rfind('.'); dot != std::string_view::npos && dot > 0) {
    stem = stem.substr(0, dot);
  }
  std::string name;
  for (char c : stem) {
    name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  }
  return name;
}

}  // namespace strowger::conformance

namespace strowger::sip {
void PrintTo(ParseErrc code, std::ostream* os) {
  *os << conformance::errcName(code);
}
}  // namespace strowger::sip

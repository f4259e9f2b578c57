#include "strowger/location/binding.h"

#include <string_view>

namespace strowger::location {

namespace {

// FNV-1a over length-prefixed fields, then the MurmurHash3 finalizer: FNV-1a alone mixes the
// last bytes poorly, and the ids of one AOR differ only near the end.
//
// Never change this function: the ids are primary keys in PostgreSQL, and every node sharing the
// database must compute the same id for the same binding, across versions too.
class IdHash {
 public:
  // Length first, so that ("ab", "c") and ("a", "bc") differ whatever bytes the fields hold.
  void add(std::string_view s) {
    add(static_cast<uint64_t>(s.size()));
    for (char c : s)
      mix(static_cast<unsigned char>(c));
  }
  void add(uint64_t v) {
    for (int i = 0; i < 8; ++i) {
      mix(static_cast<unsigned char>(v & 0xff));
      v >>= 8;
    }
  }
  uint64_t finish() const {
    uint64_t h = state_;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
  }

 private:
  void mix(unsigned char byte) {
    state_ ^= byte;
    state_ *= 0x100000001b3ULL;
  }
  uint64_t state_ = 0xcbf29ce484222325ULL;
};

}  // namespace

std::string bindingId(const std::string& aor, const std::string& contactUri,
                      const std::string& instance, std::optional<uint32_t> regId) {
  IdHash h;
  h.add(aor);
  // A UA that sends +sip.instance is one binding per instance (and reg-id, RFC 5626 §6) however
  // its Contact URI changes; a UA without one is identified by its Contact URI (RFC 3261 §10.3).
  // The leading tag keeps an instance from ever colliding with a URI of the same spelling.
  if (!instance.empty()) {
    h.add(std::string_view("i"));
    h.add(instance);
    if (regId) {
      h.add(std::string_view("r"));
      h.add(static_cast<uint64_t>(*regId));
    }
  } else {
    h.add(std::string_view("c"));
    h.add(contactUri);
  }
  uint64_t v = h.finish();
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i) {
    out[static_cast<std::size_t>(i)] = kDigits[v & 0xF];
    v >>= 4;
  }
  return out;
}

}  // namespace strowger::location

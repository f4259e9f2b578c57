#include "runtime.h"

#include <charconv>
#include <map>

#include "strowger/sip/uri.h"

namespace strowger::dispatcher {
namespace {

std::optional<uint64_t> parseUnsigned(std::string_view text) {
  uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

std::string bracketed(std::string_view host) {
  if (host.find(':') != std::string_view::npos) return "[" + std::string(host) + "]";
  return std::string(host);
}

}  // namespace

const SetRuntime* Snapshot::find(std::string_view name) const {
  for (const SetRuntime& set : sets) {
    if (set.name == name) return &set;
  }
  return nullptr;
}

std::shared_ptr<Snapshot> buildSnapshot(const DispatcherConfig& config, const Snapshot* previous,
                                        uint64_t& nextId) {
  auto snapshot = std::make_shared<Snapshot>();
  for (const SetConfig& setConfig : config.sets) {
    SetRuntime set;
    set.name = setConfig.name;
    set.algorithm = setConfig.algorithm;
    const SetRuntime* old = previous ? previous->find(setConfig.name) : nullptr;
    set.counter = old ? old->counter : std::make_shared<std::atomic<uint64_t>>(0);
    for (const DestinationConfig& destinationConfig : setConfig.destinations) {
      DestinationEntry entry;
      entry.config = destinationConfig;
      if (old) {
        for (const DestinationEntry& kept : old->destinations) {
          if (kept.config.uri == destinationConfig.uri) {
            entry.status = kept.status;
            entry.listener = kept.listener;
          }
        }
      }
      if (!entry.status) entry.status = std::make_shared<DestinationStatus>(nextId++);
      set.destinations.push_back(std::move(entry));
    }
    snapshot->sets.push_back(std::move(set));
  }
  return snapshot;
}

script::NextHop hopFor(const DestinationEntry& destination) {
  script::NextHop hop;
  hop.host = destination.config.host;
  hop.port = destination.config.port;
  hop.protocol = destination.config.protocol;
  hop.uri = destination.config.uri;
  hop.listener = destination.listener;
  return hop;
}

std::optional<std::string> rewriteHostPort(std::string_view ruri,
                                           const DestinationConfig& destination) {
  auto parsed = sip::parseUri(ruri);
  if (!parsed || !parsed->isSip()) return std::nullopt;
  std::string out(parsed->schemeText);
  out += ':';
  if (parsed->hasUserInfo) {
    out += parsed->user;
    if (!parsed->password.empty()) {
      out += ':';
      out += parsed->password;
    }
    out += '@';
  }
  out += bracketed(destination.host);
  if (destination.port != 0) out += ":" + std::to_string(destination.port);
  if (!parsed->params.empty()) {
    out += ';';
    out += parsed->params.raw();
  }
  if (!parsed->headers.empty()) {
    out += '?';
    out += parsed->headers;
  }
  return out;
}

LiveCall::LiveCall(std::shared_ptr<DestinationStatus> status) : status_(std::move(status)) {
  if (status_) status_->liveCalls.fetch_add(1, std::memory_order_relaxed);
}

LiveCall::~LiveCall() {
  if (status_) status_->liveCalls.fetch_sub(1, std::memory_order_relaxed);
}

void LiveCall::moveTo(std::shared_ptr<DestinationStatus> status) {
  if (status) status->liveCalls.fetch_add(1, std::memory_order_relaxed);
  if (status_) status_->liveCalls.fetch_sub(1, std::memory_order_relaxed);
  status_ = std::move(status);
}

std::string buildProbe(const ProbeRequest& probe) {
  const std::string host = bracketed(probe.viaHost);
  const std::string id = std::to_string(probe.destinationId) + "." + std::to_string(probe.sequence);
  std::string out;
  out.reserve(512);
  out += std::string(probe.method) + " " + std::string(probe.target) + " SIP/2.0\r\n";
  out += "Via: SIP/2.0/" + std::string(probe.viaProtocol) + " " + host + ":" +
         std::to_string(probe.viaPort) + ";branch=z9hG4bK" + std::string(kProbeBranchPrefix) + id +
         "\r\n";
  out += "Max-Forwards: 70\r\n";
  out += "From: <" + std::string(probe.from) + ">;tag=" + std::string(kProbeBranchPrefix) + id +
         "\r\n";
  out += "To: <" + std::string(probe.target) + ">\r\n";
  out += "Call-ID: " + std::string(kProbeBranchPrefix) + id + "@" + host + "\r\n";
  out += "CSeq: " + std::to_string(probe.sequence) + " " + std::string(probe.method) + "\r\n";
  out += "Content-Length: 0\r\n\r\n";
  return out;
}

std::optional<std::pair<uint64_t, uint64_t>> parseProbeBranch(std::string_view branch) {
  constexpr std::string_view kCookie = "z9hG4bK";
  if (!branch.starts_with(kCookie)) return std::nullopt;
  branch.remove_prefix(kCookie.size());
  if (!branch.starts_with(kProbeBranchPrefix)) return std::nullopt;
  branch.remove_prefix(kProbeBranchPrefix.size());
  const std::size_t dot = branch.find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  auto id = parseUnsigned(branch.substr(0, dot));
  auto sequence = parseUnsigned(branch.substr(dot + 1));
  if (!id || !sequence) return std::nullopt;
  return std::make_pair(*id, *sequence);
}

}  // namespace strowger::dispatcher

// Transport statistics, kept per worker so that counting a datagram never bounces a cache line
// between cores; TransportLayer::stats() sums the blocks.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "strowger/transport/transport.h"

namespace strowger::transport {

enum class Counter : uint8_t {
  kUdpReceived,
  kUdpSent,
  kUdpDropped,
  kTcpReceived,
  kTcpSent,
  kTcpAccepted,
  kTcpConnected,
  kTcpConnectFailed,
  kTcpClosedIdle,
  kTcpFramingErrors,
  kSendErrors,
  kSwitchedToTcp,
  kHandlerExceptions,
  kCount,
};

struct alignas(64) CounterBlock {
  std::array<std::atomic<uint64_t>, static_cast<std::size_t>(Counter::kCount)> values{};

  void add(Counter c, uint64_t n = 1) noexcept {
    values[static_cast<std::size_t>(c)].fetch_add(n, std::memory_order_relaxed);
  }
  uint64_t get(Counter c) const noexcept {
    return values[static_cast<std::size_t>(c)].load(std::memory_order_relaxed);
  }
  void addTo(TransportStats& s) const noexcept {
    s.udpReceived += get(Counter::kUdpReceived);
    s.udpSent += get(Counter::kUdpSent);
    s.udpDropped += get(Counter::kUdpDropped);
    s.tcpReceived += get(Counter::kTcpReceived);
    s.tcpSent += get(Counter::kTcpSent);
    s.tcpAccepted += get(Counter::kTcpAccepted);
    s.tcpConnected += get(Counter::kTcpConnected);
    s.tcpConnectFailed += get(Counter::kTcpConnectFailed);
    s.tcpClosedIdle += get(Counter::kTcpClosedIdle);
    s.tcpFramingErrors += get(Counter::kTcpFramingErrors);
    s.sendErrors += get(Counter::kSendErrors);
    s.switchedToTcp += get(Counter::kSwitchedToTcp);
    s.handlerExceptions += get(Counter::kHandlerExceptions);
  }
};

}  // namespace strowger::transport

// Plain blocking sockets for the far end of transport tests, and a handler that records what the
// transport delivers. Every wait takes a timeout, so a broken transport fails a test instead of
// hanging it.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "strowger/net/socket_address.h"
#include "strowger/transport/transport.h"

namespace strowger::transport::testing {

using namespace std::chrono_literals;

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept;
  ~Fd();
  int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  explicit operator bool() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

net::SocketAddress address(std::string_view ip, uint16_t port);
net::SocketAddress localAddress(int fd);
bool ipv6LoopbackAvailable();

// UDP
Fd udpSocket(const net::SocketAddress& bindTo);
bool sendDatagram(int fd, const net::SocketAddress& to, std::string_view bytes);
std::optional<std::string> receiveDatagram(int fd, std::chrono::milliseconds timeout,
                                           net::SocketAddress* from = nullptr);

// TCP
Fd tcpListen(const net::SocketAddress& bindTo);
Fd tcpConnect(const net::SocketAddress& to);
Fd tcpAccept(int listenFd, std::chrono::milliseconds timeout);
bool sendAll(int fd, std::string_view bytes);
// Reads until `bytes` holds at least `want` octets, the peer closes, or the time is up.
std::string receiveAtLeast(int fd, std::size_t want, std::chrono::milliseconds timeout);
// True when the peer closed (EOF or reset) within the time.
bool closedByPeer(int fd, std::chrono::milliseconds timeout);

// A started transport, or null (with a test failure) when it could not bind.
std::unique_ptr<TransportLayer> startTransport(const TransportLayer::Options& options,
                                               MessageHandler& handler);
// Options listening on `host`, port 0, over one protocol.
TransportLayer::Options udpOn(std::string host, unsigned workers = 2);
TransportLayer::Options tcpOn(std::string host, unsigned workers = 2);

// A SIP request with a Content-Length, `bodyBytes` long, to make a message of a chosen size.
std::string sipRequest(std::string_view callId, std::size_t bodyBytes = 0,
                       std::string_view transport = "UDP");

struct Received {
  std::string bytes;
  net::SocketAddress source;
  net::SocketAddress local;
  Protocol protocol;
  uint32_t listener;
  uint64_t connection;
  unsigned worker;
};

class Collector final : public MessageHandler {
 public:
  void onMessage(const ReceivedMessage& message) override;
  // Waits until at least `count` messages arrived; false when the time ran out.
  bool waitFor(std::size_t count, std::chrono::milliseconds timeout);
  std::vector<Received> messages() const;
  std::size_t count() const;
  // Runs on the worker after the message is recorded.
  std::function<void(const ReceivedMessage&)> onEach;

 private:
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<Received> messages_;
};

// Polls `done` until it holds or the time is up.
bool eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout = 3s);

}  // namespace strowger::transport::testing

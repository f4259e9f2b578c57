// One TCP connection, accepted or opened by us. It belongs to one worker: every member below is
// touched on that worker's thread only, except id(), worker(), peer() (fixed at construction) and
// closed() (atomic). Other threads reach it through AsioTransport, which posts to the owner.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "strowger/net/socket_address.h"
#include "strowger/sip/framer.h"

namespace strowger::transport {

class AsioTransport;
struct Worker;

// Bytes waiting to be written.
struct Outgoing {
  std::string bytes;
  // For a request moved from UDP to TCP because of its size (RFC 3261 §18.1.1): where "TCP"
  // stands in its top Via, so that it can go back to UDP if the connection cannot be set up.
  std::size_t switchedVia = std::string::npos;
  bool isMessage = true;  // false for a keep-alive pong, which the statistics do not count
};

class TcpConnection : public std::enable_shared_from_this<TcpConnection> {
 public:
  // `acceptedFd` is the descriptor of an accepted connection, or -1 for one we open; it is
  // registered with the owner's io_context only on the owner's thread (startAccepted).
  TcpConnection(AsioTransport& transport, Worker& worker, uint64_t id, uint32_t listener,
                const net::SocketAddress& peer, int acceptedFd = -1);
  ~TcpConnection();
  TcpConnection(const TcpConnection&) = delete;
  TcpConnection& operator=(const TcpConnection&) = delete;

  uint64_t id() const noexcept { return id_; }
  unsigned worker() const noexcept;
  const net::SocketAddress& peer() const noexcept { return peer_; }
  bool closed() const noexcept { return closed_.load(std::memory_order_acquire); }

  // --- owner thread only ---
  void startAccepted();
  // Connects to peer(), from `bindAddress` when it is valid (a listener's specific address).
  void startConnect(const net::SocketAddress& bindAddress);
  // Writes at once when nothing is queued and the socket takes it all; queues the rest. False
  // when the connection is closed (or closes because of this write); the loss is counted.
  bool send(std::string_view bytes, std::size_t switchedVia, bool isMessage = true);
  void enqueue(Outgoing out);
  // For stop(): reads no more, closes once the queue is written.
  void shutdown();

 private:
  enum class State : uint8_t { kNew, kConnecting, kOpen, kClosed };

  void onConnected(const boost::system::error_code& ec);
  void opened();
  void read();
  void onRead(const boost::system::error_code& ec, std::size_t n);
  void frame();
  bool makeRoom();
  void flush();
  void onWritten(const boost::system::error_code& ec);
  void armTimer(std::chrono::steady_clock::time_point deadline);
  void onTimer(const boost::system::error_code& ec, uint64_t generation);
  void close();
  bool overQueueLimit() const noexcept;

  AsioTransport& transport_;
  Worker& worker_;
  const uint64_t id_;
  const uint32_t listener_;
  const net::SocketAddress peer_;
  net::SocketAddress local_;
  int acceptedFd_;
  boost::asio::ip::tcp::socket socket_;
  boost::asio::steady_timer timer_;
  std::atomic<bool> closed_{false};
  State state_ = State::kNew;
  bool connectFailed_ = false;
  bool shuttingDown_ = false;
  uint64_t timerGeneration_ = 0;
  std::chrono::steady_clock::time_point lastActivity_;
  std::chrono::steady_clock::time_point connectDeadline_;

  // Receive side: bytes [begin_, end_) of rx_ are received and not yet framed.
  std::unique_ptr<char[]> rx_;
  std::size_t capacity_ = 0;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
  sip::StreamFramer framer_;

  // Send side: queue_'s first inFlight_ entries are being written by one async_write.
  static constexpr std::size_t kMaxGather = 64;
  std::deque<Outgoing> queue_;
  std::size_t queuedBytes_ = 0;
  std::size_t inFlight_ = 0;
  bool writing_ = false;
  std::array<boost::asio::const_buffer, kMaxGather> gather_;
};

}  // namespace strowger::transport

// The transport layer on Boost.Asio; see docs/transport.md for the design.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "connection_table.h"
#include "counters.h"
#include "strowger/transport/transport.h"
#include "udp_batch.h"

namespace strowger::transport {

class AsioTransport;
struct Worker;
void flushSends(Worker& worker) noexcept;

// One worker's reader of one UDP listener, through its own duplicate of the listener's descriptor.
class UdpReader {
 public:
  UdpReader(AsioTransport& transport, Worker& worker, uint32_t listener, bool withDestination);
  // Takes ownership of `fd` (a dup of the listener's socket).
  Expected<void, std::string> assign(int fd, bool ipv6);
  void start();
  void close();

 private:
  void onReadable(const boost::system::error_code& ec);
  void drain();

  AsioTransport& transport_;
  Worker& worker_;
  const uint32_t listener_;
  const bool withDestination_;
  bool closed_ = false;
  bool drainPosted_ = false;
  boost::asio::ip::udp::socket socket_;
};

struct TcpAcceptor {
  TcpAcceptor(uint32_t listenerIndex, Worker& owner);
  uint32_t listener;
  Worker& worker;  // runs the accept loop; accepted connections go to every worker in turn
  boost::asio::ip::tcp::acceptor acceptor;
  boost::asio::steady_timer retry;  // backs off when the process is out of descriptors
  bool closed = false;
  bool drainPosted = false;
};

struct Worker {
  Worker(unsigned workerIndex, unsigned batchSize, std::size_t slotBytes);

  // First member: destroyed last, after every socket and timer that uses it.
  boost::asio::io_context io;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guard;
  const unsigned index;
  UdpBatch batch;
  // Replies and forwards made while a receive batch is handled go out together after it.
  UdpSendBatch sendBatch;
  bool handlingBatch = false;
  CounterBlock counters;
  std::vector<std::unique_ptr<UdpReader>> readers;
  std::thread thread;
};

class AsioTransport final : public TransportLayer {
 public:
  AsioTransport(const Options& options, MessageHandler& handler);
  ~AsioTransport() override;

  // Binds every listener; called once by TransportLayer::create.
  Expected<void, std::string> open();

  void start() override;
  void stop() override;
  SendStatus send(const Destination& to, std::string_view bytes, bool isRequest) override;
  std::span<const Listener> listeners() const override { return listeners_; }
  unsigned workerCount() const override { return static_cast<unsigned>(workers_.size()); }
  void post(unsigned worker, std::function<void()> fn) override;
  TransportStats stats() const override;
  bool connectionOpen(uint64_t id) const override { return connections_.find(id) != nullptr; }
  int currentWorker() const noexcept override;
  boost::asio::io_context* ioContext(unsigned worker) noexcept override;

  // --- for the readers and connections ---
  const Options& options() const noexcept { return options_; }
  bool stopping() const noexcept { return stopping_.load(std::memory_order_acquire); }
  const Listener& listener(uint32_t index) const noexcept { return listeners_[index]; }
  int udpDescriptor(uint32_t listener) const noexcept { return udpFds_[listener]; }
  // Runs the handler; an exception it throws is counted and goes no further.
  void deliver(const ReceivedMessage& message, Worker& worker) noexcept;
  void forget(const TcpConnection& connection) { connections_.remove(connection); }
  // A request switched to TCP whose connection failed goes to the same address over UDP.
  void sendSwitchedBackToUdp(const net::SocketAddress& to, std::string_view bytes);
  CounterBlock& counters() noexcept;

 private:
  Expected<void, std::string> openUdp(const ListenSpec& spec, const net::SocketAddress& address);
  Expected<void, std::string> openTcp(const ListenSpec& spec, const net::SocketAddress& address);
  void waitForConnections(TcpAcceptor& acceptor);
  void acceptPending(TcpAcceptor& acceptor);
  void closeAcceptor(TcpAcceptor& acceptor);
  void shutdownWorker(Worker& worker);
  void runWorker(Worker& worker);
  Worker& workerForNewConnection() noexcept;

  int listenerFor(Protocol protocol, const net::SocketAddress& to, int hint) const noexcept;
  SendStatus sendUdp(const net::SocketAddress& to, std::string_view bytes, int listener);
  SendStatus sendTcp(uint64_t connection, const net::SocketAddress& to, std::string_view bytes,
                     int listener, std::size_t switchedVia);
  SendStatus sendOn(const std::shared_ptr<TcpConnection>& connection, std::string_view bytes,
                    std::size_t switchedVia);

  const Options options_;
  MessageHandler& handler_;
  // Declared before everything that holds sockets on their io_contexts: destroyed last.
  std::vector<std::unique_ptr<Worker>> workers_;
  CounterBlock sharedCounters_;  // for sends from threads that are not workers
  std::vector<Listener> listeners_;
  std::vector<int> udpFds_;  // by listener index; -1 for TCP listeners
  std::vector<std::unique_ptr<TcpAcceptor>> acceptors_;
  ConnectionTable connections_;
  // Connection ids are stored with registrations (in PostgreSQL too) and outlive the process:
  // each run starts its ids at a random point, so an id from another run or another node names
  // no connection here.
  std::atomic<uint64_t> nextConnectionId_{randomConnectionIdBase()};
  static uint64_t randomConnectionIdBase();
  std::atomic<unsigned> nextWorker_{0};
  std::atomic<bool> stopping_{false};

  std::mutex lifecycleMutex_;
  bool started_ = false;
  bool stopped_ = false;
  std::mutex exitMutex_;
  std::condition_variable exitCv_;
  unsigned exited_ = 0;
};

}  // namespace strowger::transport

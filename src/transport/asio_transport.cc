#include "asio_transport.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <random>

#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>

#include "endpoint.h"
#include "sockets.h"
#include "strowger/sip/header_id.h"
#include "strowger/sip/message.h"
#include "tcp_connection.h"

namespace strowger::transport {
namespace {

using boost::asio::ip::tcp;
using boost::asio::ip::udp;

struct CurrentWorker {
  const AsioTransport* owner = nullptr;
  unsigned index = 0;
};
thread_local CurrentWorker tCurrent;

// Batches taken from one socket in a row before the worker lets its other sockets and
// connections run.
constexpr unsigned kBatchesPerTurn = 8;
// Connections accepted in a row, likewise.
constexpr unsigned kAcceptsPerTurn = 64;
// The largest UDP payload; a datagram slot never needs more.
constexpr std::size_t kMaxDatagram = 65535;

std::string describe(const TransportLayer::ListenSpec& spec) {
  std::string out(spec.protocol == Protocol::kUdp ? "udp:" : "tcp:");
  const bool bracket = spec.host.find(':') != std::string::npos && !spec.host.starts_with('[');
  out += bracket ? "[" + spec.host + "]" : spec.host;
  out += ':';
  out += std::to_string(spec.port);
  return out;
}

// Some user agents keep their NAT binding open with datagrams of bare CRLFs; they carry no
// message, and the kernel reports an empty datagram as length 0.
bool isOnlyLineBreaks(std::string_view bytes) {
  return bytes.find_first_not_of("\r\n") == std::string_view::npos;
}

// A destination the transport may send to. Broadcast and multicast are refused whatever the caller
// computed: a forged Via must not turn the proxy into a reflector.
bool usable(const net::SocketAddress& a) {
  return a.valid() && a.port() != 0 && !a.isUnspecified() && !a.isBroadcastOrMulticast();
}

// Where the transport token of the top Via stands, if it says UDP (RFC 3261 §18.1.1: the Via
// must name the transport actually used).
std::size_t topViaUdpOffset(std::string_view bytes) {
  sip::ParseLimits limits;
  limits.maxMessageBytes =
      static_cast<uint32_t>(std::max<std::size_t>(limits.maxMessageBytes, bytes.size()));
  sip::Message message;
  if (!message.parse(bytes, sip::Framing::kDatagram, limits)) return std::string::npos;
  const auto& via = message.topVia();
  if (!via || !sip::equalsIgnoreCase(via->transport, "UDP")) return std::string::npos;
  return static_cast<std::size_t>(via->transport.data() - bytes.data());
}

}  // namespace

// --- workers and UDP readers ---

Worker::Worker(unsigned workerIndex, unsigned batchSize, std::size_t slotBytes)
    : io(1), index(workerIndex), batch(batchSize, slotBytes) {}

TcpAcceptor::TcpAcceptor(uint32_t listenerIndex, Worker& owner)
    : listener(listenerIndex), worker(owner), acceptor(owner.io), retry(owner.io) {}

UdpReader::UdpReader(AsioTransport& transport, Worker& worker, uint32_t listener,
                     bool withDestination)
    : transport_(transport),
      worker_(worker),
      listener_(listener),
      withDestination_(withDestination),
      socket_(worker.io) {}

Expected<void, std::string> UdpReader::assign(int fd, bool ipv6) {
  boost::system::error_code ec;
  socket_.assign(ipv6 ? udp::v6() : udp::v4(), fd, ec);
  if (ec) {
    ::close(fd);
    return unexpected("cannot watch the socket: " + ec.message());
  }
  return {};
}

void UdpReader::start() {
  if (closed_) return;
  socket_.async_wait(udp::socket::wait_read,
                     [this](const boost::system::error_code& ec) { onReadable(ec); });
}

void UdpReader::close() {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ec;
  socket_.close(ec);
}

void UdpReader::onReadable(const boost::system::error_code& ec) {
  if (closed_ || ec == boost::asio::error::operation_aborted) return;
  // Wait again before draining: Asio's reactor is edge-triggered and drops a readiness event
  // that comes while no wait is pending, so a datagram arriving between our last empty read
  // and a later re-arm would sit unseen until the next one.
  start();
  drain();
}

void flushSends(Worker& worker) noexcept {
  if (worker.sendBatch.empty()) return;
  std::size_t failed = 0;
  const std::size_t sent = worker.sendBatch.flush(failed);
  worker.counters.add(Counter::kUdpSent, sent);
  if (failed > 0) worker.counters.add(Counter::kSendErrors, failed);
}

void UdpReader::drain() {
  UdpBatch& batch = worker_.batch;
  const int fd = socket_.native_handle();
  for (unsigned turn = 0; turn < kBatchesPerTurn; ++turn) {
    const int n = batch.receive(fd, withDestination_);
    // EAGAIN: another worker took the rest, or there is none. Another error (rare on UDP) is
    // reported once and cleared by the kernel; the pending wait carries on.
    if (n <= 0) return;
    const Listener& listener = transport_.listener(listener_);
    ReceivedMessage m;
    m.protocol = Protocol::kUdp;
    m.listener = listener_;
    m.worker = worker_.index;
    m.local = listener.address;
    uint64_t dropped = 0;
    worker_.handlingBatch = true;
    for (unsigned i = 0; i < static_cast<unsigned>(n); ++i) {
      if (batch.truncated(i)) {
        ++dropped;
        continue;
      }
      const std::string_view bytes = batch.payload(i);
      if (isOnlyLineBreaks(bytes)) continue;
      m.bytes = bytes;
      m.source = batch.source(i);
      if (withDestination_) batch.destination(i, m.local);
      transport_.deliver(m, worker_);
    }
    worker_.handlingBatch = false;
    flushSends(worker_);
    if (dropped > 0) worker_.counters.add(Counter::kUdpDropped, dropped);
    worker_.counters.add(Counter::kUdpReceived, static_cast<uint64_t>(n) - dropped);
    if (closed_ || static_cast<unsigned>(n) < batch.size()) return;
  }
  // Still more: come back after the worker's other work, without waiting for a new datagram
  // (none may come, and the pending wait only fires on one).
  if (drainPosted_) return;
  drainPosted_ = true;
  boost::asio::post(worker_.io, [this] {
    drainPosted_ = false;
    if (!closed_) drain();
  });
}

// --- the transport ---

AsioTransport::AsioTransport(const Options& options, MessageHandler& handler)
    : options_(options), handler_(handler) {
  unsigned count = options.workers;
  if (count == 0) count = std::max(1u, std::thread::hardware_concurrency());
  const std::size_t slot = std::min<std::size_t>(options.maxMessageBytes, kMaxDatagram) + 1;
  // The kernel takes at most UIO_MAXIOV (1024) messages per recvmmsg.
  const unsigned batch = std::clamp(options.udpBatch, 1u, 1024u);
  workers_.reserve(count);
  for (unsigned i = 0; i < count; ++i)
    workers_.push_back(std::make_unique<Worker>(i, batch, slot));
}

AsioTransport::~AsioTransport() {
  stop();
  // Everything holding a socket goes before the io_contexts (workers_, destroyed last).
  connections_.clear();
  acceptors_.clear();
  for (auto& w : workers_)
    w->readers.clear();
  // The sending descriptors close only now, so that a send() racing with stop() never writes
  // to a descriptor number the process has reused.
  for (int fd : udpFds_) {
    if (fd >= 0) ::close(fd);
  }
}

Expected<void, std::string> AsioTransport::open() {
  if (options_.listen.empty()) return unexpected(std::string("no listen address"));
  for (const ListenSpec& spec : options_.listen) {
    auto address = net::SocketAddress::parse(spec.host, spec.port);
    if (!address) return unexpected(describe(spec) + ": not a numeric IP address");
    auto opened =
        spec.protocol == Protocol::kUdp ? openUdp(spec, *address) : openTcp(spec, *address);
    if (!opened) return opened;
  }
  return {};
}

namespace {

void advertise(Listener& l) {
  l.advertisedPort = l.address.port();
  if (l.address.isUnspecified()) {
    l.advertisedHost = firstInterfaceAddress(l.address.isIpv6());
    if (!l.advertisedHost.empty()) return;
  }
  l.advertisedHost = l.address.ip();
}

}  // namespace

Expected<void, std::string> AsioTransport::openUdp(const ListenSpec& spec,
                                                   const net::SocketAddress& address) {
  auto socket = openUdpSocket(address);
  if (!socket) return unexpected(describe(spec) + ": " + socket.error());
  const auto index = static_cast<uint32_t>(listeners_.size());
  Listener l;
  l.index = index;
  l.protocol = Protocol::kUdp;
  l.address = socket->bound;
  advertise(l);
  listeners_.push_back(std::move(l));
  udpFds_.push_back(socket->fd);
  // Every worker reads the socket through its own descriptor, registered with its own
  // io_context: the kernel hands each datagram to one of them, so a single busy peer is
  // spread over all workers (SO_REUSEPORT would pin it to one).
  for (auto& w : workers_) {
    int fd = ::fcntl(socket->fd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) {
      return unexpected(describe(spec) + ": cannot duplicate the socket: " + errnoText(errno));
    }
    auto reader = std::make_unique<UdpReader>(*this, *w, index, address.isUnspecified());
    auto assigned = reader->assign(fd, address.isIpv6());
    if (!assigned) return unexpected(describe(spec) + ": " + assigned.error());
    w->readers.push_back(std::move(reader));
  }
  return {};
}

Expected<void, std::string> AsioTransport::openTcp(const ListenSpec& spec,
                                                   const net::SocketAddress& address) {
  const auto index = static_cast<uint32_t>(listeners_.size());
  Worker& owner = *workers_[acceptors_.size() % workers_.size()];
  auto a = std::make_unique<TcpAcceptor>(index, owner);
  const auto endpoint = toEndpoint<tcp::endpoint>(address);
  boost::system::error_code ec;
  auto fail = [&](std::string_view what) {
    return unexpected(describe(spec) + ": " + std::string(what) + ": " + ec.message());
  };
  a->acceptor.open(endpoint.protocol(), ec);
  if (ec) return fail("cannot open a TCP socket");
  // Lets a restarted daemon listen again while connections of the old one sit in TIME_WAIT.
  a->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (ec) return fail("cannot set SO_REUSEADDR");
  if (address.isIpv6()) {
    a->acceptor.set_option(boost::asio::ip::v6_only(true), ec);
    if (ec) return fail("cannot set IPV6_V6ONLY");
  }
  a->acceptor.bind(endpoint, ec);
  if (ec) return fail("cannot bind");
  a->acceptor.listen(boost::asio::socket_base::max_listen_connections, ec);
  if (ec) return fail("cannot listen");
  auto bound = a->acceptor.local_endpoint(ec);
  if (ec) return fail("getsockname");
  Listener l;
  l.index = index;
  l.protocol = Protocol::kTcp;
  l.address = fromEndpoint(bound);
  advertise(l);
  listeners_.push_back(std::move(l));
  udpFds_.push_back(-1);
  acceptors_.push_back(std::move(a));
  return {};
}

void AsioTransport::start() {
  std::lock_guard lock(lifecycleMutex_);
  if (started_ || stopped_) return;
  started_ = true;
  // The threads are not running yet, so arming from this thread is safe.
  for (auto& w : workers_) {
    w->guard.emplace(w->io.get_executor());
    for (auto& r : w->readers)
      r->start();
  }
  for (auto& a : acceptors_)
    waitForConnections(*a);
  for (auto& w : workers_) {
    Worker* worker = w.get();
    w->thread = std::thread([this, worker] { runWorker(*worker); });
  }
}

void AsioTransport::runWorker(Worker& worker) {
  tCurrent = {this, worker.index};
  for (;;) {
    // Handler exceptions are caught where the handler is called; this is the last net, so that
    // a throwing posted function does not take the worker down.
    try {
      worker.io.run();
      break;
    } catch (...) {
      worker.counters.add(Counter::kHandlerExceptions);
    }
  }
  tCurrent = {};
  {
    std::lock_guard lock(exitMutex_);
    ++exited_;
  }
  exitCv_.notify_all();
}

void AsioTransport::stop() {
  std::lock_guard lock(lifecycleMutex_);
  if (stopped_) return;
  stopped_ = true;
  stopping_.store(true, std::memory_order_release);
  assert(currentWorker() < 0 && "stop() joins the workers: call it from another thread");
  if (!started_) {
    for (auto& w : workers_) {
      for (auto& r : w->readers)
        r->close();
    }
    for (auto& a : acceptors_)
      closeAcceptor(*a);
    return;
  }
  for (auto& w : workers_) {
    Worker* worker = w.get();
    boost::asio::post(worker->io, [this, worker] { shutdownWorker(*worker); });
    worker->guard.reset();
  }
  unsigned running = 0;
  for (auto& w : workers_)
    running += w->thread.joinable() ? 1 : 0;
  {
    // A worker returns once its sockets are closed and its queued writes are out; timers the
    // application armed on it keep it running, and end with the grace period.
    std::unique_lock wait(exitMutex_);
    exitCv_.wait_for(wait, options_.stopGrace, [&] { return exited_ >= running; });
  }
  for (auto& w : workers_)
    w->io.stop();
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
}

void AsioTransport::shutdownWorker(Worker& worker) {
  for (auto& r : worker.readers)
    r->close();
  for (auto& a : acceptors_) {
    if (&a->worker == &worker) closeAcceptor(*a);
  }
  for (auto& c : connections_.ownedBy(worker.index))
    c->shutdown();
}

void AsioTransport::closeAcceptor(TcpAcceptor& a) {
  a.closed = true;
  boost::system::error_code ec;
  a.acceptor.close(ec);
  a.retry.cancel();
}

void AsioTransport::waitForConnections(TcpAcceptor& a) {
  if (a.closed) return;
  a.acceptor.async_wait(tcp::acceptor::wait_read, [this, &a](const boost::system::error_code& ec) {
    if (a.closed || ec == boost::asio::error::operation_aborted) return;
    // Armed again before accepting, for the reason given in UdpReader::onReadable.
    waitForConnections(a);
    acceptPending(a);
  });
}

void AsioTransport::acceptPending(TcpAcceptor& a) {
  for (unsigned i = 0; i < kAcceptsPerTurn; ++i) {
    if (a.closed || stopping()) return;
    net::SocketAddress peer;
    socklen_t length = net::SocketAddress::capacity();
    // accept4 rather than Asio's async_accept: the new descriptor is registered only with the
    // io_context of the worker that will own the connection, on that worker's thread.
    const int fd = ::accept4(a.acceptor.native_handle(), peer.sockaddrPtr(), &length,
                             SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      const int e = errno;
      if (e == EINTR || e == ECONNABORTED) continue;  // the peer gave up while queued
      if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
        // Out of descriptors or memory: the connections wait in the backlog; try again soon
        // rather than spin on the error.
        a.retry.expires_after(std::chrono::milliseconds(100));
        a.retry.async_wait([this, &a](const boost::system::error_code& e2) {
          if (!e2) acceptPending(a);
        });
      }
      return;  // EAGAIN: nothing more for now
    }
    peer.setLength(length);
    a.worker.counters.add(Counter::kTcpAccepted);
    // Accepted connections go to the workers in turn.
    Worker& target =
        *workers_[nextWorker_.fetch_add(1, std::memory_order_relaxed) % workers_.size()];
    auto c = std::make_shared<TcpConnection>(
        *this, target, nextConnectionId_.fetch_add(1, std::memory_order_relaxed), a.listener, peer,
        fd);
    connections_.add(c);
    boost::asio::post(target.io, [c] { c->startAccepted(); });
  }
  if (a.drainPosted) return;
  a.drainPosted = true;
  boost::asio::post(a.worker.io, [this, &a] {
    a.drainPosted = false;
    acceptPending(a);
  });
}

Worker& AsioTransport::workerForNewConnection() noexcept {
  // The worker asking keeps the connection: the replies it expects arrive where it is.
  const int current = currentWorker();
  if (current >= 0) return *workers_[static_cast<unsigned>(current)];
  return *workers_[nextWorker_.fetch_add(1, std::memory_order_relaxed) % workers_.size()];
}

void AsioTransport::post(unsigned worker, std::function<void()> fn) {
  assert(worker < workers_.size());
  boost::asio::post(workers_[worker % workers_.size()]->io, std::move(fn));
}

TransportStats AsioTransport::stats() const {
  TransportStats s;
  for (const auto& w : workers_)
    w->counters.addTo(s);
  sharedCounters_.addTo(s);
  s.tcpConnections = connections_.size();
  return s;
}

int AsioTransport::currentWorker() const noexcept {
  return tCurrent.owner == this ? static_cast<int>(tCurrent.index) : -1;
}

boost::asio::io_context* AsioTransport::ioContext(unsigned worker) noexcept {
  return worker < workers_.size() ? &workers_[worker]->io : nullptr;
}

CounterBlock& AsioTransport::counters() noexcept {
  const int current = currentWorker();
  return current >= 0 ? workers_[static_cast<unsigned>(current)]->counters : sharedCounters_;
}

void AsioTransport::deliver(const ReceivedMessage& message, Worker& worker) noexcept {
  try {
    handler_.onMessage(message);
  } catch (...) {
    worker.counters.add(Counter::kHandlerExceptions);
  }
}

// --- sending ---

int AsioTransport::listenerFor(Protocol protocol, const net::SocketAddress& to,
                               int hint) const noexcept {
  const auto matches = [&](const Listener& l) {
    return l.protocol == protocol && l.address.isIpv6() == to.isIpv6();
  };
  if (hint >= 0 && static_cast<std::size_t>(hint) < listeners_.size() &&
      matches(listeners_[static_cast<std::size_t>(hint)])) {
    return hint;
  }
  for (const Listener& l : listeners_) {
    if (matches(l)) return static_cast<int>(l.index);
  }
  return -1;
}

SendStatus AsioTransport::send(const Destination& to, std::string_view bytes, bool isRequest) {
  if (stopping()) return SendStatus::kError;
  // A v4-mapped address goes out of the IPv4 listener: IPv6 sockets here are IPV6_V6ONLY.
  const net::SocketAddress address = to.address.unmapped();
  if (to.protocol == Protocol::kTcp) {
    return sendTcp(to.connection, address, bytes, to.listener, std::string::npos);
  }
  if (!usable(address)) return SendStatus::kNoRoute;
  if (isRequest && bytes.size() > options_.udpSizeThreshold) {
    // RFC 3261 §18.1.1: a request above the threshold goes over a congestion-controlled
    // transport. Prefer the TCP listener on the UDP listener's own address.
    int tcpHint = -1;
    if (to.listener >= 0 && static_cast<std::size_t>(to.listener) < listeners_.size()) {
      const Listener& udp = listeners_[static_cast<std::size_t>(to.listener)];
      for (const Listener& l : listeners_) {
        if (l.protocol == Protocol::kTcp && l.address.sameIp(udp.address)) {
          tcpHint = static_cast<int>(l.index);
          break;
        }
      }
    }
    const int tcpListener = listenerFor(Protocol::kTcp, address, tcpHint);
    if (tcpListener >= 0) {
      counters().add(Counter::kSwitchedToTcp);
      const std::size_t via = topViaUdpOffset(bytes);
      if (via == std::string::npos) {
        return sendTcp(0, address, bytes, tcpListener, std::string::npos);
      }
      std::string switched(bytes);
      switched.replace(via, 3, "TCP");
      return sendTcp(0, address, switched, tcpListener, via);
    }
  }
  return sendUdp(address, bytes, to.listener);
}

SendStatus AsioTransport::sendUdp(const net::SocketAddress& to, std::string_view bytes,
                                  int listener) {
  const int index = listenerFor(Protocol::kUdp, to, listener);
  if (index < 0) return SendStatus::kNoRoute;
  // On a worker that is handling a receive batch, the datagram joins the batch's sendmmsg.
  if (const int current = currentWorker(); current >= 0) {
    Worker& worker = *workers_[static_cast<unsigned>(current)];
    if (worker.handlingBatch) {
      worker.sendBatch.add(udpFds_[static_cast<std::size_t>(index)], to, bytes);
      return SendStatus::kSent;
    }
  }
  // Otherwise from the calling thread: sendto on one UDP socket is safe from several threads,
  // and a datagram needs no ordering with anything else.
  ssize_t n;
  do {
    n = ::sendto(udpFds_[static_cast<std::size_t>(index)], bytes.data(), bytes.size(),
                 MSG_DONTWAIT | MSG_NOSIGNAL, to.sockaddrPtr(), to.length());
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    counters().add(Counter::kSendErrors);
    return SendStatus::kError;
  }
  counters().add(Counter::kUdpSent);
  return SendStatus::kSent;
}

uint64_t AsioTransport::randomConnectionIdBase() {
  std::random_device random;
  // 62 random bits at the top, so that ids of one run never wrap into 0 or meet another's.
  const uint64_t high = (static_cast<uint64_t>(random()) << 32) | random();
  return (high & 0x3fffffffffffffffull) << 1 | 1;
}

void AsioTransport::sendSwitchedBackToUdp(const net::SocketAddress& to, std::string_view bytes) {
  (void)sendUdp(to, bytes, -1);
}

SendStatus AsioTransport::sendTcp(uint64_t connection, const net::SocketAddress& to,
                                  std::string_view bytes, int listener, std::size_t switchedVia) {
  std::shared_ptr<TcpConnection> c;
  if (connection != 0) c = connections_.find(connection);
  // An id kept elsewhere (a registration in a database, another process) must never send to a
  // different peer that happens to hold it now.
  if (c && to.valid() && !(c->peer() == to)) c = nullptr;
  if (!c) {
    // RFC 3261 §18.2.2: when the connection a request came on is gone, the response goes to
    // the address over a new one.
    if (!usable(to)) return connection != 0 ? SendStatus::kConnectFailed : SendStatus::kNoRoute;
    const int index = listenerFor(Protocol::kTcp, to, listener);
    if (index < 0) return SendStatus::kNoRoute;
    auto [found, created] = connections_.findOrAdd(to, [&] {
      Worker& w = workerForNewConnection();
      return std::make_shared<TcpConnection>(
          *this, w, nextConnectionId_.fetch_add(1, std::memory_order_relaxed),
          static_cast<uint32_t>(index), to);
    });
    c = std::move(found);
    if (created) {
      // Queue the bytes first: a connection refused at once must find them to count them
      // (or send them back to UDP), and must not make this send look like it failed.
      const SendStatus status = sendOn(c, bytes, switchedVia);
      net::SocketAddress from = listeners_[static_cast<std::size_t>(index)].address;
      if (from.isUnspecified()) {
        from = net::SocketAddress();
      } else {
        from.setPort(0);
      }
      boost::asio::post(workers_[c->worker()]->io, [c, from] { c->startConnect(from); });
      return status;
    }
  }
  return sendOn(c, bytes, switchedVia);
}

SendStatus AsioTransport::sendOn(const std::shared_ptr<TcpConnection>& c, std::string_view bytes,
                                 std::size_t switchedVia) {
  if (currentWorker() == static_cast<int>(c->worker())) {
    return c->send(bytes, switchedVia) ? SendStatus::kSent : SendStatus::kError;
  }
  if (c->closed()) {
    counters().add(Counter::kSendErrors);
    return SendStatus::kError;
  }
  // Only the owner writes: the bytes travel to it (the one copy a cross-worker send costs).
  boost::asio::post(workers_[c->worker()]->io,
                    [c, out = Outgoing{std::string(bytes), switchedVia, true}]() mutable {
                      c->enqueue(std::move(out));
                    });
  return SendStatus::kSent;
}

}  // namespace strowger::transport

#include "tcp_connection.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <span>

#include <boost/asio/write.hpp>

#include "asio_transport.h"
#include "endpoint.h"

namespace strowger::transport {
namespace {

using Clock = std::chrono::steady_clock;
using boost::asio::ip::tcp;

// Most SIP messages fit the first buffer; it grows only for a peer that sends large ones.
constexpr std::size_t kInitialBuffer = 4096;
constexpr std::size_t kMinRead = 2048;
// RFC 5626 §4.4.1: a double-CRLF ping is answered with a single CRLF pong.
constexpr std::string_view kPong = "\r\n";
// A peer that stops reading must not make us hold its replies without bound.
constexpr std::size_t kMinQueueLimit = 4 << 20;

sip::StreamFramer::Limits framerLimits(uint32_t maxMessageBytes) {
  sip::StreamFramer::Limits limits;
  limits.maxMessageBytes = maxMessageBytes;
  limits.maxHeaderBytes = std::min(limits.maxHeaderBytes, maxMessageBytes);
  return limits;
}

}  // namespace

TcpConnection::TcpConnection(AsioTransport& transport, Worker& worker, uint64_t id,
                             uint32_t listener, const net::SocketAddress& peer, int acceptedFd)
    : transport_(transport),
      worker_(worker),
      id_(id),
      listener_(listener),
      peer_(peer),
      acceptedFd_(acceptedFd),
      socket_(worker.io),
      timer_(worker.io),
      framer_(framerLimits(transport.options().maxMessageBytes)) {}

TcpConnection::~TcpConnection() {
  if (acceptedFd_ >= 0) ::close(acceptedFd_);  // never started: stop() came first
}

unsigned TcpConnection::worker() const noexcept {
  return worker_.index;
}

void TcpConnection::startAccepted() {
  if (state_ != State::kNew) return;
  // Accepted just as stop() swept this worker's connections: nobody would close it later.
  if (transport_.stopping()) {
    close();
    return;
  }
  boost::system::error_code ec;
  socket_.assign(peer_.isIpv6() ? tcp::v6() : tcp::v4(), acceptedFd_, ec);
  if (ec) {
    close();
    return;
  }
  acceptedFd_ = -1;
  opened();
}

void TcpConnection::startConnect(const net::SocketAddress& bindAddress) {
  if (state_ != State::kNew) return;
  if (transport_.stopping()) {
    close();
    return;
  }
  state_ = State::kConnecting;
  const auto remote = toEndpoint<tcp::endpoint>(peer_);
  boost::system::error_code ec;
  socket_.open(remote.protocol(), ec);
  // From the listener's own address, so that the peer sees the address our Via names.
  if (!ec && bindAddress.valid()) socket_.bind(toEndpoint<tcp::endpoint>(bindAddress), ec);
  if (ec) {
    connectFailed_ = true;
    worker_.counters.add(Counter::kTcpConnectFailed);
    close();
    return;
  }
  connectDeadline_ = Clock::now() + transport_.options().tcpConnectTimeout;
  armTimer(connectDeadline_);
  socket_.async_connect(remote, [self = shared_from_this()](const boost::system::error_code& e) {
    self->onConnected(e);
  });
}

void TcpConnection::onConnected(const boost::system::error_code& ec) {
  if (state_ != State::kConnecting) return;  // timed out, or stop() came first
  if (ec) {
    connectFailed_ = true;
    worker_.counters.add(Counter::kTcpConnectFailed);
    close();
    return;
  }
  worker_.counters.add(Counter::kTcpConnected);
  opened();
}

void TcpConnection::opened() {
  state_ = State::kOpen;
  boost::system::error_code ec;
  // A SIP message is written whole; Nagle would hold a short reply back for a delayed ACK.
  socket_.set_option(tcp::no_delay(true), ec);
  auto local = socket_.local_endpoint(ec);
  if (!ec) local_ = fromEndpoint(local);
  lastActivity_ = Clock::now();
  armTimer(lastActivity_ + transport_.options().tcpIdleTimeout);
  read();
  flush();
}

// --- receiving ---

bool TcpConnection::makeRoom() {
  if (!rx_) {
    capacity_ = kInitialBuffer;
    rx_ = std::make_unique_for_overwrite<char[]>(capacity_);
  }
  if (capacity_ - end_ >= kMinRead) return true;
  if (begin_ > 0) {
    // The framer's scan position is relative to the frame start, so moving the frame is safe.
    std::memmove(rx_.get(), rx_.get() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
    if (capacity_ - end_ >= kMinRead) return true;
  }
  // The framer fails a message above maxMessageBytes, so a frame never needs more than this.
  const std::size_t limit = std::size_t{transport_.options().maxMessageBytes} + kMinRead;
  if (capacity_ >= limit) return capacity_ > end_;
  const std::size_t next = std::min(std::max(capacity_ * 2, end_ + kMinRead), limit);
  auto grown = std::make_unique_for_overwrite<char[]>(next);
  std::memcpy(grown.get(), rx_.get(), end_);
  rx_ = std::move(grown);
  capacity_ = next;
  return true;
}

void TcpConnection::read() {
  if (!makeRoom()) {
    worker_.counters.add(Counter::kTcpFramingErrors);
    close();
    return;
  }
  socket_.async_read_some(boost::asio::buffer(rx_.get() + end_, capacity_ - end_),
                          [self = shared_from_this()](const boost::system::error_code& ec,
                                                      std::size_t n) { self->onRead(ec, n); });
}

void TcpConnection::onRead(const boost::system::error_code& ec, std::size_t n) {
  if (state_ == State::kClosed) return;
  if (ec) {  // end of stream or reset: the peer is gone
    close();
    return;
  }
  if (shuttingDown_) return;
  end_ += n;
  lastActivity_ = Clock::now();
  frame();
  if (state_ == State::kOpen && !shuttingDown_) read();
}

void TcpConnection::frame() {
  using Status = sip::StreamFramer::Status;
  while (begin_ < end_ && state_ == State::kOpen) {
    const std::string_view pending(rx_.get() + begin_, end_ - begin_);
    const auto r = framer_.next(pending);
    if (r.status == Status::kNeedMore) break;
    if (r.status == Status::kError) {
      worker_.counters.add(Counter::kTcpFramingErrors);
      close();
      return;
    }
    begin_ += r.length;
    if (r.status == Status::kKeepAlive) {
      if (r.ping) send(kPong, std::string::npos, false);
      continue;
    }
    ReceivedMessage m;
    m.bytes = pending.substr(0, r.length);
    m.source = peer_;
    m.local = local_;
    m.protocol = Protocol::kTcp;
    m.listener = listener_;
    m.connection = id_;
    m.worker = worker_.index;
    worker_.counters.add(Counter::kTcpReceived);
    transport_.deliver(m, worker_);
  }
  if (begin_ == end_) begin_ = end_ = 0;
}

// --- sending ---

bool TcpConnection::overQueueLimit() const noexcept {
  return queuedBytes_ >
         std::max(kMinQueueLimit, std::size_t{transport_.options().maxMessageBytes} * 4);
}

bool TcpConnection::send(std::string_view bytes, std::size_t switchedVia, bool isMessage) {
  if (state_ == State::kClosed) {
    if (isMessage) worker_.counters.add(Counter::kSendErrors);
    return false;
  }
  if (state_ == State::kOpen && !writing_ && queue_.empty()) {
    // The common case needs no copy: the kernel takes the whole message at once.
    ssize_t n;
    do {
      n = ::send(socket_.native_handle(), bytes.data(), bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      close();
      if (isMessage) worker_.counters.add(Counter::kSendErrors);
      return false;
    }
    if (n > 0) {
      lastActivity_ = Clock::now();
      if (static_cast<std::size_t>(n) == bytes.size()) {
        if (isMessage) worker_.counters.add(Counter::kTcpSent);
        return true;
      }
      bytes.remove_prefix(static_cast<std::size_t>(n));
      switchedVia = std::string::npos;  // partly on the wire: it cannot go back to UDP
    }
  }
  enqueue(Outgoing{std::string(bytes), switchedVia, isMessage});
  return state_ != State::kClosed;  // closed: counted with the rest of the queue
}

void TcpConnection::enqueue(Outgoing out) {
  if (state_ == State::kClosed) {
    if (connectFailed_ && out.switchedVia != std::string::npos) {
      out.bytes.replace(out.switchedVia, 3, "UDP");
      transport_.sendSwitchedBackToUdp(peer_, out.bytes);
    } else if (out.isMessage) {
      worker_.counters.add(Counter::kSendErrors);
    }
    return;
  }
  queuedBytes_ += out.bytes.size();
  queue_.push_back(std::move(out));
  if (overQueueLimit()) {
    close();
    return;
  }
  flush();
}

void TcpConnection::flush() {
  if (state_ != State::kOpen || writing_ || queue_.empty()) return;
  inFlight_ = std::min(queue_.size(), kMaxGather);
  for (std::size_t i = 0; i < inFlight_; ++i)
    gather_[i] = boost::asio::buffer(queue_[i].bytes);
  writing_ = true;
  boost::asio::async_write(socket_,
                           std::span<const boost::asio::const_buffer>(gather_.data(), inFlight_),
                           [self = shared_from_this()](const boost::system::error_code& ec,
                                                       std::size_t) { self->onWritten(ec); });
}

void TcpConnection::onWritten(const boost::system::error_code& ec) {
  writing_ = false;
  if (state_ == State::kClosed) return;
  if (ec) {
    close();
    return;
  }
  uint64_t messages = 0;
  for (std::size_t i = 0; i < inFlight_; ++i) {
    if (queue_.front().isMessage) ++messages;
    queuedBytes_ -= queue_.front().bytes.size();
    queue_.pop_front();
  }
  inFlight_ = 0;
  worker_.counters.add(Counter::kTcpSent, messages);
  lastActivity_ = Clock::now();
  if (shuttingDown_ && queue_.empty()) {
    close();
    return;
  }
  flush();
}

// --- timers and closing ---

void TcpConnection::armTimer(Clock::time_point deadline) {
  // Re-arming cancels the pending wait; a handler already queued sees an old generation.
  ++timerGeneration_;
  timer_.expires_at(deadline);
  timer_.async_wait([self = shared_from_this(), generation = timerGeneration_](
                        const boost::system::error_code& ec) { self->onTimer(ec, generation); });
}

void TcpConnection::onTimer(const boost::system::error_code& ec, uint64_t generation) {
  if (ec || generation != timerGeneration_ || state_ == State::kClosed || shuttingDown_) return;
  const auto now = Clock::now();
  // Traffic does not touch the timer (that would cost a timer operation per message); the
  // timer looks at the last activity when it fires and sleeps again if there was some.
  const auto deadline = state_ == State::kOpen ? lastActivity_ + transport_.options().tcpIdleTimeout
                                               : connectDeadline_;
  if (now < deadline) {
    armTimer(deadline);
    return;
  }
  if (state_ == State::kOpen) {
    worker_.counters.add(Counter::kTcpClosedIdle);
  } else {
    connectFailed_ = true;
    worker_.counters.add(Counter::kTcpConnectFailed);
  }
  close();
}

void TcpConnection::shutdown() {
  if (state_ == State::kClosed) return;
  shuttingDown_ = true;
  ++timerGeneration_;
  timer_.cancel();
  if (state_ != State::kOpen || (!writing_ && queue_.empty())) close();
}

void TcpConnection::close() {
  if (state_ == State::kClosed) return;
  const bool neverOpened = state_ != State::kOpen;
  state_ = State::kClosed;
  closed_.store(true, std::memory_order_release);
  boost::system::error_code ec;
  socket_.close(ec);
  if (acceptedFd_ >= 0) {
    ::close(acceptedFd_);
    acceptedFd_ = -1;
  }
  timer_.cancel();
  transport_.forget(*this);
  // What the kernel never took is lost, except a request moved from UDP because of its size
  // whose connection never came up: RFC 3261 §18.1.1 has it retried over UDP.
  uint64_t lost = 0;
  for (Outgoing& out : queue_) {
    if (neverOpened && out.switchedVia != std::string::npos) {
      out.bytes.replace(out.switchedVia, 3, "UDP");
      transport_.sendSwitchedBackToUdp(peer_, out.bytes);
    } else if (out.isMessage) {
      ++lost;
    }
  }
  if (lost > 0) worker_.counters.add(Counter::kSendErrors, lost);
  queue_.clear();
  queuedBytes_ = 0;
  inFlight_ = 0;
}

}  // namespace strowger::transport

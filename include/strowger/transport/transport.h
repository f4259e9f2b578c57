// The transport layer: UDP and TCP sockets over IPv4 and IPv6, driven by the worker threads.
//
// Threads and ownership (docs/architecture.md, "Threads"): there are N workers, each running its
// own io_context on its own thread. Every worker reads every UDP socket (each through its own
// duplicate of the descriptor, so the kernel hands each datagram to whichever worker asks first):
// one busy peer is therefore spread over all workers. A TCP connection belongs to the worker that
// accepted it: its reads, its framing and its writes happen there; sending on it from another
// worker posts the bytes to the owner.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "strowger/expected.h"
#include "strowger/net/socket_address.h"

namespace boost::asio {
class io_context;
}

namespace strowger::transport {

enum class Protocol : uint8_t { kUdp, kTcp };

std::string_view protocolName(Protocol p) noexcept;  // "UDP", "TCP" (as in a Via)

// A socket this process listens on.
struct Listener {
  uint32_t index = 0;
  Protocol protocol = Protocol::kUdp;
  net::SocketAddress address;  // as bound (the real port when 0 was asked for)
  // Host and port to put in Via and Record-Route: the bound address, or for a wildcard bind the
  // address the kernel reports for the peer's packets (see ReceivedMessage::local).
  // As an address without brackets (IPv6 "2001:db8::1"); the SIP writer adds them. For a wildcard
  // bind this is the first address of the family on an interface that is up, not loopback and
  // (IPv6) not link-local, found when the listener is created; the wildcard itself if none is.
  std::string advertisedHost;
  uint16_t advertisedPort = 0;
};

// One framed message as it arrived. `bytes` is valid only during MessageHandler::onMessage: the
// receive buffer is reused afterwards. Copy what must outlive the call.
struct ReceivedMessage {
  std::string_view bytes;
  net::SocketAddress source;
  net::SocketAddress local;  // the address the message was sent to
  Protocol protocol = Protocol::kUdp;
  uint32_t listener = 0;    // index into TransportLayer::listeners()
  uint64_t connection = 0;  // TCP connection id; 0 for UDP
  unsigned worker = 0;      // the worker running the handler
};

// Where to send.
struct Destination {
  Protocol protocol = Protocol::kUdp;
  net::SocketAddress address;
  uint64_t connection = 0;  // reuse this TCP connection when it is still open
  int listener = -1;        // send from this listener (UDP) or -1: one of the right family
};

enum class SendStatus : uint8_t {
  kSent,           // handed to the kernel (or queued on the owning worker for TCP)
  kNoRoute,        // no listener of that protocol and family
  kConnectFailed,  // TCP connection refused or failed
  kError,          // the socket reported an error
};

class MessageHandler {
 public:
  virtual ~MessageHandler() = default;
  // Called on a worker thread, once per framed message; must not block.
  virtual void onMessage(const ReceivedMessage& message) = 0;
};

struct TransportStats {
  uint64_t udpReceived = 0, udpSent = 0, tcpReceived = 0, tcpSent = 0;
  uint64_t tcpAccepted = 0, tcpConnected = 0, tcpClosedIdle = 0, tcpFramingErrors = 0;
  uint64_t sendErrors = 0, switchedToTcp = 0;
  uint64_t udpDropped = 0;         // datagrams longer than maxMessageBytes
  uint64_t tcpConnectFailed = 0;   // outbound connections refused or timed out
  uint64_t handlerExceptions = 0;  // MessageHandler::onMessage threw; the transport carried on
  uint64_t tcpConnections = 0;     // open (or opening) connections when stats() was called
};

class TransportLayer {
 public:
  struct ListenSpec {
    Protocol protocol = Protocol::kUdp;
    std::string host;  // numeric; "0.0.0.0" or "::" for all
    uint16_t port = 5060;
  };
  struct Options {
    std::vector<ListenSpec> listen;
    unsigned workers = 1;  // 0: one per core
    std::chrono::seconds tcpIdleTimeout{120};
    uint32_t maxMessageBytes = 65535;
    unsigned udpBatch = 32;  // datagrams per recvmmsg
    // RFC 3261 §18.1.1: a request larger than this goes over TCP when the peer may take TCP.
    uint32_t udpSizeThreshold = 1300;
    // An outbound connection not established by then is abandoned (the kernel would keep trying
    // for minutes).
    std::chrono::milliseconds tcpConnectTimeout{10000};
    // stop() lets queued TCP writes finish for this long, then cuts them off.
    std::chrono::milliseconds stopGrace{1000};
  };

  virtual ~TransportLayer() = default;

  // Binds every listener (errors name the address and the reason) without starting threads.
  static Expected<std::unique_ptr<TransportLayer>, std::string> create(const Options& options,
                                                                       MessageHandler& handler);

  // Starts the worker threads; returns at once.
  virtual void start() = 0;
  // Stops accepting and reading, lets queued sends finish, closes sockets, joins the workers.
  // Idempotent. Must not be called from a worker thread (it joins them).
  virtual void stop() = 0;

  // Sends `bytes`. Safe from any worker (and from other threads). For UDP above the threshold,
  // a request goes over TCP when a TCP listener of the family exists (RFC 3261 §18.1.1).
  virtual SendStatus send(const Destination& to, std::string_view bytes, bool isRequest) = 0;

  virtual std::span<const Listener> listeners() const = 0;
  virtual unsigned workerCount() const = 0;
  // Runs `fn` on worker `worker`'s thread.
  virtual void post(unsigned worker, std::function<void()> fn) = 0;
  virtual TransportStats stats() const = 0;
  // Whether the TCP connection `id` is still open (a registered flow's keepalive checks it).
  virtual bool connectionOpen(uint64_t id) const {
    (void)id;
    return false;
  }

  // The worker running the calling thread, or -1 when it is not one of this layer's workers.
  virtual int currentWorker() const noexcept { return -1; }
  // Worker `worker`'s io_context, for timers that must fire on that worker; nullptr if the
  // implementation has none.
  virtual boost::asio::io_context* ioContext(unsigned worker) noexcept {
    (void)worker;
    return nullptr;
  }
};

}  // namespace strowger::transport

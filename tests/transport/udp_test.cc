// UDP: delivery with source and destination, replies, the spreading of one busy peer over every
// worker, size limits, and the RFC 3261 §18.1.1 switch to TCP.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "test_sockets.h"

namespace strowger::transport::testing {
namespace {

using Options = TransportLayer::Options;
using ListenSpec = TransportLayer::ListenSpec;

class UdpRoundTrip : public ::testing::TestWithParam<const char*> {};

TEST_P(UdpRoundTrip, DeliversAndReplies) {
  const std::string host = GetParam();
  if (host == "::1" && !ipv6LoopbackAvailable()) GTEST_SKIP() << "no IPv6 loopback";
  Collector collector;
  auto transport = startTransport(udpOn(host), collector);
  ASSERT_TRUE(transport);

  ASSERT_EQ(transport->listeners().size(), 1u);
  const Listener& l = transport->listeners()[0];
  EXPECT_EQ(l.protocol, Protocol::kUdp);
  EXPECT_EQ(l.index, 0u);
  EXPECT_NE(l.address.port(), 0) << "the real port, not the 0 that was asked for";
  EXPECT_EQ(l.advertisedHost, host);
  EXPECT_EQ(l.advertisedPort, l.address.port());

  Fd client = udpSocket(address(host, 0));
  ASSERT_TRUE(client);
  const net::SocketAddress clientAddress = localAddress(client.get());
  const std::string request = sipRequest("udp-1");
  ASSERT_TRUE(sendDatagram(client.get(), l.address, request));
  ASSERT_TRUE(collector.waitFor(1, 3s));

  const Received m = collector.messages()[0];
  EXPECT_EQ(m.bytes, request);
  EXPECT_EQ(m.source, clientAddress);
  EXPECT_EQ(m.local, l.address);
  EXPECT_EQ(m.protocol, Protocol::kUdp);
  EXPECT_EQ(m.listener, 0u);
  EXPECT_EQ(m.connection, 0u);
  EXPECT_LT(m.worker, 2u);

  Destination to;
  to.address = m.source;
  to.listener = static_cast<int>(m.listener);
  EXPECT_EQ(transport->send(to, "SIP/2.0 200 OK\r\n\r\n", false), SendStatus::kSent);
  net::SocketAddress from;
  auto reply = receiveDatagram(client.get(), 3s, &from);
  ASSERT_TRUE(reply);
  EXPECT_EQ(*reply, "SIP/2.0 200 OK\r\n\r\n");
  EXPECT_EQ(from, l.address);

  // The worker counts a batch after delivering it.
  EXPECT_TRUE(eventually([&] { return transport->stats().udpReceived == 1; }));
  EXPECT_EQ(transport->stats().udpSent, 1u);
}

INSTANTIATE_TEST_SUITE_P(Loopback, UdpRoundTrip, ::testing::Values("127.0.0.1", "::1"));

TEST(Udp, WildcardListenerReportsTheDestinationAddress) {
  Collector collector;
  auto transport = startTransport(udpOn("0.0.0.0", 1), collector);
  ASSERT_TRUE(transport);
  const Listener& l = transport->listeners()[0];
  EXPECT_TRUE(l.address.isUnspecified());
  EXPECT_FALSE(l.advertisedHost.empty());

  Fd client = udpSocket(address("127.0.0.1", 0));
  ASSERT_TRUE(sendDatagram(client.get(), address("127.0.0.1", l.address.port()), sipRequest("w")));
  ASSERT_TRUE(collector.waitFor(1, 3s));
  EXPECT_EQ(collector.messages()[0].local, address("127.0.0.1", l.address.port()));
}

TEST(Udp, V4MappedDestinationLeavesThroughTheIpv4Listener) {
  Collector collector;
  auto transport = startTransport(udpOn("127.0.0.1", 1), collector);
  ASSERT_TRUE(transport);
  Fd client = udpSocket(address("127.0.0.1", 0));
  Destination to;
  to.address = address("::ffff:127.0.0.1", localAddress(client.get()).port());
  EXPECT_EQ(transport->send(to, "hello", false), SendStatus::kSent);
  EXPECT_EQ(receiveDatagram(client.get(), 3s).value_or(""), "hello");
}

TEST(Udp, RefusesDestinationsItMustNotSendTo) {
  Collector collector;
  auto transport = startTransport(udpOn("127.0.0.1", 1), collector);
  ASSERT_TRUE(transport);
  for (auto bad : {address("255.255.255.255", 5060), address("224.0.0.1", 5060),
                   address("0.0.0.0", 5060), address("127.0.0.1", 0), net::SocketAddress()}) {
    Destination to;
    to.address = bad;
    EXPECT_EQ(transport->send(to, "x", false), SendStatus::kNoRoute) << bad.toString();
  }
  Destination v6;
  v6.address = address("::1", 5060);
  EXPECT_EQ(transport->send(v6, "x", false), SendStatus::kNoRoute) << "no IPv6 listener";
}

// One peer, one source port, many datagrams: every worker must take part (docs/transport.md).
TEST(Udp, BurstFromOnePeerIsDeliveredAndSpreadOverWorkers) {
  constexpr int kDatagrams = 2000;
  Collector collector;
  std::array<std::atomic<int>, 2> perWorker{};
  std::atomic<int> total{0};
  collector.onEach = [&](const ReceivedMessage& m) {
    perWorker[m.worker % 2].fetch_add(1);
    total.fetch_add(1);
    // Some work per message, as a proxy does: while one worker is busy the other reads.
    const auto until = std::chrono::steady_clock::now() + 20us;
    while (std::chrono::steady_clock::now() < until) {
    }
  };
  auto transport = startTransport(udpOn("127.0.0.1", 2), collector);
  ASSERT_TRUE(transport);
  const net::SocketAddress server = transport->listeners()[0].address;

  Fd client = udpSocket(address("127.0.0.1", 0));
  const std::string payload = sipRequest("burst", 100);
  for (int i = 0; i < kDatagrams; ++i) {
    ASSERT_TRUE(sendDatagram(client.get(), server, payload));
    // Keep at most a few hundred datagrams queued, so that a machine whose receive buffer is
    // capped small (net.core.rmem_max) does not drop them; the workers still see a burst.
    if (i % 100 == 99) eventually([&] { return total.load() >= i - 400; }, 2s);
  }
  eventually([&] { return total.load() >= kDatagrams; }, 4s);
  EXPECT_GE(total.load(), kDatagrams * 99 / 100);
  EXPECT_GT(perWorker[0].load(), 0) << "worker 0 received nothing";
  EXPECT_GT(perWorker[1].load(), 0) << "worker 1 received nothing";
  EXPECT_TRUE(eventually(
      [&] { return transport->stats().udpReceived == static_cast<uint64_t>(total.load()); }));
}

// What a handler sends while the worker handles a receive batch goes out with one sendmmsg after
// the batch: every answer must still arrive, intact and to the right peer.
TEST(Udp, AnswersSentFromTheHandlerAreAllDelivered) {
  constexpr int kBursts = 10;
  constexpr int kBurst = 50;
  Collector collector;
  TransportLayer* self = nullptr;
  std::atomic<int> handled{0};
  collector.onEach = [&](const ReceivedMessage& m) {
    Destination to;
    to.address = m.source;
    to.listener = static_cast<int>(m.listener);
    // An answer that differs per request, so that a mixed-up batch shows.
    EXPECT_EQ(self->send(to, "echo:" + std::string(m.bytes), false), SendStatus::kSent);
    handled.fetch_add(1);
  };
  auto transport = startTransport(udpOn("127.0.0.1", 2), collector);
  ASSERT_TRUE(transport);
  self = transport.get();
  const net::SocketAddress server = transport->listeners()[0].address;

  Fd client = udpSocket(address("127.0.0.1", 0));
  std::vector<std::string> sent;
  std::vector<std::string> answers;
  // Bursts, each read back before the next, so that the client's own receive buffer never
  // overflows while the workers still get several datagrams per recvmmsg.
  for (int burst = 0; burst < kBursts; ++burst) {
    for (int i = 0; i < kBurst; ++i) {
      sent.push_back(sipRequest("answer-" + std::to_string(burst * kBurst + i)));
      ASSERT_TRUE(sendDatagram(client.get(), server, sent.back()));
    }
    while (answers.size() < sent.size()) {
      auto answer = receiveDatagram(client.get(), 3s);
      if (!answer) break;
      answers.push_back(*answer);
    }
  }
  ASSERT_EQ(answers.size(), sent.size());
  // Every request got its own answer (two workers may interleave them).
  std::vector<std::string> expected;
  for (const std::string& request : sent)
    expected.push_back("echo:" + request);
  std::sort(answers.begin(), answers.end());
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(answers, expected);
  EXPECT_EQ(handled.load(), kBursts * kBurst);
  EXPECT_TRUE(eventually(
      [&] { return transport->stats().udpSent == static_cast<uint64_t>(handled.load()); }));
}

TEST(Udp, DatagramAboveTheLimitIsDroppedAndKeepAlivesIgnored) {
  Collector collector;
  Options o = udpOn("127.0.0.1", 1);
  o.maxMessageBytes = 300;
  auto transport = startTransport(o, collector);
  ASSERT_TRUE(transport);
  const net::SocketAddress server = transport->listeners()[0].address;
  Fd client = udpSocket(address("127.0.0.1", 0));
  ASSERT_TRUE(sendDatagram(client.get(), server, std::string(301, 'x')));
  ASSERT_TRUE(sendDatagram(client.get(), server, "\r\n\r\n"));
  ASSERT_TRUE(sendDatagram(client.get(), server, std::string(300, 'y')));
  ASSERT_TRUE(collector.waitFor(1, 3s));
  EXPECT_TRUE(eventually([&] { return transport->stats().udpReceived == 2; }));
  EXPECT_EQ(collector.count(), 1u);
  EXPECT_EQ(collector.messages()[0].bytes, std::string(300, 'y'));
  EXPECT_EQ(transport->stats().udpDropped, 1u);
}

// RFC 3261 §18.1.1: a request above 1300 octets goes over TCP when TCP is available, with the
// transport in its top Via changed to match.
TEST(Udp, LargeRequestSwitchesToTcp) {
  Collector collector;
  Options o;
  o.listen = {{Protocol::kUdp, "127.0.0.1", 0}, {Protocol::kTcp, "127.0.0.1", 0}};
  o.workers = 2;
  auto transport = startTransport(o, collector);
  ASSERT_TRUE(transport);

  Fd server = tcpListen(address("127.0.0.1", 0));
  ASSERT_TRUE(server);
  const net::SocketAddress serverAddress = localAddress(server.get());
  Fd serverUdp = udpSocket(serverAddress);  // same port number, for what stays on UDP
  ASSERT_TRUE(serverUdp);

  const std::string request = sipRequest("big", 1400);
  Destination to;
  to.address = serverAddress;
  to.listener = 0;
  EXPECT_EQ(transport->send(to, request, true), SendStatus::kSent);
  Fd accepted = tcpAccept(server.get(), 3s);
  ASSERT_TRUE(accepted);
  std::string got = receiveAtLeast(accepted.get(), request.size(), 3s);
  std::string expected = request;
  expected.replace(expected.find("SIP/2.0/UDP"), 11, "SIP/2.0/TCP");
  EXPECT_EQ(got, expected);
  EXPECT_EQ(transport->stats().switchedToTcp, 1u);

  // A response of the same size stays on UDP (RFC 3261 §18.2.2), and so does a small request.
  const std::string response = "SIP/2.0 200 OK\r\n" + std::string(1400, 'r');
  EXPECT_EQ(transport->send(to, response, false), SendStatus::kSent);
  EXPECT_EQ(receiveDatagram(serverUdp.get(), 3s).value_or(""), response);
  const std::string small = sipRequest("small", 10);
  EXPECT_EQ(transport->send(to, small, true), SendStatus::kSent);
  EXPECT_EQ(receiveDatagram(serverUdp.get(), 3s).value_or(""), small);
  EXPECT_EQ(transport->stats().switchedToTcp, 1u);
}

TEST(Udp, LargeRequestStaysOnUdpWithoutATcpListener) {
  Collector collector;
  auto transport = startTransport(udpOn("127.0.0.1", 1), collector);
  ASSERT_TRUE(transport);
  Fd peer = udpSocket(address("127.0.0.1", 0));
  Destination to;
  to.address = localAddress(peer.get());
  const std::string request = sipRequest("big-udp", 1400);
  EXPECT_EQ(transport->send(to, request, true), SendStatus::kSent);
  EXPECT_EQ(receiveDatagram(peer.get(), 3s).value_or(""), request);
  EXPECT_EQ(transport->stats().switchedToTcp, 0u);
}

// RFC 3261 §18.1.1: when the TCP connection for a switched request is refused, the request is
// retried over UDP, its Via saying UDP again.
TEST(Udp, SwitchedRequestFallsBackToUdpWhenTcpIsRefused) {
  Collector collector;
  Options o;
  o.listen = {{Protocol::kUdp, "127.0.0.1", 0}, {Protocol::kTcp, "127.0.0.1", 0}};
  o.workers = 1;
  auto transport = startTransport(o, collector);
  ASSERT_TRUE(transport);
  Fd peer = udpSocket(address("127.0.0.1", 0));  // nothing listens on TCP at this port
  Destination to;
  to.address = localAddress(peer.get());
  const std::string request = sipRequest("fallback", 1400);
  EXPECT_EQ(transport->send(to, request, true), SendStatus::kSent);
  EXPECT_EQ(receiveDatagram(peer.get(), 3s).value_or(""), request);
  EXPECT_TRUE(eventually([&] { return transport->stats().udpSent == 1; }));
  auto stats = transport->stats();
  EXPECT_EQ(stats.switchedToTcp, 1u);
  EXPECT_EQ(stats.tcpConnectFailed, 1u);
  EXPECT_EQ(stats.sendErrors, 0u);
}

TEST(Udp, SeveralListenAddresses) {
  const bool v6 = ipv6LoopbackAvailable();
  Collector collector;
  Options o;
  o.listen = {{Protocol::kUdp, "127.0.0.1", 0}, {Protocol::kTcp, "127.0.0.1", 0}};
  if (v6) o.listen.push_back({Protocol::kUdp, "::1", 0});
  o.listen.push_back({Protocol::kUdp, "127.0.0.1", 0});
  o.workers = 2;
  auto transport = startTransport(o, collector);
  ASSERT_TRUE(transport);
  auto listeners = transport->listeners();
  ASSERT_EQ(listeners.size(), o.listen.size());
  for (std::size_t i = 0; i < listeners.size(); ++i)
    EXPECT_EQ(listeners[i].index, i);

  std::size_t expected = 0;
  for (const Listener& l : listeners) {
    if (l.protocol != Protocol::kUdp) continue;
    Fd client = udpSocket(address(l.address.isIpv6() ? "::1" : "127.0.0.1", 0));
    ASSERT_TRUE(sendDatagram(client.get(), l.address, sipRequest("l" + std::to_string(l.index))));
    ASSERT_TRUE(collector.waitFor(++expected, 3s));
    const Received m = collector.messages().back();
    EXPECT_EQ(m.listener, l.index);
    EXPECT_EQ(m.local, l.address);
  }
}

}  // namespace
}  // namespace strowger::transport::testing

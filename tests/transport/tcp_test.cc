// TCP: stream framing (RFC 3261 §18.3), replies on the connection a request came on, outbound
// connections and their reuse, keep-alives (RFC 5626 §4.4.1), idle and framing-error closes.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "test_sockets.h"

namespace strowger::transport::testing {
namespace {

using Options = TransportLayer::Options;

class TcpRoundTrip : public ::testing::TestWithParam<const char*> {};

TEST_P(TcpRoundTrip, MessagesInPiecesRepliesOnTheSameConnection) {
  const std::string host = GetParam();
  if (host == "::1" && !ipv6LoopbackAvailable()) GTEST_SKIP() << "no IPv6 loopback";
  Collector collector;
  std::atomic<TransportLayer*> layer{nullptr};
  // The first reply is sent by the handler on the worker that owns the connection.
  collector.onEach = [&](const ReceivedMessage& m) {
    if (m.bytes.find("Call-ID: first") == std::string_view::npos) return;
    Destination to;
    to.protocol = Protocol::kTcp;
    to.connection = m.connection;
    layer.load()->send(to, "SIP/2.0 200 first\r\nContent-Length: 0\r\n\r\n", false);
  };
  auto transport = startTransport(tcpOn(host), collector);
  ASSERT_TRUE(transport);
  layer = transport.get();
  const Listener& l = transport->listeners()[0];
  EXPECT_EQ(l.protocol, Protocol::kTcp);
  EXPECT_NE(l.address.port(), 0);

  Fd client = tcpConnect(l.address);
  ASSERT_TRUE(client);
  const std::string first = sipRequest("first", 5, "TCP");
  const std::string second = sipRequest("second", 40, "TCP");
  // The first message one octet at a time; the second in three uneven pieces, the last of
  // which starts a keep-alive-free stream of the next message's bytes.
  for (char c : first)
    ASSERT_TRUE(sendAll(client.get(), std::string_view(&c, 1)));
  ASSERT_TRUE(sendAll(client.get(), second.substr(0, 7)));
  std::this_thread::sleep_for(10ms);
  ASSERT_TRUE(sendAll(client.get(), second.substr(7, 200)));
  std::this_thread::sleep_for(10ms);
  ASSERT_TRUE(sendAll(client.get(), second.substr(207)));
  ASSERT_TRUE(collector.waitFor(2, 3s));

  const auto messages = collector.messages();
  EXPECT_EQ(messages[0].bytes, first);
  EXPECT_EQ(messages[1].bytes, second);
  EXPECT_NE(messages[0].connection, 0u);
  EXPECT_EQ(messages[0].connection, messages[1].connection);
  EXPECT_EQ(messages[0].worker, messages[1].worker) << "a connection belongs to one worker";
  EXPECT_EQ(messages[0].protocol, Protocol::kTcp);
  EXPECT_EQ(messages[0].source, localAddress(client.get()));
  EXPECT_EQ(messages[0].local, l.address);
  EXPECT_EQ(messages[0].listener, 0u);

  const std::string firstReply = "SIP/2.0 200 first\r\nContent-Length: 0\r\n\r\n";
  EXPECT_EQ(receiveAtLeast(client.get(), firstReply.size(), 3s), firstReply);

  // The second reply from this thread, which is no worker: the bytes go to the owner.
  Destination to;
  to.protocol = Protocol::kTcp;
  to.connection = messages[1].connection;
  const std::string secondReply = "SIP/2.0 200 second\r\nContent-Length: 0\r\n\r\n";
  EXPECT_EQ(transport->send(to, secondReply, false), SendStatus::kSent);
  EXPECT_EQ(receiveAtLeast(client.get(), secondReply.size(), 3s), secondReply);

  auto stats = transport->stats();
  EXPECT_EQ(stats.tcpAccepted, 1u);
  EXPECT_EQ(stats.tcpReceived, 2u);
  EXPECT_TRUE(eventually([&] { return transport->stats().tcpSent == 2; }));
  EXPECT_EQ(stats.tcpConnections, 1u);
}

INSTANTIATE_TEST_SUITE_P(Loopback, TcpRoundTrip, ::testing::Values("127.0.0.1", "::1"));

TEST(Tcp, SeveralMessagesInOneSegment) {
  Collector collector;
  auto transport = startTransport(tcpOn("127.0.0.1", 1), collector);
  ASSERT_TRUE(transport);
  Fd client = tcpConnect(transport->listeners()[0].address);
  std::string stream;
  for (int i = 0; i < 20; ++i)
    stream += sipRequest("many-" + std::to_string(i), i * 50, "TCP");
  ASSERT_TRUE(sendAll(client.get(), stream));
  ASSERT_TRUE(collector.waitFor(20, 3s));
  const auto messages = collector.messages();
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(messages[i].bytes, sipRequest("many-" + std::to_string(i), i * 50, "TCP"));
  }
}

TEST(Tcp, MessageLargerThanTheFirstBufferGrowsIt) {
  Collector collector;
  auto transport = startTransport(tcpOn("127.0.0.1", 1), collector);
  ASSERT_TRUE(transport);
  Fd client = tcpConnect(transport->listeners()[0].address);
  const std::string big = sipRequest("big", 60000, "TCP");
  ASSERT_TRUE(sendAll(client.get(), big));
  ASSERT_TRUE(collector.waitFor(1, 3s));
  EXPECT_EQ(collector.messages()[0].bytes, big);
}

TEST(Tcp, OutboundConnectionIsOpenedAndReused) {
  Collector collector;
  auto transport = startTransport(tcpOn("127.0.0.1", 2), collector);
  ASSERT_TRUE(transport);
  Fd server = tcpListen(address("127.0.0.1", 0));
  ASSERT_TRUE(server);
  const net::SocketAddress serverAddress = localAddress(server.get());

  Destination to;
  to.protocol = Protocol::kTcp;
  to.address = serverAddress;
  const std::string request = sipRequest("out-1", 0, "TCP");
  EXPECT_EQ(transport->send(to, request, true), SendStatus::kSent);
  Fd accepted = tcpAccept(server.get(), 3s);
  ASSERT_TRUE(accepted);
  EXPECT_EQ(receiveAtLeast(accepted.get(), request.size(), 3s), request);
  EXPECT_TRUE(eventually([&] { return transport->stats().tcpConnected == 1; }));

  // The second request to the same address takes the same connection.
  const std::string again = sipRequest("out-2", 3, "TCP");
  EXPECT_EQ(transport->send(to, again, true), SendStatus::kSent);
  EXPECT_EQ(receiveAtLeast(accepted.get(), again.size(), 3s), again);
  EXPECT_FALSE(tcpAccept(server.get(), 100ms)) << "a second connection was opened";

  // What the peer sends back on it is delivered with the connection's id.
  const std::string response = "SIP/2.0 200 OK\r\nCall-ID: out-1\r\nContent-Length: 0\r\n\r\n";
  ASSERT_TRUE(sendAll(accepted.get(), response));
  ASSERT_TRUE(collector.waitFor(1, 3s));
  const Received m = collector.messages()[0];
  EXPECT_EQ(m.bytes, response);
  EXPECT_EQ(m.source, serverAddress);
  EXPECT_NE(m.connection, 0u);
  EXPECT_EQ(m.listener, 0u);
  EXPECT_EQ(transport->stats().tcpConnected, 1u);
  EXPECT_EQ(transport->stats().tcpAccepted, 0u);
}

TEST(Tcp, RefusedConnectionIsCounted) {
  Collector collector;
  auto transport = startTransport(tcpOn("127.0.0.1", 1), collector);
  ASSERT_TRUE(transport);
  net::SocketAddress closedPort;
  {
    Fd s = tcpListen(address("127.0.0.1", 0));
    closedPort = localAddress(s.get());
  }
  Destination to;
  to.protocol = Protocol::kTcp;
  to.address = closedPort;
  EXPECT_EQ(transport->send(to, sipRequest("refused"), true), SendStatus::kSent);
  EXPECT_TRUE(eventually([&] { return transport->stats().tcpConnectFailed == 1; }));
  EXPECT_TRUE(eventually([&] { return transport->stats().sendErrors == 1; }));
  EXPECT_TRUE(eventually([&] { return transport->stats().tcpConnections == 0; }));
}

TEST(Tcp, ClosedConnectionIdWithoutAddressFails) {
  Collector collector;
  auto transport = startTransport(tcpOn("127.0.0.1", 1), collector);
  ASSERT_TRUE(transport);
  Destination to;
  to.protocol = Protocol::kTcp;
  to.connection = 12345;
  EXPECT_EQ(transport->send(to, "x", false), SendStatus::kConnectFailed);
  Destination v6;
  v6.protocol = Protocol::kTcp;
  v6.address = address("::1", 5060);
  EXPECT_EQ(transport->send(v6, "x", false), SendStatus::kNoRoute) << "no IPv6 TCP listener";
}

// A connection id kept elsewhere (a registration stored in PostgreSQL by another run or node)
// must never carry a message to a peer other than the one the message is for.
TEST(Tcp, KeptConnectionIdNeverSendsToAnotherPeer) {
  Collector collector;
  auto transport = startTransport(tcpOn("127.0.0.1", 1), collector);
  ASSERT_TRUE(transport);
  Fd caller = tcpConnect(transport->listeners()[0].address);
  ASSERT_TRUE(sendAll(caller.get(), sipRequest("from-caller", 0, "TCP")));
  ASSERT_TRUE(collector.waitFor(1, 3s));
  const uint64_t callerConnection = collector.messages()[0].connection;
  EXPECT_GT(callerConnection, 1000u) << "connection ids start at a random point, not at 1";

  Fd phone = tcpListen(address("127.0.0.1", 0));
  ASSERT_TRUE(phone);
  Destination to;
  to.protocol = Protocol::kTcp;
  to.address = localAddress(phone.get());  // the phone, not the caller
  to.connection = callerConnection;        // an id that now names the caller's connection
  const std::string invite = sipRequest("for-the-phone", 0, "TCP");
  EXPECT_EQ(transport->send(to, invite, true), SendStatus::kSent);
  Fd accepted = tcpAccept(phone.get(), 3s);
  ASSERT_TRUE(accepted) << "the message went elsewhere instead of to the phone";
  EXPECT_EQ(receiveAtLeast(accepted.get(), invite.size(), 3s), invite);
  EXPECT_EQ(receiveAtLeast(caller.get(), 1, 200ms), "") << "the caller got the phone's message";
}

TEST(Tcp, IdleConnectionIsClosed) {
  Collector collector;
  Options o = tcpOn("127.0.0.1", 1);
  o.tcpIdleTimeout = std::chrono::seconds(1);
  auto transport = startTransport(o, collector);
  ASSERT_TRUE(transport);
  Fd client = tcpConnect(transport->listeners()[0].address);
  ASSERT_TRUE(sendAll(client.get(), sipRequest("idle", 0, "TCP")));
  ASSERT_TRUE(collector.waitFor(1, 3s));
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(closedByPeer(client.get(), 4s));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 800ms) << "closed before it was idle";
  EXPECT_TRUE(eventually([&] { return transport->stats().tcpClosedIdle == 1; }));
  EXPECT_TRUE(eventually([&] { return transport->stats().tcpConnections == 0; }));
}

TEST(Tcp, FramingErrorClosesTheConnection) {
  Collector collector;
  auto transport = startTransport(tcpOn("127.0.0.1", 1), collector);
  ASSERT_TRUE(transport);
  Fd client = tcpConnect(transport->listeners()[0].address);
  // RFC 3261 §18.3: on a stream, a message without Content-Length cannot be framed.
  ASSERT_TRUE(
      sendAll(client.get(), "OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\n\r\n"));
  EXPECT_TRUE(closedByPeer(client.get(), 3s));
  EXPECT_TRUE(eventually([&] { return transport->stats().tcpFramingErrors == 1; }));
  EXPECT_EQ(collector.count(), 0u);
}

TEST(Tcp, MessageAboveTheLimitClosesTheConnection) {
  Collector collector;
  Options o = tcpOn("127.0.0.1", 1);
  o.maxMessageBytes = 1000;
  auto transport = startTransport(o, collector);
  ASSERT_TRUE(transport);
  Fd client = tcpConnect(transport->listeners()[0].address);
  ASSERT_TRUE(sendAll(client.get(), sipRequest("too-big", 2000, "TCP")));
  EXPECT_TRUE(closedByPeer(client.get(), 3s));
  EXPECT_EQ(collector.count(), 0u);
}

TEST(Tcp, PingGetsPong) {
  Collector collector;
  auto transport = startTransport(tcpOn("127.0.0.1", 1), collector);
  ASSERT_TRUE(transport);
  Fd client = tcpConnect(transport->listeners()[0].address);
  ASSERT_TRUE(sendAll(client.get(), "\r\n\r\n"));
  EXPECT_EQ(receiveAtLeast(client.get(), 2, 3s), "\r\n");
  // The connection stays usable.
  const std::string m = sipRequest("after-ping", 0, "TCP");
  ASSERT_TRUE(sendAll(client.get(), m));
  ASSERT_TRUE(collector.waitFor(1, 3s));
  EXPECT_EQ(collector.messages()[0].bytes, m);
  EXPECT_EQ(transport->stats().tcpSent, 0u) << "a pong is not a message";
}

}  // namespace
}  // namespace strowger::transport::testing

#include "strowger/transaction/transaction.h"

#include <utility>

#include "strowger/sip/reply.h"

namespace strowger::transaction {

using std::chrono::milliseconds;

namespace {

bool isProvisional(uint16_t status) {
  return status >= 100 && status < 200;
}
bool is2xx(uint16_t status) {
  return status >= 200 && status < 300;
}

}  // namespace

std::string_view timerNameText(TimerName timer) noexcept {
  static constexpr std::array<std::string_view, kTimerNameCount> kNames = {
      "A", "B", "C", "D", "E", "F", "G", "H", "I", "J", "K", "100"};
  return kNames[static_cast<std::size_t>(timer)];
}

std::string_view stateName(State state) noexcept {
  switch (state) {
    case State::kCalling:
      return "Calling";
    case State::kTrying:
      return "Trying";
    case State::kProceeding:
      return "Proceeding";
    case State::kCompleted:
      return "Completed";
    case State::kConfirmed:
      return "Confirmed";
    case State::kTerminated:
      return "Terminated";
  }
  return "?";
}

// --- Transaction -------------------------------------------------------------------------------

void Transaction::arm(TimerName timer, milliseconds after) {
  running_[static_cast<std::size_t>(timer)] = true;
  actions_.startTimer(timer, after);
}

void Transaction::disarm(TimerName timer) {
  auto& running = running_[static_cast<std::size_t>(timer)];
  if (!running) return;
  running = false;
  actions_.cancelTimer(timer);
}

bool Transaction::consume(TimerName timer) {
  auto& running = running_[static_cast<std::size_t>(timer)];
  if (!running || state_ == State::kTerminated) return false;
  running = false;
  return true;
}

void Transaction::terminate() {
  if (state_ == State::kTerminated) return;
  for (std::size_t i = 0; i < kTimerNameCount; ++i)
    disarm(static_cast<TimerName>(i));
  state_ = State::kTerminated;
  actions_.terminated();
}

void Transaction::onTransportError() {
  if (state_ == State::kTerminated) return;
  // §17.1.4, §17.2.4: the TU is told, and the transaction is over.
  actions_.transportFailed();
  terminate();
}

// --- §17.1.1 INVITE client ---------------------------------------------------------------------

InviteClientTransaction::InviteClientTransaction(const TimerConfig& config, bool reliable,
                                                 TransactionActions& actions)
    : Transaction(config, reliable, actions) {
  state_ = State::kCalling;
}

void InviteClientTransaction::start(std::string request) {
  request_ = std::move(request);
  state_ = State::kCalling;
  actions_.send(request_, SendKind::kRequest);
  if (!reliable_) {
    intervalA_ = config_.t1;
    arm(TimerName::kA, intervalA_);
  }
  arm(TimerName::kB, config_.timerB());
  if (config_.timerC > milliseconds{0}) arm(TimerName::kC, config_.timerC);
}

void InviteClientTransaction::onResponse(const sip::Message& response) {
  if (!response.isResponse()) return;
  const uint16_t status = response.statusCode();
  switch (state_) {
    case State::kCalling:
    case State::kProceeding:
      if (isProvisional(status)) {
        if (state_ == State::kCalling) {
          // No more retransmissions, and timer B only guards Calling (§17.1.1.2).
          disarm(TimerName::kA);
          disarm(TimerName::kB);
          state_ = State::kProceeding;
        }
        // §16.8: a provisional response (101-199) restarts timer C.
        if (status > 100 && config_.timerC > milliseconds{0} && !cancelling_) {
          arm(TimerName::kC, config_.timerC);
        }
        actions_.passResponse(response);
      } else if (is2xx(status)) {
        // The ACK for a 2xx is the TU's business (end to end); the transaction is over.
        actions_.passResponse(response);
        terminate();
      } else if (status >= 300 && status <= 699) {
        disarm(TimerName::kA);
        disarm(TimerName::kB);
        disarm(TimerName::kC);
        state_ = State::kCompleted;
        sendAck(response);
        actions_.passResponse(response);
        const milliseconds d = config_.timerD(reliable_);
        if (d > milliseconds{0}) {
          arm(TimerName::kD, d);
        } else {
          terminate();
        }
      }
      return;
    case State::kCompleted:
      // A retransmission of the final response: ACK it again, do not pass it up (§17.1.1.2).
      if (status >= 300 && !ack_.empty()) actions_.send(ack_, SendKind::kAck);
      return;
    default:
      return;
  }
}

void InviteClientTransaction::sendAck(const sip::Message& response) {
  ack_.clear();
  sip::Message invite;
  if (!invite.parse(request_)) return;
  if (!buildAckForNon2xx(invite, response, ack_)) {
    ack_.clear();
    return;
  }
  actions_.send(ack_, SendKind::kAck);
}

void InviteClientTransaction::onTimer(TimerName timer) {
  if (!consume(timer)) return;
  switch (timer) {
    case TimerName::kA:
      if (state_ != State::kCalling) return;
      // §17.1.1.2: A doubles without bound; B ends it.
      actions_.send(request_, SendKind::kRequestRetransmission);
      intervalA_ *= 2;
      arm(TimerName::kA, intervalA_);
      return;
    case TimerName::kB:
      if (state_ != State::kCalling) return;
      actions_.timedOut(TimerName::kB);
      terminate();
      return;
    case TimerName::kC:
      // §16.8: without a provisional response the TU acts as on a 408 and the transaction ends;
      // with one, the TU sends a CANCEL and this transaction waits for the final response.
      if (state_ == State::kCalling) {
        actions_.timedOut(TimerName::kC);
        terminate();
      } else if (state_ == State::kProceeding && !cancelling_) {
        // §9.1: a branch whose CANCEL brings no final response within 64*T1 is given up; timer
        // C, re-armed with that, is the guard.
        cancelling_ = true;
        actions_.timedOut(TimerName::kC);
        arm(TimerName::kC, config_.timerB());
      } else if (state_ == State::kProceeding) {
        actions_.timedOut(TimerName::kC);
        terminate();
      }
      return;
    case TimerName::kD:
      if (state_ == State::kCompleted) terminate();
      return;
    default:
      return;
  }
}

// --- §17.1.2 non-INVITE client -----------------------------------------------------------------

NonInviteClientTransaction::NonInviteClientTransaction(const TimerConfig& config, bool reliable,
                                                       TransactionActions& actions)
    : Transaction(config, reliable, actions) {}

void NonInviteClientTransaction::start(std::string request) {
  request_ = std::move(request);
  state_ = State::kTrying;
  actions_.send(request_, SendKind::kRequest);
  if (!reliable_) {
    intervalE_ = config_.t1;
    arm(TimerName::kE, intervalE_);
  }
  arm(TimerName::kF, config_.timerF());
}

void NonInviteClientTransaction::onResponse(const sip::Message& response) {
  if (!response.isResponse()) return;
  const uint16_t status = response.statusCode();
  if (state_ != State::kTrying && state_ != State::kProceeding) return;  // Completed absorbs
  if (isProvisional(status)) {
    state_ = State::kProceeding;
    actions_.passResponse(response);
    return;
  }
  disarm(TimerName::kE);
  disarm(TimerName::kF);
  state_ = State::kCompleted;
  actions_.passResponse(response);
  const milliseconds k = config_.timerK(reliable_);
  if (k > milliseconds{0}) {
    arm(TimerName::kK, k);
  } else {
    terminate();
  }
}

void NonInviteClientTransaction::onTimer(TimerName timer) {
  if (!consume(timer)) return;
  switch (timer) {
    case TimerName::kE:
      if (state_ == State::kTrying) {
        // §17.1.2.2: doubling up to T2.
        actions_.send(request_, SendKind::kRequestRetransmission);
        intervalE_ = std::min(intervalE_ * 2, config_.t2);
        arm(TimerName::kE, intervalE_);
      } else if (state_ == State::kProceeding) {
        // Once a provisional response arrived, every T2.
        actions_.send(request_, SendKind::kRequestRetransmission);
        intervalE_ = config_.t2;
        arm(TimerName::kE, intervalE_);
      }
      return;
    case TimerName::kF:
      if (state_ == State::kTrying || state_ == State::kProceeding) {
        actions_.timedOut(TimerName::kF);
        terminate();
      }
      return;
    case TimerName::kK:
      if (state_ == State::kCompleted) terminate();
      return;
    default:
      return;
  }
}

// --- §17.2.1 INVITE server ---------------------------------------------------------------------

InviteServerTransaction::InviteServerTransaction(const TimerConfig& config, bool reliable,
                                                 TransactionActions& actions)
    : Transaction(config, reliable, actions) {
  state_ = State::kProceeding;
}

void InviteServerTransaction::start(const sip::Message& invite) {
  request_.assign(invite.bytes());
  state_ = State::kProceeding;
  if (config_.trying100 == milliseconds{0}) {
    sendTrying();
  } else if (config_.trying100 > milliseconds{0}) {
    arm(TimerName::kTrying, config_.trying100);
  }
}

void InviteServerTransaction::sendTrying() {
  if (lastStatus_ != 0) return;  // the TU answered first
  sip::Message invite;
  if (!invite.parse(request_)) return;
  lastResponse_.clear();
  sip::buildReply(invite, 100, "Trying", {}, lastResponse_);
  lastStatus_ = 100;
  actions_.send(lastResponse_, SendKind::kResponse);
}

void InviteServerTransaction::onRequest(const sip::Message& request) {
  if (!request.isRequest()) return;
  if (request.method() == sip::Method::kInvite) {
    // §17.2.1: a retransmission is answered with the most recent provisional response in
    // Proceeding, with the final response in Completed; it is absorbed silently otherwise.
    if ((state_ == State::kProceeding || state_ == State::kCompleted) && !lastResponse_.empty()) {
      actions_.send(lastResponse_, SendKind::kResponseRetransmission);
    }
    return;
  }
  if (request.method() == sip::Method::kAck && state_ == State::kCompleted) {
    // §17.2.3: an RFC 2543 ACK matches only if its To tag is the one of the final response (the
    // RFC 2543 key leaves the To tag out so that the ACK finds this transaction at all).
    const auto& via = request.topVia();
    const bool rfc3261 =
        via && via->hasRfc3261Branch() && via->branch.size() > sip::kBranchMagicCookie.size();
    if (!rfc3261) {
      const auto& to = request.to();
      if (!to || to->tag != finalToTag_) return;
    }
    disarm(TimerName::kG);
    disarm(TimerName::kH);
    state_ = State::kConfirmed;
    const milliseconds i = config_.timerI(reliable_);
    if (i > milliseconds{0}) {
      arm(TimerName::kI, i);
    } else {
      terminate();
    }
  }
  // Further ACKs are absorbed in Confirmed.
}

void InviteServerTransaction::respond(uint16_t status, std::string response) {
  if (state_ != State::kProceeding || status < 100 || status > 699) return;
  disarm(TimerName::kTrying);
  lastResponse_ = std::move(response);
  lastStatus_ = status;
  actions_.send(lastResponse_, SendKind::kResponse);
  if (isProvisional(status)) return;
  if (is2xx(status)) {
    // RFC 3261 §17.2.1: retransmitting the 2xx is the TU's job; the transaction ends.
    terminate();
    return;
  }
  state_ = State::kCompleted;
  finalToTag_.clear();
  sip::Message parsed;
  if (parsed.parse(lastResponse_) && parsed.to()) finalToTag_.assign(parsed.to()->tag);
  if (!reliable_) {
    intervalG_ = config_.t1;
    arm(TimerName::kG, intervalG_);
  }
  arm(TimerName::kH, config_.timerH());
}

void InviteServerTransaction::onTimer(TimerName timer) {
  if (!consume(timer)) return;
  switch (timer) {
    case TimerName::kTrying:
      if (state_ == State::kProceeding) sendTrying();
      return;
    case TimerName::kG:
      if (state_ != State::kCompleted) return;
      actions_.send(lastResponse_, SendKind::kResponseRetransmission);
      intervalG_ = std::min(intervalG_ * 2, config_.t2);
      arm(TimerName::kG, intervalG_);
      return;
    case TimerName::kH:
      if (state_ != State::kCompleted) return;
      // The ACK never came (§17.2.1): the TU should know.
      actions_.timedOut(TimerName::kH);
      terminate();
      return;
    case TimerName::kI:
      if (state_ == State::kConfirmed) terminate();
      return;
    default:
      return;
  }
}

// --- §17.2.2 non-INVITE server -----------------------------------------------------------------

NonInviteServerTransaction::NonInviteServerTransaction(const TimerConfig& config, bool reliable,
                                                       TransactionActions& actions)
    : Transaction(config, reliable, actions) {}

void NonInviteServerTransaction::start(const sip::Message& /*request*/) {
  state_ = State::kTrying;
}

void NonInviteServerTransaction::onRequest(const sip::Message& request) {
  if (!request.isRequest()) return;
  // §17.2.2: discarded in Trying; the last response again in Proceeding and Completed.
  if ((state_ == State::kProceeding || state_ == State::kCompleted) && !lastResponse_.empty()) {
    actions_.send(lastResponse_, SendKind::kResponseRetransmission);
  }
}

void NonInviteServerTransaction::respond(uint16_t status, std::string response) {
  if (state_ != State::kTrying && state_ != State::kProceeding) return;
  if (status < 100 || status > 699) return;
  lastResponse_ = std::move(response);
  lastStatus_ = status;
  actions_.send(lastResponse_, SendKind::kResponse);
  if (isProvisional(status)) {
    state_ = State::kProceeding;
    return;
  }
  state_ = State::kCompleted;
  const milliseconds j = config_.timerJ(reliable_);
  if (j > milliseconds{0}) {
    arm(TimerName::kJ, j);
  } else {
    terminate();
  }
}

void NonInviteServerTransaction::onTimer(TimerName timer) {
  if (!consume(timer)) return;
  if (timer == TimerName::kJ && state_ == State::kCompleted) terminate();
}

// --- §17.1.1.3 ACK for a non-2xx final response ------------------------------------------------

bool buildAckForNon2xx(const sip::Message& invite, const sip::Message& response, std::string& out) {
  const auto& via = invite.topVia();
  const auto& cseq = invite.cseq();
  const auto& callId = invite.callId();
  const sip::HeaderField* from = invite.find(sip::HeaderId::kFrom);
  const sip::HeaderField* to = response.find(sip::HeaderId::kTo);
  if (!invite.isRequest() || !via || !cseq || !callId || from == nullptr || to == nullptr) {
    return false;
  }
  const std::string number = std::to_string(cseq->number);
  out.append("ACK ").append(invite.requestUriText()).append(" SIP/2.0\r\n");
  // Only the top Via: the ACK takes the INVITE's hop and no further (§17.1.1.3).
  out.append("Via: ").append(via->raw).append("\r\n");
  // Route headers of the INVITE, as written, in order.
  for (const sip::HeaderField& route : invite.all(sip::HeaderId::kRoute)) {
    out.append("Route: ").append(route.value).append("\r\n");
  }
  const sip::HeaderField* maxForwards = invite.find(sip::HeaderId::kMaxForwards);
  out.append("Max-Forwards: ")
      .append(maxForwards != nullptr ? maxForwards->value : std::string_view("70"))
      .append("\r\n");
  out.append("From: ").append(from->value).append("\r\n");
  out.append("To: ").append(to->value).append("\r\n");
  out.append("Call-ID: ").append(*callId).append("\r\n");
  out.append("CSeq: ").append(number).append(" ACK\r\n");
  out.append("Content-Length: 0\r\n\r\n");
  return true;
}

// --- §9.1 CANCEL --------------------------------------------------------------------------------

bool buildCancel(const sip::Message& request, std::string& out) {
  const auto& via = request.topVia();
  const auto& cseq = request.cseq();
  const auto& callId = request.callId();
  const sip::HeaderField* from = request.find(sip::HeaderId::kFrom);
  const sip::HeaderField* to = request.find(sip::HeaderId::kTo);
  if (!request.isRequest() || !via || !cseq || !callId || from == nullptr || to == nullptr) {
    return false;
  }
  out.append("CANCEL ").append(request.requestUriText()).append(" SIP/2.0\r\n");
  // The top Via only, so that the CANCEL matches the request's transaction at the next hop.
  out.append("Via: ").append(via->raw).append("\r\n");
  for (const sip::HeaderField& route : request.all(sip::HeaderId::kRoute)) {
    out.append("Route: ").append(route.value).append("\r\n");
  }
  out.append("Max-Forwards: 70\r\n");
  out.append("From: ").append(from->value).append("\r\n");
  out.append("To: ").append(to->value).append("\r\n");
  out.append("Call-ID: ").append(*callId).append("\r\n");
  out.append("CSeq: ").append(std::to_string(cseq->number)).append(" CANCEL\r\n");
  out.append("Content-Length: 0\r\n\r\n");
  return true;
}

}  // namespace strowger::transaction

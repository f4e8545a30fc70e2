#include "services/broker/grpc/subscribe_reactor.h"

#include <grpc/slice.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "nsq/v1/broker.pb.h"
#include "services/broker/grpc/call_auth.h"
#include "services/broker/grpc/status.h"
#include "services/broker/grpc/subscribe_codec.h"

namespace nsq::broker {
namespace {

using ::nsq::v1::SubscribeRequest;
using ::nsq::v1::SubscribeResponse;

// Set while the engine calls a DeliverySink (with a channel lock held). gRPC 1.51 runs
// reactions for non-inlineable reactors on its executor, never inline in the thread
// that started an operation; a reaction seen here would deadlock on the channel lock in
// the engine, so it is a broken invariant.
thread_local int t_in_engine_callback = 0;

class SubscribeReactor;
// The reactor whose OnReadDone runs on this thread. Deliveries to it caused by its own
// command (a FIN or RDY letting more messages out) only queue: OnReadDone builds and
// writes the response after the engine call returns, outside the channel lock.
thread_local const SubscribeReactor* t_reading_reactor = nullptr;

void CheckNotInEngineCallback(const char* reaction) {
  if (t_in_engine_callback != 0) {
    std::fprintf(stderr, "BrokerService: gRPC ran %s inline inside an engine callback\n",
                 reaction);
    std::abort();
  }
}

absl::string_view PeerAddress(absl::string_view peer) {
  for (absl::string_view prefix : {"ipv4:", "ipv6:", "unix:"}) {
    if (absl::StartsWith(peer, prefix)) return peer.substr(prefix.size());
  }
  return peer;
}

// One Subscribe stream: a consumer of one channel. It is the consumer's DeliverySink, so
// the engine pushes messages into it from whichever thread dispatches (with the channel
// lock held); gRPC calls the reactions from its executor threads. All state shared by
// them is guarded by mu_. Lock order: engine locks, then mu_; the engine is never called
// with mu_ held.
//
// Writes: one StartWrite is outstanding at a time. Deliveries accumulate in pending_
// while a write is on the wire; the next response is built from them in the spare of
// two output buffers (by the thread holding the "building" token, outside mu_), so
// each write carries everything that arrived meanwhile, up to the response bounds.
//
// The stream is a raw (ByteBuffer) method: responses are encoded straight from the
// deliveries and FIN commands are read without a string per id (subscribe_codec.h);
// clients see the ordinary SubscribeRequest/SubscribeResponse messages.
class SubscribeReactor final : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>,
                               public DeliverySink {
 public:
  SubscribeReactor(Engine* engine, SubscribeReactorOptions options,
                   grpc::CallbackServerContext* context)
      : engine_(engine), options_(options), context_(context) {
    StartRead(&read_buffer_);
  }

  // DeliverySink. Called with the channel lock held: queue and maybe start a write.
  void Deliver(std::vector<Delivery>& batch) override {
    ++t_in_engine_callback;
    bool start = false;
    bool cancel = false;
    {
      absl::MutexLock lock(&mu_);
      if (!finishing_) {
        if (pending_head_ == pending_.size()) {
          pending_.clear();
          pending_head_ = 0;
          pending_.swap(batch);  // the engine gets our spare capacity back
        } else {
          pending_.insert(pending_.end(), std::make_move_iterator(batch.begin()),
                          std::make_move_iterator(batch.end()));
        }
        start = !writing_ && !building_ && !spare_ready_ && t_reading_reactor != this;
        cancel = WriteStuckLocked();
      }
    }
    // gRPC runs OnCancel on its executor, never inline: no engine call from here.
    if (cancel) context_->TryCancel();
    if (start) Pump(/*build_while_writing=*/false);
    --t_in_engine_callback;
  }

  void Closed(const absl::Status& why) override {
    ++t_in_engine_callback;
    EndStream(ToGrpcStatus(why), /*close_consumer=*/false);
    --t_in_engine_callback;
  }

  void OnReadDone(bool ok) override {
    CheckNotInEngineCallback("OnReadDone");
    if (!ok) {
      // The client half-closed or the stream broke: nothing more will be finished, so
      // its messages go to other consumers now.
      EndStream(grpc::Status::OK, /*close_consumer=*/true);
      return;
    }
    t_reading_reactor = this;
    const bool more = HandleRequest();
    t_reading_reactor = nullptr;
    AfterCommand(more);
  }

  // After a command ran (on a reaction thread, or the auth worker for a subscribe that
  // waited for its authorization): writes what it queued and reads the next one.
  void AfterCommand(bool more) {
    // What the command queued (messages it let out, errors, the subscribed reply).
    Pump(/*build_while_writing=*/true);
    if (!more) return;
    {
      // A client that sends commands answered with errors but does not read them is
      // not read either (HTTP/2 flow control pushes back on it); OnWriteDone resumes.
      absl::MutexLock lock(&mu_);
      if (pending_errors_.size() >= options_.max_pending_errors) {
        read_paused_ = true;
        return;
      }
    }
    StartRead(&read_buffer_);
  }

  void OnWriteDone(bool ok) override {
    CheckNotInEngineCallback("OnWriteDone");
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
    }
    if (!ok) {
      EndStream(grpc::Status(grpc::StatusCode::UNAVAILABLE, "write failed"),
                /*close_consumer=*/true);
      return;
    }
    Pump(/*build_while_writing=*/true);
    bool resume = false;
    {
      absl::MutexLock lock(&mu_);
      if (read_paused_ && !finishing_ &&
          pending_errors_.size() <= options_.max_pending_errors / 2) {
        read_paused_ = false;
        resume = true;
      }
    }
    if (resume) StartRead(&read_buffer_);
  }

  void OnCancel() override {
    CheckNotInEngineCallback("OnCancel");
    EndStream(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"), /*close_consumer=*/true);
  }

  void OnDone() override {
    CheckNotInEngineCallback("OnDone");
    std::shared_ptr<Consumer> consumer;
    {
      absl::MutexLock lock(&mu_);
      consumer = std::move(consumer_);
    }
    // Close() returns once the engine has dropped this sink: no Deliver/Closed after it.
    if (consumer != nullptr) consumer->Close();
    consumer.reset();
    delete this;
  }

 private:
  struct PendingError {
    int code;
    std::string message;
    std::string id;
  };

  // The bytes of the request just read, valid until the next read.
  absl::string_view RequestBytes() {
    if (read_buffer_.TrySingleSlice(&read_slice_).ok()) {
      return absl::string_view(reinterpret_cast<const char*>(read_slice_.begin()),
                               read_slice_.size());
    }
    read_slices_.clear();
    read_flat_.clear();
    if (read_buffer_.Dump(&read_slices_).ok()) {
      for (const grpc::Slice& slice : read_slices_) {
        read_flat_.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
      }
    }
    return read_flat_;
  }

  // Runs one client request; false when the stream is ending (no further read).
  bool HandleRequest() {
    const absl::string_view bytes = RequestBytes();
    if (subscribe_codec::DecodeFinishOnly(bytes, &fin_views_)) {
      std::shared_ptr<Consumer> consumer = SubscribedConsumer();
      if (consumer == nullptr) return false;
      HandleFinish(*consumer);
      return true;
    }
    if (!request_.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
      EndStream(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                             "E_INVALID cannot parse SubscribeRequest"),
                /*close_consumer=*/true);
      return false;
    }
    return HandleCommand();
  }

  // The consumer for a command other than subscribe; null (the stream is ending) if
  // there is none.
  std::shared_ptr<Consumer> SubscribedConsumer() {
    std::shared_ptr<Consumer> consumer;
    {
      absl::MutexLock lock(&mu_);
      if (finishing_) return nullptr;
      consumer = consumer_;
    }
    if (consumer == nullptr) {
      EndStream(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                             "E_INVALID subscribe must be the first command"),
                /*close_consumer=*/false);
    }
    return consumer;
  }

  // Runs the parsed command in request_.
  bool HandleCommand() {
    switch (request_.command_case()) {
      case SubscribeRequest::kSubscribe:
        return HandleSubscribe(request_.subscribe());
      case SubscribeRequest::kReady:
      case SubscribeRequest::kFinish:
      case SubscribeRequest::kRequeue:
      case SubscribeRequest::kTouch:
        break;
      case SubscribeRequest::COMMAND_NOT_SET:
        EndStream(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "E_INVALID empty command"),
                  /*close_consumer=*/true);
        return false;
    }
    std::shared_ptr<Consumer> consumer = SubscribedConsumer();
    if (consumer == nullptr) return false;
    switch (request_.command_case()) {
      case SubscribeRequest::kReady: {
        absl::Status status = consumer->SetReady(request_.ready().count());
        if (!status.ok()) {
          EndStream(ToGrpcStatus(status), /*close_consumer=*/true);
          return false;
        }
        return true;
      }
      case SubscribeRequest::kFinish:
        fin_views_.clear();
        for (const std::string& id : request_.finish().ids()) fin_views_.emplace_back(id);
        HandleFinish(*consumer);
        return true;
      case SubscribeRequest::kRequeue: {
        const auto& requeue = request_.requeue();
        MessageId id;
        if (!MessageId::FromBytes(requeue.id(), &id)) {
          AddError(InvalidIdError("REQ", requeue.id()));
        } else {
          const absl::Duration delay = absl::Milliseconds(requeue.delay_ms());
          absl::Status status = requeue.without_attempt() ? consumer->RequeueWithoutAttempt(id, delay)
                                                          : consumer->Requeue(id, delay);
          if (!status.ok()) AddError(CommandError("E_REQ_FAILED", status, requeue.id()));
        }
        return true;
      }
      case SubscribeRequest::kTouch:
        for (const std::string& raw : request_.touch().ids()) {
          MessageId id;
          if (!MessageId::FromBytes(raw, &id)) {
            AddError(InvalidIdError("TOUCH", raw));
            continue;
          }
          absl::Status status = consumer->Touch(id);
          if (!status.ok()) AddError(CommandError("E_TOUCH_FAILED", status, raw));
        }
        return true;
      default:
        return true;
    }
  }

  bool HandleSubscribe(const SubscribeRequest::Subscribe& sub) {
    bool again = false;
    {
      absl::MutexLock lock(&mu_);
      if (finishing_) return false;
      again = subscribed_;
      subscribed_ = true;
    }
    if (again) {
      EndStream(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                             "E_INVALID cannot SUB in current state"),
                /*close_consumer=*/true);
      return false;
    }
    if (options_.authorizer != nullptr) {
      Access access = Access::Subscribe(sub.topic(), sub.channel());
      auth::AuthRequest auth_request;
      std::optional<absl::Status> now = options_.authorizer->CheckNow(context_, access, &auth_request);
      if (!now.has_value()) {
        // No reaction is pending while the auth server is asked (no read, no write), and
        // Pump does not finish the stream until authorizing_ is cleared: the reactor
        // outlives the query.
        {
          absl::MutexLock lock(&mu_);
          authorizing_ = true;
        }
        options_.authorizer->CheckLater(
            std::move(auth_request), std::move(access),
            [this, sub = SubscribeRequest::Subscribe(sub)](absl::Status st) { Authorized(st, sub); });
        return false;
      }
      if (!now->ok()) {
        EndStream(ToGrpcStatus(*now), /*close_consumer=*/false);
        return false;
      }
    }
    return Subscribe(sub);
  }

  // The authorization of a subscribe came (on the auth worker).
  void Authorized(const absl::Status& st, const SubscribeRequest::Subscribe& sub) {
    bool finishing = false;
    {
      absl::MutexLock lock(&mu_);
      authorizing_ = false;
      finishing = finishing_;
    }
    if (finishing) return Pump(/*build_while_writing=*/true);  // cancelled meanwhile
    if (!st.ok()) {
      EndStream(ToGrpcStatus(st), /*close_consumer=*/false);
      return;
    }
    t_reading_reactor = this;
    const bool more = Subscribe(sub);
    t_reading_reactor = nullptr;
    AfterCommand(more);
  }

  // Subscribes this stream's consumer (authorized); false when the stream is ending.
  bool Subscribe(const SubscribeRequest::Subscribe& sub) {
    ConsumerInfo info;
    info.client_id = sub.client_id();
    info.hostname = sub.hostname();
    info.user_agent = sub.user_agent();
    info.topology_zone = sub.topology_zone();
    info.topology_region = sub.topology_region();
    info.remote_address = std::string(PeerAddress(context_->peer()));
    info.protocol = "grpc";
    info.msg_timeout = absl::Milliseconds(sub.msg_timeout_ms());
    absl::StatusOr<std::shared_ptr<Consumer>> consumer =
        engine_->Subscribe(sub.topic(), sub.channel(), std::move(info), this);
    if (!consumer.ok()) {
      EndStream(ToGrpcStatus(consumer.status()), /*close_consumer=*/false);
      return false;
    }
    std::shared_ptr<Consumer> close_now;
    {
      absl::MutexLock lock(&mu_);
      consumer_ = *std::move(consumer);
      // Cancelled while subscribing: EndStream found no consumer to close then.
      if (finishing_ && close_wanted_) close_now = consumer_;
      if (!finishing_) ack_pending_ = true;
    }
    if (close_now != nullptr) {
      close_now->Close();
      return false;
    }
    return true;
  }

  // FIN of the ids in fin_views_, in one engine call.
  void HandleFinish(Consumer& consumer) {
    fin_ids_.clear();
    fin_valid_.clear();
    for (absl::string_view raw : fin_views_) {
      MessageId id;
      if (!MessageId::FromBytes(std::string_view(raw.data(), raw.size()), &id)) {
        AddError(InvalidIdError("FIN", raw));
        continue;
      }
      fin_ids_.push_back(id);
      fin_valid_.push_back(raw);
    }
    if (fin_ids_.empty()) return;
    std::vector<absl::Status> statuses = consumer.FinishBatch(fin_ids_);
    for (size_t i = 0; i < statuses.size() && i < fin_valid_.size(); ++i) {
      if (!statuses[i].ok()) AddError(CommandError("E_FIN_FAILED", statuses[i], fin_valid_[i]));
    }
  }

  static PendingError InvalidIdError(absl::string_view command, absl::string_view raw) {
    return PendingError{
        static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT),
        absl::StrCat("E_INVALID ", command, " invalid message id (", raw.size(),
                     " bytes, want ", MessageId::kSize, ")"),
        std::string(raw)};
  }

  // NSQ's wording: "E_FIN_FAILED FIN <id> failed ID not in flight"; the engine's
  // message is "FIN <id> failed ...".
  static PendingError CommandError(absl::string_view nsq_code, const absl::Status& status,
                                   absl::string_view raw) {
    return PendingError{static_cast<int>(status.code()),
                        Printable(absl::StrCat(nsq_code, " ", status.message())),
                        std::string(raw)};
  }

  void AddError(PendingError error) {
    bool start = false;
    bool cancel = false;
    {
      absl::MutexLock lock(&mu_);
      if (finishing_) return;
      pending_errors_.push_back(std::move(error));
      start = !writing_ && !building_ && !spare_ready_ && t_reading_reactor != this;
      cancel = WriteStuckLocked();
    }
    if (cancel) context_->TryCancel();
    if (start) Pump(/*build_while_writing=*/false);
  }

  // A write has been on the wire for longer than write_timeout: the client is not
  // reading. Reported once; the caller cancels the stream (OnCancel ends it and closes
  // the consumer, whose in-flight messages go back to the channel).
  bool WriteStuckLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!writing_ || cancel_requested_ || finishing_) return false;
    if (engine_->clock()->Now() - write_started_ <= options_.write_timeout) return false;
    cancel_requested_ = true;
    return true;
  }

  // Ends the stream with `status` (the first reason wins) once no write is in flight.
  // With close_consumer the engine consumer is closed right away, so its in-flight
  // messages go to other consumers (not from engine callbacks: the engine has already
  // dropped the consumer there).
  void EndStream(grpc::Status status, bool close_consumer) {
    std::shared_ptr<Consumer> consumer;
    {
      absl::MutexLock lock(&mu_);
      if (!finishing_) {
        finishing_ = true;
        finish_status_ = std::move(status);
        pending_.clear();
        pending_.shrink_to_fit();
        pending_head_ = 0;
        pending_errors_.clear();
        ack_pending_ = false;
      }
      if (close_consumer) {
        close_wanted_ = true;
        consumer = consumer_;
      }
    }
    if (consumer != nullptr) consumer->Close();
    Pump(/*build_while_writing=*/false);
  }

  bool HasPendingLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return ack_pending_ || !pending_errors_.empty() || pending_head_ < pending_.size();
  }

  // Moves the next response's content out of the pending state into the builder's
  // scratch (taken_, taken_errors_, taken_ack_).
  void TakeLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    taken_.clear();
    taken_errors_.clear();
    taken_ack_ = ack_pending_;
    ack_pending_ = false;
    taken_errors_.swap(pending_errors_);
    // The subscribed reply goes alone, before any message.
    if (taken_ack_) return;
    const size_t max_messages = static_cast<size_t>(std::max<int64_t>(1, options_.max_response_messages));
    const int64_t max_bytes = options_.max_response_bytes;
    int64_t bytes = 0;
    size_t end = pending_head_;
    while (end < pending_.size() && end - pending_head_ < max_messages) {
      const int64_t size = static_cast<int64_t>(pending_[end].message->body.size());
      if (end > pending_head_ && bytes + size > max_bytes) break;
      bytes += size;
      ++end;
    }
    if (pending_head_ == 0 && end == pending_.size()) {
      taken_.swap(pending_);
    } else {
      taken_.insert(taken_.end(), std::make_move_iterator(pending_.begin() + pending_head_),
                    std::make_move_iterator(pending_.begin() + end));
    }
    pending_head_ = end;
    if (pending_head_ >= pending_.size()) {
      pending_.clear();
      pending_head_ = 0;
    } else if (pending_head_ > 4096 && pending_head_ * 2 > pending_.size()) {
      pending_.erase(pending_.begin(), pending_.begin() + pending_head_);
      pending_head_ = 0;
    }
  }

  // Encodes the builder's scratch into `out`: the subscribed reply and errors through
  // protobuf, then the messages straight from the deliveries, in one slice. Runs outside
  // mu_ by the token holder.
  void Build(grpc::ByteBuffer* out) {
    header_.Clear();
    if (taken_ack_) {
      header_.set_subscribed(true);
      header_.set_max_rdy_count(engine_->options().max_rdy_count);
    }
    for (PendingError& e : taken_errors_) {
      SubscribeResponse::Error* error = header_.add_errors();
      error->set_code(e.code);
      error->set_message(std::move(e.message));
      error->set_id(std::move(e.id));
    }
    taken_errors_.clear();
    const size_t header_size = header_.ByteSizeLong();
    const size_t size = header_size + subscribe_codec::EncodedMessagesSize(taken_);
    grpc_slice slice = grpc_slice_malloc(size);
    // Written before the slice is wrapped: a small slice's bytes live inside `slice`.
    char* p = reinterpret_cast<char*>(GRPC_SLICE_START_PTR(slice));
    if (header_size > 0) {
      header_.SerializeWithCachedSizesToArray(reinterpret_cast<uint8_t*>(p));
    }
    subscribe_codec::EncodeMessages(taken_, p + header_size);
    taken_.clear();
    grpc::Slice wrapped(slice, grpc::Slice::STEAL_REF);
    *out = grpc::ByteBuffer(&wrapped, 1);
  }

  // Moves the write pipeline forward: writes a built response if nothing is on the wire,
  // builds the next one from what is pending, and finishes the stream once it is idle.
  // With build_while_writing (gRPC reaction threads), it also builds the spare while a
  // write is in flight; engine callbacks only build when the wire is idle. Called
  // without mu_; never calls the engine.
  void Pump(bool build_while_writing) {
    mu_.Lock();
    for (;;) {
      if (finish_called_) break;
      if (finishing_) {
        spare_ready_ = false;
        if (writing_ || building_ || authorizing_) break;
        finish_called_ = true;
        grpc::Status status = finish_status_;
        mu_.Unlock();
        Finish(std::move(status));
        return;
      }
      if (spare_ready_) {
        if (writing_) break;
        spare_ready_ = false;
        writing_ = true;
        write_started_ = engine_->clock()->Now();
        wire_ = 1 - wire_;
        grpc::ByteBuffer* response = &responses_[wire_];
        mu_.Unlock();
        StartWrite(response);
        mu_.Lock();
        continue;
      }
      if (building_ || !HasPendingLocked()) break;
      if (writing_ && !build_while_writing) break;
      building_ = true;
      TakeLocked();
      grpc::ByteBuffer* spare = &responses_[1 - wire_];
      mu_.Unlock();
      Build(spare);
      mu_.Lock();
      building_ = false;
      spare_ready_ = true;
    }
    mu_.Unlock();
  }

  Engine* const engine_;
  const SubscribeReactorOptions options_;
  grpc::CallbackServerContext* const context_;

  // Used only by OnReadDone (gRPC allows one read outstanding).
  grpc::ByteBuffer read_buffer_;
  grpc::Slice read_slice_;
  std::vector<grpc::Slice> read_slices_;
  std::string read_flat_;
  SubscribeRequest request_;
  std::vector<absl::string_view> fin_views_;
  std::vector<MessageId> fin_ids_;
  std::vector<absl::string_view> fin_valid_;

  // Used only by the holder of the building token (building_).
  std::vector<Delivery> taken_;
  std::vector<PendingError> taken_errors_;
  bool taken_ack_ = false;
  SubscribeResponse header_;
  // responses_[wire_] is on the wire (or was last written); the other is the spare.
  // Each is touched only by the thread that owns it through writing_/building_.
  grpc::ByteBuffer responses_[2];

  absl::Mutex mu_;
  int wire_ ABSL_GUARDED_BY(mu_) = 0;
  std::shared_ptr<Consumer> consumer_ ABSL_GUARDED_BY(mu_);
  bool subscribed_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<Delivery> pending_ ABSL_GUARDED_BY(mu_);
  size_t pending_head_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<PendingError> pending_errors_ ABSL_GUARDED_BY(mu_);
  bool ack_pending_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time write_started_ ABSL_GUARDED_BY(mu_);  // engine clock, of the write in flight
  bool cancel_requested_ ABSL_GUARDED_BY(mu_) = false;
  bool read_paused_ ABSL_GUARDED_BY(mu_) = false;  // past max_pending_errors
  bool building_ ABSL_GUARDED_BY(mu_) = false;
  bool spare_ready_ ABSL_GUARDED_BY(mu_) = false;
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;
  bool close_wanted_ ABSL_GUARDED_BY(mu_) = false;
  bool finish_called_ ABSL_GUARDED_BY(mu_) = false;
  bool authorizing_ ABSL_GUARDED_BY(mu_) = false;  // the subscribe waits for the auth server
  grpc::Status finish_status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* NewSubscribeReactor(
    Engine* engine, SubscribeReactorOptions options, grpc::CallbackServerContext* context) {
  return new SubscribeReactor(engine, options, context);
}

}  // namespace nsq::broker

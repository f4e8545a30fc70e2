#include "services/broker/grpc/broker_service.h"

#include <grpc/slice.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/support/message_allocator.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/grpc/server_options.h"
#include "nsq/v1/broker.grpc.pb.h"
#include "services/broker/grpc/subscribe_codec.h"

namespace nsq::broker {
namespace {

using ::nsq::v1::SubscribeRequest;
using ::nsq::v1::SubscribeResponse;

// Framing allowed on top of --max-body-size: the topic name, field tags and lengths.
// Each body costs at most 4 bytes of framing below 2 MiB, as in an MPUB body.
constexpr int64_t kRequestOverheadBytes = 64 * 1024;

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

// Proto3 strings must be valid UTF-8; ids come from clients and may be any 16 bytes.
// (Debian's absl::string_view is its own type, not std::string_view.)
std::string Printable(absl::string_view text) {
  for (unsigned char c : text) {
    if (c < 0x20 || c >= 0x7f) return absl::CHexEscape(text);
  }
  return std::string(text);
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
  SubscribeReactor(Engine* engine, const BrokerServiceOptions* options,
                   grpc::CallbackServerContext* context)
      : engine_(engine), options_(options), context_(context) {
    StartRead(&read_buffer_);
  }

  // DeliverySink. Called with the channel lock held: queue and maybe start a write.
  void Deliver(std::vector<Delivery>& batch) override {
    ++t_in_engine_callback;
    bool start = false;
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
      }
    }
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
    // What the command queued (messages it let out, errors, the subscribed reply).
    Pump(/*build_while_writing=*/true);
    if (more) StartRead(&read_buffer_);
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
          absl::Status status = consumer->Requeue(id, absl::Milliseconds(requeue.delay_ms()));
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
    ConsumerInfo info;
    info.client_id = sub.client_id();
    info.hostname = sub.hostname();
    info.user_agent = sub.user_agent();
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
    {
      absl::MutexLock lock(&mu_);
      if (finishing_) return;
      pending_errors_.push_back(std::move(error));
      start = !writing_ && !building_ && !spare_ready_ && t_reading_reactor != this;
    }
    if (start) Pump(/*build_while_writing=*/false);
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
    const size_t max_messages = static_cast<size_t>(std::max<int64_t>(1, options_->max_response_messages));
    const int64_t max_bytes = options_->max_response_bytes;
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
        if (writing_ || building_) break;
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
  const BrokerServiceOptions* const options_;
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
  bool building_ ABSL_GUARDED_BY(mu_) = false;
  bool spare_ready_ ABSL_GUARDED_BY(mu_) = false;
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;
  bool close_wanted_ ABSL_GUARDED_BY(mu_) = false;
  bool finish_called_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status finish_status_ ABSL_GUARDED_BY(mu_);
};

// Recycles Publish request/response objects. Protobuf keeps the strings of a cleared
// repeated field, with their capacity, for the next parse: a batch parsed into a
// recycled request allocates nothing per body, and the response's ids likewise. Objects
// that grew large are freed instead of pinning memory. Thread-safe.
class PublishMessagePool final
    : public grpc::MessageAllocator<nsq::v1::PublishRequest, nsq::v1::PublishResponse> {
 public:
  ~PublishMessagePool() override {
    absl::MutexLock lock(&mu_);
    for (Holder* holder : free_) delete holder;
  }

  grpc::MessageHolder<nsq::v1::PublishRequest, nsq::v1::PublishResponse>* AllocateMessages()
      override {
    {
      absl::MutexLock lock(&mu_);
      if (!free_.empty()) {
        Holder* holder = free_.back();
        free_.pop_back();
        return holder;
      }
    }
    return new Holder(this);
  }

 private:
  static constexpr size_t kMaxPooled = 32;
  static constexpr int64_t kMaxPooledBytes = 1024 * 1024;

  class Holder final
      : public grpc::MessageHolder<nsq::v1::PublishRequest, nsq::v1::PublishResponse> {
   public:
    explicit Holder(PublishMessagePool* pool) : pool_(pool) {
      set_request(&request_);
      set_response(&response_);
    }
    void Release() override { pool_->Recycle(this); }

    nsq::v1::PublishRequest request_;
    nsq::v1::PublishResponse response_;

   private:
    PublishMessagePool* const pool_;
  };

  void Recycle(Holder* holder) {
    // SpaceUsedLong counts cleared-but-kept elements too.
    if (static_cast<int64_t>(holder->request_.SpaceUsedLong() +
                             holder->response_.SpaceUsedLong()) > kMaxPooledBytes) {
      delete holder;
      return;
    }
    holder->request_.Clear();
    holder->response_.Clear();
    {
      absl::MutexLock lock(&mu_);
      if (free_.size() < kMaxPooled) {
        free_.push_back(holder);
        return;
      }
    }
    delete holder;
  }

  absl::Mutex mu_;
  std::vector<Holder*> free_ ABSL_GUARDED_BY(mu_);
};

// The generated CallbackService, except that Subscribe is a raw (ByteBuffer) method.
using BrokerServiceBase = nsq::v1::Broker::WithCallbackMethod_Publish<
    nsq::v1::Broker::WithRawCallbackMethod_Subscribe<
    nsq::v1::Broker::WithCallbackMethod_CreateTopic<
    nsq::v1::Broker::WithCallbackMethod_DeleteTopic<
    nsq::v1::Broker::WithCallbackMethod_EmptyTopic<
    nsq::v1::Broker::WithCallbackMethod_PauseTopic<
    nsq::v1::Broker::WithCallbackMethod_UnpauseTopic<
    nsq::v1::Broker::WithCallbackMethod_CreateChannel<
    nsq::v1::Broker::WithCallbackMethod_DeleteChannel<
    nsq::v1::Broker::WithCallbackMethod_EmptyChannel<
    nsq::v1::Broker::WithCallbackMethod_PauseChannel<
    nsq::v1::Broker::WithCallbackMethod_UnpauseChannel<
    nsq::v1::Broker::WithCallbackMethod_GetStats<
    nsq::v1::Broker::Service>>>>>>>>>>>>>;

class BrokerServiceImpl final : public BrokerServiceBase {
 public:
  BrokerServiceImpl(Engine* engine, BrokerServiceOptions options)
      : engine_(engine), options_(std::move(options)) {
    SetMessageAllocatorFor_Publish(&publish_pool_);
  }

  grpc::ServerUnaryReactor* Publish(grpc::CallbackServerContext* context,
                                    const nsq::v1::PublishRequest* request,
                                    nsq::v1::PublishResponse* response) override {
    thread_local std::vector<std::string_view> bodies;
    bodies.clear();
    bodies.reserve(request->bodies_size());
    int64_t total = 0;
    for (const std::string& body : request->bodies()) {
      bodies.push_back(body);
      total += static_cast<int64_t>(body.size()) + 4;
    }
    if (total > options_.max_body_size) {
      return Done(context, absl::ResourceExhaustedError(absl::StrCat(
                               "E_BAD_BODY request body of ", total, " bytes over --max-body-size ",
                               options_.max_body_size)));
    }
    // The answer waits for durability (--sync-every=1) without holding this thread:
    // the storage's commit thread finishes the call after the group fsync.
    // `done` may run on that thread before PublishAsync returns, so it fills the
    // response itself, from ids it owns.
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    auto ids = std::make_shared<std::vector<MessageId>>();
    ids->reserve(bodies.size());
    engine_->PublishAsync(
        request->topic(), bodies, absl::Milliseconds(request->defer_ms()), ids.get(),
        [reactor, response, ids](absl::Status st) {
          if (st.ok()) {
            auto* out = response->mutable_ids();
            out->Reserve(static_cast<int>(ids->size()));
            for (const MessageId& id : *ids) out->Add()->assign(id.bytes.data(), MessageId::kSize);
          }
          reactor->Finish(ToGrpcStatus(st));
        });
    return reactor;
  }

  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* Subscribe(
      grpc::CallbackServerContext* context) override {
    return new SubscribeReactor(engine_, &options_, context);
  }

  grpc::ServerUnaryReactor* CreateTopic(grpc::CallbackServerContext* context,
                                        const nsq::v1::TopicRequest* request,
                                        nsq::v1::TopicResponse* /*response*/) override {
    return Done(context, engine_->CreateTopic(request->topic()));
  }
  grpc::ServerUnaryReactor* DeleteTopic(grpc::CallbackServerContext* context,
                                        const nsq::v1::TopicRequest* request,
                                        nsq::v1::TopicResponse* /*response*/) override {
    return Done(context, engine_->DeleteTopic(request->topic()));
  }
  grpc::ServerUnaryReactor* EmptyTopic(grpc::CallbackServerContext* context,
                                       const nsq::v1::TopicRequest* request,
                                       nsq::v1::TopicResponse* /*response*/) override {
    return Done(context, engine_->EmptyTopic(request->topic()));
  }
  grpc::ServerUnaryReactor* PauseTopic(grpc::CallbackServerContext* context,
                                       const nsq::v1::TopicRequest* request,
                                       nsq::v1::TopicResponse* /*response*/) override {
    return Done(context, engine_->SetTopicPaused(request->topic(), true));
  }
  grpc::ServerUnaryReactor* UnpauseTopic(grpc::CallbackServerContext* context,
                                         const nsq::v1::TopicRequest* request,
                                         nsq::v1::TopicResponse* /*response*/) override {
    return Done(context, engine_->SetTopicPaused(request->topic(), false));
  }

  grpc::ServerUnaryReactor* CreateChannel(grpc::CallbackServerContext* context,
                                          const nsq::v1::ChannelRequest* request,
                                          nsq::v1::ChannelResponse* /*response*/) override {
    return Done(context, engine_->CreateChannel(request->topic(), request->channel()));
  }
  grpc::ServerUnaryReactor* DeleteChannel(grpc::CallbackServerContext* context,
                                          const nsq::v1::ChannelRequest* request,
                                          nsq::v1::ChannelResponse* /*response*/) override {
    return Done(context, engine_->DeleteChannel(request->topic(), request->channel()));
  }
  grpc::ServerUnaryReactor* EmptyChannel(grpc::CallbackServerContext* context,
                                         const nsq::v1::ChannelRequest* request,
                                         nsq::v1::ChannelResponse* /*response*/) override {
    return Done(context, engine_->EmptyChannel(request->topic(), request->channel()));
  }
  grpc::ServerUnaryReactor* PauseChannel(grpc::CallbackServerContext* context,
                                         const nsq::v1::ChannelRequest* request,
                                         nsq::v1::ChannelResponse* /*response*/) override {
    return Done(context,
                engine_->SetChannelPaused(request->topic(), request->channel(), true));
  }
  grpc::ServerUnaryReactor* UnpauseChannel(grpc::CallbackServerContext* context,
                                           const nsq::v1::ChannelRequest* request,
                                           nsq::v1::ChannelResponse* /*response*/) override {
    return Done(context,
                engine_->SetChannelPaused(request->topic(), request->channel(), false));
  }

  grpc::ServerUnaryReactor* GetStats(grpc::CallbackServerContext* context,
                                     const nsq::v1::GetStatsRequest* request,
                                     nsq::v1::GetStatsResponse* response) override {
    StatsFilter filter;
    filter.topic = request->topic();
    filter.channel = request->channel();
    filter.include_consumers = !request->exclude_clients();
    if (!filter.channel.empty() && filter.topic.empty()) {
      return Done(context, absl::InvalidArgumentError("channel given without topic"));
    }
    absl::StatusOr<std::vector<TopicStats>> stats = engine_->GetStats(filter);
    if (!stats.ok()) return Done(context, stats.status());
    response->set_version(options_.version);
    absl::Status health = engine_->Health();
    response->set_health(health.ok() ? "ok" : Printable(health.message()));
    response->set_start_time_unix(absl::ToUnixSeconds(options_.start_time));
    for (const TopicStats& t : *stats) {
      nsq::v1::TopicStats* topic = response->add_topics();
      topic->set_topic_name(t.name);
      topic->set_depth(t.depth);
      topic->set_backend_depth(t.backend_depth);
      topic->set_message_count(t.message_count);
      topic->set_message_bytes(t.message_bytes);
      topic->set_paused(t.paused);
      for (const ChannelStats& c : t.channels) {
        nsq::v1::ChannelStats* channel = topic->add_channels();
        channel->set_channel_name(c.name);
        channel->set_depth(c.depth);
        channel->set_backend_depth(c.backend_depth);
        channel->set_in_flight_count(c.in_flight_count);
        channel->set_deferred_count(c.deferred_count);
        channel->set_message_count(c.message_count);
        channel->set_requeue_count(c.requeue_count);
        channel->set_timeout_count(c.timeout_count);
        channel->set_client_count(c.consumer_count);
        channel->set_paused(c.paused);
        if (request->exclude_clients()) continue;
        for (const ConsumerStats& s : c.consumers) {
          nsq::v1::ClientStats* client = channel->add_clients();
          client->set_client_id(Printable(s.info.client_id));
          client->set_hostname(Printable(s.info.hostname));
          client->set_user_agent(Printable(s.info.user_agent));
          client->set_remote_address(s.info.remote_address);
          client->set_protocol(s.info.protocol);
          client->set_ready_count(s.ready_count);
          client->set_in_flight_count(s.in_flight_count);
          client->set_message_count(s.message_count);
          client->set_finish_count(s.finish_count);
          client->set_requeue_count(s.requeue_count);
          client->set_connect_ts_ns(absl::ToUnixNanos(s.connect_time));
          client->set_msg_timeout_ms(absl::ToInt64Milliseconds(s.msg_timeout));
        }
      }
    }
    return Done(context, absl::OkStatus());
  }

 private:
  static grpc::ServerUnaryReactor* Done(grpc::CallbackServerContext* context,
                                        const absl::Status& status) {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(ToGrpcStatus(status));
    return reactor;
  }

  Engine* const engine_;
  const BrokerServiceOptions options_;
  PublishMessagePool publish_pool_;
};

}  // namespace

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      Printable(status.message()));
}

std::unique_ptr<grpc::Service> MakeBrokerService(Engine* engine, BrokerServiceOptions options) {
  return std::make_unique<BrokerServiceImpl>(engine, std::move(options));
}

absl::Status AddBrokerServices(grpc::ServerBuilder* builder, grpc::Service* broker_service,
                               const BrokerServiceOptions& options) {
  if (options.max_body_size <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--max-body-size must be positive, got ", options.max_body_size));
  }
  const int64_t max_receive =
      std::min<int64_t>(options.max_body_size + kRequestOverheadBytes, INT32_MAX);
  builder->SetMaxReceiveMessageSize(static_cast<int>(max_receive));
  // Health, reflection, and SO_REUSEPORT off (a second broker on the same port fails to
  // bind instead of stealing half the connections).
  grpcutil::AddStandardServices(builder);
  builder->RegisterService(broker_service);
  return absl::OkStatus();
}

BrokerGrpcServer::BrokerGrpcServer(Engine* engine, BrokerServiceOptions options)
    : engine_(engine), options_(std::move(options)) {}

BrokerGrpcServer::~BrokerGrpcServer() { Stop(); }

absl::Status BrokerGrpcServer::Start(const std::string& address) {
  if (server_ != nullptr) return absl::FailedPreconditionError("already started");
  service_ = MakeBrokerService(engine_, options_);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &port_);
  absl::Status status = AddBrokerServices(&builder, service_.get(), options_);
  if (!status.ok()) return status;
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port_ == 0) {
    server_.reset();
    return absl::UnavailableError(absl::StrCat("cannot listen on ", address));
  }
  return absl::OkStatus();
}

void BrokerGrpcServer::Stop(absl::Duration grace) {
  if (server_ == nullptr) return;
  server_->Shutdown(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(grace));
  server_->Wait();
  server_.reset();
  service_.reset();
}

}  // namespace nsq::broker

#include "services/broker/grpc/publish.h"

#include <memory>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "services/broker/grpc/status.h"

namespace nsq::broker {

PublishMessagePool::~PublishMessagePool() {
  absl::MutexLock lock(&mu_);
  for (Holder* holder : free_) delete holder;
}

grpc::MessageHolder<nsq::v1::PublishRequest, nsq::v1::PublishResponse>*
PublishMessagePool::AllocateMessages() {
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

void PublishMessagePool::Recycle(Holder* holder) {
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

grpc::ServerUnaryReactor* HandlePublish(Engine* engine, int64_t max_body_size,
                                        grpc::CallbackServerContext* context,
                                        const nsq::v1::PublishRequest* request,
                                        nsq::v1::PublishResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  RunPublish(engine, max_body_size, reactor, request, response);
  return reactor;
}

void RunPublish(Engine* engine, int64_t max_body_size, grpc::ServerUnaryReactor* reactor,
                const nsq::v1::PublishRequest* request, nsq::v1::PublishResponse* response) {
  thread_local std::vector<std::string_view> bodies;
  bodies.clear();
  bodies.reserve(request->bodies_size());
  int64_t total = 0;
  for (const std::string& body : request->bodies()) {
    bodies.push_back(body);
    total += static_cast<int64_t>(body.size()) + 4;
  }
  if (total > max_body_size) {
    reactor->Finish(ToGrpcStatus(absl::ResourceExhaustedError(
        absl::StrCat("E_BAD_BODY request body of ", total, " bytes over --max-body-size ",
                     max_body_size))));
    return;
  }
  // The answer waits for durability (--sync-every=1) without holding this thread:
  // the storage's commit thread finishes the call after the group fsync.
  // `done` may run on that thread before PublishAsync returns, so it fills the
  // response itself, from ids it owns.
  auto ids = std::make_shared<std::vector<MessageId>>();
  ids->reserve(bodies.size());
  engine->PublishAsync(
      request->topic(), bodies, absl::Milliseconds(request->defer_ms()), ids.get(),
      [reactor, response, ids](absl::Status st) {
        if (st.ok()) {
          auto* out = response->mutable_ids();
          out->Reserve(static_cast<int>(ids->size()));
          for (const MessageId& id : *ids) out->Add()->assign(id.bytes.data(), MessageId::kSize);
        }
        reactor->Finish(ToGrpcStatus(st));
      });
}

}  // namespace nsq::broker

#include "tests/integration/broker_harness.h"

#include <chrono>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace nsq::testing {
namespace {

using ::nsq::v1::SubscribeRequest;
using ::nsq::v1::SubscribeResponse;

std::chrono::system_clock::time_point Deadline(absl::Duration timeout) {
  return std::chrono::system_clock::now() + absl::ToChronoMilliseconds(timeout);
}

constexpr char kSyncPrefix[] = "sync-";

}  // namespace

TestConsumer::TestConsumer(nsq::v1::Broker::Stub* stub) {
  stream_ = stub->Subscribe(&context_);
  reader_ = std::thread([this] { ReadLoop(); });
}

TestConsumer::~TestConsumer() {
  context_.TryCancel();
  reader_.join();
}

void TestConsumer::ReadLoop() {
  SubscribeResponse response;
  while (stream_->Read(&response)) {
    absl::MutexLock lock(&mu_);
    if (response.subscribed()) {
      subscribed_ = true;
      max_rdy_count_ = response.max_rdy_count();
    }
    for (auto& error : *response.mutable_errors()) {
      if (absl::StartsWith(error.id(), kSyncPrefix)) {
        sync_acks_.push_back(error.id());
      } else {
        errors_.push_back(std::move(error));
      }
    }
    for (auto& message : *response.mutable_messages()) messages_.push_back(std::move(message));
  }
  grpc::Status status;
  {
    absl::MutexLock lock(&write_mu_);
    status = stream_->Finish();
  }
  absl::MutexLock lock(&mu_);
  ended_ = true;
  status_ = std::move(status);
}

bool TestConsumer::Send(const SubscribeRequest& request) {
  absl::MutexLock lock(&write_mu_);
  return stream_->Write(request);
}

bool TestConsumer::SendSubscribe(const std::string& topic, const std::string& channel,
                                 int64_t msg_timeout_ms) {
  SubscribeRequest request;
  auto* sub = request.mutable_subscribe();
  sub->set_topic(topic);
  sub->set_channel(channel);
  sub->set_msg_timeout_ms(msg_timeout_ms);
  sub->set_client_id("test-consumer");
  sub->set_hostname("localhost");
  sub->set_user_agent("nsq-cpp-integration-test");
  return Send(request);
}

bool TestConsumer::Subscribe(const std::string& topic, const std::string& channel,
                             int64_t msg_timeout_ms) {
  if (!SendSubscribe(topic, channel, msg_timeout_ms)) return false;
  absl::MutexLock lock(&mu_);
  auto done = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return subscribed_ || ended_; };
  mu_.AwaitWithTimeout(absl::Condition(&done), kWait);
  return subscribed_;
}

bool TestConsumer::Ready(int64_t count) {
  SubscribeRequest request;
  request.mutable_ready()->set_count(count);
  return Send(request);
}

bool TestConsumer::Finish(const std::vector<std::string>& ids) {
  SubscribeRequest request;
  auto* finish = request.mutable_finish();  // set even with no ids
  for (const auto& id : ids) finish->add_ids(id);
  return Send(request);
}

bool TestConsumer::Requeue(const std::string& id, int64_t delay_ms) {
  SubscribeRequest request;
  request.mutable_requeue()->set_id(id);
  request.mutable_requeue()->set_delay_ms(delay_ms);
  return Send(request);
}

bool TestConsumer::Touch(const std::vector<std::string>& ids) {
  SubscribeRequest request;
  auto* touch = request.mutable_touch();
  for (const auto& id : ids) touch->add_ids(id);
  return Send(request);
}

bool TestConsumer::Sync() {
  std::string token;
  {
    absl::MutexLock lock(&write_mu_);
    token = absl::StrCat(kSyncPrefix, ++sync_seq_);
  }
  if (!Finish({token})) return false;
  absl::MutexLock lock(&mu_);
  auto done = [this, &token]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    if (ended_) return true;
    for (const auto& ack : sync_acks_) {
      if (ack == token) return true;
    }
    return false;
  };
  mu_.AwaitWithTimeout(absl::Condition(&done), kWait);
  for (auto it = sync_acks_.begin(); it != sync_acks_.end(); ++it) {
    if (*it == token) {
      sync_acks_.erase(it);
      return true;
    }
  }
  return false;
}

void TestConsumer::Cancel() { context_.TryCancel(); }

bool TestConsumer::CloseSend() {
  absl::MutexLock lock(&write_mu_);
  return stream_->WritesDone();
}

bool TestConsumer::WaitForMessages(size_t n, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto done = [this, n]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return messages_.size() >= n || ended_;
  };
  mu_.AwaitWithTimeout(absl::Condition(&done), timeout);
  return messages_.size() >= n;
}

std::vector<nsq::v1::Message> TestConsumer::TakeMessages() {
  absl::MutexLock lock(&mu_);
  return std::exchange(messages_, {});
}

size_t TestConsumer::MessageCount() {
  absl::MutexLock lock(&mu_);
  return messages_.size();
}

bool TestConsumer::WaitForErrors(size_t n, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto done = [this, n]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return errors_.size() >= n || ended_;
  };
  mu_.AwaitWithTimeout(absl::Condition(&done), timeout);
  return errors_.size() >= n;
}

std::vector<SubscribeResponse::Error> TestConsumer::TakeErrors() {
  absl::MutexLock lock(&mu_);
  return std::exchange(errors_, {});
}

grpc::Status TestConsumer::WaitForEnd(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto done = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return ended_; };
  if (!mu_.AwaitWithTimeout(absl::Condition(&done), timeout)) {
    return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "stream did not end in time");
  }
  return status_;
}

int64_t TestConsumer::max_rdy_count() {
  absl::MutexLock lock(&mu_);
  return max_rdy_count_;
}

BrokerHarness::BrokerHarness(BrokerHarnessOptions options) {
  engine_ = std::make_unique<broker::Engine>(options.engine, &clock_, &storage_);
  absl::Status status = engine_->Start();
  if (!status.ok()) std::abort();
  server_ = std::make_unique<broker::BrokerGrpcServer>(engine_.get(), options.service);
  status = server_->Start("127.0.0.1:0");
  if (!status.ok()) std::abort();
  channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                 grpc::InsecureChannelCredentials());
  stub_ = nsq::v1::Broker::NewStub(channel_);
}

BrokerHarness::~BrokerHarness() {
  stub_.reset();
  channel_.reset();
  // Streams still open are cancelled; each closes its consumer in the engine on the way.
  server_->Stop();
  engine_->Shutdown();
}

void BrokerHarness::Advance(absl::Duration d) {
  clock_.Advance(d);
  engine_->ProcessTimers();
}

grpc::Status BrokerHarness::Publish(const std::string& topic,
                                    const std::vector<std::string>& bodies, int64_t defer_ms,
                                    std::vector<std::string>* ids) {
  nsq::v1::PublishRequest request;
  request.set_topic(topic);
  for (const auto& body : bodies) request.add_bodies(body);
  request.set_defer_ms(defer_ms);
  nsq::v1::PublishResponse response;
  grpc::ClientContext context;
  context.set_deadline(Deadline(kWait));
  grpc::Status status = stub_->Publish(&context, request, &response);
  if (ids != nullptr) ids->assign(response.ids().begin(), response.ids().end());
  return status;
}

grpc::Status BrokerHarness::Stats(nsq::v1::GetStatsResponse* response, const std::string& topic,
                                  const std::string& channel) {
  nsq::v1::GetStatsRequest request;
  request.set_topic(topic);
  request.set_channel(channel);
  grpc::ClientContext context;
  context.set_deadline(Deadline(kWait));
  return stub_->GetStats(&context, request, response);
}

nsq::v1::ChannelStats BrokerHarness::ChannelStats(const std::string& topic,
                                                  const std::string& channel) {
  nsq::v1::GetStatsResponse response;
  if (!Stats(&response, topic, channel).ok()) return {};
  for (const auto& t : response.topics()) {
    for (const auto& c : t.channels()) {
      if (t.topic_name() == topic && c.channel_name() == channel) return c;
    }
  }
  return {};
}

nsq::v1::TopicStats BrokerHarness::TopicStats(const std::string& topic) {
  nsq::v1::GetStatsResponse response;
  if (!Stats(&response, topic).ok()) return {};
  for (const auto& t : response.topics()) {
    if (t.topic_name() == topic) return t;
  }
  return {};
}

std::vector<std::string> Bodies(int n, const std::string& prefix) {
  std::vector<std::string> bodies;
  bodies.reserve(n);
  for (int i = 0; i < n; ++i) bodies.push_back(absl::StrCat(prefix, i));
  return bodies;
}

std::vector<std::string> Ids(const std::vector<nsq::v1::Message>& messages) {
  std::vector<std::string> ids;
  ids.reserve(messages.size());
  for (const auto& m : messages) ids.push_back(m.id());
  return ids;
}

}  // namespace nsq::testing

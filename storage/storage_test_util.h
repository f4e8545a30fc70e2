#pragma once

// Shared by the storage tests: temp data paths, messages, and a RocksStorage opener.

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "services/broker/core/storage.h"
#include "storage/rocksdb_storage.h"

namespace nsq::storage::storage_testing {

using broker::BackendQueue;
using broker::QueuedMessage;

inline std::string NewDataPath() {
  static int n = 0;  // one test process, one thread creating queues
  return absl::StrCat(::testing::TempDir(), "/storage", ++n);
}

inline QueuedMessage Msg(const std::string& body, uint16_t attempts = 0, int64_t deliver_at = 0) {
  auto m = std::make_shared<broker::Message>();
  broker::MessageId::FromBytes(absl::StrCat("id", std::string(14 - std::min<size_t>(14, body.size()), '0'),
                                            body.substr(0, 14)),
                               &m->id);
  m->timestamp_ns = 1234;
  m->body = body;
  return QueuedMessage{m, deliver_at, attempts, 0};
}

inline std::vector<QueuedMessage> Msgs(int from, int to) {
  std::vector<QueuedMessage> out;
  for (int i = from; i < to; ++i) out.push_back(Msg(std::to_string(i)));
  return out;
}

inline std::vector<std::string> PopBodies(BackendQueue* q, size_t max, std::vector<QueuedMessage>* keep = nullptr) {
  std::vector<QueuedMessage> out;
  EXPECT_TRUE(q->Pop(max, &out).ok());
  std::vector<std::string> bodies;
  for (const auto& m : out) bodies.push_back(m.message->body);
  if (keep) *keep = out;
  return bodies;
}

inline std::unique_ptr<RocksStorage> OpenAt(const std::string& path, int64_t sync_every = 2500) {
  RocksStorageOptions o;
  o.data_path = path;
  o.sync_every = sync_every;
  auto s = RocksStorage::Open(o);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *std::move(s) : nullptr;
}

}  // namespace nsq::storage::storage_testing

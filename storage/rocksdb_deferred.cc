#include "storage/rocksdb_deferred.h"

#include <algorithm>
#include <memory>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"
#include "storage/record.h"

namespace nsq::storage {
namespace {

using broker::QueuedMessage;

std::string StateKey(uint64_t id) { return absl::StrCat("deferred_state/", id); }

uint64_t DueOfKey(const rocksdb::Slice& key) {
  return key.size() == 24 ? SeqOfKey(std::string_view(key.data(), 16)) : 0;
}

}  // namespace

std::string RocksDeferred::StateValue() const {
  return U64Value(static_cast<uint64_t>(depth_)) + U64Value(next_seq_);
}

absl::Status RocksDeferred::Load() {
  std::string v;
  rocksdb::Status st = s_->db()->Get(rocksdb::ReadOptions(), s_->meta_cf(), StateKey(id_), &v);
  if (st.ok() && v.size() == 16) {
    depth_ = static_cast<int64_t>(ValueU64(v.substr(0, 8)));
    next_seq_ = ValueU64(v.substr(8));
  } else if (!st.ok() && !st.IsNotFound()) {
    return FromRocks(st, "read deferred queue");
  }
  RangeIterator it(s_->db(), s_->deferred_cf(),
                   QueueKey(id_, 0), QueueKey(id_ + 1, 0), /*fill_cache=*/true);
  if (it->Valid()) {
    next_due_ = static_cast<int64_t>(DueOfKey(it->key()));
  } else {
    depth_ = 0;
  }
  return FromRocks(it->status(), "open deferred queue");
}

void RocksDeferred::AddPendingDelete(rocksdb::WriteBatch* batch) {
  if (!delete_pending_) return;
  batch->DeleteRange(s_->deferred_cf(), QueueKey(id_, 0), popped_upper_);
}

absl::Status RocksDeferred::Add(absl::Span<const QueuedMessage> messages) {
  if (messages.empty()) return absl::OkStatus();
  rocksdb::WriteBatch batch;
  AddPendingDelete(&batch);
  uint64_t seq = next_seq_;
  int64_t first_due = next_due_;
  for (const QueuedMessage& m : messages) {
    const uint64_t due = std::max(static_cast<uint64_t>(std::max<int64_t>(m.deliver_at_ns, 0)), due_floor_);
    char key[32];  // [id][due][seq]: 24 bytes (the second encoding writes 16)
    EncodeQueueKey(id_, due, key);
    EncodeQueueKey(seq++, 0, key + 16);
    PutRecord(&batch, s_->deferred_cf(), rocksdb::Slice(key, 24), m);
    first_due = std::min(first_due, static_cast<int64_t>(due));
  }
  const int64_t old_depth = depth_;
  const uint64_t old_seq = next_seq_;
  depth_ += static_cast<int64_t>(messages.size());
  next_seq_ = seq;
  batch.Put(s_->meta_cf(), StateKey(id_), StateValue());
  absl::Status st = s_->Write(&batch, messages.size());
  if (!st.ok()) {
    depth_ = old_depth;
    next_seq_ = old_seq;
    return st;
  }
  delete_pending_ = false;
  next_due_ = old_depth == 0 ? first_due : std::min(next_due_, first_due);
  return st;
}

absl::Status RocksDeferred::PopDue(int64_t now_ns, size_t max, std::vector<QueuedMessage>* out) {
  if (depth_ == 0 || next_due_ > now_ns || max == 0) return absl::OkStatus();
  // The previous pop's records go now: the caller has queued them elsewhere since.
  if (absl::Status st = Flush(); !st.ok()) return st;
  RangeIterator it(s_->db(), s_->deferred_cf(), QueueKey(id_, 0), QueueKey(id_ + 1, 0));
  size_t taken = 0;
  next_due_ = INT64_MAX;
  for (; it->Valid(); it->Next()) {
    const uint64_t due = DueOfKey(it->key());
    if (static_cast<int64_t>(due) > now_ns || taken >= max) {
      next_due_ = static_cast<int64_t>(due);
      break;
    }
    // Everything up to and including this record is popped.
    popped_upper_.assign(it->key().data(), it->key().size());
    popped_upper_.push_back('\0');
    delete_pending_ = true;
    due_floor_ = std::max(due_floor_, due);
    --depth_;
    QueuedMessage m;
    if (!DecodeRecord(std::string_view(it->value().data(), it->value().size()), &m)) {
      s_->CountCorrupt();
      spdlog::error("storage: deferred queue {} has a record that failed its checksum; skipped", id_);
      continue;
    }
    out->push_back(std::move(m));
    ++taken;
  }
  if (!it->status().ok()) return FromRocks(it->status(), "read deferred");
  if (next_due_ == INT64_MAX) depth_ = 0;  // nothing left on disk
  depth_ = std::max<int64_t>(depth_, 0);
  return absl::OkStatus();
}

absl::Status RocksDeferred::Peek(size_t max, std::vector<QueuedMessage>* out) {
  if (depth_ == 0 || max == 0) return absl::OkStatus();
  // Popped records whose deletion is pending sort below popped_upper_: skip them.
  RangeIterator it(s_->db(), s_->deferred_cf(),
                   delete_pending_ ? popped_upper_ : QueueKey(id_, 0), QueueKey(id_ + 1, 0));
  for (; it->Valid() && max > 0; it->Next()) {
    QueuedMessage m;
    if (!DecodeRecord(std::string_view(it->value().data(), it->value().size()), &m)) continue;
    out->push_back(std::move(m));
    --max;
  }
  return FromRocks(it->status(), "peek deferred");
}

absl::Status RocksDeferred::Flush() {
  if (!delete_pending_) return absl::OkStatus();
  rocksdb::WriteBatch batch;
  AddPendingDelete(&batch);
  batch.Put(s_->meta_cf(), StateKey(id_), StateValue());
  absl::Status st = s_->Write(&batch, 0);
  if (st.ok()) delete_pending_ = false;
  return st;
}

absl::Status RocksDeferred::Clear() {
  rocksdb::WriteBatch batch;
  batch.DeleteRange(s_->deferred_cf(), QueueKey(id_, 0), QueueKey(id_ + 1, 0));
  const int64_t old_depth = depth_;
  depth_ = 0;
  batch.Put(s_->meta_cf(), StateKey(id_), StateValue());
  absl::Status st = s_->Write(&batch, 0);
  if (!st.ok()) {
    depth_ = old_depth;
    return st;
  }
  delete_pending_ = false;
  next_due_ = INT64_MAX;
  return st;
}

absl::Status RocksDeferred::Destroy() {
  rocksdb::WriteBatch batch;
  batch.DeleteRange(s_->deferred_cf(), QueueKey(id_, 0), QueueKey(id_ + 1, 0));
  batch.Delete(s_->meta_cf(), StateKey(id_));
  batch.Delete(s_->meta_cf(), registry_key_);
  absl::Status st = s_->Write(&batch, 0);
  destroyed_ = true;
  depth_ = 0;
  delete_pending_ = false;
  return st;
}

}  // namespace nsq::storage

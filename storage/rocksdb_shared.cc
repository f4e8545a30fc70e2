#include "storage/rocksdb_shared.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace nsq::storage {
namespace {

using broker::QueuedMessage;

// Recently stored messages remembered for the topic's other channels: they append the
// same publish right after the first one, so a few batches' worth is plenty.
constexpr size_t kRecentMax = 4096;

std::string_view View(const rocksdb::Slice& s) { return std::string_view(s.data(), s.size()); }

std::string FloorPrefix(uint64_t store) { return absl::StrCat("floor/", store, "/"); }

}  // namespace

std::string FloorKey(uint64_t store, uint64_t queue) { return absl::StrCat(FloorPrefix(store), queue); }

absl::Status SharedStore::Load() {
  absl::MutexLock lock(&mu_);
  RangeIterator it(s_->db(), s_->messages_cf(), QueueKey(id_, 0), QueueKey(id_ + 1, 0));
  if (it->Valid()) {
    deleted_below_ = match_below_ = SeqOfKey(View(it->key()));
    it->SeekToLast();
    if (it->Valid()) {
      tail_ = SeqOfKey(View(it->key())) + std::max<uint32_t>(ValueRecords(View(it->value())).count(), 1);
    }
  }
  if (!it->status().ok()) return FromRocks(it->status(), "open shared store");
  const std::string prefix = FloorPrefix(id_);
  RangeIterator floors(s_->db(), s_->meta_cf(), prefix, PrefixEnd(prefix));
  for (; floors->Valid(); floors->Next()) {
    const std::string key(View(floors->key()));
    uint64_t queue = 0;
    for (char c : key.substr(prefix.size())) queue = queue * 10 + static_cast<uint64_t>(c - '0');
    floors_[queue] = ValueU64(std::string(View(floors->value())));
  }
  return FromRocks(floors->status(), "read shared store floors");
}

void SharedStore::AddChannel() {
  absl::MutexLock lock(&mu_);
  ++channels_;
}

void SharedStore::RemoveChannel() {
  absl::MutexLock lock(&mu_);
  --channels_;
}

bool SharedStore::active() {
  absl::MutexLock lock(&mu_);
  return channels_ >= 2;
}

void SharedStore::SetFloor(uint64_t queue, uint64_t floor) {
  absl::MutexLock lock(&mu_);
  if (floor == kNoFloor) {
    floors_.erase(queue);
  } else {
    floors_[queue] = floor;
  }
}

void SharedStore::Forget(absl::Span<const QueuedMessage> messages) {
  absl::MutexLock lock(&mu_);
  for (const QueuedMessage& m : messages) {
    auto it = recent_.find(m.message.get());
    if (it != recent_.end() && it->second.id == m.message->id) recent_.erase(it);
  }
}

uint64_t SharedStore::tail() {
  absl::MutexLock lock(&mu_);
  return tail_;
}

bool SharedStore::Place(uint64_t queue, uint64_t* last_ref_end, absl::Span<const QueuedMessage> messages,
                        rocksdb::WriteBatch* batch, std::vector<Run>* runs) {
  absl::MutexLock lock(&mu_);
  // Store seq per message: found, new (assigned here), or 0 (the queue's own).
  std::vector<uint64_t> seqs(messages.size(), 0);
  size_t fresh_from = messages.size(), fresh = 0;  // the new ones, stored as packs below
  std::vector<std::pair<size_t, size_t>> fresh_runs;
  for (size_t i = 0; i < messages.size(); ++i) {
    const QueuedMessage& m = messages[i];
    if (m.attempts != 0 || m.deliver_at_ns != 0) continue;  // its record differs per channel
    auto it = recent_.find(m.message.get());
    if (it != recent_.end() && it->second.id == m.message->id && it->second.seq >= match_below_) {
      seqs[i] = it->second.seq;
      continue;
    }
    seqs[i] = tail_++;
    recent_[m.message.get()] = Recent{m.message->id, seqs[i]};
    recent_order_.push_back(m.message.get());
    if (fresh_from + fresh == i) {
      ++fresh;
    } else {
      if (fresh > 0) fresh_runs.emplace_back(fresh_from, fresh);
      fresh_from = i;
      fresh = 1;
    }
  }
  if (fresh > 0) fresh_runs.emplace_back(fresh_from, fresh);
  while (recent_order_.size() > kRecentMax) {
    recent_.erase(recent_order_.front());
    recent_order_.pop_front();
  }
  std::vector<uint64_t> keys;
  for (const auto& [from, n] : fresh_runs) {
    PutPacks(batch, s_->messages_cf(), id_, seqs[from], messages.subspan(from, n), &keys);
  }
  pack_keys_.insert(pack_keys_.end(), keys.begin(), keys.end());
  // Runs of consecutive store seqs become references, if they rise past the last one.
  runs->clear();
  size_t i = 0;
  while (i < messages.size()) {
    size_t j = i + 1;
    if (seqs[i] != 0 && seqs[i] >= *last_ref_end) {
      while (j < messages.size() && seqs[j] == seqs[j - 1] + 1 && j - i < kPackMaxRecords) ++j;
      runs->push_back(Run{i, j - i, seqs[i]});
      *last_ref_end = seqs[j - 1] + 1;
    } else {
      while (j < messages.size() && !(seqs[j] != 0 && seqs[j] >= *last_ref_end)) ++j;
      runs->push_back(Run{i, j - i, 0});
    }
    i = j;
  }
  // The first reference of a queue holding none registers its floor with this write.
  for (const Run& r : *runs) {
    if (r.first == 0) continue;
    if (floors_.contains(queue)) return false;
    floors_[queue] = r.first;
    batch->Put(s_->meta_cf(), FloorKey(id_, queue), U64Value(r.first));
    return true;
  }
  return false;
}

absl::Status SharedStore::Collect() {
  uint64_t floor = 0, from = 0, below = 0;
  {
    absl::MutexLock lock(&mu_);
    if (collecting_) return absl::OkStatus();
    floor = tail_;
    for (const auto& [queue, f] : floors_) floor = std::min(floor, f);
    if (floor <= deleted_below_) return absl::OkStatus();
    // The value holding `floor` stays whole (a pack that starts below it): the last pack
    // key at or below it, known for packs written since the store was opened.
    from = deleted_below_;
    below = floor;
    if (floor < tail_ && !pack_keys_.empty() && pack_keys_.front() <= floor) {
      auto it = std::upper_bound(pack_keys_.begin(), pack_keys_.end(), floor);
      below = *std::prev(it);
      pack_keys_.erase(pack_keys_.begin(), std::prev(it));
    } else if (floor < tail_) {
      below = 0;  // found by a seek, below
    }
    collecting_ = true;
    match_below_ = std::max(match_below_, floor);
  }
  if (below == 0) {
    // Written before a restart: the value at or before the floor.
    RangeIterator it(s_->db(), s_->messages_cf(), QueueKey(id_, from), QueueKey(id_ + 1, 0),
                     /*fill_cache=*/false, /*seek=*/false);
    it->SeekForPrev(QueueKey(id_, floor));
    below = from;
    if (it->Valid()) {
      const uint64_t key = SeqOfKey(View(it->key()));
      below = key + std::max<uint32_t>(ValueRecords(View(it->value())).count(), 1) > floor ? key : floor;
    }
    if (!it->status().ok()) {
      absl::MutexLock lock(&mu_);
      collecting_ = false;
      return FromRocks(it->status(), "read shared store");
    }
  }
  absl::Status st;
  if (below > from) {
    rocksdb::WriteBatch batch;
    batch.DeleteRange(s_->messages_cf(), QueueKey(id_, from), QueueKey(id_, below));
    st = s_->Write(&batch, 0);
  }
  absl::MutexLock lock(&mu_);
  collecting_ = false;
  if (st.ok() && below > deleted_below_) deleted_below_ = below;
  return st;
}

bool SharedStore::Reader::Load(uint64_t seq) {
  if (!it_) {
    it_.emplace(store_->s_->db(), store_->s_->messages_cf(), QueueKey(store_->id_, 0),
                QueueKey(store_->id_ + 1, 0), /*fill_cache=*/true, /*seek=*/false);
  }
  // References mostly start where a pack does: a forward seek finds it; else the pack
  // before holds the seq.
  rocksdb::Iterator* it = it_->get();
  const std::string target = QueueKey(store_->id_, seq);
  it->Seek(target);
  if (!it->Valid() || it->key().compare(target) != 0) {
    if (!it->status().ok()) return false;
    if (it->Valid()) {
      it->Prev();
    } else {
      it->SeekForPrev(target);
    }
  }
  if (!it->Valid()) return false;
  Take();
  return seq < end_;
}

void SharedStore::Reader::Take() {
  key_ = SeqOfKey(View(it_->get()->key()));
  records_.emplace(View(it_->get()->value()));
  end_ = key_ + records_->count();
  next_ = key_;
}

bool SharedStore::Reader::Read(uint64_t seq, std::string_view* record) {
  if (!(records_ && seq >= next_ && seq < end_)) {
    // Not in the value held: the next value, if it starts here, else a seek.
    bool loaded = false;
    if (records_ && seq >= end_ && it_->get()->Valid()) {
      it_->get()->Next();
      if (it_->get()->Valid() && SeqOfKey(View(it_->get()->key())) <= seq) {
        Take();
        loaded = seq < end_;
      }
    }
    if (!loaded && !Load(seq)) return false;
  }
  while (next_ < seq) {
    std::string_view skip;
    if (!records_->Next(&skip)) {
      end_ = next_;  // damaged: the rest of this value is lost
      return false;
    }
    ++next_;
  }
  if (!records_->Next(record)) {
    end_ = next_;
    return false;
  }
  ++next_;
  return true;
}

rocksdb::Status SharedStore::Reader::status() const { return it_ ? it_->get()->status() : rocksdb::Status::OK(); }

}  // namespace nsq::storage

#include "storage/rocksdb_queue.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"
#include "storage/record.h"
#include "storage/rocksdb_shared.h"

namespace nsq::storage {

using broker::QueuedMessage;

std::string CursorKey(uint64_t id) { return absl::StrCat("cursor/", id); }
std::string CountKey(uint64_t id) { return absl::StrCat("count/", id); }
std::string AckMarkPrefix(uint64_t id) { return absl::StrCat("acks/", id, "/"); }
std::string AckMarkKey(uint64_t id, uint64_t key) { return AckMarkPrefix(id) + U64Value(key); }
std::string PrefixEnd(std::string prefix) {
  prefix.back() = static_cast<char>(prefix.back() + 1);
  return prefix;
}

std::string U64Value(uint64_t v) { return QueueKey(v, 0).substr(0, 8); }

uint64_t ValueU64(const std::string& s) {
  return s.size() == 8 ? SeqOfKey(std::string(8, '\0') + s) : 0;
}

absl::Status FromRocks(const rocksdb::Status& st, std::string_view what) {
  if (st.ok()) return absl::OkStatus();
  return absl::UnavailableError(absl::StrCat("storage ", std::string(what), " failed: ", st.ToString()));
}

RangeIterator::RangeIterator(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, std::string lower,
                             std::string upper, bool fill_cache, bool seek)
    : lower_(std::move(lower)), upper_(std::move(upper)), lo_(lower_), up_(upper_) {
  rocksdb::ReadOptions ro;
  ro.iterate_lower_bound = &lo_;
  ro.iterate_upper_bound = &up_;
  ro.fill_cache = fill_cache;
  it_.reset(db->NewIterator(ro, cf));
  if (seek) it_->Seek(lo_);
}

namespace {
std::string_view View(const rocksdb::Slice& s) { return std::string_view(s.data(), s.size()); }
}  // namespace

absl::Status RocksQueue::Load() {
  rocksdb::DB* db = s_->db();
  uint64_t cursor = 0;
  if (!durable_) {
    std::string v;
    rocksdb::Status st = db->Get(rocksdb::ReadOptions(), s_->meta_cf(), CursorKey(id_), &v);
    if (st.ok()) {
      cursor = ValueU64(v);
    } else if (!st.IsNotFound()) {
      return FromRocks(st, "read cursor");
    }
  }
  cursor_ = cursor;
  RangeIterator it(db, s_->messages_cf(), QueueKey(id_, 0), QueueKey(id_ + 1, 0), /*fill_cache=*/true);
  bool found = false;
  if (cursor > 0) {
    // The cursor may point inside a pack: the value at or before it.
    it->SeekForPrev(QueueKey(id_, cursor));
    if (it->Valid()) {
      const uint64_t key = SeqOfKey(View(it->key()));
      const uint64_t n = std::max<uint32_t>(ValueRecords(View(it->value())).count(), 1);
      if (key + n > cursor) {
        head_key_ = key;
        next_read_ = std::max(key, cursor);
        found = true;
      }
    }
  }
  if (!found) {
    it->Seek(QueueKey(id_, cursor));
    if (it->Valid()) {
      head_key_ = next_read_ = SeqOfKey(View(it->key()));
      found = true;
    }
  }
  if (found) {
    it->SeekToLast();
    if (it->Valid()) {
      tail_ = SeqOfKey(View(it->key())) +
              std::max<uint32_t>(ValueRecords(View(it->value())).count(), 1);
    }
  } else {
    head_key_ = next_read_ = tail_ = std::max(cursor, kInitialSeq);
  }
  if (!it->status().ok()) return FromRocks(it->status(), "open queue");
  delete_from_ = head_key_;
  if (durable_) {
    live_ = tail_ - next_read_;
    std::string v;
    rocksdb::Status cs = db->Get(rocksdb::ReadOptions(), s_->meta_cf(), CountKey(id_), &v);
    if (cs.ok() && ValueU64(v) <= live_) {
      holes_ahead_ = live_ - ValueU64(v);
      live_ = ValueU64(v);
    } else if (!cs.ok() && !cs.IsNotFound()) {
      return FromRocks(cs, "read queue count");
    }
    // Packs partly acked before the restart: their acked records are holes.
    const std::string prefix = AckMarkPrefix(id_);
    RangeIterator marks(db, s_->meta_cf(), prefix, PrefixEnd(prefix));
    for (; marks->Valid(); marks->Next()) {
      const std::string_view k = View(marks->key()), v = View(marks->value());
      if (k.size() != prefix.size() + 8 || v.size() < 4) continue;
      const uint64_t key = ValueU64(std::string(k.substr(prefix.size())));
      HeldPack& p = packs_[key];
      p.n = static_cast<uint32_t>(ValueU64(std::string(4, '\0') + std::string(v.substr(0, 4))));
      p.bits.assign(p.n, false);
      for (uint32_t i = 0; i < p.n && 4 + i / 8 < v.size(); ++i) {
        if ((static_cast<uint8_t>(v[4 + i / 8]) >> (i % 8)) & 1) {
          p.bits[i] = true;
          ++p.acked;
        }
      }
      p.marked = true;
    }
    if (!marks->status().ok()) return FromRocks(marks->status(), "read ack marks");
  }
  if (shared_ != nullptr) {
    std::string v;
    rocksdb::Status fs = db->Get(rocksdb::ReadOptions(), s_->meta_cf(), FloorKey(shared_->id(), id_), &v);
    if (fs.ok()) {
      saved_floor_ = ValueU64(v);
      pending_floor_ = next_read_ < tail_ ? saved_floor_ : kNoFloor;
    } else if (!fs.IsNotFound()) {
      return FromRocks(fs, "read shared store floor");
    }
  }
  if (!durable_ && cursor > 0) {
    // Records below the cursor were consumed before a crash cut their deletion short.
    rocksdb::WriteBatch batch;
    batch.DeleteRange(s_->messages_cf(), QueueKey(id_, 0), QueueKey(id_, head_key_));
    return s_->Write(&batch, 0);
  }
  return absl::OkStatus();
}

void PutRecord(rocksdb::WriteBatch* batch, rocksdb::ColumnFamilyHandle* cf, rocksdb::Slice key,
               const QueuedMessage& m) {
  char header[kRecordHeaderSize];
  const std::string extra = RecordExtra(m);
  EncodeRecordHeader(m, extra, header);
  const rocksdb::Slice value_parts[3] = {rocksdb::Slice(header, kRecordHeaderSize),
                                         rocksdb::Slice(extra),
                                         rocksdb::Slice(m.message->body)};
  batch->Put(cf, rocksdb::SliceParts(&key, 1), rocksdb::SliceParts(value_parts, 3));
}

namespace {
void PutQueueRecord(rocksdb::WriteBatch* batch, rocksdb::ColumnFamilyHandle* cf, uint64_t id,
                    uint64_t seq, const QueuedMessage& m) {
  char key[16];
  EncodeQueueKey(id, seq, key);
  PutRecord(batch, cf, rocksdb::Slice(key, sizeof(key)), m);
}

}  // namespace

// One pack of `messages` under `seq`: the pack header, then per record its length and
// header in one slice, its extra (if any) and its body, so each body is copied once, into
// the batch.
void PutPack(rocksdb::WriteBatch* batch, rocksdb::ColumnFamilyHandle* cf, uint64_t id,
             uint64_t seq, absl::Span<const QueuedMessage> messages) {
  constexpr size_t kHead = 4 + kRecordHeaderSize;
  char pack_header[kPackHeaderSize];
  EncodePackHeader(static_cast<uint32_t>(messages.size()), pack_header);
  std::vector<char> heads(messages.size() * kHead);
  std::vector<std::string> extras(messages.size());
  std::vector<rocksdb::Slice> parts;
  parts.reserve(1 + 3 * messages.size());
  parts.emplace_back(pack_header, kPackHeaderSize);
  for (size_t i = 0; i < messages.size(); ++i) {
    const QueuedMessage& m = messages[i];
    char* head = heads.data() + i * kHead;
    extras[i] = RecordExtra(m);
    EncodeRecordHeader(m, extras[i], *reinterpret_cast<char(*)[kRecordHeaderSize]>(head + 4));
    EncodePackLength(static_cast<uint32_t>(kRecordHeaderSize + extras[i].size() + m.message->body.size()), head);
    parts.emplace_back(head, kHead);
    if (!extras[i].empty()) parts.emplace_back(extras[i]);
    parts.emplace_back(m.message->body);
  }
  char key[16];
  EncodeQueueKey(id, seq, key);
  const rocksdb::Slice key_slice(key, sizeof(key));
  batch->Put(cf, rocksdb::SliceParts(&key_slice, 1),
             rocksdb::SliceParts(parts.data(), static_cast<int>(parts.size())));
}

namespace {
// The same for records already encoded (the rest of a pack being rewritten).
void PutRawPack(rocksdb::WriteBatch* batch, rocksdb::ColumnFamilyHandle* cf, uint64_t id,
                uint64_t seq, const std::vector<std::string_view>& records) {
  char key[16];
  EncodeQueueKey(id, seq, key);
  if (records.size() == 1) {
    batch->Put(cf, rocksdb::Slice(key, sizeof(key)), rocksdb::Slice(records[0].data(), records[0].size()));
    return;
  }
  char pack_header[kPackHeaderSize];
  EncodePackHeader(static_cast<uint32_t>(records.size()), pack_header);
  std::vector<char> lengths(records.size() * 4);
  std::vector<rocksdb::Slice> parts;
  parts.reserve(1 + 2 * records.size());
  parts.emplace_back(pack_header, kPackHeaderSize);
  for (size_t i = 0; i < records.size(); ++i) {
    EncodePackLength(static_cast<uint32_t>(records[i].size()), lengths.data() + 4 * i);
    parts.emplace_back(lengths.data() + 4 * i, 4);
    parts.emplace_back(records[i].data(), records[i].size());
  }
  const rocksdb::Slice key_slice(key, sizeof(key));
  batch->Put(cf, rocksdb::SliceParts(&key_slice, 1),
             rocksdb::SliceParts(parts.data(), static_cast<int>(parts.size())));
}
}  // namespace

void PutRef(rocksdb::WriteBatch* batch, rocksdb::ColumnFamilyHandle* cf, uint64_t id, uint64_t seq,
            uint32_t n, uint64_t store, uint64_t first) {
  char key[16];
  EncodeQueueKey(id, seq, key);
  char ref[kRefSize];
  EncodeRef(n, store, first, ref);
  batch->Put(cf, rocksdb::Slice(key, sizeof(key)), rocksdb::Slice(ref, kRefSize));
}

RocksQueue::~RocksQueue() {
  if (!destroyed_) Flush().IgnoreError();
  if (shared_ != nullptr) shared_->RemoveChannel();
}

void RocksQueue::AttachShared(SharedStore* shared) {
  shared_ = shared;
  shared_->AddChannel();
  // Earlier references (before a restart) all end below the store's tail.
  last_ref_end_ = shared_->tail();
}

void RocksQueue::DetachShared(rocksdb::WriteBatch* batch) {
  if (shared_ == nullptr) return;
  batch->Delete(s_->meta_cf(), FloorKey(shared_->id(), id_));
  pending_floor_ = saved_floor_ = kNoFloor;
}

void PutPacks(rocksdb::WriteBatch* batch, rocksdb::ColumnFamilyHandle* cf, uint64_t id, uint64_t seq,
              absl::Span<const QueuedMessage> messages, std::vector<uint64_t>* keys) {
  size_t i = 0;
  while (i < messages.size()) {
    size_t j = i, bytes = 0;
    while (j < messages.size() && j - i < kPackMaxRecords &&
           (j == i || bytes + messages[j].message->body.size() <= kPackMaxBytes)) {
      bytes += messages[j++].message->body.size() + kRecordHeaderSize + 4;
    }
    if (j - i == 1) {
      PutQueueRecord(batch, cf, id, seq + i, messages[i]);
    } else {
      PutPack(batch, cf, id, seq + i, messages.subspan(i, j - i));
    }
    if (keys != nullptr) keys->push_back(seq + i);
    i = j;
  }
}

absl::Status RocksQueue::Append(absl::Span<const QueuedMessage> messages) {
  if (messages.empty()) return absl::OkStatus();
  rocksdb::WriteBatch batch(messages.size() * (kRecordHeaderSize + 40 + messages[0].message->body.size()));
  bool registered = false;
  uint64_t first_ref = kNoFloor;
  if (shared_ != nullptr && !durable_ && shared_->active()) {
    // Bodies once for all the topic's channels: references into its shared store.
    std::vector<SharedStore::Run> runs;
    registered = shared_->Place(id_, &last_ref_end_, messages, &batch, &runs);
    for (const SharedStore::Run& r : runs) {
      if (r.first == 0) {
        PutPacks(&batch, s_->messages_cf(), id_, tail_ + r.offset, messages.subspan(r.offset, r.count));
        continue;
      }
      if (first_ref == kNoFloor) first_ref = r.first;
      PutRef(&batch, s_->messages_cf(), id_, tail_ + r.offset, static_cast<uint32_t>(r.count),
             shared_->id(), r.first);
    }
  } else {
    PutPacks(&batch, s_->messages_cf(), id_, tail_, messages);
  }
  if (durable_) batch.Put(s_->meta_cf(), CountKey(id_), U64Value(live_ + messages.size()));
  absl::Status st = s_->Write(&batch, messages.size());
  if (st.ok()) {
    tail_ += messages.size();
    if (durable_) live_ += messages.size();
    if (registered) saved_floor_ = first_ref;
    if (pending_floor_ == kNoFloor) pending_floor_ = first_ref;
  } else if (first_ref != kNoFloor) {
    // Another channel must not reference records this failed write would have stored.
    shared_->Forget(messages);
    if (registered) shared_->SetFloor(id_, kNoFloor);
  }
  return st;
}

absl::Status RocksQueue::RewriteHeadRest(rocksdb::WriteBatch* batch) {
  if (head_key_ >= next_read_) return absl::OkStatus();
  std::string value;
  rocksdb::Status gs = s_->db()->Get(rocksdb::ReadOptions(), s_->messages_cf(), QueueKey(id_, head_key_), &value);
  if (gs.IsNotFound()) return absl::OkStatus();
  if (!gs.ok()) return FromRocks(gs, "read");
  ValueRecords rs(value);
  if (rs.is_ref()) {
    // The rest of a reference is a reference.
    if (head_key_ + rs.count() > next_read_) {
      PutRef(batch, s_->messages_cf(), id_, next_read_, static_cast<uint32_t>(head_key_ + rs.count() - next_read_),
             rs.ref_store(), rs.ref_first() + (next_read_ - head_key_));
    }
    return absl::OkStatus();
  }
  std::vector<std::string_view> rest;
  std::string_view record;
  for (uint64_t seq = head_key_; rs.Next(&record); ++seq) {
    if (seq >= next_read_) rest.push_back(record);
  }
  if (!rest.empty()) PutRawPack(batch, s_->messages_cf(), id_, next_read_, rest);
  return absl::OkStatus();
}

absl::Status RocksQueue::Prepend(absl::Span<const QueuedMessage> messages) {
  if (messages.empty()) return absl::OkStatus();
  if (durable_) return Append(messages);  // records below the head may still be held
  rocksdb::WriteBatch batch;
  // Consumed records awaiting deletion (and a partly consumed pack at the head) may sit
  // where these go: delete them first (a later operation in a batch wins).
  if (delete_from_ < next_read_) {
    batch.DeleteRange(s_->messages_cf(), QueueKey(id_, delete_from_), QueueKey(id_, next_read_));
  }
  if (absl::Status st = RewriteHeadRest(&batch); !st.ok()) return st;
  const uint64_t start = next_read_ - messages.size();
  PutPacks(&batch, s_->messages_cf(), id_, start, messages);
  batch.Put(s_->meta_cf(), CursorKey(id_), U64Value(start));
  absl::Status st = s_->Write(&batch, messages.size());
  if (st.ok()) next_read_ = head_key_ = delete_from_ = cursor_ = start;
  return st;
}

void RocksQueue::CountLost(uint64_t from, uint64_t to, std::string_view why) {
  if (to <= from) return;
  for (uint64_t seq = from; seq < to; ++seq) s_->CountCorrupt();
  if (!reported_corruption_) {
    spdlog::error("storage: queue {} records {}..{} {}; skipped (further ones counted in metrics)",
                  id_, from, to - 1, std::string(why));
    reported_corruption_ = true;
  }
  if (durable_) {
    for (uint64_t seq = from; seq < to; ++seq) Ack(seq);
  }
}

RocksQueue::HeldPack* RocksQueue::PackOf(uint64_t seq, uint64_t* key) {
  auto it = packs_.upper_bound(seq);
  if (it == packs_.begin()) return nullptr;
  --it;
  if (seq >= it->first + it->second.n) return nullptr;
  *key = it->first;
  return &it->second;
}

bool RocksQueue::AckedInPack(uint64_t seq) {
  uint64_t key = 0;
  HeldPack* p = packs_.empty() ? nullptr : PackOf(seq, &key);
  return p != nullptr && p->bits[seq - key];
}

absl::Status RocksQueue::Pop(size_t max, std::vector<QueuedMessage>* out) {
  if (next_read_ >= tail_ || max == 0) return absl::OkStatus();
  // Into the block cache: a Pop that ends inside a block leaves it there for the next
  // Pop, which would otherwise read and checksum the same 64 KiB again (200 B records:
  // ~20% less CPU per drained message).
  RangeIterator it(s_->db(), s_->messages_cf(), QueueKey(id_, head_key_), QueueKey(id_, tail_),
                   /*fill_cache=*/true);
  size_t taken = 0;
  uint64_t gaps = 0;  // seqs with no record (durable: acked before a restart)
  std::optional<SharedStore::Reader> shared_reader;
  auto jump_to = [&](uint64_t seq) {
    if (seq <= next_read_) return;
    if (durable_) {
      gaps += seq - next_read_;
    } else {
      CountLost(next_read_, seq, "are missing (damaged)");  // a non-durable queue has no holes
    }
    next_read_ = seq;
  };
  while (it->Valid() && taken < max) {
    const uint64_t key = SeqOfKey(View(it->key()));
    const std::string_view value = View(it->value());
    jump_to(key);
    ValueRecords rs(value);
    if (rs.count() == 0) {
      // A pack whose header is damaged: its records run up to the next key.
      it->Next();
      const uint64_t end = it->Valid() ? SeqOfKey(View(it->key())) : (it->status().ok() ? tail_ : key + 1);
      if (durable_ && end - key > 1) {
        HeldPack& p = packs_[key];  // so that the acks below delete it
        p.n = static_cast<uint32_t>(end - key);
        p.bits.assign(p.n, false);
      }
      CountLost(next_read_, end, "are in a pack whose header failed its checksum");
      next_read_ = head_key_ = end;
      continue;
    }
    if (durable_ && rs.is_pack() && packs_.find(key) == packs_.end()) {
      HeldPack& p = packs_[key];  // held until every record in it is acked
      p.n = rs.count();
      p.bits.assign(p.n, false);
    }
    const uint64_t end = key + rs.count();
    uint64_t seq = key;
    std::string_view record;
    bool intact = true;
    if (rs.is_ref()) {
      seq = std::max(seq, next_read_);
      if (shared_ != nullptr && rs.ref_store() == shared_->id() && !shared_reader) {
        shared_reader.emplace(shared_);
      }
    } else {
      for (; seq < next_read_ && (intact = rs.Next(&record)); ++seq) {
      }
    }
    for (; intact && seq < end && taken < max; ++seq) {
      if (rs.is_ref()) {
        if (shared_ == nullptr || rs.ref_store() != shared_->id() ||
            !shared_reader->Read(rs.ref_first() + (seq - key), &record)) {
          if (shared_reader && !shared_reader->status().ok() && !shared_reader->status().IsCorruption()) {
            return FromRocks(shared_reader->status(), "read shared store");
          }
          next_read_ = seq + 1;
          CountLost(seq, seq + 1, "are missing from the topic's shared store (damaged)");
          continue;
        }
      } else if (!(intact = rs.Next(&record))) {
        break;
      }
      QueuedMessage m;
      next_read_ = seq + 1;
      if (durable_ && rs.is_pack() && AckedInPack(seq)) {
        ++gaps;  // acked before a restart
        continue;
      }
      if (!DecodeRecord(record, &m)) {
        CountLost(seq, seq + 1, "failed its checksum");
        continue;
      }
      if (durable_) m.backend_seq = seq;
      out->push_back(std::move(m));
      ++taken;
    }
    if (!intact) {
      CountLost(seq, end, "are in a pack with a damaged length");
      next_read_ = end;
    }
    if (rs.is_ref()) pending_floor_ = rs.ref_first() + (next_read_ - key);
    if (next_read_ < end) {
      head_key_ = key;  // stopped inside this pack
      break;
    }
    head_key_ = next_read_;
    it->Next();
  }
  if (!it->status().ok()) {
    if (!it->status().IsCorruption()) return FromRocks(it->status(), "read");
    // A damaged block: skip the records in it (counted, never delivered) so that the
    // intact ones behind it are.
    const uint64_t from = next_read_;
    next_read_ = head_key_ = FirstReadableSeq(next_read_);
    const uint64_t skipped = next_read_ - from;
    for (uint64_t i = 0; i < skipped; ++i) s_->CountCorrupt();
    spdlog::error("storage: queue {} records {}..{} are in a damaged block ({}); skipped",
                  id_, from, next_read_ - 1, it->status().ToString());
    if (holes_ahead_ > 0) holes_ahead_ -= std::min(holes_ahead_, skipped);
    return absl::OkStatus();
  }
  if (next_read_ >= tail_ && shared_ != nullptr) pending_floor_ = kNoFloor;  // no references left
  if (!it->Valid()) {
    // Nothing left below the tail (holes after a restart).
    if (durable_) gaps += tail_ - std::min(tail_, next_read_);
    next_read_ = head_key_ = std::max(next_read_, tail_);
  }
  if (holes_ahead_ > 0) {
    holes_ahead_ -= std::min(holes_ahead_, gaps);
    if (next_read_ == tail_) holes_ahead_ = 0;
  }
  if (!durable_ && head_key_ - delete_from_ >= kDeleteRangeEvery) return DeleteConsumed();
  return absl::OkStatus();
}

bool RocksQueue::ReadableAt(uint64_t seq, uint64_t* found) {
  RangeIterator it(s_->db(), s_->messages_cf(), QueueKey(id_, seq), QueueKey(id_, tail_));
  if (!it->status().ok()) return false;
  *found = it->Valid() ? SeqOfKey(View(it->key())) : tail_;
  return true;
}

uint64_t RocksQueue::FirstReadableSeq(uint64_t bad) {
  // Gallop forward from the damaged seq, then bisect: the damaged block is one run of
  // keys, and a seek past it reads the next block. The answer is the first key there:
  // the seqs before it belong to the damaged block's last value (a pack's records).
  uint64_t lo = bad, hi = bad, found = tail_;
  for (uint64_t step = 1;; step *= 2) {
    hi = std::min(tail_, bad + step);
    if (hi == tail_ || ReadableAt(hi, &found)) break;
    lo = hi;
  }
  if (hi == tail_) found = tail_;
  while (hi - lo > 1) {
    const uint64_t mid = lo + (hi - lo) / 2;
    uint64_t at = 0;
    if (ReadableAt(mid, &at)) {
      hi = mid;
      found = at;
    } else {
      lo = mid;
    }
  }
  return std::max(hi, found);
}

absl::Status RocksQueue::Peek(size_t max, std::vector<QueuedMessage>* out) {
  if (next_read_ >= tail_ || max == 0) return absl::OkStatus();
  RangeIterator it(s_->db(), s_->messages_cf(), QueueKey(id_, head_key_), QueueKey(id_, tail_));
  std::optional<SharedStore::Reader> reader;
  for (; it->Valid() && max > 0; it->Next()) {
    ValueRecords rs(View(it->value()));
    std::string_view record;
    const uint64_t key = SeqOfKey(View(it->key()));
    if (rs.is_ref()) {
      if (shared_ == nullptr || rs.ref_store() != shared_->id()) continue;
      if (!reader) reader.emplace(shared_);
      for (uint64_t seq = std::max(key, next_read_); max > 0 && seq < key + rs.count(); ++seq) {
        QueuedMessage m;
        if (!reader->Read(rs.ref_first() + (seq - key), &record) || !DecodeRecord(record, &m)) continue;
        out->push_back(std::move(m));
        --max;
      }
      continue;
    }
    for (uint64_t seq = key; max > 0 && rs.Next(&record); ++seq) {
      QueuedMessage m;
      if (seq < next_read_ || (durable_ && AckedInPack(seq)) || !DecodeRecord(record, &m)) continue;
      out->push_back(std::move(m));
      --max;
    }
  }
  return FromRocks(it->status(), "peek");
}

void RocksQueue::Ack(uint64_t seq) {
  if (!durable_ || seq == 0) return;
  uint64_t key = 0;
  if (HeldPack* p = packs_.empty() ? nullptr : PackOf(seq, &key); p != nullptr) {
    if (p->bits[seq - key]) return;  // acked already
    p->bits[seq - key] = true;
    p->dirty = true;
    ++pending_acks_;
    if (++p->acked == p->n) {
      acked_.emplace_back(key, p->n);
      if (p->marked) unmark_.push_back(key);
      packs_.erase(key);
    }
  } else {
    acked_.emplace_back(seq, 1);
    ++pending_acks_;
  }
  if (pending_acks_ >= kAckBatch) DeleteAcked().IgnoreError();
}

absl::Status RocksQueue::DeleteAcked() {
  if (pending_acks_ == 0 && acked_.empty() && unmark_.empty() && packs_.empty()) return absl::OkStatus();
  // FINs mostly arrive in delivery order: long runs of consecutive records go as one
  // range deletion (one tombstone instead of thousands of memtable inserts), short ones
  // as point deletions (many small range tombstones would slow every read). Keys tile the
  // seq range, so a run of wholly acked keys covers nothing else.
  std::sort(acked_.begin(), acked_.end());
  rocksdb::WriteBatch batch;
  size_t i = 0;
  while (i < acked_.size()) {
    size_t j = i + 1;
    uint64_t records = acked_[i].second;
    while (j < acked_.size() && acked_[j].first == acked_[j - 1].first + acked_[j - 1].second) {
      records += acked_[j++].second;
    }
    if (records >= kRangeDeleteRun && j - i > 1) {
      batch.DeleteRange(s_->messages_cf(), QueueKey(id_, acked_[i].first),
                        QueueKey(id_, acked_[j - 1].first + acked_[j - 1].second));
    } else {
      for (size_t k = i; k < j; ++k) batch.Delete(s_->messages_cf(), QueueKey(id_, acked_[k].first));
    }
    i = j;
  }
  for (uint64_t key : unmark_) batch.Delete(s_->meta_cf(), AckMarkKey(id_, key));
  // Packs still partly held: long idle ones shrink to their held records; the others'
  // marks say which records are acked.
  for (auto it = packs_.begin(); it != packs_.end();) {
    const uint64_t key = it->first;
    HeldPack& p = it->second;
    p.idle = p.dirty ? 0 : p.idle + 1;
    if (p.idle < kShrinkIdlePacksAfter || 2 * p.acked < p.n) {
      ++it;
      continue;
    }
    std::string value;
    rocksdb::Status gs = s_->db()->Get(rocksdb::ReadOptions(), s_->messages_cf(), QueueKey(id_, key), &value);
    if (!gs.ok()) {
      ++it;
      continue;  // tried again with the next write
    }
    batch.Delete(s_->messages_cf(), QueueKey(id_, key));
    ValueRecords rs(value);
    std::string_view record;
    for (uint64_t seq = key; rs.Next(&record); ++seq) {
      if (!p.bits[seq - key]) PutRawPack(&batch, s_->messages_cf(), id_, seq, {record});
    }
    if (p.marked) batch.Delete(s_->meta_cf(), AckMarkKey(id_, key));
    it = packs_.erase(it);
  }
  for (auto& [key, p] : packs_) {
    if (!p.dirty || p.acked == 0) continue;
    std::string mark = U64Value(p.n).substr(4);
    mark.resize(4 + (p.n + 7) / 8, '\0');
    for (uint32_t r = 0; r < p.n; ++r) {
      if (p.bits[r]) mark[4 + r / 8] = static_cast<char>(static_cast<uint8_t>(mark[4 + r / 8]) | (1u << (r % 8)));
    }
    batch.Put(s_->meta_cf(), AckMarkKey(id_, key), mark);
    p.dirty = false;
    p.marked = true;
  }
  if (batch.Count() == 0 && pending_acks_ == 0) return absl::OkStatus();
  const uint64_t live = live_ - std::min<uint64_t>(live_, pending_acks_);
  batch.Put(s_->meta_cf(), CountKey(id_), U64Value(live));
  acked_.clear();
  unmark_.clear();
  const uint64_t n = pending_acks_;
  pending_acks_ = 0;
  absl::Status st = s_->Write(&batch, 0);
  if (st.ok()) live_ -= std::min<uint64_t>(live_, n);
  return st;
}

absl::Status RocksQueue::DeleteConsumed() {
  if (delete_from_ >= head_key_ && cursor_ == next_read_ && pending_floor_ == saved_floor_) {
    return absl::OkStatus();
  }
  rocksdb::WriteBatch batch;
  if (delete_from_ < head_key_) {
    batch.DeleteRange(s_->messages_cf(), QueueKey(id_, delete_from_), QueueKey(id_, head_key_));
  }
  batch.Put(s_->meta_cf(), CursorKey(id_), U64Value(next_read_));
  // The floor goes with the cursor: a restart reads from that cursor, so the shared
  // store keeps everything the references after it name.
  const bool floor_changed = shared_ != nullptr && pending_floor_ != saved_floor_;
  if (floor_changed) {
    if (pending_floor_ == kNoFloor) {
      batch.Delete(s_->meta_cf(), FloorKey(shared_->id(), id_));
    } else {
      batch.Put(s_->meta_cf(), FloorKey(shared_->id(), id_), U64Value(pending_floor_));
    }
  }
  absl::Status st = s_->Write(&batch, 0);
  if (st.ok()) {
    delete_from_ = head_key_;
    cursor_ = next_read_;
    if (floor_changed) {
      saved_floor_ = pending_floor_;
      shared_->SetFloor(id_, saved_floor_);
      st = shared_->Collect();
    }
  }
  return st;
}

absl::Status RocksQueue::MoveTo(std::string registry_key, bool durable, SharedStore* shared) {
  // Consumed records go first: a durable queue reads from its first record on.
  if (!durable_) {
    if (absl::Status st = DeleteConsumed(); !st.ok()) return st;
  } else if (absl::Status st = DeleteAcked(); !st.ok()) {
    return st;
  }
  rocksdb::WriteBatch batch;
  const bool split_head = durable && !durable_ && head_key_ < next_read_;
  if (split_head) {
    // A durable queue reads from its first key: the consumed part of the head pack goes.
    batch.Delete(s_->messages_cf(), QueueKey(id_, head_key_));
    if (absl::Status st = RewriteHeadRest(&batch); !st.ok()) return st;
  }
  batch.Delete(s_->meta_cf(), registry_key_);
  batch.Put(s_->meta_cf(), registry_key, U64Value(id_));
  const bool detach = shared_ != nullptr && shared != shared_;
  if (detach) DetachShared(&batch);  // a queue moving away holds no references (an empty swap queue)
  if (durable) {
    batch.Delete(s_->meta_cf(), CursorKey(id_));
    if (!durable_) batch.Put(s_->meta_cf(), CountKey(id_), U64Value(tail_ - next_read_));
  } else {
    batch.Delete(s_->meta_cf(), CountKey(id_));
    batch.Put(s_->meta_cf(), CursorKey(id_), U64Value(next_read_));
    if (durable_) DropAckMarks(&batch);
  }
  absl::Status st = s_->Write(&batch, 0);
  if (st.ok()) {
    registry_key_ = std::move(registry_key);
    if (durable && !durable_) live_ = tail_ - next_read_;
    if (split_head) head_key_ = delete_from_ = next_read_;
    if (!durable) cursor_ = next_read_;
    durable_ = durable;
    if (detach) {
      shared_->SetFloor(id_, kNoFloor);
      shared_->RemoveChannel();
      shared_ = nullptr;
    }
    if (shared != nullptr && shared_ == nullptr && !durable) AttachShared(shared);
  }
  return st;
}

absl::Status RocksQueue::Update(absl::Span<const QueuedMessage> messages) {
  rocksdb::WriteBatch batch;
  size_t n = 0;
  // Records inside packs: each pack is rewritten once, with the new records in it.
  absl::btree_map<uint64_t, absl::btree_map<uint64_t, const QueuedMessage*>> in_packs;
  for (const QueuedMessage& m : messages) {
    if (m.backend_seq == 0) continue;
    uint64_t key = 0;
    if (!packs_.empty() && PackOf(m.backend_seq, &key) != nullptr) {
      in_packs[key][m.backend_seq] = &m;
    } else {
      PutQueueRecord(&batch, s_->messages_cf(), id_, m.backend_seq, m);
    }
    ++n;
  }
  for (const auto& [key, changed] : in_packs) {
    std::string value;
    rocksdb::Status gs = s_->db()->Get(rocksdb::ReadOptions(), s_->messages_cf(), QueueKey(id_, key), &value);
    if (gs.IsNotFound()) continue;
    if (!gs.ok()) return FromRocks(gs, "read");
    ValueRecords rs(value);
    std::vector<std::string> encoded;
    encoded.reserve(changed.size());
    std::vector<std::string_view> records;
    std::string_view record;
    for (uint64_t seq = key; rs.Next(&record); ++seq) {
      auto c = changed.find(seq);
      if (c == changed.end()) {
        records.push_back(record);
        continue;
      }
      encoded.emplace_back();
      EncodeRecord(*c->second, &encoded.back());
      records.push_back(encoded.back());
    }
    // A damaged pack stays as it is rather than lose the records past the damage.
    if (records.size() == rs.count()) PutRawPack(&batch, s_->messages_cf(), id_, key, records);
  }
  return n == 0 ? absl::OkStatus() : s_->Write(&batch, n);
}

absl::Status RocksQueue::Flush() {
  return durable_ ? DeleteAcked() : DeleteConsumed();
}

void RocksQueue::DropAckMarks(rocksdb::WriteBatch* batch) {
  batch->DeleteRange(s_->meta_cf(), AckMarkPrefix(id_), PrefixEnd(AckMarkPrefix(id_)));
  packs_.clear();
  unmark_.clear();
  acked_.clear();
  pending_acks_ = 0;
}

absl::Status RocksQueue::Clear() {
  rocksdb::WriteBatch batch;
  batch.DeleteRange(s_->messages_cf(), QueueKey(id_, 0), QueueKey(id_ + 1, 0));
  DropAckMarks(&batch);
  DetachShared(&batch);
  if (!durable_) batch.Put(s_->meta_cf(), CursorKey(id_), U64Value(tail_));
  if (durable_) batch.Put(s_->meta_cf(), CountKey(id_), U64Value(0));
  absl::Status st = s_->Write(&batch, 0);
  if (st.ok()) {
    next_read_ = head_key_ = delete_from_ = tail_;
    if (!durable_) cursor_ = tail_;
    acked_.clear();
    live_ = holes_ahead_ = 0;
    if (shared_ != nullptr) {
      shared_->SetFloor(id_, kNoFloor);
      st = shared_->Collect();
    }
  }
  return st;
}

absl::Status RocksQueue::Destroy() {
  rocksdb::WriteBatch batch;
  batch.DeleteRange(s_->messages_cf(), QueueKey(id_, 0), QueueKey(id_ + 1, 0));
  batch.Delete(s_->meta_cf(), CursorKey(id_));
  batch.Delete(s_->meta_cf(), CountKey(id_));
  batch.Delete(s_->meta_cf(), registry_key_);
  DropAckMarks(&batch);
  DetachShared(&batch);
  absl::Status st = s_->Write(&batch, 0);
  destroyed_ = true;
  if (st.ok() && shared_ != nullptr) {
    shared_->SetFloor(id_, kNoFloor);
    st = shared_->Collect();
  }
  next_read_ = head_key_ = tail_;
  acked_.clear();
  return st;
}

}  // namespace nsq::storage

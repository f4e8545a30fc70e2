#include "services/broker/legacy/stream_codec.h"

#include <snappy.h>
#include <zlib.h>

#include <cstring>

#include "common/crc32c/crc32c.h"

namespace nsq::legacy {
namespace {

// --- DEFLATE ---------------------------------------------------------------------------

class DeflateCodec final : public StreamCodec {
 public:
  explicit DeflateCodec(int level) {
    std::memset(&def_, 0, sizeof(def_));
    std::memset(&inf_, 0, sizeof(inf_));
    // Raw DEFLATE (negative window bits), as Go's compress/flate.
    deflateInit2(&def_, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
    inflateInit2(&inf_, -15);
  }
  ~DeflateCodec() override {
    deflateEnd(&def_);
    inflateEnd(&inf_);
  }

  void Encode(std::string_view data, std::string* out) override {
    def_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    def_.avail_in = static_cast<uInt>(data.size());
    do {
      const size_t old = out->size();
      const size_t room = deflateBound(&def_, def_.avail_in) + 64;
      out->resize(old + room);
      def_.next_out = reinterpret_cast<Bytef*>(out->data() + old);
      def_.avail_out = static_cast<uInt>(room);
      deflate(&def_, Z_SYNC_FLUSH);
      out->resize(old + room - def_.avail_out);
    } while (def_.avail_in > 0 || def_.avail_out == 0);
  }

  void Feed(std::string_view data) override {
    if (in_pos_ > 0 && in_pos_ == in_.size()) {
      in_.clear();
      in_pos_ = 0;
    }
    in_.append(data.data(), data.size());
  }

  absl::Status Decode(std::string* out, size_t max, size_t* produced) override {
    *produced = 0;
    if (broken_) return absl::DataLossError("corrupt deflate stream");
    if (in_pos_ == in_.size()) return absl::OkStatus();
    const size_t old = out->size();
    out->resize(old + max);
    inf_.next_in = reinterpret_cast<Bytef*>(in_.data() + in_pos_);
    inf_.avail_in = static_cast<uInt>(in_.size() - in_pos_);
    inf_.next_out = reinterpret_cast<Bytef*>(out->data() + old);
    inf_.avail_out = static_cast<uInt>(max);
    const int rc = inflate(&inf_, Z_SYNC_FLUSH);
    in_pos_ = in_.size() - inf_.avail_in;
    *produced = max - inf_.avail_out;
    out->resize(old + *produced);
    if (rc != Z_OK && rc != Z_BUF_ERROR && rc != Z_STREAM_END) {
      broken_ = true;
      return absl::DataLossError("corrupt deflate stream");
    }
    if (in_pos_ == in_.size()) {
      in_.clear();
      in_pos_ = 0;
    }
    return absl::OkStatus();
  }

 private:
  z_stream def_;
  z_stream inf_;
  std::string in_;
  size_t in_pos_ = 0;
  bool broken_ = false;
};

// --- Snappy framing format --------------------------------------------------------------

constexpr size_t kMaxChunkData = 65536;
constexpr char kStreamIdentifier[] = "\xff\x06\x00\x00sNaPpY";
constexpr size_t kStreamIdentifierSize = 10;

uint32_t Masked(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }

void AppendLe24(std::string* out, size_t v) {
  out->push_back(static_cast<char>(v));
  out->push_back(static_cast<char>(v >> 8));
  out->push_back(static_cast<char>(v >> 16));
}
void AppendLe32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}
uint32_t ReadLe32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return uint32_t{u[0]} | (uint32_t{u[1]} << 8) | (uint32_t{u[2]} << 16) | (uint32_t{u[3]} << 24);
}

class SnappyCodec final : public StreamCodec {
 public:
  void Encode(std::string_view data, std::string* out) override {
    if (!wrote_header_) {
      out->append(kStreamIdentifier, kStreamIdentifierSize);
      wrote_header_ = true;
    }
    while (!data.empty()) {
      const std::string_view piece = data.substr(0, kMaxChunkData);
      data.remove_prefix(piece.size());
      const uint32_t crc = Masked(Crc32c(piece));
      scratch_.clear();
      snappy::Compress(piece.data(), piece.size(), &scratch_);
      // Like Go's writer: store uncompressed unless it saves at least 1/8.
      if (scratch_.size() >= piece.size() - piece.size() / 8) {
        out->push_back('\x01');
        AppendLe24(out, 4 + piece.size());
        AppendLe32(out, crc);
        out->append(piece.data(), piece.size());
      } else {
        out->push_back('\x00');
        AppendLe24(out, 4 + scratch_.size());
        AppendLe32(out, crc);
        out->append(scratch_);
      }
    }
  }

  void Feed(std::string_view data) override {
    if (in_pos_ > 0 && in_pos_ == in_.size()) {
      in_.clear();
      in_pos_ = 0;
    }
    in_.append(data.data(), data.size());
  }

  absl::Status Decode(std::string* out, size_t max, size_t* produced) override {
    *produced = 0;
    if (broken_) return absl::DataLossError("corrupt snappy stream");
    while (*produced < max && in_.size() - in_pos_ >= 4) {
      const char* p = in_.data() + in_pos_;
      const auto type = static_cast<unsigned char>(p[0]);
      const size_t len = static_cast<unsigned char>(p[1]) |
                         (static_cast<size_t>(static_cast<unsigned char>(p[2])) << 8) |
                         (static_cast<size_t>(static_cast<unsigned char>(p[3])) << 16);
      if (in_.size() - in_pos_ < 4 + len) break;
      const char* chunk = p + 4;
      if (type == 0xff) {
        if (len != 6 || std::memcmp(chunk, "sNaPpY", 6) != 0) return Broken();
      } else if (type == 0x00 || type == 0x01) {
        if (len < 4) return Broken();
        const uint32_t want = ReadLe32(chunk);
        std::string_view data;
        if (type == 0x00) {
          size_t n = 0;
          if (!snappy::GetUncompressedLength(chunk + 4, len - 4, &n) || n > kMaxChunkData) {
            return Broken();
          }
          scratch_.resize(n);
          if (!snappy::RawUncompress(chunk + 4, len - 4, scratch_.data())) return Broken();
          data = scratch_;
        } else {
          if (len - 4 > kMaxChunkData) return Broken();
          data = std::string_view(chunk + 4, len - 4);
        }
        if (Masked(Crc32c(data)) != want) return Broken();
        out->append(data.data(), data.size());
        *produced += data.size();
      } else if (type >= 0x02 && type <= 0x7f) {
        return Broken();  // reserved unskippable
      }  // 0x80..0xfe: padding and reserved skippable chunks
      in_pos_ += 4 + len;
    }
    if (in_pos_ == in_.size()) {
      in_.clear();
      in_pos_ = 0;
    }
    return absl::OkStatus();
  }

 private:
  absl::Status Broken() {
    broken_ = true;
    return absl::DataLossError("corrupt snappy stream");
  }
  bool wrote_header_ = false;
  std::string scratch_;
  std::string in_;
  size_t in_pos_ = 0;
  bool broken_ = false;
};

}  // namespace

std::unique_ptr<StreamCodec> NewDeflateCodec(int level) {
  return std::make_unique<DeflateCodec>(level);
}
std::unique_ptr<StreamCodec> NewSnappyCodec() { return std::make_unique<SnappyCodec>(); }

}  // namespace nsq::legacy

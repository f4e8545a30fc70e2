#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace nsq {

// CRC-32C (Castagnoli), extended over more data: Crc32c(Crc32c(0, a), b) == Crc32c(0, ab).
// Uses the SSE4.2 instruction where the CPU has it (chosen at run time, whatever flags the
// build used: nearly 10x zlib's crc32), a table otherwise. The one implementation for
// storage records and snappy's framing format.
uint32_t Crc32c(uint32_t crc, const char* data, size_t n);
inline uint32_t Crc32c(std::string_view data) { return Crc32c(0, data.data(), data.size()); }

namespace crc32c_internal {
// Both paths, for tests that compare them.
uint32_t Software(uint32_t crc, const char* data, size_t n);
bool HaveHardware();
uint32_t Hardware(uint32_t crc, const char* data, size_t n);  // only if HaveHardware()
}  // namespace crc32c_internal

}  // namespace nsq

// How kInt4 weights are packed. Each row is cut into chunks of 32 weights
// stored in 16 bytes: byte j holds weight j in its low nibble and weight
// j + 16 in its high nibble. One unsigned load of 16 bytes then widens to
// two vectors of 16 weights with an AND and a shift, and narrower vectors
// take the chunk in 8- or 4-byte slices the same way. A row's tail chunk is
// padded with the nibble of its group's zero point, so padding dequantizes
// to 0. A nibble q with zero point z and scale s stands for (q - z) * s.
#pragma once

#include <cstdint>

namespace dsv32 {

inline constexpr int64_t kInt4Chunk = 32;
inline constexpr int64_t kInt4ChunkBytes = 16;
inline constexpr uint8_t kInt4SymmetricZero = 8;

// Bytes one packed row of `cols` weights takes.
inline int64_t Int4RowBytes(int64_t cols) {
  return (cols + kInt4Chunk - 1) / kInt4Chunk * kInt4ChunkBytes;
}

// The nibble of column c within a packed row.
inline uint8_t Int4Nibble(const uint8_t* row, int64_t c) {
  const uint8_t byte = row[c / kInt4Chunk * kInt4ChunkBytes + c % kInt4ChunkBytes];
  return (c % kInt4Chunk) < kInt4ChunkBytes ? (byte & 0xf) : (byte >> 4);
}

// Group sizes the kernels support: multiples of the chunk.
inline bool IsValidInt4Group(int64_t group) { return group > 0 && group % kInt4Chunk == 0; }

}  // namespace dsv32

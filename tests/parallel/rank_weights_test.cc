// Slices of a weight matrix keep its format and its values, also where a
// slice boundary falls inside an FP8 scale block.
#include "parallel/rank_weights.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <vector>

namespace dsv32 {
namespace {

std::vector<float> Row(const QuantMatrix& w, int64_t r) {
  std::vector<float> out(static_cast<size_t>(w.cols));
  DequantizeRow(w, r, out.data());
  return out;
}

TEST(SliceMatrix, Fp8SliceInsideBlocksKeepsEveryValue) {
  const int64_t rows = 300, cols = 260;
  std::vector<uint8_t> bytes(static_cast<size_t>(rows * cols));
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>((i * 37 + 11) & 0x7E);
  QuantMatrix w;
  w.name = "w";
  w.format = WeightFormat::kFp8Block;
  w.rows = rows;
  w.cols = cols;
  w.data = bytes.data();
  std::vector<float> scales(static_cast<size_t>(w.scale_rows() * w.scale_cols()));
  for (size_t i = 0; i < scales.size(); ++i) scales[i] = 0.5f + static_cast<float>(i);
  w.scales = scales.data();

  std::vector<std::unique_ptr<std::byte[]>> storage;
  const IndexRange r{96, 290}, c{48, 250};
  auto s = SliceMatrix(w, r, c, &storage);
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->format, WeightFormat::kFp8Block);
  EXPECT_EQ(s->block_rows, 32);  // gcd(128, 96)
  EXPECT_EQ(s->block_cols, 16);  // gcd(128, 48)
  EXPECT_EQ(s->rows * s->cols, static_cast<int64_t>(r.size() * c.size()));
  for (int64_t i = 0; i < s->rows; ++i) {
    const std::vector<float> whole = Row(w, r.begin + i), part = Row(*s, i);
    for (int64_t j = 0; j < s->cols; ++j)
      ASSERT_EQ(part[static_cast<size_t>(j)], whole[static_cast<size_t>(c.begin + j)])
          << i << ", " << j;
  }
}

TEST(SliceMatrix, Bf16SliceAndBadRanges) {
  std::vector<uint16_t> bits(6 * 4);
  for (size_t i = 0; i < bits.size(); ++i) bits[i] = static_cast<uint16_t>(0x3F80 + i);
  QuantMatrix w;
  w.name = "b";
  w.format = WeightFormat::kBF16;
  w.rows = 6;
  w.cols = 4;
  w.data = bits.data();
  std::vector<std::unique_ptr<std::byte[]>> storage;
  auto s = SliceMatrix(w, {2, 5}, {1, 3}, &storage);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(Row(*s, 1)[0], Row(w, 3)[1]);
  EXPECT_FALSE(SliceMatrix(w, {2, 7}, {0, 4}, &storage).ok());
  EXPECT_FALSE(SliceMatrix(w, {2, 2}, {0, 4}, &storage).ok());
}

TEST(SliceMatrix, PackedInt4IsRefusedNotMisread) {
  std::vector<uint8_t> packed(2 * 16);
  std::vector<float> scales(2, 1.0f);
  QuantMatrix w;
  w.name = "q";
  w.format = WeightFormat::kInt4;
  w.rows = 2;
  w.cols = 32;
  w.block_rows = 1;
  w.block_cols = 32;
  w.data = packed.data();
  w.scales = scales.data();
  std::vector<std::unique_ptr<std::byte[]>> storage;
  auto s = SliceMatrix(w, {0, 1}, {0, 32}, &storage);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kUnsupported);
  EXPECT_TRUE(storage.empty());
}

}  // namespace
}  // namespace dsv32

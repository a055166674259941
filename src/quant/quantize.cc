#include "quant/quantize.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/dtype.h"
#include "core/thread_pool.h"
#include "quant/int4.h"

namespace dsv32 {

namespace {

Status CheckShape(const float* w, int64_t rows, int64_t cols) {
  if (rows <= 0 || cols <= 0) {
    return InvalidArgument("quantize: shape [" + std::to_string(rows) + ", " +
                           std::to_string(cols) + "] is empty");
  }
  if (!w) return InvalidArgument("quantize: no weights");
  return Status::Ok();
}

void ForRows(int64_t n, int64_t grain, ThreadPool* pool,
             const std::function<void(int64_t, int64_t)>& fn) {
  if (pool) {
    pool->ParallelFor(n, grain, fn);
  } else {
    fn(0, n);
  }
}

// Quantizes one group of one row; writes nibbles to out[0..n), returns the
// scale and the zero point.
void QuantizeInt4Group(const float* w, int64_t n, bool asymmetric, uint8_t* out, float* scale,
                       uint8_t* zero) {
  if (!asymmetric) {
    float amax = 0.0f;
    for (int64_t i = 0; i < n; ++i) amax = std::max(amax, std::fabs(w[i]));
    const float s = amax / 7.0f;
    const float inv = s > 0.0f ? 1.0f / s : 0.0f;
    for (int64_t i = 0; i < n; ++i) {
      const float q = std::clamp(std::nearbyint(w[i] * inv), -8.0f, 7.0f);
      out[i] = static_cast<uint8_t>(static_cast<int>(q) + kInt4SymmetricZero);
    }
    *scale = s;
    *zero = kInt4SymmetricZero;
    return;
  }
  float lo = 0.0f, hi = 0.0f;  // the range always holds 0, so 0 stays exact
  for (int64_t i = 0; i < n; ++i) {
    lo = std::min(lo, w[i]);
    hi = std::max(hi, w[i]);
  }
  const float s = (hi - lo) / 15.0f;
  const float inv = s > 0.0f ? 1.0f / s : 0.0f;
  const float z = std::clamp(std::nearbyint(-lo * inv), 0.0f, 15.0f);
  for (int64_t i = 0; i < n; ++i) {
    out[i] = static_cast<uint8_t>(std::clamp(std::nearbyint(w[i] * inv) + z, 0.0f, 15.0f));
  }
  *scale = s;
  *zero = static_cast<uint8_t>(z);
}

}  // namespace

QuantMatrix QuantizedMatrix::view(std::string name) const {
  QuantMatrix m;
  m.name = std::move(name);
  m.format = format;
  m.rows = rows;
  m.cols = cols;
  m.data = data.data();
  m.scales = scales.empty() ? nullptr : scales.data();
  m.zeros = zeros.empty() ? nullptr : zeros.data();
  m.block_rows = block_rows;
  m.block_cols = block_cols;
  return m;
}

std::vector<TensorToWrite> QuantizedMatrix::Tensors(const std::string& prefix) const {
  std::vector<TensorToWrite> out;
  const int64_t scale_rows = (rows + block_rows - 1) / block_rows;
  const int64_t scale_cols = (cols + block_cols - 1) / block_cols;
  switch (format) {
    case WeightFormat::kF32:
      out.push_back({prefix + ".weight", DType::kF32, {rows, cols}, data.data(), data.size()});
      break;
    case WeightFormat::kBF16:
      out.push_back({prefix + ".weight", DType::kBF16, {rows, cols}, data.data(), data.size()});
      break;
    case WeightFormat::kFp8Block:
      out.push_back({prefix + ".weight", DType::kF8E4M3, {rows, cols}, data.data(), data.size()});
      out.push_back({prefix + ".weight_scale_inv",
                     DType::kF32,
                     {scale_rows, scale_cols},
                     scales.data(),
                     scales.size() * sizeof(float)});
      break;
    case WeightFormat::kInt4:
      out.push_back(
          {prefix + ".weight", DType::kU8, {rows, Int4RowBytes(cols)}, data.data(), data.size()});
      out.push_back({prefix + ".weight_scale",
                     DType::kF32,
                     {rows, scale_cols},
                     scales.data(),
                     scales.size() * sizeof(float)});
      if (!zeros.empty()) {
        out.push_back(
            {prefix + ".weight_zero", DType::kU8, {rows, scale_cols}, zeros.data(), zeros.size()});
      }
      break;
  }
  return out;
}

Result<QuantizedMatrix> QuantizeInt4(const float* w, int64_t rows, int64_t cols,
                                     const Int4Options& options, ThreadPool* pool) {
  DSV32_RETURN_IF_ERROR(CheckShape(w, rows, cols));
  if (!IsValidInt4Group(options.group)) {
    return InvalidArgument("quantize: INT4 group " + std::to_string(options.group) +
                           " is not a multiple of 32");
  }
  QuantizedMatrix q;
  q.format = WeightFormat::kInt4;
  q.rows = rows;
  q.cols = cols;
  q.block_rows = 1;
  q.block_cols = options.group;
  const int64_t groups = (cols + options.group - 1) / options.group;
  const int64_t row_bytes = Int4RowBytes(cols);
  q.data.resize(static_cast<size_t>(rows * row_bytes));
  q.scales.resize(static_cast<size_t>(rows * groups));
  if (options.asymmetric) q.zeros.resize(static_cast<size_t>(rows * groups));

  ForRows(rows, 1, pool, [&](int64_t begin, int64_t end) {
    std::vector<uint8_t> nibbles(static_cast<size_t>(row_bytes * 2));
    for (int64_t r = begin; r < end; ++r) {
      const float* src = w + r * cols;
      for (int64_t g = 0; g < groups; ++g) {
        const int64_t c0 = g * options.group;
        const int64_t n = std::min(options.group, cols - c0);
        uint8_t zero;
        QuantizeInt4Group(src + c0, n, options.asymmetric, nibbles.data() + c0,
                          &q.scales[static_cast<size_t>(r * groups + g)], &zero);
        // Padding past the last column dequantizes to 0.
        for (int64_t c = c0 + n; c < (g + 1) * options.group && c < row_bytes * 2; ++c) {
          nibbles[static_cast<size_t>(c)] = zero;
        }
        if (options.asymmetric) q.zeros[static_cast<size_t>(r * groups + g)] = zero;
      }
      uint8_t* dst = q.data.data() + r * row_bytes;
      for (int64_t chunk = 0; chunk < row_bytes / kInt4ChunkBytes; ++chunk) {
        const uint8_t* lo = nibbles.data() + chunk * kInt4Chunk;
        for (int64_t j = 0; j < kInt4ChunkBytes; ++j) {
          dst[chunk * kInt4ChunkBytes + j] =
              static_cast<uint8_t>(lo[j] | (lo[j + kInt4ChunkBytes] << 4));
        }
      }
    }
  });
  return q;
}

Result<QuantizedMatrix> QuantizeFp8Block(const float* w, int64_t rows, int64_t cols,
                                         const Fp8Options& options, ThreadPool* pool) {
  DSV32_RETURN_IF_ERROR(CheckShape(w, rows, cols));
  if (options.block <= 0) {
    return InvalidArgument("quantize: FP8 block " + std::to_string(options.block));
  }
  QuantizedMatrix q;
  q.format = WeightFormat::kFp8Block;
  q.rows = rows;
  q.cols = cols;
  q.block_rows = options.block;
  q.block_cols = options.block;
  const int64_t block_grid_rows = (rows + options.block - 1) / options.block;
  const int64_t block_grid_cols = (cols + options.block - 1) / options.block;
  q.data.resize(static_cast<size_t>(rows * cols));
  q.scales.resize(static_cast<size_t>(block_grid_rows * block_grid_cols));

  ForRows(block_grid_rows, 1, pool, [&](int64_t begin, int64_t end) {
    for (int64_t br = begin; br < end; ++br) {
      const int64_t r0 = br * options.block;
      const int64_t r1 = std::min(rows, r0 + options.block);
      for (int64_t bc = 0; bc < block_grid_cols; ++bc) {
        const int64_t c0 = bc * options.block;
        const int64_t c1 = std::min(cols, c0 + options.block);
        float amax = 0.0f;
        for (int64_t r = r0; r < r1; ++r)
          for (int64_t c = c0; c < c1; ++c) amax = std::max(amax, std::fabs(w[r * cols + c]));
        float s = amax / 448.0f;
        if (options.ue8m0_scales && s > 0.0f) s = std::exp2(std::ceil(std::log2(s)));
        const float inv = s > 0.0f ? 1.0f / s : 0.0f;
        q.scales[static_cast<size_t>(br * block_grid_cols + bc)] = s;
        for (int64_t r = r0; r < r1; ++r)
          for (int64_t c = c0; c < c1; ++c)
            q.data[static_cast<size_t>(r * cols + c)] = F32ToFp8E4M3(w[r * cols + c] * inv);
      }
    }
  });
  return q;
}

Result<QuantizedMatrix> ConvertToBF16(const float* w, int64_t rows, int64_t cols) {
  DSV32_RETURN_IF_ERROR(CheckShape(w, rows, cols));
  QuantizedMatrix q;
  q.format = WeightFormat::kBF16;
  q.rows = rows;
  q.cols = cols;
  q.data.resize(static_cast<size_t>(rows * cols * 2));
  for (int64_t i = 0; i < rows * cols; ++i) {
    const uint16_t v = F32ToBF16(w[i]);
    std::memcpy(q.data.data() + 2 * i, &v, 2);
  }
  return q;
}

}  // namespace dsv32

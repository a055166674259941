// Rotary position embedding with DeepSeek's YaRN frequency scaling, as the
// reference computes it. MLA rotates interleaved pairs (x[2i], x[2i+1]); the
// DSA indexer rotates halves (x[i], x[i + d/2]). The pairing changes the
// stored layout but not any dot product, so both layouts serve attention.
#pragma once

#include <cstdint>
#include <vector>

#include "core/config.h"

namespace dsv32 {

class Rope {
 public:
  explicit Rope(const ModelConfig& config);

  int64_t dim() const { return dim_; }
  // cos and sin of every frequency at `position`, scaled by the YaRN
  // attention factor; each has dim()/2 values.
  void Angles(int64_t position, float* cos, float* sin) const;

  // Rotate x[0..dim) in place.
  void ApplyInterleaved(float* x, const float* cos, const float* sin) const;
  void ApplyHalf(float* x, const float* cos, const float* sin) const;

  // Softmax scale of MLA: qk_head_dim^-0.5, times mscale^2 under YaRN.
  static float SoftmaxScale(const ModelConfig& config);

 private:
  int64_t dim_;
  std::vector<float> inv_freq_;
  float attention_factor_ = 1.0f;
};

}  // namespace dsv32

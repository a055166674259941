#include "attention/rope.h"

#include <algorithm>
#include <cmath>

namespace dsv32 {

namespace {

double YarnMscale(double scale, double mscale) {
  if (scale <= 1.0) return 1.0;
  return 0.1 * mscale * std::log(scale) + 1.0;
}

// The rotary dimension at which a wavelength completes `rotations` turns
// over the original context.
double CorrectionDim(double rotations, int64_t dim, double base, double max_positions) {
  return (static_cast<double>(dim) * std::log(max_positions / (rotations * 2.0 * M_PI))) /
         (2.0 * std::log(base));
}

}  // namespace

Rope::Rope(const ModelConfig& config) : dim_(config.qk_rope_head_dim) {
  const int64_t half = dim_ / 2;
  const auto base = static_cast<float>(config.rope_theta);
  inv_freq_.resize(static_cast<size_t>(half));
  std::vector<float> extrapolation(static_cast<size_t>(half));
  for (int64_t i = 0; i < half; ++i) {
    const float exponent = static_cast<float>(2 * i) / static_cast<float>(dim_);
    extrapolation[static_cast<size_t>(i)] = 1.0f / std::pow(base, exponent);
  }
  const RopeScaling& s = config.rope_scaling;
  if (s.type != "yarn") {
    inv_freq_ = extrapolation;
    return;
  }
  const auto factor = static_cast<float>(s.factor);
  const double original = static_cast<double>(s.original_max_position_embeddings);
  double low = std::floor(CorrectionDim(s.beta_fast, dim_, config.rope_theta, original));
  double high = std::ceil(CorrectionDim(s.beta_slow, dim_, config.rope_theta, original));
  low = std::max(low, 0.0);
  high = std::min(high, static_cast<double>(dim_ - 1));
  if (low == high) high += 0.001;
  for (int64_t i = 0; i < half; ++i) {
    const float ramp = std::clamp(
        static_cast<float>((static_cast<double>(i) - low) / (high - low)), 0.0f, 1.0f);
    const float keep = 1.0f - ramp;  // weight of the unscaled (extrapolated) frequency
    const float e = extrapolation[static_cast<size_t>(i)];
    inv_freq_[static_cast<size_t>(i)] = e / factor * (1.0f - keep) + e * keep;
  }
  if (s.mscale != 0.0 && s.mscale_all_dim != 0.0) {
    attention_factor_ = static_cast<float>(YarnMscale(s.factor, s.mscale) /
                                           YarnMscale(s.factor, s.mscale_all_dim));
  } else {
    attention_factor_ = static_cast<float>(YarnMscale(s.factor, 1.0));
  }
}

void Rope::Angles(int64_t position, float* cos, float* sin) const {
  const auto p = static_cast<float>(position);
  for (size_t i = 0; i < inv_freq_.size(); ++i) {
    const float angle = inv_freq_[i] * p;
    cos[i] = std::cos(angle) * attention_factor_;
    sin[i] = std::sin(angle) * attention_factor_;
  }
}

void Rope::ApplyInterleaved(float* x, const float* cos, const float* sin) const {
  for (int64_t i = 0; i < dim_ / 2; ++i) {
    const float a = x[2 * i];
    const float b = x[2 * i + 1];
    x[2 * i] = a * cos[i] - b * sin[i];
    x[2 * i + 1] = b * cos[i] + a * sin[i];
  }
}

void Rope::ApplyHalf(float* x, const float* cos, const float* sin) const {
  const int64_t half = dim_ / 2;
  for (int64_t i = 0; i < half; ++i) {
    const float a = x[i];
    const float b = x[i + half];
    x[i] = a * cos[i] - b * sin[i];
    x[i + half] = b * cos[i] + a * sin[i];
  }
}

float Rope::SoftmaxScale(const ModelConfig& config) {
  double scale = 1.0 / std::sqrt(static_cast<double>(config.qk_head_dim()));
  const RopeScaling& s = config.rope_scaling;
  if (s.type == "yarn" && s.mscale_all_dim != 0.0) {
    const double m = YarnMscale(s.factor, s.mscale_all_dim);
    scale *= m * m;
  }
  return static_cast<float>(scale);
}

}  // namespace dsv32

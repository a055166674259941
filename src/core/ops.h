// Small row-wise operations of the forward pass, in f32, written to match
// the reference's arithmetic (reductions in f32, eps inside the root).
#pragma once

#include <cstdint>

namespace dsv32 {

// y = x / sqrt(mean(x^2) + eps) * weight, for one row of n values.
void RmsNorm(const float* x, const float* weight, int64_t n, double eps, float* y);

// y = (x - mean) / sqrt(var + eps) * weight + bias (biased variance).
void LayerNorm(const float* x, const float* weight, const float* bias, int64_t n, double eps,
               float* y);

// In place: x = silu(gate) * up, elementwise over n values.
void SiluMul(float* gate_then_out, const float* up, int64_t n);

// In place softmax over n values (max-subtracted).
void Softmax(float* x, int64_t n);

float Dot(const float* a, const float* b, int64_t n);

// y += a * x over n values.
void Axpy(float a, const float* x, float* y, int64_t n);

}  // namespace dsv32

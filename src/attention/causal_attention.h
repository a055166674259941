// Causal attention of one head over every earlier position, as a blocked
// kernel: the prefill of a prompt whose tokens each attend to all the
// positions before them (no indexer, or an indexer that keeps them all).
//
// Six queries at a time share each block of keys, so a key is read once
// per six queries instead of once per query; the keys are transposed so
// their lanes run over positions, and a running softmax (the flash
// attention recurrence) keeps each query's maximum, normaliser and
// weighted values across the blocks. The sums are those of a plain softmax
// to f32 rounding.
#pragma once

#include <cstdint>

namespace dsv32 {

struct CausalHead {
  // Query i of this head: q[i * q_stride + d] for d < nope + rope, its
  // no-position part first (as MLA's q is laid out).
  const float* q;
  int64_t q_stride;
  // Position t's key and value for this head: k_nope[t * kv_stride + d]
  // for d < nope and v[t * kv_stride + d] for d < v_dim, and its rope key
  // k_rope[t * rope + d], which every head shares.
  const float* k_nope;
  const float* v;
  int64_t kv_stride;
  const float* k_rope;
  int64_t nope, rope, v_dim;
  // Query i sits at position first_position + i and sees positions
  // 0..first_position + i.
  int64_t tokens, first_position;
  float scale;  // multiplies every score before the softmax
  // Query i's output: out[i * out_stride + d] for d < v_dim.
  float* out;
  int64_t out_stride;
};

// Head h of MLA's buffers, where the heads are interleaved: q [tokens,
// heads, nope + rope], kv [positions, heads, nope + v_dim], rope keys
// [positions, rope] (one per position), out [tokens, heads, v_dim].
struct MlaBuffers {
  const float* q;
  const float* kv;
  const float* rope_keys;
  float* out;
  int64_t heads, nope, rope, v_dim;
};
inline CausalHead MlaCausalHead(const MlaBuffers& b, int64_t h, int64_t tokens,
                                int64_t first_position, float scale) {
  const int64_t kv_width = b.nope + b.v_dim;
  CausalHead head;
  head.q = b.q + h * (b.nope + b.rope);
  head.q_stride = b.heads * (b.nope + b.rope);
  head.k_nope = b.kv + h * kv_width;
  head.v = head.k_nope + b.nope;
  head.kv_stride = b.heads * kv_width;
  head.k_rope = b.rope_keys;
  head.nope = b.nope;
  head.rope = b.rope;
  head.v_dim = b.v_dim;
  head.tokens = tokens;
  head.first_position = first_position;
  head.scale = scale;
  head.out = b.out + h * b.v_dim;
  head.out_stride = b.heads * b.v_dim;
  return head;
}

// Writes every query's softmax-weighted sum of the values it sees. Uses
// working memory kept on the calling thread; throws std::bad_alloc if none
// can be had.
void AttendCausalHead(const CausalHead& head);

}  // namespace dsv32

// The per-sequence cache of what attention needs from earlier tokens. MLA
// keeps no per-head keys or values: per layer and token it stores the
// kv_lora_rank latent (after kv_a_layernorm) and the shared rope key (after
// RoPE), and V3.2 adds the indexer's key. Storage grows on demand up to the
// sequence's token limit.
#pragma once

#include <cstdint>
#include <vector>

#include "core/config.h"
#include "core/status.h"

namespace dsv32 {

class KvCache {
 public:
  // max_tokens bounds the context; 0 means the config's max_position_embeddings.
  KvCache(const ModelConfig& config, int64_t max_tokens);

  int64_t length() const { return length_; }
  int64_t max_tokens() const { return max_tokens_; }
  int64_t kv_lora_rank() const { return kv_lora_rank_; }
  int64_t rope_dim() const { return rope_dim_; }
  int64_t index_dim() const { return index_dim_; }

  // Makes room for positions [0, new_length); OutOfRange past max_tokens,
  // OutOfMemory if the allocation fails.
  Status Reserve(int64_t new_length);
  // Forgets every position from `length` on (rollback, re-evaluation).
  void Truncate(int64_t length);
  // Marks positions [0, length) as filled once a forward has written them.
  void SetLength(int64_t length) { length_ = length; }

  float* latent(int64_t layer, int64_t pos) {
    return layers_[static_cast<size_t>(layer)].latent.data() + pos * kv_lora_rank_;
  }
  float* rope_key(int64_t layer, int64_t pos) {
    return layers_[static_cast<size_t>(layer)].rope_key.data() + pos * rope_dim_;
  }
  float* index_key(int64_t layer, int64_t pos) {
    return layers_[static_cast<size_t>(layer)].index_key.data() + pos * index_dim_;
  }

  // Bytes one token occupies over all layers in this cache's storage.
  int64_t bytes_per_token() const;
  // Bytes currently allocated.
  int64_t allocated_bytes() const;

 private:
  struct Layer {
    std::vector<float> latent, rope_key, index_key;
  };
  int64_t kv_lora_rank_, rope_dim_, index_dim_;
  int64_t max_tokens_;
  int64_t capacity_ = 0;
  int64_t length_ = 0;
  std::vector<Layer> layers_;
};

}  // namespace dsv32

#include "attention/kv_cache.h"

#include <algorithm>
#include <new>

namespace dsv32 {

KvCache::KvCache(const ModelConfig& config, int64_t max_tokens)
    : kv_lora_rank_(config.kv_lora_rank),
      rope_dim_(config.qk_rope_head_dim),
      index_dim_(config.has_indexer ? config.index_head_dim : 0),
      max_tokens_(max_tokens > 0 ? std::min(max_tokens, config.max_position_embeddings)
                                 : config.max_position_embeddings),
      layers_(static_cast<size_t>(config.num_hidden_layers)) {}

Status KvCache::Reserve(int64_t new_length) {
  if (new_length > max_tokens_)
    return OutOfRange("context of " + std::to_string(new_length) +
                      " tokens does not fit the cache limit of " + std::to_string(max_tokens_));
  if (new_length <= capacity_) return Status::Ok();
  // Grow geometrically so token-by-token decoding reallocates rarely.
  const int64_t capacity = std::min(max_tokens_, std::max<int64_t>(new_length, 2 * capacity_));
  try {
    for (auto& layer : layers_) {
      layer.latent.resize(static_cast<size_t>(capacity * kv_lora_rank_));
      layer.rope_key.resize(static_cast<size_t>(capacity * rope_dim_));
      layer.index_key.resize(static_cast<size_t>(capacity * index_dim_));
    }
  } catch (const std::bad_alloc&) {
    return OutOfMemory("cannot allocate the KV cache for " + std::to_string(capacity) + " tokens");
  }
  capacity_ = capacity;
  return Status::Ok();
}

void KvCache::Truncate(int64_t length) { length_ = std::min(length_, std::max<int64_t>(0, length)); }

int64_t KvCache::bytes_per_token() const {
  return static_cast<int64_t>(layers_.size()) * (kv_lora_rank_ + rope_dim_ + index_dim_) *
         static_cast<int64_t>(sizeof(float));
}

int64_t KvCache::allocated_bytes() const { return capacity_ * bytes_per_token(); }

}  // namespace dsv32

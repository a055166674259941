// How the engine asks for KV-cache room. Admission and preemption speak only
// to this interface ("can this sequence grow to N tokens?", "free this
// sequence"), so the storage behind it can change from one contiguous cache
// per sequence to pages of a shared pool without touching the scheduler.
#pragma once

#include <cstdint>
#include <memory>

#include "attention/kv_cache.h"
#include "core/config.h"

namespace dsv32 {

// A sequence's claim on the budget and the cache it owns while admitted.
struct SequenceKv {
  std::unique_ptr<KvCache> cache;
  int64_t reserved_tokens = 0;
};

// The budget counts reserved tokens. Each sequence's cache is still one
// contiguous buffer that grows geometrically, so until the cache is paged
// the memory actually held may run up to twice the tokens reserved.
class KvBudget {
 public:
  // budget_bytes: what all sequences' caches may use together; max_context:
  // the most tokens one sequence may hold.
  KvBudget(const ModelConfig& config, int64_t budget_bytes, int64_t max_context);

  // Grows `seq`'s claim to `tokens` tokens in all (creating its cache on the
  // first call). False, with nothing changed, if the budget cannot cover it.
  bool Reserve(SequenceKv* seq, int64_t tokens);
  // Gives the sequence's claim back and drops its cache.
  void Free(SequenceKv* seq);

  int64_t bytes_per_token() const { return bytes_per_token_; }
  int64_t capacity_tokens() const { return capacity_tokens_; }
  int64_t used_tokens() const { return used_tokens_; }
  int64_t max_context() const { return max_context_; }

 private:
  const ModelConfig& config_;
  int64_t bytes_per_token_;
  int64_t capacity_tokens_;
  int64_t max_context_;
  int64_t used_tokens_ = 0;
};

}  // namespace dsv32

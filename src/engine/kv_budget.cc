#include "engine/kv_budget.h"

#include <algorithm>

namespace dsv32 {

KvBudget::KvBudget(const ModelConfig& config, int64_t budget_bytes, int64_t max_context)
    : config_(config),
      bytes_per_token_(KvCache(config, 1).bytes_per_token()),
      capacity_tokens_(bytes_per_token_ > 0 ? budget_bytes / bytes_per_token_ : 0),
      max_context_(max_context > 0 ? std::min(max_context, config.max_position_embeddings)
                                   : config.max_position_embeddings) {}

bool KvBudget::Reserve(SequenceKv* seq, int64_t tokens) {
  if (tokens <= seq->reserved_tokens) return true;
  if (tokens > max_context_) return false;
  const int64_t more = tokens - seq->reserved_tokens;
  if (used_tokens_ + more > capacity_tokens_) return false;
  if (!seq->cache) seq->cache = std::make_unique<KvCache>(config_, max_context_);
  used_tokens_ += more;
  seq->reserved_tokens = tokens;
  return true;
}

void KvBudget::Free(SequenceKv* seq) {
  used_tokens_ -= seq->reserved_tokens;
  seq->reserved_tokens = 0;
  seq->cache.reset();
}

}  // namespace dsv32

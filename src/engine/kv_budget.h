// How the engine holds KV-cache room: every sequence's cache is a page table
// into one shared KvPagePool, and a PrefixCache over the same pool keeps the
// full pages of finished, preempted and fully prefilled sequences so that a
// later prompt with the same start adopts them instead of recomputing.
//
// The scheduler speaks only to this class ("admit this prompt", "can this
// sequence grow to N tokens?", "free this sequence"). A page the prefix
// cache alone holds is free room: when the pool runs short, the least
// recently used of those pages are evicted before anyone is preempted.
// Preempting a sequence publishes its full pages first, so while they stay
// in the tree its recomputation after readmission is only the last partial
// page (on a CPU, where the cache already lives in host memory, this is what
// swapping out to host memory amounts to).
//
// With speculative decoding each sequence may also hold a cache for the MTP
// layer, in a second pool with the same page size and as many pages (the
// byte budget is split between the two), and a second prefix cache keeps
// its full pages beside the main ones. An MTP entry at position i is made
// from the main model's hidden state there and token i + 1, so a cached
// MTP page is trusted only up to its last position, which is recomputed.
//
// Not thread-safe: the engine calls it under its lock.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "attention/kv_cache.h"
#include "attention/kv_page_pool.h"
#include "attention/prefix_cache.h"
#include "core/config.h"
#include "core/status.h"

namespace dsv32 {

// A sequence's cache while it is admitted (null otherwise).
struct SequenceKv {
  std::unique_ptr<KvCache> cache;
  std::unique_ptr<KvCache> mtp;  // the MTP layer's, while the sequence speculates
};

struct KvBudgetOptions {
  KvPoolOptions pool;            // layout, page size and byte budget of all sequences together
  int64_t max_context = 0;       // the most tokens one sequence may hold; 0: the config's limit
  bool prefix_cache = true;      // keep full pages for reuse across sequences
  int64_t prefix_max_pages = 0;  // 0: only the pool bounds the tree
  // Model::mtp_cache_config() when sequences may speculate (it must
  // outlive the budget), else null: no MTP pool.
  const ModelConfig* mtp_config = nullptr;
};

class KvBudget {
 public:
  static Result<std::unique_ptr<KvBudget>> Create(const ModelConfig& config,
                                                  const KvBudgetOptions& options);

  // Gives the idle `seq` a cache holding the longest cached prefix of
  // `tokens` and pages for all of them. Returns the positions reused, or
  // nullopt (nothing held) when the pool cannot cover the prompt now.
  // With `mtp` (and an MTP pool) the sequence also gets an MTP cache with
  // pages for all but the last token, and both caches start from the
  // prefix that both trees hold; if the MTP pool cannot cover it, the
  // sequence gets none and the main cache alone decides.
  std::optional<int64_t> Admit(SequenceKv* seq, std::span<const int32_t> tokens, bool mtp = false);
  // Like Admit, but the cache starts from a sequence file (attention/
  // kv_file.h, written by another engine after its prefill) instead of the
  // prefix cache. The file must hold a prefix of `tokens` computed by the
  // model `model_hash` names (all of them: the last is evaluated again). nullopt when the pool
  // cannot hold it now; an error for a bad or foreign file.
  Result<std::optional<int64_t>> AdmitFromFile(SequenceKv* seq, std::span<const int32_t> tokens,
                                               const std::string& path, uint64_t model_hash);
  // Grows `seq`'s pages to cover `tokens` positions, evicting cached
  // prefixes if needed. False, with nothing held beyond its length, if
  // the pool cannot cover it or it would pass max_context.
  bool Reserve(SequenceKv* seq, int64_t tokens);
  // The same for the sequence's MTP cache.
  bool ReserveMtp(SequenceKv* seq, int64_t tokens);
  // Records the full pages of `seq`'s first positions, whose token ids are
  // `tokens`, in the prefix cache (its MTP cache's too, up to its length).
  void Publish(const SequenceKv& seq, std::span<const int32_t> tokens);
  // Gives the sequence's pages back (those in the prefix cache stay there).
  void Free(SequenceKv* seq);
  // Gives back only its MTP cache: the sequence stops speculating.
  void FreeMtp(SequenceKv* seq) { seq->mtp.reset(); }

  bool has_mtp_pool() const { return mtp_pool_ != nullptr; }

  // Both pools' when there is an MTP one: what a token costs the budget.
  int64_t bytes_per_token() const {
    return pool_->bytes_per_token() + (mtp_pool_ ? mtp_pool_->bytes_per_token() : 0);
  }
  int64_t page_tokens() const { return pool_->page_tokens(); }
  int64_t capacity_tokens() const { return pool_->max_pages() * pool_->page_tokens(); }
  int64_t used_pages() const { return pool_->used_pages(); }
  int64_t max_pages() const { return pool_->max_pages(); }
  int64_t mtp_used_pages() const { return mtp_pool_ ? mtp_pool_->used_pages() : 0; }
  int64_t cached_pages() const { return prefix_ ? prefix_->cached_pages() : 0; }
  // Pages only the prefix cache holds: free room in all but name.
  int64_t ReclaimablePages() const;
  int64_t max_context() const { return max_context_; }
  KvLayout layout() const { return pool_->layout(); }
  // Zero statistics when the prefix cache is off.
  PrefixCacheStats prefix_stats() const { return prefix_ ? prefix_->stats() : PrefixCacheStats{}; }

 private:
  KvBudget(const ModelConfig& config, std::shared_ptr<KvPagePool> pool, int64_t max_context);
  int64_t PagesFor(int64_t tokens) const {
    return (tokens + pool_->page_tokens() - 1) / pool_->page_tokens();
  }
  // Frees cached-only pages of `prefix` until `pages` are free in `pool`,
  // if it can.
  static bool MakeRoom(KvPagePool& pool, PrefixCache* prefix, int64_t pages);
  // Grows `cache` to `tokens` positions in `pool`, as Reserve.
  bool Grow(KvCache* cache, KvPagePool& pool, PrefixCache* prefix, int64_t tokens);

  const ModelConfig& config_;
  std::shared_ptr<KvPagePool> pool_;
  std::unique_ptr<PrefixCache> prefix_;
  const ModelConfig* mtp_config_ = nullptr;
  std::shared_ptr<KvPagePool> mtp_pool_;
  std::unique_ptr<PrefixCache> mtp_prefix_;
  int64_t max_context_;
};

}  // namespace dsv32

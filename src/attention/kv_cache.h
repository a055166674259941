// One sequence's view of the KV cache: its page table into a KvPagePool
// and how many positions are filled. MLA keeps no per-head keys or values:
// per layer and token it stores the kv_lora_rank latent (after
// kv_a_layernorm) and the shared rope key (after RoPE), and V3.2 adds the
// indexer's key (after LayerNorm and RoPE). Model::Forward reads and
// writes entries through this class; pages come from the pool on demand.
//
// Life of a sequence, as a serving engine drives it:
//   KvCache seq(pool, max_tokens);        // empty, holds no pages
//   model.Forward(&seq, prompt, 0, ...);  // OutOfMemory if pages run out
//   seq.length(), seq.pages().size()      // for admission and accounting
//   seq.Truncate(n);                      // roll back (pages past n freed)
//   auto child = seq.Fork(n);             // share [0, n) copy-on-write
//   seq.Clear();  (or destroy)            // give every page back
//
// The f32 layout stores exactly what the forward computed and is the
// reference; bf16 and fp8 round the stored values (docs/kv-cache.md).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "attention/kv_page_pool.h"
#include "core/config.h"
#include "core/status.h"

namespace dsv32 {

class KvCache {
 public:
  // A cache with its own f32 pool sized for max_tokens (0: the config's
  // max_position_embeddings); memory is taken as positions are reserved.
  KvCache(const ModelConfig& config, int64_t max_tokens);
  // A sequence in a shared pool; max_tokens 0 means the config's limit.
  KvCache(std::shared_ptr<KvPagePool> pool, const ModelConfig& config, int64_t max_tokens);
  ~KvCache();
  KvCache(KvCache&& other) noexcept;
  KvCache& operator=(KvCache&& other) noexcept;
  KvCache(const KvCache&) = delete;
  KvCache& operator=(const KvCache&) = delete;

  int64_t length() const { return length_; }
  int64_t max_tokens() const { return max_tokens_; }
  int64_t kv_lora_rank() const { return format().field(KvField::kLatent).dim; }
  int64_t rope_dim() const { return format().field(KvField::kRopeKey).dim; }
  int64_t index_dim() const { return format().field(KvField::kIndexKey).dim; }
  int64_t page_tokens() const { return pool_->page_tokens(); }
  const KvEntryFormat& format() const { return pool_->format(); }
  KvPagePool& pool() const { return *pool_; }
  const std::shared_ptr<KvPagePool>& shared_pool() const { return pool_; }
  // The page of every page_tokens positions, in order.
  const std::vector<int32_t>& pages() const { return pages_; }

  // Makes room for positions [0, new_length) and makes every page that
  // holds a position in [first_write, new_length) private to this sequence
  // (copying shared ones). OutOfRange past max_tokens, OutOfMemory when the
  // pool has no page left; the cache is unchanged on error except for pages
  // already added, which Truncate gives back.
  Status Reserve(int64_t new_length, int64_t first_write);
  Status Reserve(int64_t new_length) { return Reserve(new_length, length_); }
  // Forgets every position from `length` on and frees pages past it.
  void Truncate(int64_t length);
  // Marks positions [0, length) as filled once a forward has written them.
  void SetLength(int64_t length) { length_ = length; }
  // Frees every page; the sequence becomes empty.
  void Clear() { Truncate(0); }
  // A new sequence in the same pool sharing positions [0, length) of this
  // one, page by page; the first write into a shared page copies it.
  Result<KvCache> Fork(int64_t length) const;
  // Makes this empty sequence start with `pages` (retained here), whose
  // first `length` positions are filled. For the prefix cache and loaders.
  Status AdoptPages(std::span<const int32_t> pages, int64_t length);

  // Entry access (positions must be reserved). Store encodes f32 values in
  // the pool's layout; Load decodes them back to f32.
  void StoreLatent(int64_t layer, int64_t pos, const float* latent, const float* rope_key);
  void StoreIndexKey(int64_t layer, int64_t pos, const float* key);
  void LoadLatent(int64_t layer, int64_t pos, float* latent, float* rope_key) const;
  void LoadIndexKey(int64_t layer, int64_t pos, float* key) const;
  // Raw rows for kernels: field `f` of `layer` at `pos`.
  const uint8_t* values(int64_t layer, int64_t pos, KvField f) const;
  const uint8_t* scales(int64_t layer, int64_t pos, KvField f) const;

  // Bytes one token occupies over all layers in this cache's layout.
  int64_t bytes_per_token() const { return pool_->bytes_per_token(); }
  // Bytes of the pages this sequence holds (shared ones counted in full).
  int64_t allocated_bytes() const {
    return static_cast<int64_t>(pages_.size()) * pool_->page_bytes();
  }

 private:
  KvCache(std::shared_ptr<KvPagePool> pool, int64_t max_tokens)
      : pool_(std::move(pool)), max_tokens_(max_tokens) {}
  uint8_t* mutable_values(int64_t layer, int64_t pos, KvField f);
  uint8_t* mutable_scales(int64_t layer, int64_t pos, KvField f);

  std::shared_ptr<KvPagePool> pool_;
  int64_t max_tokens_ = 0;
  int64_t length_ = 0;
  std::vector<int32_t> pages_;
};

}  // namespace dsv32

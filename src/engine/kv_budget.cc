#include "engine/kv_budget.h"

#include <algorithm>

#include "attention/kv_file.h"

namespace dsv32 {

KvBudget::KvBudget(const ModelConfig& config, std::shared_ptr<KvPagePool> pool, int64_t max_context)
    : config_(config), pool_(std::move(pool)), max_context_(max_context) {}

Result<std::unique_ptr<KvBudget>> KvBudget::Create(const ModelConfig& config,
                                                   const KvBudgetOptions& options) {
  KvPoolOptions main = options.pool;
  KvPoolOptions mtp = options.pool;
  if (options.mtp_config) {
    // As many pages in each pool: an MTP cache never holds more positions
    // than its sequence's main cache.
    const int64_t both =
        KvPagePool::PageBytes(config, main) + KvPagePool::PageBytes(*options.mtp_config, mtp);
    const int64_t pages = options.pool.budget_bytes / both;
    if (pages < 1)
      return InvalidArgument("engine KV budget: " + std::to_string(options.pool.budget_bytes) +
                             " bytes hold no page of " + std::to_string(both) +
                             " bytes (main model and MTP layer together)");
    main.budget_bytes = pages * KvPagePool::PageBytes(config, main);
    mtp.budget_bytes = pages * KvPagePool::PageBytes(*options.mtp_config, mtp);
  }
  auto pool = KvPagePool::Create(config, main);
  if (!pool.ok()) return pool.status().WithContext("engine KV budget");
  const int64_t max_context = options.max_context > 0
                                  ? std::min(options.max_context, config.max_position_embeddings)
                                  : config.max_position_embeddings;
  std::unique_ptr<KvBudget> budget(new KvBudget(config, std::move(pool).value(), max_context));
  if (options.prefix_cache)
    budget->prefix_ = std::make_unique<PrefixCache>(budget->pool_, options.prefix_max_pages);
  if (options.mtp_config) {
    auto mtp_pool = KvPagePool::Create(*options.mtp_config, mtp);
    if (!mtp_pool.ok()) return mtp_pool.status().WithContext("engine KV budget, MTP layer");
    budget->mtp_config_ = options.mtp_config;
    budget->mtp_pool_ = std::move(mtp_pool).value();
    if (options.prefix_cache)
      budget->mtp_prefix_ =
          std::make_unique<PrefixCache>(budget->mtp_pool_, options.prefix_max_pages);
  }
  return budget;
}

bool KvBudget::MakeRoom(KvPagePool& pool, PrefixCache* prefix, int64_t pages) {
  const int64_t short_by = pages - pool.free_pages();
  if (short_by > 0 && prefix) prefix->Evict(short_by);
  return pool.free_pages() >= pages;
}

std::optional<int64_t> KvBudget::Admit(SequenceKv* seq, std::span<const int32_t> tokens, bool mtp) {
  const auto n = static_cast<int64_t>(tokens.size());
  if (n > max_context_) return std::nullopt;
  auto cache = std::make_unique<KvCache>(pool_, config_, max_context_);
  int64_t reused = 0;
  if (prefix_) {
    auto attached = prefix_->Attach(tokens, cache.get());
    if (attached.ok()) reused = attached.value();
  }
  std::unique_ptr<KvCache> mtp_cache;
  if (mtp && mtp_pool_) {
    mtp_cache = std::make_unique<KvCache>(mtp_pool_, *mtp_config_, max_context_);
    int64_t mtp_reused = 0;
    if (mtp_prefix_) {
      auto attached = mtp_prefix_->Attach(tokens, mtp_cache.get());
      if (attached.ok()) mtp_reused = attached.value();
    }
    // The last cached MTP entry read a token after the page, which this
    // prompt may not share; both caches restart where the MTP one is sure.
    const int64_t start = std::min(reused, std::max<int64_t>(0, mtp_reused - 1));
    mtp_cache->Truncate(start);
    // One more page for the copy of a shared page the first write lands in.
    const int64_t more = PagesFor(n - 1) - static_cast<int64_t>(mtp_cache->pages().size()) +
                         (start % pool_->page_tokens() ? 1 : 0);
    if (MakeRoom(*mtp_pool_, mtp_prefix_.get(), more) && mtp_cache->Reserve(n - 1, start).ok()) {
      cache->Truncate(start);
      reused = start;
    } else {
      mtp_cache.reset();
    }
  }
  const int64_t more = PagesFor(n) - static_cast<int64_t>(cache->pages().size()) +
                       (reused % pool_->page_tokens() ? 1 : 0);
  if (!MakeRoom(*pool_, prefix_.get(), more) || !cache->Reserve(n, reused).ok())
    return std::nullopt;
  seq->cache = std::move(cache);
  seq->mtp = std::move(mtp_cache);
  return reused;
}

Result<std::optional<int64_t>> KvBudget::AdmitFromFile(SequenceKv* seq,
                                                       std::span<const int32_t> tokens,
                                                       const std::string& path,
                                                       uint64_t model_hash) {
  const auto n = static_cast<int64_t>(tokens.size());
  if (n > max_context_) return OutOfRange("the prompt exceeds max_context");
  auto cache = std::make_unique<KvCache>(pool_, config_, max_context_);
  // The file's pages come on top of the prompt's: make room for all of them.
  if (!MakeRoom(*pool_, prefix_.get(), PagesFor(n))) return std::optional<int64_t>();
  auto loaded = LoadSequenceCache(path, model_hash, cache.get());
  if (!loaded.ok()) return loaded.status();
  const std::vector<int32_t>& held = *loaded;
  if (static_cast<int64_t>(held.size()) > n ||
      !std::equal(held.begin(), held.end(), tokens.begin()))
    return InvalidArgument(path + ": the cache holds " + std::to_string(held.size()) +
                           " tokens that do not start the prompt's " + std::to_string(n));
  // The last token is evaluated again when the file holds the whole prompt:
  // its logits are not stored.
  if (static_cast<int64_t>(held.size()) == n) cache->Truncate(n - 1);
  if (!cache->Reserve(n).ok()) return std::optional<int64_t>();
  const int64_t reused = cache->length();
  seq->cache = std::move(cache);
  return std::optional<int64_t>(reused);
}

bool KvBudget::Grow(KvCache* cache, KvPagePool& pool, PrefixCache* prefix, int64_t tokens) {
  if (tokens > max_context_) return false;
  const int64_t more = PagesFor(tokens) - static_cast<int64_t>(cache->pages().size());
  if (more <= 0) return true;
  if (!MakeRoom(pool, prefix, more) || !cache->Reserve(tokens).ok()) {
    cache->Truncate(cache->length());
    return false;
  }
  return true;
}

bool KvBudget::Reserve(SequenceKv* seq, int64_t tokens) {
  return Grow(seq->cache.get(), *pool_, prefix_.get(), tokens);
}

bool KvBudget::ReserveMtp(SequenceKv* seq, int64_t tokens) {
  return seq->mtp && Grow(seq->mtp.get(), *mtp_pool_, mtp_prefix_.get(), tokens);
}

void KvBudget::Publish(const SequenceKv& seq, std::span<const int32_t> tokens) {
  if (prefix_ && seq.cache) prefix_->Insert(tokens, *seq.cache);
  if (mtp_prefix_ && seq.mtp) mtp_prefix_->Insert(tokens, *seq.mtp);
}

int64_t KvBudget::ReclaimablePages() const { return prefix_ ? prefix_->TreeOnlyPages() : 0; }

void KvBudget::Free(SequenceKv* seq) {
  seq->cache.reset();
  seq->mtp.reset();
}

}  // namespace dsv32

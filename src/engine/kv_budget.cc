#include "engine/kv_budget.h"

#include <algorithm>

#include "attention/kv_file.h"

namespace dsv32 {

KvBudget::KvBudget(const ModelConfig& config, std::shared_ptr<KvPagePool> pool, int64_t max_context)
    : config_(config), pool_(std::move(pool)), max_context_(max_context) {}

Result<std::unique_ptr<KvBudget>> KvBudget::Create(const ModelConfig& config,
                                                   const KvBudgetOptions& options) {
  auto pool = KvPagePool::Create(config, options.pool);
  if (!pool.ok()) return pool.status().WithContext("engine KV budget");
  const int64_t max_context = options.max_context > 0
                                  ? std::min(options.max_context, config.max_position_embeddings)
                                  : config.max_position_embeddings;
  std::unique_ptr<KvBudget> budget(new KvBudget(config, std::move(pool).value(), max_context));
  if (options.prefix_cache)
    budget->prefix_ = std::make_unique<PrefixCache>(budget->pool_, options.prefix_max_pages);
  return budget;
}

bool KvBudget::MakeRoom(int64_t pages) {
  const int64_t short_by = pages - pool_->free_pages();
  if (short_by > 0 && prefix_) prefix_->Evict(short_by);
  return pool_->free_pages() >= pages;
}

std::optional<int64_t> KvBudget::Admit(SequenceKv* seq, std::span<const int32_t> tokens) {
  const auto n = static_cast<int64_t>(tokens.size());
  if (n > max_context_) return std::nullopt;
  auto cache = std::make_unique<KvCache>(pool_, config_, max_context_);
  int64_t reused = 0;
  if (prefix_) {
    auto attached = prefix_->Attach(tokens, cache.get());
    if (attached.ok()) reused = attached.value();
  }
  const int64_t more = PagesFor(n) - static_cast<int64_t>(cache->pages().size());
  if (!MakeRoom(more) || !cache->Reserve(n).ok()) return std::nullopt;
  seq->cache = std::move(cache);
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
  if (!MakeRoom(PagesFor(n))) return std::optional<int64_t>();
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

bool KvBudget::Reserve(SequenceKv* seq, int64_t tokens) {
  KvCache& cache = *seq->cache;
  if (tokens > max_context_) return false;
  const int64_t more = PagesFor(tokens) - static_cast<int64_t>(cache.pages().size());
  if (more <= 0) return true;
  if (!MakeRoom(more) || !cache.Reserve(tokens).ok()) {
    cache.Truncate(cache.length());
    return false;
  }
  return true;
}

void KvBudget::Publish(const SequenceKv& seq, std::span<const int32_t> tokens) {
  if (prefix_ && seq.cache) prefix_->Insert(tokens, *seq.cache);
}

int64_t KvBudget::ReclaimablePages() const { return prefix_ ? prefix_->TreeOnlyPages() : 0; }

void KvBudget::Free(SequenceKv* seq) { seq->cache.reset(); }

}  // namespace dsv32

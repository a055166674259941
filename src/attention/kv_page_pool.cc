#include "attention/kv_page_pool.h"

#include <new>
#include <string>

namespace dsv32 {

namespace {
// Page ids are int32 and the slot table is allocated up front.
constexpr int64_t kMaxPages = int64_t{1} << 24;
}  // namespace

Result<std::shared_ptr<KvPagePool>> KvPagePool::Create(const ModelConfig& config,
                                                       const KvPoolOptions& options) {
  if (options.page_tokens <= 0 || options.page_tokens % 4 != 0)
    return InvalidArgument("KV page size must be a positive multiple of 4 tokens, got " +
                           std::to_string(options.page_tokens));
  std::shared_ptr<KvPagePool> pool(new KvPagePool());
  pool->format_ = KvEntryFormat::For(config, options.layout);
  pool->page_tokens_ = options.page_tokens;
  pool->num_layers_ = config.num_hidden_layers;
  int64_t offset = 0;
  for (int f = 0; f < kNumKvFields; ++f) {
    pool->value_offset_[f] = offset;
    offset += pool->format_.fields[f].value_bytes() * options.page_tokens;
    pool->scale_offset_[f] = offset;
    offset += pool->format_.fields[f].scale_bytes() * options.page_tokens;
  }
  // Keep every layer block 64-byte aligned for vector loads.
  pool->layer_block_bytes_ = (offset + 63) / 64 * 64;
  const int64_t page_bytes = pool->page_bytes();
  pool->max_pages_ = std::min(kMaxPages, options.budget_bytes / page_bytes);
  if (pool->max_pages_ < 1)
    return InvalidArgument("KV budget of " + std::to_string(options.budget_bytes) +
                           " bytes holds no page of " + std::to_string(page_bytes) + " bytes");
  try {
    pool->slots_.resize(static_cast<size_t>(pool->max_pages_));
    pool->refs_.assign(static_cast<size_t>(pool->max_pages_), 0);
  } catch (const std::bad_alloc&) {
    return OutOfMemory("cannot allocate the KV page table");
  }
  return pool;
}

int64_t KvPagePool::PageBytes(const ModelConfig& config, const KvPoolOptions& options) {
  const int64_t block = KvEntryFormat::For(config, options.layout).bytes() * options.page_tokens;
  return (block + 63) / 64 * 64 * config.num_hidden_layers;
}

KvPagePool::~KvPagePool() = default;

int64_t KvPagePool::used_pages() const {
  std::lock_guard<std::mutex> lock(mu_);
  return used_;
}

Result<int32_t> KvPagePool::Allocate() {
  std::lock_guard<std::mutex> lock(mu_);
  int32_t page;
  if (!free_.empty()) {
    page = free_.back();
    free_.pop_back();
  } else if (next_fresh_ < max_pages_) {
    page = static_cast<int32_t>(next_fresh_);
    auto* memory =
        new (std::align_val_t{64}, std::nothrow) uint8_t[static_cast<size_t>(page_bytes())];
    if (!memory)
      return OutOfMemory("KV cache: the system refused a page of " + std::to_string(page_bytes()) +
                         " bytes");
    slots_[static_cast<size_t>(page)].reset(memory);
    ++next_fresh_;
  } else {
    return OutOfMemory("KV cache is full: all " + std::to_string(max_pages_) + " pages of " +
                       std::to_string(page_tokens_) + " tokens (" +
                       std::to_string(max_pages_ * page_bytes()) +
                       " bytes) are in use; free a sequence or raise the KV budget");
  }
  refs_[static_cast<size_t>(page)] = 1;
  ++used_;
  return page;
}

void KvPagePool::Retain(int32_t page) {
  std::lock_guard<std::mutex> lock(mu_);
  ++refs_[static_cast<size_t>(page)];
}

void KvPagePool::Release(int32_t page) {
  std::lock_guard<std::mutex> lock(mu_);
  if (--refs_[static_cast<size_t>(page)] == 0) {
    free_.push_back(page);
    --used_;
  }
}

int32_t KvPagePool::ref_count(int32_t page) const {
  std::lock_guard<std::mutex> lock(mu_);
  return refs_[static_cast<size_t>(page)];
}

}  // namespace dsv32

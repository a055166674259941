#include "attention/kv_cache.h"

#include <algorithm>
#include <cstring>
#include <string>

namespace dsv32 {

namespace {

constexpr int64_t kPrivatePageTokens = 64;

int64_t TokenLimit(const ModelConfig& config, int64_t max_tokens) {
  return max_tokens > 0 ? std::min(max_tokens, config.max_position_embeddings)
                        : config.max_position_embeddings;
}

std::shared_ptr<KvPagePool> PrivatePool(const ModelConfig& config, int64_t max_tokens) {
  KvPoolOptions options;
  options.page_tokens = kPrivatePageTokens;
  const int64_t pages = std::max<int64_t>(
      1, (TokenLimit(config, max_tokens) + kPrivatePageTokens - 1) / kPrivatePageTokens);
  options.budget_bytes = pages * KvPagePool::PageBytes(config, options);
  return KvPagePool::Create(config, options).value();
}

}  // namespace

KvCache::KvCache(const ModelConfig& config, int64_t max_tokens)
    : pool_(PrivatePool(config, max_tokens)), max_tokens_(TokenLimit(config, max_tokens)) {}

KvCache::KvCache(std::shared_ptr<KvPagePool> pool, const ModelConfig& config, int64_t max_tokens)
    : pool_(std::move(pool)), max_tokens_(TokenLimit(config, max_tokens)) {}

KvCache::~KvCache() {
  if (pool_) Clear();
}

KvCache::KvCache(KvCache&& other) noexcept
    : pool_(std::move(other.pool_)),
      max_tokens_(other.max_tokens_),
      length_(other.length_),
      pages_(std::move(other.pages_)) {
  other.length_ = 0;
  other.pages_.clear();
}

KvCache& KvCache::operator=(KvCache&& other) noexcept {
  if (this != &other) {
    if (pool_) Clear();
    pool_ = std::move(other.pool_);
    max_tokens_ = other.max_tokens_;
    length_ = other.length_;
    pages_ = std::move(other.pages_);
    other.length_ = 0;
    other.pages_.clear();
  }
  return *this;
}

Status KvCache::Reserve(int64_t new_length, int64_t first_write) {
  if (new_length > max_tokens_)
    return OutOfRange("context of " + std::to_string(new_length) +
                      " tokens does not fit the cache limit of " + std::to_string(max_tokens_));
  const int64_t P = page_tokens();
  const auto needed = static_cast<size_t>((new_length + P - 1) / P);
  while (pages_.size() < needed) {
    auto page = pool_->Allocate();
    if (!page.ok()) return page.status();
    pages_.push_back(*page);
  }
  // Copy-on-write: a shared page that this write touches becomes private.
  const int64_t first_page = std::max<int64_t>(0, first_write) / P;
  for (auto i = static_cast<size_t>(first_page); i < needed; ++i) {
    const int32_t shared = pages_[i];
    if (pool_->ref_count(shared) == 1) continue;
    auto copy = pool_->Allocate();
    if (!copy.ok()) return copy.status();
    std::memcpy(pool_->page_data(*copy), pool_->page_data(shared),
                static_cast<size_t>(pool_->page_bytes()));
    pages_[i] = *copy;
    pool_->Release(shared);
  }
  return Status::Ok();
}

void KvCache::Truncate(int64_t length) {
  length_ = std::min(length_, std::max<int64_t>(0, length));
  const int64_t P = page_tokens();
  const auto keep = static_cast<size_t>((length_ + P - 1) / P);
  while (pages_.size() > keep) {
    pool_->Release(pages_.back());
    pages_.pop_back();
  }
}

Result<KvCache> KvCache::Fork(int64_t length) const {
  if (length < 0 || length > length_)
    return OutOfRange("cannot fork " + std::to_string(length) + " positions of a sequence of " +
                      std::to_string(length_));
  KvCache child(pool_, max_tokens_);
  const int64_t P = page_tokens();
  DSV32_RETURN_IF_ERROR(
      child.AdoptPages(std::span(pages_).first(static_cast<size_t>((length + P - 1) / P)), length));
  return child;
}

Status KvCache::AdoptPages(std::span<const int32_t> pages, int64_t length) {
  if (!pages_.empty() || length_ != 0) return InvalidArgument("AdoptPages needs an empty sequence");
  const int64_t P = page_tokens();
  if (length < 0 || length > max_tokens_ ||
      static_cast<int64_t>(pages.size()) != (length + P - 1) / P)
    return InvalidArgument("AdoptPages: " + std::to_string(pages.size()) + " pages for " +
                           std::to_string(length) + " positions");
  for (int32_t page : pages) {
    pool_->Retain(page);
    pages_.push_back(page);
  }
  length_ = length;
  return Status::Ok();
}

const uint8_t* KvCache::values(int64_t layer, int64_t pos, KvField f) const {
  const int64_t P = page_tokens();
  const KvPagePool& pool = *pool_;
  return pool.values(pages_[static_cast<size_t>(pos / P)], layer, f) +
         (pos % P) * format().field(f).value_bytes();
}

const uint8_t* KvCache::scales(int64_t layer, int64_t pos, KvField f) const {
  const int64_t P = page_tokens();
  const KvPagePool& pool = *pool_;
  return pool.scales(pages_[static_cast<size_t>(pos / P)], layer, f) +
         (pos % P) * format().field(f).scale_bytes();
}

uint8_t* KvCache::mutable_values(int64_t layer, int64_t pos, KvField f) {
  return const_cast<uint8_t*>(values(layer, pos, f));
}

uint8_t* KvCache::mutable_scales(int64_t layer, int64_t pos, KvField f) {
  return const_cast<uint8_t*>(scales(layer, pos, f));
}

void KvCache::StoreLatent(int64_t layer, int64_t pos, const float* latent, const float* rope_key) {
  EncodeKvField(format().field(KvField::kLatent), latent,
                mutable_values(layer, pos, KvField::kLatent),
                mutable_scales(layer, pos, KvField::kLatent));
  EncodeKvField(format().field(KvField::kRopeKey), rope_key,
                mutable_values(layer, pos, KvField::kRopeKey),
                mutable_scales(layer, pos, KvField::kRopeKey));
}

void KvCache::StoreIndexKey(int64_t layer, int64_t pos, const float* key) {
  EncodeKvField(format().field(KvField::kIndexKey), key,
                mutable_values(layer, pos, KvField::kIndexKey),
                mutable_scales(layer, pos, KvField::kIndexKey));
}

void KvCache::LoadLatent(int64_t layer, int64_t pos, float* latent, float* rope_key) const {
  DecodeKvField(format().field(KvField::kLatent), values(layer, pos, KvField::kLatent),
                scales(layer, pos, KvField::kLatent), latent);
  DecodeKvField(format().field(KvField::kRopeKey), values(layer, pos, KvField::kRopeKey),
                scales(layer, pos, KvField::kRopeKey), rope_key);
}

void KvCache::LoadIndexKey(int64_t layer, int64_t pos, float* key) const {
  DecodeKvField(format().field(KvField::kIndexKey), values(layer, pos, KvField::kIndexKey),
                scales(layer, pos, KvField::kIndexKey), key);
}

}  // namespace dsv32

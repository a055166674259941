#include "attention/prefix_cache.h"

#include <algorithm>

namespace dsv32 {

PrefixCache::PrefixCache(std::shared_ptr<KvPagePool> pool, int64_t max_pages)
    : pool_(std::move(pool)), max_pages_(max_pages) {}

PrefixCache::~PrefixCache() { Clear(); }

void PrefixCache::Touch(Node* node) {
  const uint64_t now = ++clock_;
  for (; node && node != &root_; node = node->parent) node->last_used = now;
}

Result<int64_t> PrefixCache::Attach(std::span<const int32_t> tokens, KvCache* cache) {
  if (cache->length() != 0 || !cache->pages().empty())
    return InvalidArgument("prefix cache: Attach needs an empty sequence");
  if (cache->shared_pool() != pool_)
    return InvalidArgument("prefix cache: the sequence uses another page pool");
  const int64_t P = pool_->page_tokens();
  const auto n = static_cast<int64_t>(tokens.size());
  ++stats_.lookups;
  std::vector<int32_t> pages;
  Node* node = &root_;
  std::vector<int32_t> key;
  // Only pages that end before the last token: it must be evaluated.
  for (int64_t first = 0; first + P <= n - 1; first += P) {
    key.assign(tokens.begin() + first, tokens.begin() + first + P);
    auto it = node->children.find(key);
    if (it == node->children.end()) break;
    node = it->second.get();
    pages.push_back(node->page);
  }
  const auto reused = static_cast<int64_t>(pages.size()) * P;
  Touch(node);
  DSV32_RETURN_IF_ERROR(cache->AdoptPages(pages, reused));
  if (reused > 0) ++stats_.hits;
  stats_.reused_tokens += reused;
  stats_.missed_tokens += n - reused;
  return reused;
}

void PrefixCache::Insert(std::span<const int32_t> tokens, const KvCache& cache) {
  const int64_t P = pool_->page_tokens();
  const int64_t n = std::min<int64_t>(static_cast<int64_t>(tokens.size()), cache.length());
  Node* node = &root_;
  for (int64_t first = 0; first + P <= n; first += P) {
    std::vector<int32_t> key(tokens.begin() + first, tokens.begin() + first + P);
    auto it = node->children.find(key);
    if (it == node->children.end()) {
      auto child = std::make_unique<Node>();
      child->tokens = key;
      child->page = cache.pages()[static_cast<size_t>(first / P)];
      child->parent = node;
      pool_->Retain(child->page);
      ++cached_pages_;
      ++stats_.inserted_pages;
      it = node->children.emplace(std::move(key), std::move(child)).first;
    }
    node = it->second.get();
  }
  Touch(node);
  EnforceLimit();
}

void PrefixCache::RemoveLeaf(Node* leaf) {
  pool_->Release(leaf->page);
  --cached_pages_;
  ++stats_.evicted_pages;
  added_.clear();  // ids from AddNode no longer stable
  leaf->parent->children.erase(leaf->tokens);
}

PrefixCache::Node* PrefixCache::OldestLeaf(bool only_tree_held) {
  Node* victim = nullptr;
  std::vector<Node*> stack{&root_};
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (auto& [key, child] : n->children) stack.push_back(child.get());
    if (n == &root_ || !n->children.empty()) continue;
    if (only_tree_held && pool_->ref_count(n->page) != 1) continue;
    if (!victim || n->last_used < victim->last_used) victim = n;
  }
  return victim;
}

int64_t PrefixCache::Evict(int64_t pages) {
  int64_t freed = 0;
  while (freed < pages) {
    Node* victim = OldestLeaf(/*only_tree_held=*/true);
    if (!victim) break;
    RemoveLeaf(victim);
    ++freed;
  }
  return freed;
}

void PrefixCache::EnforceLimit() {
  while (max_pages_ > 0 && cached_pages_ > max_pages_) {
    Node* victim = OldestLeaf(/*only_tree_held=*/false);
    if (!victim) break;
    RemoveLeaf(victim);
  }
}

void PrefixCache::Clear() {
  std::vector<Node*> stack{&root_};
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (auto& [key, child] : n->children) {
      pool_->Release(child->page);
      stack.push_back(child.get());
    }
  }
  root_.children.clear();
  cached_pages_ = 0;
  added_.clear();
}

int64_t PrefixCache::TreeOnlyPages() const {
  int64_t n = 0;
  std::vector<const Node*> stack{&root_};
  while (!stack.empty()) {
    const Node* node = stack.back();
    stack.pop_back();
    for (const auto& [key, child] : node->children) {
      if (pool_->ref_count(child->page) == 1) ++n;
      stack.push_back(child.get());
    }
  }
  return n;
}

std::vector<PrefixCache::NodeRecord> PrefixCache::Nodes() const {
  std::vector<NodeRecord> out;
  std::vector<std::pair<const Node*, int64_t>> queue{{&root_, -1}};
  for (size_t i = 0; i < queue.size(); ++i) {
    const auto [node, index] = queue[i];
    for (const auto& [key, child] : node->children) {
      out.push_back({index, child->tokens, child->page});
      queue.emplace_back(child.get(), static_cast<int64_t>(out.size()) - 1);
    }
  }
  return out;
}

int64_t PrefixCache::AddNode(int64_t parent, std::span<const int32_t> tokens, int32_t page) {
  Node* under = parent < 0 ? &root_ : added_[static_cast<size_t>(parent)];
  std::vector<int32_t> key(tokens.begin(), tokens.end());
  auto it = under->children.find(key);
  if (it == under->children.end()) {
    auto child = std::make_unique<Node>();
    child->tokens = key;
    child->page = page;
    child->parent = under;
    pool_->Retain(page);
    ++cached_pages_;
    ++stats_.inserted_pages;
    it = under->children.emplace(std::move(key), std::move(child)).first;
  }
  Touch(it->second.get());
  added_.push_back(it->second.get());
  return static_cast<int64_t>(added_.size()) - 1;
}

}  // namespace dsv32

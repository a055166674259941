// Reuse of computed prefixes across sequences: a radix tree over token ids
// whose every node is one full KV page (page_tokens tokens). A node's page
// holds the cache entries (latent, rope key and indexer key of every
// layer) of its tokens at their positions, given every token before them,
// so a sequence whose prompt starts with a node's path can adopt the pages
// instead of recomputing them. Only full pages enter the tree; a sequence
// then writes its own pages after them, so shared pages are never written.
//
// The tree holds one reference on each of its pages. It keeps at most
// max_pages pages, evicting least recently used leaves; Evict frees more on
// demand (when the pool runs short). Not thread-safe: one owner (the
// engine's scheduler) calls it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <vector>

#include "attention/kv_cache.h"

namespace dsv32 {

struct PrefixCacheStats {
  int64_t lookups = 0;
  int64_t hits = 0;           // lookups that reused at least one page
  int64_t reused_tokens = 0;  // positions taken from the tree
  int64_t missed_tokens = 0;  // positions looked up but not found
  int64_t inserted_pages = 0;
  int64_t evicted_pages = 0;
};

class PrefixCache {
 public:
  // max_pages 0: no limit of its own (only the pool's).
  PrefixCache(std::shared_ptr<KvPagePool> pool, int64_t max_pages);
  ~PrefixCache();
  PrefixCache(const PrefixCache&) = delete;
  PrefixCache& operator=(const PrefixCache&) = delete;

  // Gives the empty `cache` the longest cached prefix of `tokens`, in whole
  // pages and shorter than `tokens` (so at least one token is left to
  // evaluate for its logits). Returns the number of positions reused.
  Result<int64_t> Attach(std::span<const int32_t> tokens, KvCache* cache);
  // Records the full pages of `cache`, whose first `tokens.size()`
  // positions hold `tokens` (at most cache.length() are used).
  void Insert(std::span<const int32_t> tokens, const KvCache& cache);
  // Drops least recently used leaves until `pages` pages are back in the
  // pool or no leaf is left that only the tree holds; returns how many
  // pages went back.
  int64_t Evict(int64_t pages);
  // Drops everything.
  void Clear();

  int64_t cached_pages() const { return cached_pages_; }
  // Pages no sequence holds besides the tree: what Evict could give back.
  int64_t TreeOnlyPages() const;
  const PrefixCacheStats& stats() const { return stats_; }
  KvPagePool& pool() const { return *pool_; }
  const std::shared_ptr<KvPagePool>& shared_pool() const { return pool_; }

  // Every node, parents before children, for saving: `parent` indexes
  // into the returned list (-1 for a child of the root).
  struct NodeRecord {
    int64_t parent;
    std::vector<int32_t> tokens;
    int32_t page;
  };
  std::vector<NodeRecord> Nodes() const;
  // Adds a node under `parent` (an id from an earlier AddNode, or -1 for
  // the root), retaining `page`; returns its id, or the existing node's id
  // if those tokens are already there.
  int64_t AddNode(int64_t parent, std::span<const int32_t> tokens, int32_t page);

 private:
  struct Node {
    std::vector<int32_t> tokens;
    int32_t page = -1;
    uint64_t last_used = 0;
    Node* parent = nullptr;
    std::map<std::vector<int32_t>, std::unique_ptr<Node>> children;
  };
  void Touch(Node* node);
  // The least recently used leaf; with only_tree_held, among those whose
  // page no sequence holds (evicting them returns memory).
  Node* OldestLeaf(bool only_tree_held);
  void RemoveLeaf(Node* leaf);
  void EnforceLimit();

  std::shared_ptr<KvPagePool> pool_;
  int64_t max_pages_;
  Node root_;
  uint64_t clock_ = 0;
  int64_t cached_pages_ = 0;
  PrefixCacheStats stats_;
  std::vector<Node*> added_;  // AddNode ids
};

}  // namespace dsv32

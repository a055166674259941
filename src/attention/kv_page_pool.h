// The memory behind every paged KV cache of one model: fixed-size pages of
// page_tokens tokens, each holding all layers' entries for those tokens,
// handed out under a byte budget. Pages are reference-counted so several
// sequences (and the prefix cache) can share a common prefix; a page with
// more than one reference is read-only and is copied before a write
// (KvCache does that).
//
// Within a page, layer l's entries form one block; inside it each field
// (latent, rope key, indexer key) is a plane of page_tokens rows followed by
// that field's scales, so a scan over one field of one layer is contiguous.
//
// Thread safety: Allocate, Retain and Release may be called from any
// thread; page contents are not guarded (a page is written by the one
// sequence that owns it alone).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <new>
#include <vector>

#include "attention/kv_format.h"
#include "core/config.h"
#include "core/status.h"

namespace dsv32 {

struct KvPoolOptions {
  KvLayout layout = KvLayout::kF32;
  int64_t page_tokens = 64;
  // The pool never holds more than this many bytes of pages (rounded down to
  // whole pages); at least one page must fit.
  int64_t budget_bytes = int64_t{1} << 30;
};

class KvPagePool {
 public:
  static Result<std::shared_ptr<KvPagePool>> Create(const ModelConfig& config,
                                                    const KvPoolOptions& options);
  // Bytes of one page for that config and options (all layers, each
  // layer's block padded to 64 bytes): a budget of n * PageBytes holds
  // exactly n pages.
  static int64_t PageBytes(const ModelConfig& config, const KvPoolOptions& options);
  ~KvPagePool();
  KvPagePool(const KvPagePool&) = delete;
  KvPagePool& operator=(const KvPagePool&) = delete;

  const KvEntryFormat& format() const { return format_; }
  KvLayout layout() const { return format_.layout; }
  int64_t page_tokens() const { return page_tokens_; }
  int64_t num_layers() const { return num_layers_; }
  // Bytes of one page (all layers), and of one layer's block in it.
  int64_t page_bytes() const { return layer_block_bytes_ * num_layers_; }
  int64_t layer_block_bytes() const { return layer_block_bytes_; }
  // Bytes one token costs over all layers (KvBytesPerToken of the layout).
  int64_t bytes_per_token() const { return format_.bytes() * num_layers_; }

  int64_t max_pages() const { return max_pages_; }
  int64_t used_pages() const;
  int64_t free_pages() const { return max_pages_ - used_pages(); }

  // A fresh page with one reference; OutOfMemory when the budget is spent.
  Result<int32_t> Allocate();
  void Retain(int32_t page);
  // Drops one reference; the page returns to the pool at zero.
  void Release(int32_t page);
  int32_t ref_count(int32_t page) const;

  uint8_t* page_data(int32_t page) { return slots_[static_cast<size_t>(page)].get(); }
  const uint8_t* page_data(int32_t page) const { return slots_[static_cast<size_t>(page)].get(); }
  // Start of field `f`'s values (rows of field.value_bytes()) and scales
  // (rows of field.scale_bytes()) for `layer` in `page`.
  uint8_t* values(int32_t page, int64_t layer, KvField f) {
    return page_data(page) + layer * layer_block_bytes_ + value_offset_[static_cast<int>(f)];
  }
  uint8_t* scales(int32_t page, int64_t layer, KvField f) {
    return page_data(page) + layer * layer_block_bytes_ + scale_offset_[static_cast<int>(f)];
  }
  const uint8_t* values(int32_t page, int64_t layer, KvField f) const {
    return page_data(page) + layer * layer_block_bytes_ + value_offset_[static_cast<int>(f)];
  }
  const uint8_t* scales(int32_t page, int64_t layer, KvField f) const {
    return page_data(page) + layer * layer_block_bytes_ + scale_offset_[static_cast<int>(f)];
  }

 private:
  KvPagePool() = default;

  KvEntryFormat format_;
  int64_t page_tokens_ = 0;
  int64_t num_layers_ = 0;
  int64_t layer_block_bytes_ = 0;
  int64_t value_offset_[kNumKvFields] = {};
  int64_t scale_offset_[kNumKvFields] = {};
  int64_t max_pages_ = 0;

  struct AlignedDelete {
    void operator()(uint8_t* p) const { ::operator delete[](p, std::align_val_t{64}); }
  };

  mutable std::mutex mu_;
  // One slot per page the budget allows; memory is obtained on first use
  // and kept for reuse once a page is freed.
  std::vector<std::unique_ptr<uint8_t[], AlignedDelete>> slots_;
  std::vector<int32_t> refs_;
  std::vector<int32_t> free_;  // slots with memory and no references
  int64_t next_fresh_ = 0;     // slots below this have memory
  int64_t used_ = 0;
};

}  // namespace dsv32

// Byte-level BPE: a word's bytes start as one symbol each and the adjacent
// pair with the lowest merge rank is merged until no pair has a merge, the
// leftmost pair first among equals. Works on token ids only; the vocab's
// text form stays in the loader.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"

namespace dsv32 {

struct BpeMerge {
  int32_t left;
  int32_t right;
  int32_t merged;  // the id of left + right
};

class BpeModel {
 public:
  // `byte_ids[b]` is the token of the single byte b; `merges` are in rank
  // order (rank 0 first). Fails on a duplicate pair or a negative id.
  static Result<BpeModel> Build(const std::array<int32_t, 256>& byte_ids,
                                const std::vector<BpeMerge>& merges);

  BpeModel(BpeModel&& other) noexcept;
  BpeModel& operator=(BpeModel&&) = delete;

  // Appends the ids of `word` (raw bytes, one pre-token) to `out`. Repeated
  // words come from a cache shared by all threads.
  void EncodeWord(std::string_view word, std::vector<int32_t>* out) const;

  // The merge loops, uncached, public for tests. All give the same ids.
  // Scan: rescans every pair after each merge; cheap for the short words of
  // ordinary text, quadratic for long ones. Queue: a priority queue of
  // pairs, O(n log n) for any word. Rounds: merges every occurrence of the
  // lowest-ranked pair per sweep, fast on long runs of repeated text; it
  // needs merges in creation order (see `ordered_`) and hands a word that
  // takes many rounds over to the queue.
  void EncodeWordByScan(std::string_view word, std::vector<int32_t>* out) const;
  void EncodeWordByQueue(std::string_view word, std::vector<int32_t>* out) const;
  void EncodeWordByRounds(std::string_view word, std::vector<int32_t>* out) const;

  size_t merge_count() const { return merge_count_; }
  bool merges_ordered() const { return ordered_; }

 private:
  BpeModel() = default;

  struct Slot {
    uint64_t key = kEmpty;  // left << 32 | right
    int32_t rank = 0;
    int32_t merged = 0;
  };
  static constexpr uint64_t kEmpty = ~uint64_t{0};

  // The merge of the pair, or nullptr when the pair never merges.
  const Slot* FindMerge(int32_t left, int32_t right) const;

  // Append the single-byte ids of `word` to `out` and merge them in place.
  using MergeLoop = size_t (BpeModel::*)(int32_t* ids, size_t n) const;
  void Encode(std::string_view word, MergeLoop loop, std::vector<int32_t>* out) const;
  // Each merges ids[0, n) in place and returns the new length.
  size_t MergeByScan(int32_t* ids, size_t n) const;
  size_t MergeByQueue(int32_t* ids, size_t n) const;
  size_t MergeByRounds(int32_t* ids, size_t n) const;
  // The loop for a word of n bytes.
  size_t Merge(int32_t* ids, size_t n) const;

  std::array<int32_t, 256> byte_ids_{};
  // Open addressing with linear probing; a power-of-two size at most half full.
  std::vector<Slot> slots_;
  uint64_t mask_ = 0;
  size_t merge_count_ = 0;
  // Every merge that uses a token comes after every merge that makes it, as
  // in any merges list a BPE trainer writes. Then a merge never creates a
  // pair ranked below the one just merged, so merging all occurrences of the
  // lowest-ranked pair at once gives what merging them one by one does.
  bool ordered_ = false;

  // Cache of encoded words, keyed by their bytes. Cleared when full, which
  // keeps memory bounded on adversarial input at little cost on real text.
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> cache_;
};

}  // namespace dsv32

#include "text/bpe.h"

#include <algorithm>
#include <bit>
#include <functional>
#include <optional>

namespace dsv32 {

namespace {

// Words longer than this are merged with the priority queue.
constexpr size_t kScanMaxWord = 48;
// Only short words are cached: long ones rarely repeat.
constexpr size_t kCacheMaxWord = 64;
constexpr size_t kCacheMaxEntries = size_t{1} << 16;
constexpr int32_t kNoMerge = INT32_MAX;

uint64_t PairKey(int32_t left, int32_t right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}

uint64_t Mix(uint64_t key) {
  key ^= key >> 29;
  key *= 0x9E3779B97F4A7C15ull;
  return key ^ (key >> 32);
}

}  // namespace

Result<BpeModel> BpeModel::Build(const std::array<int32_t, 256>& byte_ids,
                                 const std::vector<BpeMerge>& merges) {
  BpeModel m;
  m.byte_ids_ = byte_ids;
  for (int32_t id : byte_ids)
    if (id < 0) return InvalidArgument("BPE byte token id must not be negative");
  size_t size = 16;
  while (size < merges.size() * 2) size *= 2;
  m.slots_.assign(size, Slot{});
  m.mask_ = size - 1;
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const BpeMerge& g = merges[rank];
    if (g.left < 0 || g.right < 0 || g.merged < 0)
      return InvalidArgument("BPE merge " + std::to_string(rank) + " has a negative id");
    const uint64_t key = PairKey(g.left, g.right);
    uint64_t i = Mix(key) & m.mask_;
    while (m.slots_[i].key != kEmpty) {
      if (m.slots_[i].key == key)
        return FormatError("BPE merge " + std::to_string(rank) + " repeats the pair of merge " +
                           std::to_string(m.slots_[i].rank));
      i = (i + 1) & m.mask_;
    }
    m.slots_[i] = Slot{key, static_cast<int32_t>(rank), g.merged};
  }
  m.merge_count_ = merges.size();

  int32_t max_id = 0;
  for (const BpeMerge& g : merges) max_id = std::max({max_id, g.left, g.right, g.merged});
  std::vector<int32_t> last_made(max_id + 1, -1);
  std::vector<int32_t> first_used(max_id + 1, INT32_MAX);
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const BpeMerge& g = merges[rank];
    const auto r = static_cast<int32_t>(rank);
    last_made[g.merged] = std::max(last_made[g.merged], r);
    first_used[g.left] = std::min(first_used[g.left], r);
    first_used[g.right] = std::min(first_used[g.right], r);
  }
  m.ordered_ = true;
  for (int32_t id = 0; id <= max_id; ++id)
    if (last_made[id] >= first_used[id]) m.ordered_ = false;
  return m;
}

BpeModel::BpeModel(BpeModel&& other) noexcept
    : byte_ids_(other.byte_ids_),
      slots_(std::move(other.slots_)),
      mask_(other.mask_),
      merge_count_(other.merge_count_),
      ordered_(other.ordered_) {
  std::lock_guard<std::mutex> lock(other.cache_mutex_);
  cache_ = std::move(other.cache_);
}

const BpeModel::Slot* BpeModel::FindMerge(int32_t left, int32_t right) const {
  const uint64_t key = PairKey(left, right);
  uint64_t i = Mix(key) & mask_;
  while (true) {
    const Slot& s = slots_[i];
    if (s.key == key) return &s;
    if (s.key == kEmpty) return nullptr;
    i = (i + 1) & mask_;
  }
}

void BpeModel::EncodeWord(std::string_view word, std::vector<int32_t>* out) const {
  if (word.empty()) return;
  if (word.size() == 1) {
    out->push_back(byte_ids_[static_cast<uint8_t>(word[0])]);
    return;
  }
  if (word.size() > kCacheMaxWord) return Encode(word, &BpeModel::Merge, out);
  {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    auto it = cache_.find(word);
    if (it != cache_.end()) {
      out->insert(out->end(), it->second.begin(), it->second.end());
      return;
    }
  }
  const size_t start = out->size();
  Encode(word, &BpeModel::Merge, out);
  std::lock_guard<std::mutex> lock(cache_mutex_);
  if (cache_.size() >= kCacheMaxEntries) cache_.clear();
  cache_.emplace(std::string(word), std::vector<int32_t>(out->begin() + start, out->end()));
}

void BpeModel::EncodeWordByScan(std::string_view word, std::vector<int32_t>* out) const {
  Encode(word, word.size() <= kScanMaxWord ? &BpeModel::MergeByScan : &BpeModel::MergeByQueue, out);
}

void BpeModel::EncodeWordByQueue(std::string_view word, std::vector<int32_t>* out) const {
  Encode(word, &BpeModel::MergeByQueue, out);
}

void BpeModel::EncodeWordByRounds(std::string_view word, std::vector<int32_t>* out) const {
  Encode(word, ordered_ ? &BpeModel::MergeByRounds : &BpeModel::MergeByQueue, out);
}

void BpeModel::Encode(std::string_view word, MergeLoop loop, std::vector<int32_t>* out) const {
  const size_t start = out->size();
  for (char c : word) out->push_back(byte_ids_[static_cast<uint8_t>(c)]);
  const size_t n = (this->*loop)(out->data() + start, word.size());
  out->resize(start + n);
}

size_t BpeModel::Merge(int32_t* ids, size_t n) const {
  if (n <= kScanMaxWord) return MergeByScan(ids, n);
  return ordered_ ? MergeByRounds(ids, n) : MergeByQueue(ids, n);
}

size_t BpeModel::MergeByScan(int32_t* ids, size_t n) const {
  if (n < 2) return n;
  if (n > kScanMaxWord) return MergeByQueue(ids, n);
  // Rank of the pair starting at each symbol; kNoMerge = none.
  int32_t ranks[kScanMaxWord];
  int32_t merged[kScanMaxWord];
  auto rate = [&](size_t i) {
    const Slot* s = FindMerge(ids[i], ids[i + 1]);
    ranks[i] = s ? s->rank : kNoMerge;
    merged[i] = s ? s->merged : 0;
  };
  for (size_t i = 0; i + 1 < n; ++i) rate(i);
  ranks[n - 1] = kNoMerge;
  while (n > 1) {
    size_t best = 0;
    for (size_t i = 1; i + 1 < n; ++i)
      if (ranks[i] < ranks[best]) best = i;
    if (ranks[best] == kNoMerge) break;
    ids[best] = merged[best];
    for (size_t i = best + 1; i + 1 < n; ++i) {
      ids[i] = ids[i + 1];
      ranks[i] = ranks[i + 1];
      merged[i] = merged[i + 1];
    }
    --n;
    if (best + 1 < n)
      rate(best);
    else
      ranks[best] = kNoMerge;
    if (best > 0) rate(best - 1);
  }
  return n;
}

size_t BpeModel::MergeByQueue(int32_t* ids, size_t count) const {
  const auto n = static_cast<int32_t>(count);
  struct Symbol {
    int32_t id;    // -1 once merged into the symbol on its left
    int32_t prev;  // -1 at the start
    int32_t next;  // n at the end
  };
  // Entries are rank << 32 | position of the left symbol, smallest first, so
  // equal ranks resolve to the leftmost pair. Entries made stale by an
  // earlier merge are skipped when they come up.
  using Entry = uint64_t;
  // Reused per thread: long words come in bursts (a pasted table, a log).
  thread_local std::vector<Symbol> sym;
  thread_local std::vector<Entry> heap;
  sym.resize(n);
  heap.clear();
  for (int32_t i = 0; i < n; ++i) sym[i] = Symbol{ids[i], i - 1, i + 1};
  auto entry = [&](int32_t left) -> std::optional<Entry> {
    const int32_t right = sym[left].next;
    if (right >= n) return std::nullopt;
    const Slot* s = FindMerge(sym[left].id, sym[right].id);
    if (s == nullptr) return std::nullopt;
    return (static_cast<uint64_t>(s->rank) << 32) | static_cast<uint32_t>(left);
  };
  for (int32_t i = 0; i + 1 < n; ++i)
    if (auto e = entry(i)) heap.push_back(*e);
  const auto later = std::greater<Entry>();
  std::make_heap(heap.begin(), heap.end(), later);
  auto push = [&](int32_t left) {
    if (auto e = entry(left)) {
      heap.push_back(*e);
      std::push_heap(heap.begin(), heap.end(), later);
    }
  };
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), later);
    const Entry e = heap.back();
    heap.pop_back();
    const auto rank = static_cast<int32_t>(e >> 32);
    const auto left = static_cast<int32_t>(e & 0xFFFFFFFFu);
    if (sym[left].id < 0) continue;
    const int32_t right = sym[left].next;
    if (right >= n) continue;
    const Slot* s = FindMerge(sym[left].id, sym[right].id);
    if (s == nullptr || s->rank != rank) continue;
    sym[left].id = s->merged;
    sym[left].next = sym[right].next;
    sym[right].id = -1;
    if (sym[left].next < n) sym[sym[left].next].prev = left;
    push(left);
    if (sym[left].prev >= 0) push(sym[left].prev);
  }
  size_t out = 0;
  for (int32_t i = 0; i < n; i = sym[i].next) ids[out++] = sym[i].id;
  if (sym.capacity() > (size_t{1} << 16)) {
    std::vector<Symbol>().swap(sym);
    std::vector<Entry>().swap(heap);
  }
  return out;
}

size_t BpeModel::MergeByRounds(int32_t* ids, size_t n) const {
  if (n < 2) return n;
  // Per pair (i, i + 1): its rank and merged id. `fresh` marks symbols made
  // in the last sweep, whose pairs need a new look-up.
  thread_local std::vector<int32_t> ranks, merged;
  thread_local std::vector<uint8_t> fresh;
  ranks.resize(n);
  merged.resize(n);
  fresh.assign(n, 1);
  // Past this many sweeps the queue is cheaper (a sweep costs O(n)).
  const size_t max_rounds = 16 + 2 * std::bit_width(n);
  for (size_t round = 0; n > 1; ++round) {
    for (size_t i = 0; i + 1 < n; ++i) {
      if (!fresh[i] && !fresh[i + 1]) continue;
      const Slot* s = FindMerge(ids[i], ids[i + 1]);
      ranks[i] = s ? s->rank : kNoMerge;
      merged[i] = s ? s->merged : 0;
    }
    const int32_t best = *std::min_element(ranks.begin(), ranks.begin() + (n - 1));
    if (best == kNoMerge) break;
    if (round == max_rounds) return MergeByQueue(ids, n);
    // Merge every occurrence of the best pair, left to right, compacting in
    // place. A kept symbol keeps its pair's rank when its right neighbour is
    // kept too; pairs next to a merged symbol are looked up next sweep.
    size_t w = 0;
    for (size_t i = 0; i < n; ++w) {
      if (i + 1 < n && ranks[i] == best) {
        ids[w] = merged[i];
        fresh[w] = 1;
        i += 2;
      } else {
        ids[w] = ids[i];
        ranks[w] = ranks[i];
        merged[w] = merged[i];
        fresh[w] = 0;
        i += 1;
      }
    }
    n = w;
  }
  return n;
}

}  // namespace dsv32

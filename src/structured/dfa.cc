#include "structured/dfa.h"

#include <algorithm>
#include <map>
#include <string>
#include <unordered_map>

namespace dsv32::structured {

namespace {

struct ByteRange {
  uint8_t lo, hi;
  auto operator<=>(const ByteRange&) const = default;
};
using ByteSeq = std::vector<ByteRange>;

int EncodeUtf8(uint32_t cp, uint8_t* out) {
  if (cp < 0x80) {
    out[0] = static_cast<uint8_t>(cp);
    return 1;
  }
  if (cp < 0x800) {
    out[0] = static_cast<uint8_t>(0xC0 | (cp >> 6));
    out[1] = static_cast<uint8_t>(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = static_cast<uint8_t>(0xE0 | (cp >> 12));
    out[1] = static_cast<uint8_t>(0x80 | ((cp >> 6) & 0x3F));
    out[2] = static_cast<uint8_t>(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = static_cast<uint8_t>(0xF0 | (cp >> 18));
  out[1] = static_cast<uint8_t>(0x80 | ((cp >> 12) & 0x3F));
  out[2] = static_cast<uint8_t>(0x80 | ((cp >> 6) & 0x3F));
  out[3] = static_cast<uint8_t>(0x80 | (cp & 0x3F));
  return 4;
}

// The n-byte sequences from a to b (inclusive, continuation bytes in
// 80..BF) as a union of byte-range sequences: a mixed-radix interval split
// at its first differing digit.
void SplitSequences(const uint8_t* a, const uint8_t* b, int n, ByteSeq prefix,
                    std::vector<ByteSeq>* out) {
  if (n == 1 || a[0] == b[0]) {
    prefix.push_back({a[0], b[0]});
    if (n > 1)
      SplitSequences(a + 1, b + 1, n - 1, std::move(prefix), out);
    else
      out->push_back(std::move(prefix));
    return;
  }
  const bool a_lowest = std::all_of(a + 1, a + n, [](uint8_t x) { return x == 0x80; });
  const bool b_highest = std::all_of(b + 1, b + n, [](uint8_t x) { return x == 0xBF; });
  const uint8_t lowest[4] = {0x80, 0x80, 0x80, 0x80};
  const uint8_t highest[4] = {0xBF, 0xBF, 0xBF, 0xBF};
  if (!a_lowest) {
    ByteSeq p = prefix;
    p.push_back({a[0], a[0]});
    SplitSequences(a + 1, highest, n - 1, std::move(p), out);
  }
  const int mid_lo = a[0] + (a_lowest ? 0 : 1);
  const int mid_hi = b[0] - (b_highest ? 0 : 1);
  if (mid_lo <= mid_hi) {
    ByteSeq p = prefix;
    p.push_back({static_cast<uint8_t>(mid_lo), static_cast<uint8_t>(mid_hi)});
    for (int k = 1; k < n; ++k) p.push_back({0x80, 0xBF});
    out->push_back(std::move(p));
  }
  if (!b_highest) {
    ByteSeq p = prefix;
    p.push_back({b[0], b[0]});
    SplitSequences(lowest, b + 1, n - 1, std::move(p), out);
  }
}

// The UTF-8 encodings of a code point set, as byte-range sequences.
std::vector<ByteSeq> Utf8Sequences(const std::vector<CodepointRange>& ranges) {
  static constexpr CodepointRange kByLength[] = {
      {0, 0x7F}, {0x80, 0x7FF}, {0x800, 0xD7FF}, {0xE000, 0xFFFF}, {0x10000, kMaxCodepoint}};
  std::vector<ByteSeq> out;
  for (const CodepointRange& r : ranges) {
    for (const CodepointRange& l : kByLength) {
      const uint32_t lo = std::max(r.lo, l.lo), hi = std::min(r.hi, l.hi);
      if (lo > hi) continue;
      uint8_t a[4], b[4];
      const int n = EncodeUtf8(lo, a);
      EncodeUtf8(hi, b);
      SplitSequences(a, b, n, {}, &out);
    }
  }
  return out;
}

struct NfaEdge {
  uint8_t lo, hi;
  int32_t to;
};

struct Nfa {
  std::vector<std::vector<int32_t>> eps;
  std::vector<std::vector<NfaEdge>> edges;
  int64_t limit = 0;
  bool overflow = false;

  int32_t Add() {
    if (static_cast<int64_t>(eps.size()) >= limit) {
      overflow = true;
      return 0;
    }
    eps.emplace_back();
    edges.emplace_back();
    return static_cast<int32_t>(eps.size() - 1);
  }
  void Eps(int32_t from, int32_t to) {
    if (!overflow) eps[static_cast<size_t>(from)].push_back(to);
  }

  // Byte edges from `from` to `to` that spell one code point of `ranges`.
  void AddSequences(const std::vector<CodepointRange>& ranges, int32_t from, int32_t to) {
    for (const ByteSeq& seq : Utf8Sequences(ranges)) {
      int32_t at = from;
      for (size_t k = 0; k < seq.size() && !overflow; ++k) {
        const int32_t next = k + 1 == seq.size() ? to : Add();
        if (!overflow) edges[static_cast<size_t>(at)].push_back({seq[k].lo, seq[k].hi, next});
        at = next;
      }
    }
  }

  // Builds `node` starting at `from`; returns its end state.
  int32_t Build(const RegexNode& node, int32_t from) {
    if (overflow) return from;
    switch (node.kind) {
      case RegexNode::Kind::kSet: {
        const int32_t end = Add();
        AddSequences(node.ranges, from, end);
        return end;
      }
      case RegexNode::Kind::kConcat: {
        int32_t at = from;
        for (const Regex& c : node.children) at = Build(*c, at);
        return at;
      }
      case RegexNode::Kind::kAlt: {
        const int32_t end = Add();
        for (const Regex& c : node.children) {
          const int32_t start = Add();
          Eps(from, start);
          Eps(Build(*c, start), end);
        }
        return end;
      }
      case RegexNode::Kind::kRepeat: {
        const RegexNode& child = *node.children[0];
        int32_t at = from;
        for (int32_t k = 0; k < node.min && !overflow; ++k) at = Build(child, at);
        if (node.max < 0) {
          const int32_t loop = Add();
          Eps(at, loop);
          Eps(Build(child, loop), loop);
          return loop;
        }
        const int32_t end = Add();
        for (int32_t k = node.min; k < node.max && !overflow; ++k) {
          Eps(at, end);
          at = Build(child, at);
        }
        Eps(at, end);
        return end;
      }
      case RegexNode::Kind::kAutomaton: {
        // Fresh states throughout: `from` may carry other edges or loops.
        const auto& states = node.automaton->states;
        std::vector<int32_t> nfa_state(states.size());
        for (int32_t& s : nfa_state) s = Add();
        const int32_t end = Add();
        if (overflow || states.empty()) return end;
        Eps(from, nfa_state[0]);
        // The bytes after a lead byte lead to the same place from every
        // state with that edge, so they are built once: the DFA then has
        // about one state per automaton state, not one per lead byte too.
        std::map<std::pair<ByteSeq, int32_t>, int32_t> shared;
        for (size_t s = 0; s < states.size(); ++s) {
          if (states[s].accepting) Eps(nfa_state[s], end);
          for (const CodepointAutomaton::Edge& e : states[s].edges)
            for (const ByteSeq& seq : Utf8Sequences({e.range})) {
              int32_t at = nfa_state[static_cast<size_t>(e.to)];
              for (size_t k = seq.size(); k-- > 1 && !overflow;) {
                auto [it, inserted] =
                    shared.try_emplace({ByteSeq(seq.begin() + static_cast<ptrdiff_t>(k), seq.end()),
                                        nfa_state[static_cast<size_t>(e.to)]},
                                       0);
                if (inserted) {
                  it->second = Add();
                  if (!overflow)
                    edges[static_cast<size_t>(it->second)].push_back({seq[k].lo, seq[k].hi, at});
                }
                at = it->second;
              }
              if (!overflow) edges[nfa_state[s]].push_back({seq[0].lo, seq[0].hi, at});
            }
        }
        return end;
      }
    }
    return from;
  }
};

struct VectorHash {
  size_t operator()(const std::vector<int32_t>& v) const {
    return std::hash<std::string_view>()(
        std::string_view(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(int32_t)));
  }
};

}  // namespace

Result<Dfa> Dfa::Compile(const Regex& regex, const DfaLimits& limits) {
  Nfa nfa;
  nfa.limit = limits.max_nfa_states;
  const int32_t nfa_start = nfa.Add();
  const int32_t nfa_accept = nfa.Build(*regex, nfa_start);
  if (nfa.overflow)
    return Unsupported("the expression needs more than " + std::to_string(limits.max_nfa_states) +
                       " automaton states");

  // Byte classes: bytes between the same edge boundaries behave alike.
  std::array<bool, 257> boundary{};
  boundary[0] = true;
  for (const auto& out : nfa.edges)
    for (const NfaEdge& e : out) {
      boundary[e.lo] = true;
      boundary[static_cast<size_t>(e.hi) + 1] = true;
    }
  Dfa dfa;
  int32_t classes = 0;
  std::vector<uint8_t> first_byte;
  for (int b = 0; b < 256; ++b) {
    if (boundary[static_cast<size_t>(b)]) {
      ++classes;
      first_byte.push_back(static_cast<uint8_t>(b));
    }
    dfa.class_of_[static_cast<size_t>(b)] = static_cast<uint8_t>(classes - 1);
  }
  dfa.classes_ = classes;

  // Subset construction.
  const auto n_nfa = nfa.eps.size();
  std::vector<uint32_t> seen(n_nfa, 0);
  uint32_t stamp = 0;
  std::vector<int32_t> stack;
  auto closure = [&](std::vector<int32_t>* set) {
    ++stamp;
    stack.assign(set->begin(), set->end());
    set->clear();
    while (!stack.empty()) {
      const int32_t s = stack.back();
      stack.pop_back();
      if (seen[static_cast<size_t>(s)] == stamp) continue;
      seen[static_cast<size_t>(s)] = stamp;
      set->push_back(s);
      for (int32_t t : nfa.eps[static_cast<size_t>(s)]) stack.push_back(t);
    }
    // Only states with byte edges, and the accepting one, tell sets apart.
    std::erase_if(*set, [&](int32_t s) {
      return s != nfa_accept && nfa.edges[static_cast<size_t>(s)].empty();
    });
    std::sort(set->begin(), set->end());
  };

  std::unordered_map<std::vector<int32_t>, int32_t, VectorHash> ids;
  std::vector<std::vector<int32_t>> sets;
  std::vector<int32_t> next;
  std::vector<uint8_t> accepting;
  auto intern = [&](std::vector<int32_t> set) -> int32_t {
    auto [it, inserted] = ids.try_emplace(set, static_cast<int32_t>(sets.size()));
    if (inserted) {
      accepting.push_back(std::binary_search(set.begin(), set.end(), nfa_accept) ? 1 : 0);
      sets.push_back(std::move(set));
    }
    return it->second;
  };
  std::vector<int32_t> start{nfa_start};
  closure(&start);
  intern(std::move(start));
  std::vector<std::vector<int32_t>> buckets(static_cast<size_t>(classes));
  for (size_t d = 0; d < sets.size(); ++d) {
    if (static_cast<int64_t>(sets.size()) > limits.max_dfa_states)
      return Unsupported("the expression needs more than " + std::to_string(limits.max_dfa_states) +
                         " DFA states");
    for (auto& b : buckets) b.clear();
    for (int32_t s : sets[d])
      for (const NfaEdge& e : nfa.edges[static_cast<size_t>(s)])
        for (int c = dfa.class_of_[e.lo]; c <= dfa.class_of_[e.hi]; ++c)
          buckets[static_cast<size_t>(c)].push_back(e.to);
    for (int32_t c = 0; c < classes; ++c) {
      auto& b = buckets[static_cast<size_t>(c)];
      if (b.empty()) {
        next.push_back(kDead);
        continue;
      }
      closure(&b);
      next.push_back(b.empty() ? kDead : intern(b));
    }
  }

  // Keep the states from which acceptance is reachable.
  const auto n = sets.size();
  std::vector<std::vector<int32_t>> preds(n);
  for (size_t s = 0; s < n; ++s)
    for (int32_t c = 0; c < classes; ++c)
      if (const int32_t t = next[s * static_cast<size_t>(classes) + static_cast<size_t>(c)];
          t != kDead)
        preds[static_cast<size_t>(t)].push_back(static_cast<int32_t>(s));
  std::vector<uint8_t> live(n, 0);
  std::vector<int32_t> work;
  for (size_t s = 0; s < n; ++s)
    if (accepting[s]) {
      live[s] = 1;
      work.push_back(static_cast<int32_t>(s));
    }
  while (!work.empty()) {
    const int32_t s = work.back();
    work.pop_back();
    for (int32_t p : preds[static_cast<size_t>(s)])
      if (!live[static_cast<size_t>(p)]) {
        live[static_cast<size_t>(p)] = 1;
        work.push_back(p);
      }
  }
  if (!live[0]) return InvalidArgument("the expression matches no string");
  std::vector<int32_t> renumber(n, kDead);
  int32_t kept = 0;
  for (size_t s = 0; s < n; ++s)
    if (live[s]) renumber[s] = kept++;
  dfa.next_.reserve(static_cast<size_t>(kept) * static_cast<size_t>(classes));
  for (size_t s = 0; s < n; ++s) {
    if (!live[s]) continue;
    bool way_on = false;
    for (int32_t c = 0; c < classes; ++c) {
      const int32_t t = next[s * static_cast<size_t>(classes) + static_cast<size_t>(c)];
      const int32_t r = t == kDead ? kDead : renumber[static_cast<size_t>(t)];
      way_on |= r != kDead;
      dfa.next_.push_back(r);
    }
    dfa.accepting_.push_back(accepting[s]);
    dfa.final_.push_back(accepting[s] && !way_on ? 1 : 0);
  }
  return dfa;
}

int32_t Dfa::Walk(int32_t state, std::string_view bytes) const {
  for (char c : bytes) {
    if (state == kDead) break;
    state = Next(state, static_cast<uint8_t>(c));
  }
  return state;
}

bool Dfa::Matches(std::string_view text) const {
  const int32_t s = Walk(start(), text);
  return s != kDead && accepting(s);
}

}  // namespace dsv32::structured

// Token masks against brute force, and random walks of allowed tokens over
// the real tokenizer that must always end in JSON valid against the schema.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <regex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "structured/token_constraint.h"
#include "text/tokenizer.h"

namespace dsv32::structured {
namespace {

using ordered_json = nlohmann::ordered_json;

constexpr int32_t kModelVocab = 129280;  // DeepSeek-V3.2's vocab_size

std::vector<int32_t> Allowed(const TokenConstraint& c) {
  std::vector<uint64_t> bits((static_cast<size_t>(c.grammar().vocab().vocab_size()) + 63) / 64);
  c.Mask(std::span<uint64_t>(bits));
  std::vector<int32_t> ids;
  for (size_t w = 0; w < bits.size(); ++w)
    for (uint64_t b = bits[w]; b; b &= b - 1)
      ids.push_back(static_cast<int32_t>(w * 64 + static_cast<size_t>(__builtin_ctzll(b))));
  return ids;
}

// What the mask must be: every token whose bytes the DFA can follow.
std::vector<int32_t> BruteForce(const TokenConstraint& c) {
  std::vector<int32_t> ids;
  for (int32_t id = 0; id < c.grammar().vocab().vocab_size(); ++id)
    if (c.Allows(id)) ids.push_back(id);
  return ids;
}

TEST(TokenConstraintTest, MasksMatchBruteForceOnASmallVocabulary) {
  auto vocab = TokenVocabulary::FromBytes(
      {"a", "b", "ab", "abc", "c", "", "ba", "bab", "cc", "x", "ab", "abca"}, 16);
  ASSERT_TRUE(vocab.ok());
  auto grammar = TokenGrammar::FromRegex("(ab|c)+b?", vocab.value());
  ASSERT_TRUE(grammar.ok()) << grammar.status().message();
  auto c = TokenConstraint::Create(grammar.value(), {15});
  ASSERT_TRUE(c.ok());
  std::mt19937 rng(1);
  for (int walk = 0; walk < 20; ++walk) {
    TokenConstraint t = c.value();
    for (int step = 0; step < 12 && !t.IsFinished(); ++step) {
      const std::vector<int32_t> allowed = Allowed(t);
      ASSERT_EQ(allowed, BruteForce(t));
      ASSERT_FALSE(allowed.empty());
      ASSERT_TRUE(t.Advance(allowed[rng() % allowed.size()]).ok());
    }
  }
  EXPECT_GT(grammar.value()->cached_states(), 1);
}

TEST(TokenConstraintTest, AdvanceRefusesWhatTheMaskRefuses) {
  auto vocab = TokenVocabulary::FromBytes({"a", "b", "ab", "<eos>"}, 8);
  ASSERT_TRUE(vocab.ok());
  auto grammar = TokenGrammar::FromRegex("ab", vocab.value());
  ASSERT_TRUE(grammar.ok());
  EXPECT_FALSE(TokenConstraint::Create(grammar.value(), {}).ok());
  EXPECT_FALSE(TokenConstraint::Create(grammar.value(), {8}).ok());
  auto created = TokenConstraint::Create(grammar.value(), {3});
  ASSERT_TRUE(created.ok());
  TokenConstraint c = created.value();
  EXPECT_EQ(Allowed(c), (std::vector<int32_t>{0, 2}));
  EXPECT_FALSE(c.Advance(1).ok());
  EXPECT_FALSE(c.Advance(3).ok());  // the end before a match
  EXPECT_FALSE(c.Advance(7).ok());  // no such token
  EXPECT_FALSE(c.Advance(-1).ok());
  TokenConstraint fork = c;
  ASSERT_TRUE(c.Advance(0).ok());
  EXPECT_EQ(Allowed(c), (std::vector<int32_t>{1}));
  EXPECT_FALSE(c.IsComplete());
  ASSERT_TRUE(c.Advance(1).ok());
  EXPECT_TRUE(c.IsComplete());
  EXPECT_TRUE(c.MustEnd());
  EXPECT_EQ(Allowed(c), (std::vector<int32_t>{3}));
  ASSERT_TRUE(c.Advance(3).ok());
  EXPECT_TRUE(c.IsFinished());
  EXPECT_FALSE(c.Advance(0).ok());
  EXPECT_EQ(Allowed(c), (std::vector<int32_t>{3}));
  // The copy taken before kept its own position.
  EXPECT_EQ(Allowed(fork), (std::vector<int32_t>{0, 2}));
  ASSERT_TRUE(fork.Advance(2).ok());
  EXPECT_TRUE(fork.IsComplete());

  std::vector<float> logits(8, 1.0f);
  fork = created.value();
  fork.Mask(std::span<float>(logits));
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(logits, (std::vector<float>{1, -inf, 1, -inf, -inf, -inf, -inf, -inf}));
}

// The real tokenizer, built once for the suite.
const Tokenizer& RealTokenizer() {
  static const std::unique_ptr<Tokenizer> t = [] {
    auto r = Tokenizer::Load(DSV32_TOKENIZER_DIR);
    EXPECT_TRUE(r.ok()) << r.status().message();
    return std::move(r).value();
  }();
  return *t;
}

std::shared_ptr<const TokenVocabulary> RealVocabulary() {
  static const std::shared_ptr<const TokenVocabulary> v = [] {
    auto r = TokenVocabulary::Build(RealTokenizer(), kModelVocab);
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.value();
  }();
  return v;
}

TEST(TokenConstraintTest, RealVocabularyLeavesOutSpecialAndMissingIds) {
  const auto vocab = RealVocabulary();
  const Tokenizer& t = RealTokenizer();
  EXPECT_EQ(vocab->vocab_size(), kModelVocab);
  EXPECT_EQ(t.id_limit(), 128815);
  EXPECT_EQ(vocab->usable_tokens(), static_cast<int32_t>(t.bpe_vocab_size()) - 3);
  EXPECT_TRUE(vocab->bytes(t.eos_id()).empty());
  EXPECT_TRUE(vocab->bytes(t.id_limit()).empty());
  EXPECT_TRUE(vocab->bytes(kModelVocab - 1).empty());
  for (const AddedToken& a : t.added_tokens()) EXPECT_TRUE(vocab->bytes(a.id).empty()) << a.id;
}

TEST(TokenConstraintTest, MarkupTokensTakePartAsTheirText) {
  // V3's tokenizer has no "</think>" token; one of its other added tokens
  // stands in.
  const Tokenizer& t = RealTokenizer();
  const std::string_view markup[] = {"<｜tool▁calls▁end｜>"};
  auto vocab = TokenVocabulary::Build(t, kModelVocab, markup);
  ASSERT_TRUE(vocab.ok()) << vocab.status().message();
  const int32_t id = t.TokenId(markup[0]).value();
  EXPECT_EQ((*vocab)->bytes(id), markup[0]);
  EXPECT_EQ((*vocab)->usable_tokens(), RealVocabulary()->usable_tokens() + 1);
  EXPECT_TRUE((*vocab)->bytes(t.eos_id()).empty());
}

TEST(TokenConstraintTest, RealMasksMatchBruteForce) {
  auto grammar = TokenGrammar::FromJsonSchema(
      R"({"type":"object","properties":{"name":{"type":"string"},"n":{"type":"integer"}},"required":["name","n"]})",
      RealVocabulary());
  ASSERT_TRUE(grammar.ok()) << grammar.status().message();
  auto c = TokenConstraint::Create(grammar.value(), {RealTokenizer().eos_id()});
  ASSERT_TRUE(c.ok());
  TokenConstraint t = c.value();
  // At the start, inside the string, after it, and inside the number.
  for (const char* text : {"", "{\"name\":\"ab", "c\"", ",\"n\":4", "}"}) {
    if (*text) {
      auto ids = RealTokenizer().Encode(text);
      ASSERT_TRUE(ids.ok());
      for (int32_t id : ids.value()) ASSERT_TRUE(t.Advance(id).ok()) << text;
    }
    const auto allowed = Allowed(t);
    EXPECT_EQ(allowed, BruteForce(t)) << text;
    // The logits form keeps exactly the same ids.
    std::vector<float> row(kModelVocab, 1.0f);
    t.Mask(std::span<float>(row));
    std::vector<int32_t> kept;
    for (int32_t id = 0; id < kModelVocab; ++id)
      if (row[static_cast<size_t>(id)] == 1.0f) kept.push_back(id);
    EXPECT_EQ(kept, allowed) << text;
    EXPECT_FALSE(allowed.empty());
    EXPECT_LT(allowed.back(), RealTokenizer().id_limit());
  }
}

// A validator for the schema subset the compiler supports.
bool Validate(const ordered_json& v, const ordered_json& s, const ordered_json& root) {
  if (s.is_boolean()) return s.get<bool>();
  if (s.contains("$ref")) {
    const std::string ref = s["$ref"];
    const std::string name = ref.substr(ref.rfind('/') + 1);
    const char* container = ref.starts_with("#/$defs/") ? "$defs" : "definitions";
    return Validate(v, root[container][name], root);
  }
  if (s.contains("const")) return v == s["const"];
  if (s.contains("enum"))
    return std::find(s["enum"].begin(), s["enum"].end(), v) != s["enum"].end();
  for (const char* key : {"anyOf", "oneOf", "allOf"})
    if (s.contains(key)) {
      for (const auto& option : s[key])
        if (Validate(v, option, root)) return true;
      return false;
    }
  if (s.contains("type")) {
    std::vector<std::string> types;
    if (s["type"].is_string())
      types.push_back(s["type"]);
    else
      for (const auto& t : s["type"]) types.push_back(t);
    auto is = [&](const std::string& t) {
      if (t == "string") return v.is_string();
      if (t == "integer") return v.is_number_integer();
      if (t == "number") return v.is_number();
      if (t == "boolean") return v.is_boolean();
      if (t == "null") return v.is_null();
      if (t == "object") return v.is_object();
      if (t == "array") return v.is_array();
      return false;
    };
    if (std::none_of(types.begin(), types.end(), is)) return false;
  }
  if (v.is_string()) {
    const std::string str = v;
    size_t chars = 0;
    for (unsigned char ch : str) chars += (ch & 0xC0) != 0x80;
    if (s.contains("minLength") && chars < s["minLength"].get<size_t>()) return false;
    if (s.contains("maxLength") && chars > s["maxLength"].get<size_t>()) return false;
    if (s.contains("pattern") &&
        !std::regex_match(str, std::regex(s["pattern"].get<std::string>())))
      return false;
  }
  if (v.is_number()) {
    const double d = v.get<double>();
    if (s.contains("minimum") && d < s["minimum"].get<double>()) return false;
    if (s.contains("maximum") && d > s["maximum"].get<double>()) return false;
    if (s.contains("exclusiveMinimum") && d <= s["exclusiveMinimum"].get<double>()) return false;
    if (s.contains("exclusiveMaximum") && d >= s["exclusiveMaximum"].get<double>()) return false;
  }
  if (v.is_array()) {
    if (s.contains("minItems") && v.size() < s["minItems"].get<size_t>()) return false;
    if (s.contains("maxItems") && v.size() > s["maxItems"].get<size_t>()) return false;
    if (s.contains("items"))
      for (const auto& item : v)
        if (!Validate(item, s["items"], root)) return false;
  }
  if (v.is_object() && s.contains("properties")) {
    const auto& props = s["properties"];
    for (const auto& [k, item] : v.items())
      if (!props.contains(k) || !Validate(item, props[k], root)) return false;
    if (s.contains("required"))
      for (const auto& r : s["required"])
        if (!v.contains(r.get<std::string>())) return false;
  }
  return true;
}

// How many bytes at least each state is from a whole match.
std::vector<int32_t> DistanceToAccept(const Dfa& dfa) {
  const int32_t n = dfa.num_states();
  std::vector<std::vector<int32_t>> preds(static_cast<size_t>(n));
  for (int32_t s = 0; s < n; ++s)
    for (int b = 0; b < 256; ++b)
      if (const int32_t t = dfa.Next(s, static_cast<uint8_t>(b)); t != Dfa::kDead)
        preds[static_cast<size_t>(t)].push_back(s);
  std::vector<int32_t> dist(static_cast<size_t>(n), -1), queue;
  for (int32_t s = 0; s < n; ++s)
    if (dfa.accepting(s)) {
      dist[static_cast<size_t>(s)] = 0;
      queue.push_back(s);
    }
  for (size_t i = 0; i < queue.size(); ++i)
    for (int32_t p : preds[static_cast<size_t>(queue[i])])
      if (dist[static_cast<size_t>(p)] < 0) {
        dist[static_cast<size_t>(p)] = dist[static_cast<size_t>(queue[i])] + 1;
        queue.push_back(p);
      }
  return dist;
}

// Walks random allowed tokens, drifting toward the end so that walks finish.
void RandomWalks(const std::string& schema_text, int walks, uint32_t seed) {
  SCOPED_TRACE(schema_text);
  auto grammar = TokenGrammar::FromJsonSchema(schema_text, RealVocabulary());
  ASSERT_TRUE(grammar.ok()) << grammar.status().message();
  const Tokenizer& tok = RealTokenizer();
  auto start = TokenConstraint::Create(grammar.value(), {tok.eos_id()});
  ASSERT_TRUE(start.ok());
  const Dfa& dfa = grammar.value()->dfa();
  const std::vector<int32_t> dist = DistanceToAccept(dfa);
  const ordered_json schema = ordered_json::parse(schema_text);
  std::mt19937 rng(seed);
  for (int w = 0; w < walks; ++w) {
    TokenConstraint c = start.value();
    std::vector<int32_t> ids;
    std::string text;
    for (int step = 0; !c.IsFinished(); ++step) {
      ASSERT_LT(step, 400) << text;
      const std::vector<int32_t> allowed = Allowed(c);
      ASSERT_FALSE(allowed.empty()) << text;
      int32_t pick = -1;
      if (c.IsComplete() && (rng() % 3 == 0 || step > 60 || c.MustEnd())) {
        pick = tok.eos_id();
      } else {
        // The best of a few random candidates, or just the first of them.
        const bool hurry = rng() % 2 == 0 || step > 40;
        int32_t best_distance = std::numeric_limits<int32_t>::max();
        for (int k = 0; k < 16; ++k) {
          const int32_t id = allowed[rng() % allowed.size()];
          if (id == tok.eos_id()) continue;
          const int32_t d =
              dist[static_cast<size_t>(dfa.Walk(c.state(), c.grammar().vocab().bytes(id)))];
          if (pick < 0 || (hurry && d < best_distance)) {
            pick = id;
            best_distance = d;
          }
        }
        if (pick < 0) pick = tok.eos_id();
      }
      ASSERT_TRUE(c.Allows(pick));
      ASSERT_TRUE(c.Advance(pick).ok());
      if (pick != tok.eos_id()) {
        ids.push_back(pick);
        text += c.grammar().vocab().bytes(pick);
      }
    }
    auto decoded = tok.Decode(ids);
    ASSERT_TRUE(decoded.ok());
    EXPECT_EQ(decoded.value(), text);
    const ordered_json value = ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
    ASSERT_FALSE(value.is_discarded()) << text;
    EXPECT_TRUE(Validate(value, schema, schema)) << text;
  }
}

TEST(TokenConstraintTest, RandomWalksGiveValidJson) {
  RandomWalks(R"j({"type":"object","properties":{
      "name":{"type":"string","maxLength":12},
      "age":{"type":"integer","minimum":0,"maximum":130},
      "level":{"type":"integer","exclusiveMinimum":-40,"exclusiveMaximum":4000},
      "email":{"type":"string","pattern":"[a-z]{1,8}@[a-z]{1,8}\\.(com|org)"},
      "tags":{"type":"array","items":{"enum":["a","b","ç"]},"maxItems":3},
      "home":{"$ref":"#/$defs/place"}},
    "required":["name","home"],
    "$defs":{"place":{"type":"object","properties":{"city":{"type":"string","minLength":1,"maxLength":6},
      "zip":{"type":["string","null"],"format":"date"}},"required":["city"]}}})j",
              12, 1);
  RandomWalks(R"({"anyOf":[{"type":"number"},{"type":"boolean"},{"const":{"k":[1,"x"]}},
      {"type":"array","items":{"type":"number"},"minItems":2,"maxItems":4}]})",
              12, 2);
  RandomWalks(R"({"type":"string","minLength":3,"maxLength":8})", 12, 3);
  RandomWalks(R"({"type":"object"})", 12, 4);
}

}  // namespace
}  // namespace dsv32::structured

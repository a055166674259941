// The engine with speculative decoding against the engine without it: the
// MTP layer's drafts (or injected ones, to reach full, partial and no
// acceptance) must not change a greedy request's tokens, whatever batching,
// paging, preemption and prefix reuse do around them.
//
// A verify pass runs a sequence's k + 1 tokens through each matmul
// together, and a row's result depends (to f32 rounding) on how many rows
// share a matmul, so the comparisons are of greedy tokens, not of logits.
#include <gtest/gtest.h>

#include <map>

#include "engine/engine.h"
#include "engine/engine_requests.h"
#include "engine/metrics.h"
#include "engine/test_model.h"
#include "text/tokenizer.h"

namespace dsv32 {
namespace {

using testing::Drain;
using testing::Greedy;
using testing::Prompt;

std::shared_ptr<const Model> MtpModel() { return testing::RandomModel("tiny-engine-mtp.json"); }

std::unique_ptr<Engine> MakeEngine(EngineOptions o) {
  o.threads = 2;
  auto e = Engine::Create(MtpModel(), o);
  EXPECT_TRUE(e.ok()) << e.status().message();
  return e.ok() ? std::move(e).value() : nullptr;
}

// Submits every spec at once, runs the engine dry and returns each one's
// generated tokens.
std::vector<std::vector<int32_t>> Generate(Engine& engine, const std::vector<RequestSpec>& specs) {
  std::vector<RequestId> ids;
  for (const RequestSpec& s : specs) {
    auto id = engine.Submit(s);
    EXPECT_TRUE(id.ok()) << id.status().message();
    ids.push_back(*id);
  }
  Drain(engine);
  std::vector<std::vector<int32_t>> out;
  for (RequestId id : ids) out.push_back(engine.Poll(id)->generated);
  return out;
}

std::vector<RequestSpec> Requests(int count, int max_tokens) {
  std::vector<RequestSpec> specs;
  for (int i = 0; i < count; ++i) specs.push_back(Greedy(Prompt(i, 3 + 9 * i), max_tokens));
  return specs;
}

// Drafts from what plain decoding produced, keyed by prompt: `wrong` says
// which drafts (by index in the step) to spoil.
struct Oracle {
  std::map<std::vector<int32_t>, std::vector<int32_t>> sequences;  // prompt + generated
  std::function<bool(size_t)> wrong = [](size_t) { return false; };

  void Add(const std::vector<RequestSpec>& specs, const std::vector<std::vector<int32_t>>& out) {
    for (size_t i = 0; i < specs.size(); ++i) {
      std::vector<int32_t> all = specs[i].prompt;
      all.insert(all.end(), out[i].begin(), out[i].end());
      sequences[specs[i].prompt] = all;
    }
  }
  void Replace(std::span<const int32_t> tokens, std::span<int32_t> drafts) const {
    for (const auto& [prompt, all] : sequences) {
      if (prompt.size() > tokens.size() ||
          !std::equal(prompt.begin(), prompt.end(), tokens.begin()))
        continue;
      for (size_t j = 0; j < drafts.size(); ++j) {
        const size_t at = tokens.size() + j;
        const int32_t right = at < all.size() ? all[at] : 0;
        drafts[j] = wrong(j) ? (right + 1) % 512 : right;
      }
      return;
    }
  }
};

class EngineSpeculativeDraftsTest : public ::testing::TestWithParam<int32_t> {};

TEST_P(EngineSpeculativeDraftsTest, GreedyTokensEqualThePlainEngine) {
  EngineOptions o;
  o.max_batch_tokens = 24;  // chunked prefill beside the verify steps
  o.interactive_chunk = 7;
  const auto specs = Requests(5, 10);
  const auto plain = Generate(*MakeEngine(o), specs);
  o.speculative_tokens = GetParam();
  auto engine = MakeEngine(o);
  EXPECT_EQ(Generate(*engine, specs), plain);
  const EngineMetrics m = engine->Metrics();
  EXPECT_GT(m.speculative_steps, 0u);
  EXPECT_GT(m.draft_tokens, 0u);
  EXPECT_LE(m.accepted_draft_tokens, m.draft_tokens);
  EXPECT_EQ(m.generated_tokens, 50u);
  EXPECT_EQ(m.kv_used_tokens, 0);
  const std::string text = PrometheusText(m, nullptr);
  for (const char* line : {"dsv32_draft_tokens_total ", "dsv32_accepted_draft_tokens_total ",
                           "dsv32_draft_acceptance_rate ", "dsv32_speculative_steps_total "})
    EXPECT_NE(text.find(line), std::string::npos) << line;
}

TEST_P(EngineSpeculativeDraftsTest, InjectedDraftsFullPartialAndNoAcceptance) {
  EngineOptions o;
  const auto specs = Requests(4, 12);
  const auto plain = Generate(*MakeEngine(o), specs);
  const int32_t k = GetParam();
  struct Case {
    std::function<bool(size_t)> wrong;
    const char* name;
  };
  const std::vector<Case> cases = {
      {[](size_t) { return false; }, "all right"},
      {[](size_t j) { return j == 1; }, "second wrong"},
      {[](size_t) { return true; }, "all wrong"},
  };
  for (size_t ci = 0; ci < cases.size(); ++ci) {
    const Case& c = cases[ci];
    Oracle oracle;
    oracle.Add(specs, plain);
    oracle.wrong = c.wrong;
    o.speculative_tokens = k;
    o.replace_drafts = [&](RequestId, std::span<const int32_t> tokens, std::span<int32_t> drafts) {
      oracle.Replace(tokens, drafts);
    };
    auto engine = MakeEngine(o);
    EXPECT_EQ(Generate(*engine, specs), plain) << c.name;
    const EngineMetrics m = engine->Metrics();
    ASSERT_GT(m.draft_tokens, 0u) << c.name;
    if (ci == 0) {
      EXPECT_EQ(m.accepted_draft_tokens, m.draft_tokens);
      // Each step gives k + 1 tokens but the last few, where max_tokens
      // caps the drafts.
      EXPECT_LE(m.speculative_steps, 4u * (11 / (k + 1) + 1));
    } else if (ci == 2) {
      EXPECT_EQ(m.accepted_draft_tokens, 0u);
    } else if (k >= 2) {
      EXPECT_GT(m.accepted_draft_tokens, 0u);
      EXPECT_LT(m.accepted_draft_tokens, m.draft_tokens);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Drafts, EngineSpeculativeDraftsTest, ::testing::Values(1, 2, 3));

// Four-token pages: every verify step of three drafts crosses a page
// boundary, and the pages past what stood must go back to the pools.
TEST(EngineSpeculativeTest, RollbackAcrossPageBoundariesFreesPages) {
  EngineOptions o;
  o.page_tokens = 4;
  o.prefix_cache = false;
  const std::vector<RequestSpec> specs = {Greedy(Prompt(7, 6), 14)};
  const auto plain = Generate(*MakeEngine(o), specs);
  Oracle oracle;
  oracle.Add(specs, plain);
  oracle.wrong = [](size_t j) { return j >= 1; };
  o.speculative_tokens = 3;
  o.replace_drafts = [&](RequestId, std::span<const int32_t> tokens, std::span<int32_t> drafts) {
    oracle.Replace(tokens, drafts);
  };
  auto engine = MakeEngine(o);
  const RequestId id = engine->Submit(specs[0]).value();
  auto pages = [](int64_t entries) { return (entries + 3) / 4; };
  int64_t before = 0;  // the sequence's length before the step
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(engine->Step().ok());
    const RequestStatus s = engine->Poll(id).value();
    if (s.state == RequestState::kFinished) break;
    // After a verify step from length `before` to N: main entries [0, N-1),
    // MTP entries only from real hidden states, [0, before - 1).
    const auto N = static_cast<int64_t>(specs[0].prompt.size() + s.generated.size());
    const EngineMetrics m = engine->Metrics();
    EXPECT_EQ(m.kv_pages_used, pages(N - 1)) << "after " << s.generated.size() << " tokens";
    if (s.generated.size() > 1) {
      EXPECT_EQ(m.kv_mtp_pages_used, pages(before - 1)) << "after " << s.generated.size();
    }
    before = N;
  }
  EXPECT_EQ(engine->Poll(id)->generated, plain[0]);
  const EngineMetrics m = engine->Metrics();
  EXPECT_GT(m.accepted_draft_tokens, 0u);
  EXPECT_LT(m.accepted_draft_tokens, m.draft_tokens);
  EXPECT_EQ(m.kv_pages_used, 0);
  EXPECT_EQ(m.kv_mtp_pages_used, 0);
}

TEST(EngineSpeculativeTest, PreemptionUnderASmallBudgetStaysExact) {
  EngineOptions o;
  o.page_tokens = 4;
  o.speculative_tokens = 2;
  auto probe = MakeEngine(o);
  o.kv_budget_bytes = 40 * probe->Metrics().kv_bytes_per_token;  // room for ~2 sequences
  std::vector<RequestSpec> specs;
  for (int i = 0; i < 3; ++i) {
    specs.push_back(Greedy(Prompt(10 + i, 10), 12));
    specs.back().lane = Lane::kCompute;
  }
  EngineOptions plain_options = o;
  plain_options.speculative_tokens = 0;
  const auto plain = Generate(*MakeEngine(plain_options), specs);
  Oracle oracle;
  oracle.Add(specs, plain);
  oracle.wrong = [](size_t j) { return j == 1; };
  o.replace_drafts = [&](RequestId, std::span<const int32_t> tokens, std::span<int32_t> drafts) {
    oracle.Replace(tokens, drafts);
  };
  auto engine = MakeEngine(o);
  EXPECT_EQ(Generate(*engine, specs), plain);
  const EngineMetrics m = engine->Metrics();
  EXPECT_GT(m.preemptions, 0u);
  EXPECT_GT(m.accepted_draft_tokens, 0u);
  EXPECT_EQ(m.kv_used_tokens, 0);
}

// A later request that shares a cached start adopts both caches' pages:
// its tokens stay exact and its MTP layer drafts what it drafts when it
// computes the whole prompt itself.
TEST(EngineSpeculativeTest, PrefixReuseStaysExactAndKeepsTheDrafts) {
  EngineOptions o;
  o.page_tokens = 4;
  o.speculative_tokens = 2;
  std::vector<int32_t> shared = Prompt(3, 21);
  std::vector<RequestSpec> first = {Greedy(shared, 4)};
  std::vector<int32_t> longer = shared;
  longer.insert(longer.end(), {9, 8, 7});
  std::vector<RequestSpec> second = {Greedy(longer, 8)};
  using Log = std::vector<std::vector<int32_t>>;
  auto drafts_of = [&](bool prefix_cache, Log* log) {
    EngineOptions e = o;
    e.prefix_cache = prefix_cache;
    e.replace_drafts = [log](RequestId, std::span<const int32_t>, std::span<int32_t> drafts) {
      log->emplace_back(drafts.begin(), drafts.end());
    };
    auto engine = MakeEngine(e);
    Generate(*engine, first);
    log->clear();
    auto out = Generate(*engine, second);
    // Five pages are cached; the last MTP entry of the fifth read a token
    // past it, so both caches restart one position before its end.
    if (prefix_cache) {
      EXPECT_EQ(engine->Metrics().prefix_hit_tokens, 19u);
    }
    return out;
  };
  Log with_reuse, without;
  const auto reused = drafts_of(true, &with_reuse);
  const auto computed = drafts_of(false, &without);
  EngineOptions plain = o;
  plain.speculative_tokens = 0;
  EXPECT_EQ(reused, Generate(*MakeEngine(plain), second));
  EXPECT_EQ(reused, computed);
  EXPECT_EQ(with_reuse, without);
}

TEST(EngineSpeculativeTest, StopTokenAndMaxTokensCutAnAcceptedRun) {
  EngineOptions o;
  const std::vector<RequestSpec> specs = {Greedy(Prompt(5, 8), 16)};
  const auto plain = Generate(*MakeEngine(o), specs);
  Oracle oracle;
  oracle.Add(specs, plain);
  o.speculative_tokens = 3;
  o.replace_drafts = [&](RequestId, std::span<const int32_t> tokens, std::span<int32_t> drafts) {
    oracle.Replace(tokens, drafts);
  };
  // Every draft stands, so steps give 4 tokens: generated 1, 5, 9, ...; a
  // stop at the 3rd and a limit of 7 both fall inside a run.
  RequestSpec stop = specs[0];
  stop.stop_tokens = {plain[0][2]};
  RequestSpec limit = specs[0];
  limit.max_tokens = 7;
  std::vector<TokenEvent> events;
  stop.on_token = [&](const TokenEvent& e) { events.push_back(e); };
  auto engine = MakeEngine(o);
  const auto out = Generate(*engine, {stop, limit});
  size_t first_stop = 0;
  while (plain[0][first_stop] != plain[0][2]) ++first_stop;
  EXPECT_EQ(out[0], std::vector<int32_t>(plain[0].begin(), plain[0].begin() + first_stop + 1));
  EXPECT_EQ(out[1], std::vector<int32_t>(plain[0].begin(), plain[0].begin() + 7));
  ASSERT_FALSE(events.empty());
  EXPECT_TRUE(events.back().finished);
  EXPECT_EQ(events.back().reason, FinishReason::kStopToken);
  EXPECT_EQ(events.size(), first_stop + 1);
  EXPECT_EQ(engine->Metrics().accepted_draft_tokens, engine->Metrics().draft_tokens);
}

// A stop string completed by a token inside an accepted run ends the text
// before it, as without speculation, and no later token is emitted.
TEST(EngineSpeculativeTest, StopStringInsideAnAcceptedRun) {
  auto tokenizer = Tokenizer::Load(std::string(DSV32_TEST_DATA_DIR) + "/tokenizer/deepseek-v3");
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status().message();
  EngineOptions o;
  o.tokenizer = std::shared_ptr<const Tokenizer>(std::move(tokenizer).value());
  RequestSpec spec = Greedy(Prompt(9, 7), 16);
  auto plain = MakeEngine(o);
  const auto full = Generate(*plain, {spec});
  const std::string text = plain->Poll(1)->text;
  ASSERT_GE(text.size(), 8u);
  spec.stop_strings = {text.substr(text.size() / 2, 3)};
  const auto cut = Generate(*plain, {spec});
  const RequestStatus want = plain->Poll(2).value();
  ASSERT_EQ(want.reason, FinishReason::kStopString);

  Oracle oracle;
  oracle.Add({spec}, full);
  o.speculative_tokens = 3;
  o.replace_drafts = [&](RequestId, std::span<const int32_t> tokens, std::span<int32_t> drafts) {
    oracle.Replace(tokens, drafts);
  };
  auto engine = MakeEngine(o);
  EXPECT_EQ(Generate(*engine, {spec}), cut);
  const RequestStatus got = engine->Poll(1).value();
  EXPECT_EQ(got.reason, FinishReason::kStopString);
  EXPECT_EQ(got.text, want.text);
  EXPECT_GT(engine->Metrics().accepted_draft_tokens, 0u);
}

TEST(EngineSpeculativeTest, OptedOutRequestsAndSamplingStillWork) {
  EngineOptions o;
  o.speculative_tokens = 2;
  auto engine = MakeEngine(o);
  RequestSpec plain = Greedy(Prompt(1, 5), 6);
  plain.speculative = false;
  Generate(*engine, {plain});
  EXPECT_EQ(engine->Metrics().draft_tokens, 0u);
  RequestSpec sampled = Greedy(Prompt(2, 5), 12);
  sampled.sampling.temperature = 0.8f;
  sampled.sampling.seed = 7;
  const auto out = Generate(*engine, {sampled});
  EXPECT_EQ(out[0].size(), 12u);
  for (int32_t t : out[0]) EXPECT_TRUE(t >= 0 && t < 512);
  EXPECT_GT(engine->Metrics().draft_tokens, 0u);
}

TEST(EngineSpeculativeTest, BadOptionsAreClearErrors) {
  EngineOptions o;
  o.speculative_tokens = 2;
  auto no_mtp = Engine::Create(testing::RandomModel(), o);
  ASSERT_FALSE(no_mtp.ok());
  EXPECT_EQ(no_mtp.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(no_mtp.status().message().find("MTP"), std::string::npos);
  for (int32_t bad : {-1, 17}) {
    o.speculative_tokens = bad;
    EXPECT_EQ(Engine::Create(MtpModel(), o).status().code(), StatusCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace dsv32

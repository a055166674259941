// The engine against plain single-sequence decoding: batching, chunked
// prefill, preemption and lanes must not change what a request produces.
#include "engine/engine.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "core/thread_pool.h"
#include "engine/engine_requests.h"
#include "engine/test_model.h"

namespace dsv32 {
namespace {

using testing::Drain;
using testing::Greedy;
using testing::Prompt;

using std::chrono::milliseconds;

template <typename T>
T Take(Result<T> r) {
  EXPECT_TRUE(r.ok()) << r.status().message();
  return std::move(r).value();
}

// Greedy decoding one sequence at a time with Model::Forward.
std::vector<int32_t> Reference(const Model& model, std::vector<int32_t> tokens, int n) {
  const ModelConfig& c = model.config();
  KvCache cache(c, 0);
  ThreadPool pool(1);
  ForwardOptions o;
  o.all_logits = false;
  std::vector<float> logits(static_cast<size_t>(c.vocab_size));
  std::vector<int32_t> out;
  int64_t done = 0;
  for (int i = 0; i < n; ++i) {
    EXPECT_TRUE(
        model.Forward(&cache, std::span(tokens).subspan(done), done, &pool, o, logits.data()).ok());
    done = static_cast<int64_t>(tokens.size());
    const auto best =
        static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    out.push_back(best);
    tokens.push_back(best);
  }
  return out;
}

std::unique_ptr<Engine> MakeEngine(EngineOptions o = {}) {
  if (o.threads == 0) o.threads = 2;
  auto e = Engine::Create(testing::RandomModel(), o);
  EXPECT_TRUE(e.ok()) << e.status().message();
  return std::move(e).value();
}

TEST(EngineTest, BatchedGreedyMatchesSingleSequenceDecoding) {
  EngineOptions o;
  o.max_batch_tokens = 16;  // forces chunked prefill of the longer prompts
  o.interactive_chunk = 5;
  o.compute_chunk = 12;
  auto engine = MakeEngine(o);
  std::vector<RequestId> ids;
  std::vector<std::vector<int32_t>> prompts;
  for (int i = 0; i < 5; ++i) {
    prompts.push_back(Prompt(i, 3 + 7 * i));
    auto id =
        engine->Submit(Greedy(prompts.back(), 6, i % 2 ? Lane::kCompute : Lane::kInteractive));
    ASSERT_TRUE(id.ok());
    ids.push_back(*id);
  }
  Drain(*engine);
  for (size_t i = 0; i < ids.size(); ++i) {
    auto s = engine->Poll(ids[i]);
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(s->state, RequestState::kFinished);
    EXPECT_EQ(s->reason, FinishReason::kMaxTokens);
    EXPECT_EQ(s->generated, Reference(engine->model(), prompts[i], 6)) << "request " << i;
    EXPECT_GE(s->ttft_seconds, 0.0);
  }
  const EngineMetrics m = engine->Metrics();
  EXPECT_EQ(m.generated_tokens, 30u);
  EXPECT_GT(m.mean_batch_tokens(), 1.0);
  EXPECT_LE(m.last_batch_tokens, 16u);
}

TEST(EngineTest, PreemptionRecomputesAndKeepsTheOutput) {
  EngineOptions o;
  auto probe = MakeEngine();
  o.page_tokens = 4;
  o.kv_budget_bytes = 40 * probe->Metrics().kv_bytes_per_token;  // room for ~2 sequences
  auto engine = MakeEngine(o);
  std::vector<RequestId> ids;
  std::vector<std::vector<int32_t>> prompts;
  for (int i = 0; i < 3; ++i) {
    prompts.push_back(Prompt(10 + i, 10));
    ids.push_back(Take(engine->Submit(Greedy(prompts.back(), 12, Lane::kCompute))));
  }
  Drain(*engine);
  for (size_t i = 0; i < ids.size(); ++i)
    EXPECT_EQ(engine->Poll(ids[i])->generated, Reference(engine->model(), prompts[i], 12));
  const EngineMetrics m = engine->Metrics();
  EXPECT_GT(m.preemptions, 0u);
  EXPECT_EQ(m.kv_used_tokens, 0);
}

TEST(EngineTest, PrefixCacheServesASharedStartAndKeepsTheOutput) {
  EngineOptions o;
  o.page_tokens = 4;
  auto engine = MakeEngine(o);
  const std::vector<int32_t> system = Prompt(20, 18);
  std::vector<int32_t> first = system, second = system;
  first.insert(first.end(), {7, 8, 9});
  second.insert(second.end(), {11, 12});
  const RequestId a = Take(engine->Submit(Greedy(first, 5)));
  Drain(*engine);
  const RequestId b = Take(engine->Submit(Greedy(second, 5)));
  Drain(*engine);
  EXPECT_EQ(engine->Poll(a)->generated, Reference(engine->model(), first, 5));
  EXPECT_EQ(engine->Poll(b)->generated, Reference(engine->model(), second, 5));
  const EngineMetrics m = engine->Metrics();
  // The second prompt's first 16 tokens (four whole pages of the shared 18) came from the cache.
  EXPECT_EQ(m.prefix_hit_tokens, 16u);
  EXPECT_EQ(m.prompt_tokens, first.size() + second.size() - 16);
  EXPECT_GT(m.prefix_cached_pages, 0);
  EXPECT_EQ(m.kv_used_tokens, 0);  // what is left is the prefix cache's alone
}

TEST(EngineTest, PrefixCacheIsEvictedUnderPressure) {
  EngineOptions o;
  o.page_tokens = 4;
  auto probe = MakeEngine();
  o.kv_budget_bytes = 24 * probe->Metrics().kv_bytes_per_token;  // six pages
  auto engine = MakeEngine(o);
  for (int i = 0; i < 4; ++i) {
    const std::vector<int32_t> prompt = Prompt(30 + i, 13);
    const RequestId id = Take(engine->Submit(Greedy(prompt, 4)));
    Drain(*engine);
    EXPECT_EQ(engine->Poll(id)->generated, Reference(engine->model(), prompt, 4)) << i;
  }
  const EngineMetrics m = engine->Metrics();
  EXPECT_GT(m.prefix_evicted_pages, 0u);
  EXPECT_LE(m.kv_pages_used, m.kv_pages_total);
}

TEST(EngineTest, PagedCacheLayoutsAndNoPrefixCache) {
  const std::vector<int32_t> prompt = Prompt(40, 9);
  for (KvLayout layout : {KvLayout::kBf16, KvLayout::kFp8}) {
    EngineOptions o;
    o.kv_layout = layout;
    o.prefix_cache = false;
    auto engine = MakeEngine(o);
    const RequestId id = Take(engine->Submit(Greedy(prompt, 3)));
    Drain(*engine);
    EXPECT_EQ(engine->Poll(id)->generated.size(), 3u);
    EXPECT_EQ(engine->Metrics().prefix_cached_pages, 0);
    EXPECT_EQ(engine->Metrics().kv_pages_used, 0);
  }
  EngineOptions bad;
  bad.page_tokens = 0;
  EXPECT_FALSE(Engine::Create(testing::RandomModel(), bad).ok());
  bad.page_tokens = 64;
  bad.kv_budget_bytes = 1;  // not one page
  EXPECT_FALSE(Engine::Create(testing::RandomModel(), bad).ok());
}

TEST(EngineTest, SeededSamplingDoesNotDependOnTheBatch) {
  auto run = [](int companions) {
    auto engine = MakeEngine();
    RequestSpec s;
    s.prompt = Prompt(3, 8);
    s.sampling.seed = 1234;
    s.sampling.top_k = 50;
    s.max_tokens = 8;
    const RequestId id = Take(engine->Submit(s));
    for (int i = 0; i < companions; ++i) (void)engine->Submit(Greedy(Prompt(i, 5), 8));
    Drain(*engine);
    return engine->Poll(id)->generated;
  };
  EXPECT_EQ(run(0), run(3));
}

TEST(EngineTest, StopTokenAndContextLimitEndRequests) {
  const std::vector<int32_t> prompt = Prompt(1, 6);
  auto engine = MakeEngine();
  const std::vector<int32_t> expected = Reference(engine->model(), prompt, 4);
  RequestSpec s = Greedy(prompt, 50);
  s.stop_tokens = {expected[2]};
  const RequestId id = Take(engine->Submit(s));
  Drain(*engine);
  auto st = engine->Poll(id);
  EXPECT_EQ(st->reason, FinishReason::kStopToken);
  EXPECT_LE(st->generated.size(), 3u);
  EXPECT_EQ(st->generated.back(), expected[2]);

  EngineOptions o;
  o.max_context = 9;
  auto small = MakeEngine(o);
  const RequestId full = Take(small->Submit(Greedy(prompt, 50)));
  Drain(*small);
  EXPECT_EQ(small->Poll(full)->reason, FinishReason::kContextFull);
  EXPECT_EQ(small->Poll(full)->generated.size(), 3u);
  EXPECT_EQ(small->Submit(Greedy(Prompt(1, 10), 5)).status().code(), StatusCode::kOutOfRange);
}

TEST(EngineTest, InteractiveLaneIsServedFirst) {
  EngineOptions o;
  o.max_batch_tokens = 8;
  o.interactive_chunk = 4;
  o.compute_chunk = 64;
  auto engine = MakeEngine(o);
  const RequestId compute = Take(engine->Submit(Greedy(Prompt(1, 30), 4, Lane::kCompute)));
  const RequestId interactive = Take(engine->Submit(Greedy(Prompt(2, 4), 4, Lane::kInteractive)));
  ASSERT_TRUE(engine->Step().ok());
  EXPECT_EQ(engine->Poll(interactive)->generated.size(), 1u);
  EXPECT_EQ(engine->Poll(compute)->generated.size(), 0u);
  EXPECT_EQ(engine->Poll(compute)->state, RequestState::kRunning);
  Drain(*engine);
}

TEST(EngineTest, StreamsEveryTokenThenTheEnd) {
  auto engine = MakeEngine();
  std::vector<TokenEvent> events;
  RequestSpec s = Greedy(Prompt(4, 5), 5);
  s.sampling.top_logprobs = 3;
  std::vector<size_t> top_sizes;
  s.on_token = [&](const TokenEvent& e) {
    events.push_back(e);
    top_sizes.push_back(e.top.size());
  };
  const RequestId id = Take(engine->Submit(s));
  Drain(*engine);
  ASSERT_EQ(events.size(), 5u);
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].request, id);
    EXPECT_EQ(events[i].finished, i == 4);
    EXPECT_LE(events[i].logprob, 0.0f);
    EXPECT_EQ(top_sizes[i], 3u);
  }
  EXPECT_EQ(events.back().reason, FinishReason::kMaxTokens);
  EXPECT_EQ(engine->Poll(id)->generated[0], events[0].token);
}

TEST(EngineTest, SubmitRejectsBadRequests) {
  auto engine = MakeEngine();
  EXPECT_EQ(engine->Submit(Greedy({}, 5)).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(engine->Submit(Greedy({1, 99999}, 5)).status().code(), StatusCode::kOutOfRange);
  EXPECT_EQ(engine->Submit(Greedy({1}, 0)).status().code(), StatusCode::kInvalidArgument);
  RequestSpec s = Greedy({1, 2}, 4);
  s.sampling.top_p = 2.0f;
  EXPECT_EQ(engine->Submit(s).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(engine->Cancel(777).code(), StatusCode::kNotFound);
  EXPECT_EQ(engine->Poll(777).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(engine->Release(777).code(), StatusCode::kNotFound);
  EXPECT_FALSE(Engine::Create(nullptr, {}).ok());
  EngineOptions bad;
  bad.max_batch_tokens = 0;
  EXPECT_FALSE(Engine::Create(testing::RandomModel(), bad).ok());
}

TEST(EngineTest, SubmitAndCancelFromManyThreads) {
  auto engine = MakeEngine();
  engine->Start();
  std::atomic<int> streamed_ends{0};
  std::vector<std::thread> threads;
  std::vector<std::vector<RequestId>> ids(4);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 4; ++i) {
        // The ones cancelled below would run long enough to be cancelled mid-way.
        RequestSpec s = Greedy(Prompt(t * 10 + i, 4 + i), i % 3 == 0 ? 3000 : 8,
                               i % 2 ? Lane::kCompute : Lane::kInteractive);
        s.on_token = [&](const TokenEvent& e) {
          if (e.finished) ++streamed_ends;
        };
        auto id = engine->Submit(s);
        ASSERT_TRUE(id.ok());
        ids[t].push_back(*id);
        if (i % 3 == 0) {
          EXPECT_TRUE(engine->Cancel(*id).ok());
        }
      }
    });
  for (auto& th : threads) th.join();
  // One more cancellation while requests are surely running.
  EXPECT_TRUE(engine->Cancel(ids[1][1]).ok());
  for (auto& list : ids)
    for (RequestId id : list) {
      auto done = engine->Wait(id, milliseconds(60000));
      ASSERT_TRUE(done.ok());
      EXPECT_TRUE(*done);
    }
  engine->Stop();
  const EngineMetrics m = engine->Metrics();
  EXPECT_EQ(m.requests_submitted, 16u);
  EXPECT_EQ(m.requests_finished, 16u);
  EXPECT_GE(m.requests_cancelled, 8u);
  EXPECT_EQ(streamed_ends.load(), 16);
  for (auto& list : ids) {
    for (size_t i = 0; i < list.size(); i += 3) {
      EXPECT_EQ(engine->Poll(list[i])->reason, FinishReason::kCancelled);
    }
  }
  for (auto& list : ids)
    for (RequestId id : list) EXPECT_TRUE(engine->Release(id).ok());
  EXPECT_EQ(engine->Poll(ids[0][0]).status().code(), StatusCode::kNotFound);
}

TEST(EngineTest, MetricsAndPrometheusText) {
  auto engine = MakeEngine();
  (void)engine->Submit(Greedy(Prompt(5, 6), 4));
  (void)engine->Submit(Greedy(Prompt(6, 6), 4, Lane::kCompute));
  Drain(*engine);
  const EngineMetrics m = engine->Metrics();
  EXPECT_EQ(m.requests_finished, 2u);
  EXPECT_EQ(m.prompt_tokens, 12u);
  EXPECT_EQ(m.generated_tokens, 8u);
  EXPECT_EQ(m.ttft.count(), 2u);
  EXPECT_EQ(m.tpot.count(), 2u);
  EXPECT_EQ(m.inter_token.count(), 6u);
  EXPECT_EQ(m.queue_time.count(), 2u);
  EXPECT_GT(m.generated_tokens_per_second(), 0.0);
  EXPECT_EQ(m.prefix_hit_rate(), 0.0);
  const std::string text = PrometheusText(m, &engine->expert_load());
  for (const char* name :
       {"# TYPE dsv32_requests_submitted_total counter",
        "dsv32_time_to_first_token_seconds_count 2",
        "dsv32_time_per_output_token_seconds{quantile=\"0.5\"}", "dsv32_kv_used_tokens 0",
        "dsv32_expert_routed_tokens_total{layer=\"1\",expert=", "dsv32_prefix_cache_hit_rate 0"})
    EXPECT_NE(text.find(name), std::string::npos) << name << "\n" << text;
}

}  // namespace
}  // namespace dsv32

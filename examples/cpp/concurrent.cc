// Several clients served at once by one engine: each thread submits its
// own requests through the C API and reads its stream, while the engine
// batches them all into shared forward passes.
// Usage: dsv32_concurrent MODEL_DIR [CLIENTS] [REQUESTS_PER_CLIENT]
#include <dsv32/dsv32.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

struct EngineDeleter {
  void operator()(dsv32_engine* e) const { dsv32_engine_free(e); }
};

// Collects one request's streamed tokens.
struct Stream {
  std::mutex mu;
  std::vector<int32_t> tokens;
  bool finished = false;

  static void OnToken(const dsv32_token_event* e, void* user_data) {
    auto* s = static_cast<Stream*>(user_data);
    std::lock_guard lock(s->mu);
    if (e->token >= 0) s->tokens.push_back(e->token);
    if (e->finished) s->finished = true;
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s MODEL_DIR [CLIENTS] [REQUESTS_PER_CLIENT]\n", argv[0]);
    return 2;
  }
  const int clients = argc > 2 ? std::atoi(argv[2]) : 4;
  const int per_client = argc > 3 ? std::atoi(argv[3]) : 2;

  dsv32_model* model = nullptr;
  if (dsv32_model_load(argv[1], nullptr, &model) != DSV32_OK) {
    std::fprintf(stderr, "load: %s\n", dsv32_last_error());
    return 1;
  }
  dsv32_engine_params params = dsv32_engine_default_params();
  params.max_context = 256;
  dsv32_engine* raw = nullptr;
  const dsv32_status created = dsv32_engine_create(model, &params, &raw);
  dsv32_model_free(model);
  if (created != DSV32_OK) {
    std::fprintf(stderr, "engine: %s\n", dsv32_last_error());
    return 1;
  }
  std::unique_ptr<dsv32_engine, EngineDeleter> engine(raw);

  std::atomic<int> failures{0};
  std::mutex print_mu;
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c)
    threads.emplace_back([&, c] {
      for (int r = 0; r < per_client; ++r) {
        std::vector<int32_t> prompt;
        for (int i = 0; i < 8 + c; ++i) prompt.push_back((c * 97 + r * 31 + i * 7) % 1000 + 2);
        dsv32_sampling_params sampling = dsv32_sampling_default_params();
        sampling.seed = c * 100 + r;
        sampling.top_k = 40;
        Stream stream;
        dsv32_request_params request = dsv32_request_default_params();
        request.prompt = prompt.data();
        request.n_prompt = prompt.size();
        request.sampling = &sampling;
        request.max_tokens = 12;
        request.stop_at_eos = 0;
        request.lane = c % 2 ? DSV32_LANE_COMPUTE : DSV32_LANE_INTERACTIVE;
        request.on_token = Stream::OnToken;
        request.user_data = &stream;
        dsv32_request_id id = 0;
        int32_t done = 0;
        if (dsv32_engine_submit(engine.get(), &request, &id) != DSV32_OK ||
            dsv32_engine_wait(engine.get(), id, -1, &done) != DSV32_OK || !done) {
          ++failures;
          continue;
        }
        dsv32_engine_release(engine.get(), id);
        std::lock_guard lock(stream.mu);
        if (!stream.finished || stream.tokens.size() != 12) ++failures;
        std::string text;
        for (int32_t t : stream.tokens) text += std::to_string(t) + " ";
        std::lock_guard print(print_mu);
        std::printf("client %d request %d: %s\n", c, r, text.c_str());
      }
    });
  for (auto& t : threads) t.join();

  dsv32_engine_metrics m{};
  m.struct_size = sizeof m;
  dsv32_engine_get_metrics(engine.get(), &m);
  std::printf("%llu requests, %llu tokens, mean batch %.1f tokens, %.1f tokens/s, TTFT p50 %.3f s\n",
              static_cast<unsigned long long>(m.requests_finished),
              static_cast<unsigned long long>(m.generated_tokens), m.mean_batch_tokens,
              m.generated_tokens_per_second, m.ttft_p50);
  if (failures) std::fprintf(stderr, "%d requests failed\n", failures.load());
  return failures ? 1 : 0;
}

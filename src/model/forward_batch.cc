// The batched forward of continuous batching: one pass over the weights for
// the new tokens of many sequences.
#include <set>

#include "attention/mla.h"
#include "core/ops.h"
#include "core/thread_pool.h"
#include "model/batched_head.h"
#include "model/model.h"

namespace dsv32 {

Status Model::ForwardBatch(std::span<const SequenceStep> steps, ThreadPool* pool,
                           ExpertLoad* expert_load) const {
  const ModelConfig& c = config_;
  if (steps.empty()) return InvalidArgument("no sequences to evaluate");
  std::set<const KvCache*> caches;
  int64_t T = 0;
  for (size_t s = 0; s < steps.size(); ++s) {
    const SequenceStep& step = steps[s];
    if (!step.cache) return InvalidArgument("sequence " + std::to_string(s) + " has no cache");
    if (!caches.insert(step.cache).second)
      return InvalidArgument("sequence " + std::to_string(s) + " shares its cache with another");
    Status st = CheckStep(*step.cache, step.tokens, step.first_position);
    if (!st.ok()) return st.WithContext("sequence " + std::to_string(s));
    T += static_cast<int64_t>(step.tokens.size());
  }
  // Each cache drops the positions its step replaces, then holds pages for
  // exactly what the step writes; on failure every cache gives back what
  // this call took.
  for (const SequenceStep& step : steps) {
    step.cache->Truncate(step.first_position);
    Status st = step.cache->Reserve(step.first_position + static_cast<int64_t>(step.tokens.size()),
                                    step.first_position);
    if (!st.ok()) {
      for (const SequenceStep& taken : steps) taken.cache->Truncate(taken.first_position);
      return st;
    }
  }

  const int64_t H = c.hidden_size;
  std::vector<AttentionContext> contexts(steps.size());
  std::vector<MlaSequence> seqs(steps.size());
  std::vector<float> h(static_cast<size_t>(T * H));
  int64_t row = 0;
  for (size_t s = 0; s < steps.size(); ++s) {
    const SequenceStep& step = steps[s];
    const auto n = static_cast<int64_t>(step.tokens.size());
    contexts[s] = NewContext(n, step.first_position, step.attention_path, pool);
    for (int64_t i = 0; i < n; ++i)
      DequantizeRow(weights_.embed_tokens, step.tokens[static_cast<size_t>(i)], &h[(row + i) * H]);
    seqs[s] = {&contexts[s], step.cache, nullptr};
    row += n;
  }

  std::vector<float> normed(h.size()), delta(h.size());
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    const LayerWeights& lw = weights_.layers[static_cast<size_t>(l)];
    for (int64_t i = 0; i < T; ++i)
      RmsNorm(&h[i * H], lw.input_layernorm.data(), H, c.rms_norm_eps, &normed[i * H]);
    DSV32_RETURN_IF_ERROR(MlaForwardBatch(seqs, lw.self_attn, l, normed.data(), delta.data()));
    for (size_t j = 0; j < h.size(); ++j) h[j] += delta[j];

    Routing routing;
    FeedForward(lw, l, T, pool, expert_load, &routing, &h, &normed, &delta);
  }

  std::vector<HeadRows> heads;
  row = 0;
  for (const SequenceStep& step : steps) {
    const auto n = static_cast<int64_t>(step.tokens.size());
    step.cache->SetLength(step.first_position + n);
    if (step.last_hidden) step.last_hidden->assign(h.begin() + row * H, h.begin() + (row + n) * H);
    row += n;
    heads.push_back({n, step.logits, step.all_logits});
  }
  BatchedHeadLogits(heads, h.data(), H, weights_.norm, c.rms_norm_eps, weights_.lm_head, pool);
  return Status::Ok();
}

}  // namespace dsv32

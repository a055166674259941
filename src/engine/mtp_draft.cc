#include "engine/mtp_draft.h"

#include <algorithm>
#include <string>

namespace dsv32 {

Status DraftWithMtp(const Model& model, std::span<const int32_t> tokens,
                    std::span<const float> pending_hidden, int64_t k, bool greedy,
                    Sampler* sampler, ThreadPool* pool, KvCache* mtp_cache, MtpDrafts* out) {
  const ModelConfig& c = model.config();
  const int64_t H = c.hidden_size;
  const int64_t V = c.vocab_size;
  const auto N = static_cast<int64_t>(tokens.size());
  const int64_t rows = static_cast<int64_t>(pending_hidden.size()) / H;
  const int64_t first = mtp_cache->length();
  if (k < 1 || rows < 1 || first + rows != N - 1)
    return InvalidArgument("drafting needs k >= 1 and the hidden states of positions [" +
                           std::to_string(first) + ", " + std::to_string(N - 1) + "), got " +
                           std::to_string(rows) + " rows");
  std::vector<float> logits(static_cast<size_t>(V)), hidden;
  out->tokens.clear();
  out->q.resize(greedy ? 0 : static_cast<size_t>(k));
  ForwardOptions options;
  options.attention_path = kSpeculativeStepAttention;
  options.all_logits = false;
  options.last_hidden = &hidden;
  for (int64_t j = 0; j < k; ++j) {
    if (j == 0) {
      DSV32_RETURN_IF_ERROR(model.ForwardMtp(mtp_cache, tokens.subspan(first + 1), pending_hidden,
                                             first, pool, options, logits.data()));
    } else {
      // Chain: the MTP layer's own last output stands in for the main
      // model's hidden state, which the drafts do not have yet.
      const std::vector<float> previous(hidden.end() - H, hidden.end());
      DSV32_RETURN_IF_ERROR(model.ForwardMtp(mtp_cache, std::span(&out->tokens.back(), 1),
                                             previous, N - 2 + j, pool, options, logits.data()));
    }
    if (greedy) {
      out->tokens.push_back(
          static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin()));
    } else {
      std::vector<double>& q = out->q[static_cast<size_t>(j)];
      sampler->Distribution(logits, &q);
      out->tokens.push_back(sampler->Draw(q));
    }
  }
  return Status::Ok();
}

Status AdoptReplacedDrafts(int64_t vocab, bool greedy, MtpDrafts* drafts) {
  for (size_t j = 0; j < drafts->tokens.size(); ++j) {
    const int32_t d = drafts->tokens[j];
    if (d < 0 || d >= vocab)
      return OutOfRange("replaced draft " + std::to_string(d) + " is outside the vocabulary");
    if (!greedy) {
      drafts->q[j].assign(static_cast<size_t>(vocab), 0.0);
      drafts->q[j][static_cast<size_t>(d)] = 1.0;
    }
  }
  return Status::Ok();
}

}  // namespace dsv32

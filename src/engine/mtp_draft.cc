#include "engine/mtp_draft.h"

#include <algorithm>
#include <string>

namespace dsv32 {

Status DraftBatchWithMtp(const Model& model, std::span<const MtpDraftJob> jobs, ThreadPool* pool) {
  const ModelConfig& c = model.config();
  const int64_t H = c.hidden_size;
  const auto V = static_cast<size_t>(c.vocab_size);
  int64_t links = 0;
  std::vector<int64_t> lengths;  // each MTP cache's before the call
  for (const MtpDraftJob& job : jobs) {
    const auto N = static_cast<int64_t>(job.tokens.size());
    const int64_t rows = static_cast<int64_t>(job.pending_hidden.size()) / H;
    const int64_t first = job.mtp_cache->length();
    if (job.k < 1 || rows < 1 || first + rows != N - 1)
      return InvalidArgument("drafting needs k >= 1 and the hidden states of positions [" +
                             std::to_string(first) + ", " + std::to_string(N - 1) + "), got " +
                             std::to_string(rows) + " rows");
    links = std::max(links, job.k);
    lengths.push_back(first);
    job.out->tokens.clear();
    job.out->q.resize(job.greedy ? 0 : static_cast<size_t>(job.k));
  }
  std::vector<std::vector<float>> logits(jobs.size(), std::vector<float>(V));
  std::vector<std::vector<float>> hidden(jobs.size()), previous(jobs.size());
  std::vector<MtpStep> steps;
  std::vector<size_t> drafting;
  for (int64_t j = 0; j < links; ++j) {
    steps.clear();
    drafting.clear();
    for (size_t i = 0; i < jobs.size(); ++i) {
      const MtpDraftJob& job = jobs[i];
      if (job.k <= j) continue;
      MtpStep step;
      step.cache = job.mtp_cache;
      if (j == 0) {
        step.next_tokens = job.tokens.subspan(static_cast<size_t>(lengths[i] + 1));
        step.hidden = job.pending_hidden;
        step.first_position = lengths[i];
      } else {
        // Chain: the MTP layer's own last output stands in for the main
        // model's hidden state, which the drafts do not have yet.
        previous[i].assign(hidden[i].end() - H, hidden[i].end());
        step.next_tokens = std::span(&job.out->tokens.back(), 1);
        step.hidden = previous[i];
        step.first_position = static_cast<int64_t>(job.tokens.size()) - 2 + j;
      }
      step.logits = logits[i].data();
      step.last_hidden = &hidden[i];
      steps.push_back(step);
      drafting.push_back(i);
    }
    if (Status s = model.ForwardMtpBatch(steps, kSpeculativeStepAttention, pool); !s.ok()) {
      for (size_t i = 0; i < jobs.size(); ++i) jobs[i].mtp_cache->Truncate(lengths[i]);
      return s;
    }
    for (size_t i : drafting) {
      const MtpDraftJob& job = jobs[i];
      if (job.greedy) {
        job.out->tokens.push_back(static_cast<int32_t>(
            std::max_element(logits[i].begin(), logits[i].end()) - logits[i].begin()));
      } else {
        std::vector<double>& q = job.out->q[static_cast<size_t>(j)];
        job.sampler->Distribution(logits[i], &q);
        job.out->tokens.push_back(job.sampler->Draw(q));
      }
    }
  }
  return Status::Ok();
}

Status DraftWithMtp(const Model& model, std::span<const int32_t> tokens,
                    std::span<const float> pending_hidden, int64_t k, bool greedy, Sampler* sampler,
                    ThreadPool* pool, KvCache* mtp_cache, MtpDrafts* out) {
  const MtpDraftJob job{tokens, pending_hidden, k, greedy, sampler, mtp_cache, out};
  return DraftBatchWithMtp(model, std::span(&job, 1), pool);
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

// Speculative decoding of one sequence with the checkpoint's own
// multi-token-prediction layer: each step drafts k tokens with the MTP layer,
// runs the main model once over the last token and the k drafts, keeps the
// drafts the main model agrees with and one token of its own, and rolls both
// caches back past the rest. The output is distributed as plain decoding's
// (greedy: the same tokens), only cheaper when drafts are accepted.
//
// For a sequence x_0 .. x_{N-1} whose last token the main model has not yet
// run (its cache holds positions [0, N-1)), with h_i the main model's last
// hidden state at position i:
//   draft 1:     MTP at position N-2 reads h_{N-2} and x_{N-1}
//   draft j + 1: MTP at position N-2+j reads its own output hidden state at
//                N-3+j (h_{N-3+j} does not exist yet) and draft j
//   verify:      the main model over [x_{N-1}, d_1 .. d_k] at positions
//                N-1 .. N-1+k; row j's logits judge d_{j+1}
// With a drafts accepted, the main cache keeps [0, N+a) and the MTP cache
// only its entries made from real hidden states, [0, N-1); the verify pass's
// hidden states at N-1 .. N-1+a wait for the MTP layer's next step.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "attention/kv_cache.h"
#include "core/status.h"
#include "engine/mtp_draft.h"
#include "engine/sampling.h"
#include "model/model.h"

namespace dsv32 {

class ThreadPool;

// The rule of speculative sampling for a draft token drawn from q: accepted
// with probability min(1, p[draft] / q[draft]), else replaced by a draw
// from norm(max(0, p - q)). The token it returns is distributed as p,
// whatever q is (Leviathan et al. 2023; Chen et al. 2023).
struct DraftVerdict {
  bool accepted = false;
  int32_t token = -1;
};
DraftVerdict JudgeDraft(std::span<const double> p, std::span<const double> q, int32_t draft,
                        Sampler* sampler);

// Judges k drafts by the main model's logits over the last token and the
// drafts ([k + 1, vocab]; row j judges draft j, the last row follows a run
// of all of them). Appends the drafts that stand and one token of the
// target's own after them to `out` (1 .. k+1 tokens, each with what Sample
// reports) and has `sampler` accept each. Greedy: a draft stands when it is
// what Sample picks there, penalties included; sampling: JudgeDraft against
// drafts.q. Returns how many drafts stood.
int64_t JudgeDrafts(std::span<const float> logits, const MtpDrafts& drafts, bool greedy,
                    Sampler* sampler, std::vector<SampledToken>* out);

struct SpeculativeOptions {
  int32_t draft_tokens = 1;  // k, drafts per step: 1 .. 16
  // The longest sequence, prompt and output (0: max_position_embeddings);
  // near it steps draft fewer tokens so the caches never pass it.
  int64_t max_context = 0;
  // Replaces the drafts of each step after the MTP layer made them (which
  // still runs, so its cache stays as it would be): for testing acceptance
  // and rollback, and for drafts from another source. Called with the
  // position of the first draft. When sampling, replaced drafts count as
  // certain proposals (q one-hot), which the rule above still corrects.
  std::function<void(int64_t position, std::span<int32_t> drafts)> replace_drafts;
};

struct SpeculativeStats {
  int64_t steps = 0;    // verify passes of the main model
  int64_t drafted = 0;  // draft tokens proposed
  int64_t accepted = 0;
  double acceptance_rate() const {
    return drafted ? static_cast<double>(accepted) / static_cast<double>(drafted) : 0.0;
  }
};

class SpeculativeDecoder {
 public:
  // Unsupported when the model has no MTP layer; InvalidArgument for bad
  // options or sampling parameters. `model` and `pool` must outlive it.
  static Result<SpeculativeDecoder> Create(const Model& model, const SamplingParams& sampling,
                                           const SpeculativeOptions& options, ThreadPool* pool);

  // Prefills the prompt through the main model and the MTP layer and
  // returns the first generated token. Once per decoder.
  Result<int32_t> Start(std::span<const int32_t> prompt);
  // One draft-and-verify step: appends the 1 .. k+1 tokens it generated to
  // `out` (and to tokens()). OutOfRange once the sequence is max_context
  // long. On error the caches are as before the step.
  Status Step(std::vector<int32_t>* out);

  // The prompt and every generated token.
  const std::vector<int32_t>& tokens() const { return tokens_; }
  // The main model's cache ([0, tokens().size() - 1)) and the MTP layer's.
  const KvCache& cache() const { return cache_; }
  const KvCache& mtp_cache() const { return mtp_cache_; }
  const SpeculativeStats& stats() const { return stats_; }

 private:
  SpeculativeDecoder(const Model& model, const SamplingParams& sampling,
                     const SpeculativeOptions& options, ThreadPool* pool, int64_t max_context);
  // Drafts `k` tokens into drafts_, running the MTP layer over the hidden
  // states not yet in its cache first.
  Status Draft(int64_t k);

  const Model* model_;
  ThreadPool* pool_;
  SpeculativeOptions options_;
  int64_t max_context_;
  bool greedy_;
  Sampler sampler_;
  KvCache cache_;
  KvCache mtp_cache_;
  std::vector<int32_t> tokens_;
  // Main-model hidden states of the positions after the MTP cache's last,
  // [rows, hidden]: its next step's input.
  std::vector<float> pending_hidden_;
  MtpDrafts drafts_;
  std::vector<float> verify_logits_, verify_hidden_;
  SpeculativeStats stats_;
};

}  // namespace dsv32

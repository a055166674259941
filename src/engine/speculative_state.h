// What the engine keeps for one sequence that decodes speculatively, beside
// its two caches (SequenceKv::cache and ::mtp): the main model's hidden
// states the MTP layer has not read yet and the drafts of the current step.
//
// Between steps a sequence x_0 .. x_{N-1} has main entries [0, N-1), MTP
// entries [0, m) and pending hidden states h_m .. h_{N-2}
// (engine/mtp_draft.h). Prefill chunks add rows and the MTP layer reads at
// once every row whose next token is known, so pending stays short.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "attention/kv_cache.h"
#include "core/status.h"
#include "engine/mtp_draft.h"
#include "engine/sampling.h"
#include "model/model.h"

namespace dsv32 {

class ThreadPool;

class SpeculativeState {
 public:
  // After a main-model pass over positions [first, first + n) of `tokens`
  // (what is known of the sequence) gave their hidden states (`hidden`,
  // [n, hidden_size]): runs the MTP layer over the pending positions before
  // tokens.size() - 1 and keeps the rest pending. On error the MTP cache is
  // as before.
  Status AddHidden(const Model& model, std::span<const int32_t> tokens, int64_t first,
                   std::span<const float> hidden, ThreadPool* pool, KvCache* mtp);
  // What drafting k >= 1 tokens after `tokens` into drafts() takes
  // (DraftBatchWithMtp, with other sequences' jobs).
  MtpDraftJob DraftJob(std::span<const int32_t> tokens, int64_t k, bool greedy, Sampler* sampler,
                       KvCache* mtp) {
    return {tokens, pending_hidden_, k, greedy, sampler, mtp, &drafts_};
  }
  MtpDrafts& drafts() { return drafts_; }
  // After the verify pass over x_{N-1} and the drafts, of which `accepted`
  // stood, gave `hidden` ([k + 1, hidden_size]): the main cache keeps
  // x_{N-1} and the accepted drafts, the MTP cache what real hidden states
  // made, and the verify pass's states of the kept tokens wait for the
  // MTP layer's next step.
  void AfterVerify(int64_t N, int64_t accepted, std::span<const float> hidden, KvCache* main,
                   KvCache* mtp);
  // Forgets everything (the sequence lost its caches).
  void Clear();

 private:
  std::vector<float> pending_hidden_;
  MtpDrafts drafts_;
};

}  // namespace dsv32

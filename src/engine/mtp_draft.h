// Drafting with the checkpoint's multi-token-prediction layer, shared by the
// single-sequence SpeculativeDecoder and the serving engine.
//
// A sequence x_0 .. x_{N-1} whose main cache holds [0, N-1) keeps an MTP
// cache of [0, m) and the main model's last hidden states h_m .. h_{N-2}
// that the MTP layer has not read yet ("pending"). Drafting runs the MTP
// layer over those positions (row i reads h_i and x_{i+1}); the last row's
// logits give draft 1, and draft j + 1 comes from the MTP layer at position
// N-2+j reading its own output at N-3+j and draft j (engine/speculative.h
// has the whole scheme). The chained entries past N-1 are the caller's to
// roll back once the main model has judged the drafts.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "attention/kv_cache.h"
#include "core/status.h"
#include "engine/sampling.h"
#include "model/model.h"

namespace dsv32 {

class ThreadPool;

// Speculative steps run a few tokens over a long context: attending in the
// latent space costs each query what one decoded token costs, where
// expanding every cached position's keys and values (what kAuto picks for
// several tokens) would cost a prefill's share.
inline constexpr AttentionPath kSpeculativeStepAttention = AttentionPath::kAbsorbed;

// The most drafts one step may propose.
inline constexpr int32_t kMaxDraftTokens = 16;

struct MtpDrafts {
  std::vector<int32_t> tokens;
  // Each draft's distribution (the sampler's law over the MTP logits),
  // when sampling; empty when greedy.
  std::vector<std::vector<double>> q;
};

// One sequence's share of drafting (DraftBatchWithMtp).
struct MtpDraftJob {
  std::span<const int32_t> tokens;
  std::span<const float> pending_hidden;
  int64_t k = 1;
  bool greedy = true;
  Sampler* sampler = nullptr;
  KvCache* mtp_cache = nullptr;
  MtpDrafts* out = nullptr;
};

// Drafts for several sequences as DraftWithMtp does for one, each link of
// the chain one batched MTP pass (Model::ForwardMtpBatch) over the
// sequences that still draft, so the layer's weights and head are read
// once per link rather than once per sequence. On error every MTP cache is
// truncated back to its length before the call.
Status DraftBatchWithMtp(const Model& model, std::span<const MtpDraftJob> jobs, ThreadPool* pool);

// Drafts k >= 1 tokens after `tokens` into `out`. `pending_hidden` holds
// [rows, hidden] with rows = tokens.size() - 1 - mtp_cache->length() >= 1.
// Greedy drafts are the MTP logits' argmax; sampled ones are drawn with
// `sampler`'s law and stream. On error the MTP cache is as before.
Status DraftWithMtp(const Model& model, std::span<const int32_t> tokens,
                    std::span<const float> pending_hidden, int64_t k, bool greedy, Sampler* sampler,
                    ThreadPool* pool, KvCache* mtp_cache, MtpDrafts* out);

// After drafts were replaced (a test or bench hook): OutOfRange for a
// token outside the vocabulary; when sampling, each replaced draft becomes
// a certain proposal (q one-hot), which the acceptance rule still corrects.
Status AdoptReplacedDrafts(int64_t vocab, bool greedy, MtpDrafts* drafts);

}  // namespace dsv32

#include "engine/speculative.h"

#include <algorithm>
#include <string>

namespace dsv32 {

DraftVerdict JudgeDraft(std::span<const double> p, std::span<const double> q, int32_t draft,
                        Sampler* sampler) {
  const auto d = static_cast<size_t>(draft);
  // u < p / q, written so that q = 0 (never drawn) rejects.
  if (sampler->Uniform() * q[d] < p[d]) return {true, draft};
  std::vector<double> residual(p.size());
  double mass = 0.0;
  for (size_t i = 0; i < p.size(); ++i) {
    residual[i] = std::max(0.0, p[i] - q[i]);
    mass += residual[i];
  }
  // No mass left means p <= q everywhere, i.e. p = q up to rounding, where a
  // rejection has probability zero; p itself is then the right law.
  return {false, sampler->Draw(mass > 0.0 ? std::span<const double>(residual) : p)};
}

int64_t JudgeDrafts(std::span<const float> logits, const MtpDrafts& drafts, bool greedy,
                    Sampler* sampler, std::vector<SampledToken>* out) {
  const auto k = static_cast<int64_t>(drafts.tokens.size());
  const auto V = static_cast<int64_t>(logits.size()) / (k + 1);
  auto row = [&](int64_t j) { return logits.subspan(static_cast<size_t>(j * V), V); };
  std::vector<double> p;
  int64_t a = 0;
  for (; a < k; ++a) {
    const int32_t draft = drafts.tokens[static_cast<size_t>(a)];
    if (greedy) {
      // Exactly what plain decoding would choose here.
      SampledToken target = sampler->Sample(row(a));
      if (target.token != draft) {
        sampler->Accept(target.token);
        out->push_back(std::move(target));
        return a;
      }
    } else {
      sampler->Distribution(row(a), &p);
      const DraftVerdict verdict = JudgeDraft(p, drafts.q[static_cast<size_t>(a)], draft, sampler);
      if (!verdict.accepted) {
        sampler->Accept(verdict.token);
        out->push_back(sampler->Report(row(a), verdict.token));
        return a;
      }
    }
    sampler->Accept(draft);
    out->push_back(sampler->Report(row(a), draft));
  }
  // Every draft stands: the last row gives one more token for free.
  out->push_back(sampler->Sample(row(k)));
  sampler->Accept(out->back().token);
  return k;
}

Result<SpeculativeDecoder> SpeculativeDecoder::Create(const Model& model,
                                                      const SamplingParams& sampling,
                                                      const SpeculativeOptions& options,
                                                      ThreadPool* pool) {
  const ModelConfig& c = model.config();
  DSV32_RETURN_IF_ERROR(model.RequireMtp());
  if (options.draft_tokens < 1 || options.draft_tokens > kMaxDraftTokens)
    return InvalidArgument("draft tokens per step must be in [1, " +
                           std::to_string(kMaxDraftTokens) + "], got " +
                           std::to_string(options.draft_tokens));
  if (options.max_context < 0 || options.max_context > c.max_position_embeddings)
    return InvalidArgument("max_context must be in [0, max_position_embeddings = " +
                           std::to_string(c.max_position_embeddings) + "]");
  DSV32_RETURN_IF_ERROR(ValidateSamplingParams(sampling));
  const int64_t max_context = options.max_context ? options.max_context : c.max_position_embeddings;
  return SpeculativeDecoder(model, sampling, options, pool, max_context);
}

SpeculativeDecoder::SpeculativeDecoder(const Model& model, const SamplingParams& sampling,
                                       const SpeculativeOptions& options, ThreadPool* pool,
                                       int64_t max_context)
    : model_(&model),
      pool_(pool),
      options_(options),
      max_context_(max_context),
      greedy_(sampling.temperature == 0.0f),
      sampler_(sampling),
      cache_(model.config(), max_context),
      mtp_cache_(model.mtp_cache_config(), max_context) {}

Result<int32_t> SpeculativeDecoder::Start(std::span<const int32_t> prompt) {
  if (!tokens_.empty()) return InvalidArgument("the decoder has already started");
  const auto P = static_cast<int64_t>(prompt.size());
  if (P < 1) return InvalidArgument("the prompt is empty");
  if (P >= max_context_)
    return OutOfRange("a prompt of " + std::to_string(P) +
                      " tokens leaves no room in a context of " + std::to_string(max_context_));
  const int64_t V = model_->config().vocab_size;
  const int64_t H = model_->config().hidden_size;
  std::vector<float> logits(static_cast<size_t>(V));
  ForwardOptions options;
  options.all_logits = false;
  options.last_hidden = &pending_hidden_;
  DSV32_RETURN_IF_ERROR(model_->Forward(&cache_, prompt, 0, pool_, options, logits.data()));
  // The MTP layer's prefill: every prompt position but the last, which
  // reads the token sampled below and runs with the first step's drafts.
  if (P > 1) {
    ForwardOptions mtp;
    mtp.all_logits = false;
    Status s = model_->ForwardMtp(
        &mtp_cache_, prompt.subspan(1),
        std::span(pending_hidden_).first(static_cast<size_t>((P - 1) * H)), 0, pool_, mtp, nullptr);
    if (!s.ok()) {
      cache_.Clear();
      pending_hidden_.clear();
      return s;
    }
    pending_hidden_.erase(pending_hidden_.begin(), pending_hidden_.end() - H);
  }
  sampler_.ObservePrompt(prompt);
  const int32_t first = sampler_.Sample(logits).token;
  sampler_.Accept(first);
  tokens_.assign(prompt.begin(), prompt.end());
  tokens_.push_back(first);
  return first;
}

Status SpeculativeDecoder::Draft(int64_t k) {
  DSV32_RETURN_IF_ERROR(DraftWithMtp(*model_, tokens_, pending_hidden_, k, greedy_, &sampler_,
                                     pool_, &mtp_cache_, &drafts_));
  if (!options_.replace_drafts) return Status::Ok();
  options_.replace_drafts(static_cast<int64_t>(tokens_.size()), drafts_.tokens);
  return AdoptReplacedDrafts(model_->config().vocab_size, greedy_, &drafts_);
}

Status SpeculativeDecoder::Step(std::vector<int32_t>* out) {
  if (tokens_.empty()) return InvalidArgument("Start the decoder with a prompt first");
  const ModelConfig& c = model_->config();
  const int64_t H = c.hidden_size;
  const int64_t V = c.vocab_size;
  const auto N = static_cast<int64_t>(tokens_.size());
  if (N >= max_context_)
    return OutOfRange("the sequence has reached its context of " + std::to_string(max_context_) +
                      " tokens");
  // Each step adds at most k + 1 tokens.
  const int64_t k = std::min<int64_t>(options_.draft_tokens, max_context_ - N - 1);
  const int64_t mtp_first = mtp_cache_.length();
  drafts_.tokens.clear();
  if (k > 0) {
    if (Status s = Draft(k); !s.ok()) {
      mtp_cache_.Truncate(mtp_first);
      return s;
    }
  }

  std::vector<int32_t> verify = {tokens_.back()};
  verify.insert(verify.end(), drafts_.tokens.begin(), drafts_.tokens.end());
  verify_logits_.resize(verify.size() * static_cast<size_t>(V));
  ForwardOptions options;
  options.attention_path = kSpeculativeStepAttention;
  options.last_hidden = &verify_hidden_;
  if (Status s = model_->Forward(&cache_, verify, N - 1, pool_, options, verify_logits_.data());
      !s.ok()) {
    mtp_cache_.Truncate(mtp_first);
    return s;
  }

  std::vector<SampledToken> judged;
  const int64_t a = JudgeDrafts(verify_logits_, drafts_, greedy_, &sampler_, &judged);
  for (const SampledToken& t : judged) {
    out->push_back(t.token);
    tokens_.push_back(t.token);
  }

  // Roll back what the rejected drafts wrote: the main cache keeps
  // x_{N-1} and the accepted drafts, the MTP cache what real hidden states
  // made; those of this pass feed the MTP layer next.
  cache_.Truncate(N + a);
  if (k > 0) {
    mtp_cache_.Truncate(N - 1);
    pending_hidden_.clear();
  }
  pending_hidden_.insert(pending_hidden_.end(), verify_hidden_.begin(),
                         verify_hidden_.begin() + (a + 1) * H);
  ++stats_.steps;
  stats_.drafted += k;
  stats_.accepted += a;
  return Status::Ok();
}

}  // namespace dsv32

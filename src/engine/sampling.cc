#include "engine/sampling.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <numeric>

namespace dsv32 {

Status ValidateSamplingParams(const SamplingParams& p) {
  if (!(p.temperature >= 0.0f) || !std::isfinite(p.temperature))
    return InvalidArgument("temperature must be a finite value >= 0");
  if (p.top_k < 0) return InvalidArgument("top_k must be >= 0");
  if (!(p.top_p > 0.0f && p.top_p <= 1.0f)) return InvalidArgument("top_p must be in (0, 1]");
  if (!(p.min_p >= 0.0f && p.min_p <= 1.0f)) return InvalidArgument("min_p must be in [0, 1]");
  if (!(p.repetition_penalty > 0.0f) || !std::isfinite(p.repetition_penalty))
    return InvalidArgument("repetition_penalty must be a finite value > 0");
  if (!std::isfinite(p.presence_penalty) || !std::isfinite(p.frequency_penalty))
    return InvalidArgument("presence_penalty and frequency_penalty must be finite");
  if (p.top_logprobs < 0 || p.top_logprobs > 64)
    return InvalidArgument("top_logprobs must be in [0, 64]");
  return Status::Ok();
}

Result<SamplingParams> LoadGenerationDefaults(const std::string& dir, SamplingParams defaults) {
  const std::filesystem::path path = std::filesystem::path(dir) / "generation_config.json";
  std::ifstream in(path);
  if (!in) return defaults;
  nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return FormatError(path.string() + ": not a JSON object");
  auto number = [&](const char* key, auto* out) -> Status {
    if (!j.contains(key)) return Status::Ok();
    if (!j[key].is_number()) return FormatError(path.string() + ": '" + key + "' is not a number");
    *out = j[key].get<std::remove_pointer_t<decltype(out)>>();
    return Status::Ok();
  };
  DSV32_RETURN_IF_ERROR(number("temperature", &defaults.temperature));
  DSV32_RETURN_IF_ERROR(number("top_p", &defaults.top_p));
  DSV32_RETURN_IF_ERROR(number("top_k", &defaults.top_k));
  if (j.value("do_sample", true) == false) defaults.temperature = 0.0f;
  Status s = ValidateSamplingParams(defaults);
  if (!s.ok()) return s.WithContext(path.string());
  return defaults;
}

Sampler::Sampler(const SamplingParams& params)
    : params_(params),
      rng_(params.seed >= 0 ? static_cast<uint64_t>(params.seed) : std::random_device{}()),
      constraint_(params.constraint) {}

void Sampler::ObservePrompt(std::span<const int32_t> prompt) {
  if (params_.repetition_penalty != 1.0f) seen_.insert(prompt.begin(), prompt.end());
}

void Sampler::Accept(int32_t token) {
  if (params_.repetition_penalty != 1.0f) seen_.insert(token);
  ++generated_counts_[token];
  // A token the mask did not allow can only be the fallback end token,
  // which ends the request; the constraint keeps its state then.
  if (constraint_) (void)constraint_->Advance(token).ok();
}

namespace {

// log-softmax of x at index i, given max and log-sum-exp of the row.
struct LogSoftmax {
  float max = -std::numeric_limits<float>::infinity();
  double log_sum = 0.0;
  explicit LogSoftmax(std::span<const float> x) {
    for (float v : x) max = std::max(max, v);
    double sum = 0.0;
    for (float v : x) sum += std::exp(static_cast<double>(v - max));
    log_sum = std::log(sum);
  }
  float operator()(float v) const { return static_cast<float>(v - max - log_sum); }
};

}  // namespace

void Sampler::Penalize(std::span<const float> logits) {
  const auto n = static_cast<int32_t>(logits.size());
  work_.assign(logits.begin(), logits.end());
  for (int32_t t : seen_) {
    if (t < 0 || t >= n) continue;
    float& v = work_[static_cast<size_t>(t)];
    v = v > 0.0f ? v / params_.repetition_penalty : v * params_.repetition_penalty;
  }
  for (const auto& [t, count] : generated_counts_) {
    if (t < 0 || t >= n) continue;
    work_[static_cast<size_t>(t)] -=
        params_.presence_penalty + params_.frequency_penalty * static_cast<float>(count);
  }
}

// The constraint's allowed tokens (masks the rest in work_); false when it
// allows none.
bool Sampler::ApplyConstraint() {
  constexpr float kMasked = -std::numeric_limits<float>::infinity();
  allowed_.resize((work_.size() + 63) / 64);
  constraint_->Mask(std::span<uint64_t>(allowed_));
  bool any = false;
  for (size_t w = 0; w < allowed_.size(); ++w) {
    const uint64_t word = allowed_[w];
    any |= word != 0;
    if (word == ~uint64_t{0}) continue;
    const size_t end = std::min(work_.size(), w * 64 + 64);
    for (size_t i = w * 64; i < end; ++i)
      if (!((word >> (i % 64)) & 1)) work_[i] = kMasked;
  }
  return any;
}

size_t Sampler::Candidates(bool constrained) {
  if (constrained) {
    order_.clear();
    for (size_t w = 0; w < allowed_.size(); ++w)
      for (uint64_t b = allowed_[w]; b; b &= b - 1)
        if (const size_t i = w * 64 + static_cast<size_t>(__builtin_ctzll(b)); i < work_.size())
          order_.push_back(static_cast<int32_t>(i));
  } else {
    order_.resize(work_.size());
    std::iota(order_.begin(), order_.end(), 0);
  }
  if (order_.empty()) return 0;
  // Candidates best first; truncation keeps a prefix of this order.
  auto better = [&](int32_t a, int32_t b) {
    return work_[static_cast<size_t>(a)] > work_[static_cast<size_t>(b)] ||
           (work_[static_cast<size_t>(a)] == work_[static_cast<size_t>(b)] && a < b);
  };
  size_t keep = order_.size();
  size_t sorted = keep;
  if (params_.top_k > 0 && static_cast<size_t>(params_.top_k) < keep) {
    keep = sorted = static_cast<size_t>(params_.top_k);
    std::partial_sort(order_.begin(), order_.begin() + static_cast<ptrdiff_t>(keep), order_.end(),
                      better);
  } else if ((params_.top_p < 1.0f || params_.min_p > 0.0f) && keep > kSortedPrefix) {
    // top-p and min-p keep a prefix of the order, short for a peaked
    // distribution: sort the best kSortedPrefix, and the rest only if the
    // cut falls past them.
    sorted = kSortedPrefix;
    std::partial_sort(order_.begin(), order_.begin() + static_cast<ptrdiff_t>(sorted), order_.end(),
                      better);
  } else {
    std::sort(order_.begin(), order_.end(), better);
  }
  const double inv_t = 1.0 / params_.temperature;
  for (;;) {
    const double best = work_[static_cast<size_t>(order_[0])];
    double sum = 0.0;
    for (size_t i = 0; i < keep; ++i)
      sum += std::exp((work_[static_cast<size_t>(order_[i])] - best) * inv_t);
    probs_.resize(sorted);
    for (size_t i = 0; i < sorted; ++i)
      probs_[i] = std::exp((work_[static_cast<size_t>(order_[i])] - best) * inv_t) / sum;
    size_t cut = keep;
    bool past_prefix = false;
    // min-p: drop tokens less likely than min_p times the best one.
    if (params_.min_p > 0.0f) {
      const double floor = params_.min_p * probs_[0];
      size_t k = 1;
      while (k < sorted && probs_[k] >= floor) ++k;
      if (k < sorted) cut = k;
      past_prefix |= k == sorted && sorted < keep;
    }
    // top-p: the smallest prefix whose mass reaches top_p.
    if (params_.top_p < 1.0f) {
      double mass = 0.0;
      size_t k = 0;
      while (k < std::min(cut, sorted)) {
        mass += probs_[k++];
        if (mass >= params_.top_p) break;
      }
      if (mass >= params_.top_p || k < sorted)
        cut = std::min(cut, k);
      else
        past_prefix |= sorted < keep;
    }
    if (!past_prefix || sorted == keep) return std::min(cut, sorted);
    std::sort(order_.begin(), order_.end(), better);
    sorted = keep;
  }
}

double Sampler::Uniform() { return static_cast<double>(rng_() >> 11) * 0x1.0p-53; }

SampledToken Sampler::Sample(std::span<const float> logits) {
  Penalize(logits);
  int32_t token = -1;
  const bool constrained = constraint_.has_value();
  if (constrained && !ApplyConstraint()) {
    // The constraint left nothing to choose from.
    token = constraint_->end_tokens().front();
  } else if (params_.temperature == 0.0f) {
    // Greedy: the first of the best, so ties resolve the same way every time.
    token = static_cast<int32_t>(std::max_element(work_.begin(), work_.end()) - work_.begin());
  } else {
    const size_t keep = Candidates(constrained);
    double total = 0.0;
    for (size_t i = 0; i < keep; ++i) total += probs_[i];
    const double u = Uniform() * total;
    double acc = 0.0;
    // No candidate: the constraint's bits all lay past the logits.
    token = keep ? order_[keep - 1] : constraint_->end_tokens().front();
    for (size_t i = 0; i < keep; ++i) {
      acc += probs_[i];
      if (u < acc) {
        token = order_[i];
        break;
      }
    }
  }
  return Report(logits, token);
}

SampledToken Sampler::Report(std::span<const float> logits, int32_t token) const {
  SampledToken out;
  out.token = token;
  const LogSoftmax log_softmax(logits);
  out.logprob = log_softmax(logits[static_cast<size_t>(out.token)]);
  if (params_.top_logprobs > 0) {
    const size_t k = std::min(static_cast<size_t>(params_.top_logprobs), logits.size());
    std::vector<int32_t> ids(logits.size());
    std::iota(ids.begin(), ids.end(), 0);
    std::partial_sort(
        ids.begin(), ids.begin() + static_cast<ptrdiff_t>(k), ids.end(), [&](int32_t a, int32_t b) {
          return logits[static_cast<size_t>(a)] > logits[static_cast<size_t>(b)] ||
                 (logits[static_cast<size_t>(a)] == logits[static_cast<size_t>(b)] && a < b);
        });
    for (size_t i = 0; i < k; ++i)
      out.top.push_back({ids[i], log_softmax(logits[static_cast<size_t>(ids[i])])});
  }
  return out;
}

void Sampler::Distribution(std::span<const float> logits, std::vector<double>* probs) {
  Penalize(logits);
  probs->assign(logits.size(), 0.0);
  const bool constrained = constraint_.has_value();
  if (constrained && !ApplyConstraint()) {
    const auto end = static_cast<size_t>(constraint_->end_tokens().front());
    if (end < probs->size()) (*probs)[end] = 1.0;
    return;
  }
  if (params_.temperature == 0.0f) {
    (*probs)[static_cast<size_t>(std::max_element(work_.begin(), work_.end()) - work_.begin())] =
        1.0;
    return;
  }
  const size_t keep = Candidates(constrained);
  double total = 0.0;
  for (size_t i = 0; i < keep; ++i) total += probs_[i];
  for (size_t i = 0; i < keep; ++i) (*probs)[static_cast<size_t>(order_[i])] = probs_[i] / total;
}

int32_t Sampler::Draw(std::span<const double> probs) {
  double total = 0.0;
  for (double p : probs) total += p;
  const double u = Uniform() * total;
  double acc = 0.0;
  int32_t last = 0;
  for (size_t i = 0; i < probs.size(); ++i) {
    if (probs[i] <= 0.0) continue;
    acc += probs[i];
    last = static_cast<int32_t>(i);
    if (u < acc) return last;
  }
  return last;  // rounding left u at the very top
}

}  // namespace dsv32

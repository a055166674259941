// What the engine measures about itself, and its Prometheus text form.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace dsv32 {

class ExpertLoad;

// Latency samples: totals since start plus a window of the most recent ones
// for quantiles.
class LatencyStats {
 public:
  void Add(double seconds);
  uint64_t count() const { return count_; }
  double sum() const { return sum_; }
  double mean() const { return count_ ? sum_ / static_cast<double>(count_) : 0.0; }
  // Quantile q in [0, 1] over the recent window (0 with no samples).
  double Quantile(double q) const;

 private:
  static constexpr size_t kWindow = 4096;
  std::vector<double> recent_;
  size_t next_ = 0;
  uint64_t count_ = 0;
  double sum_ = 0.0;
};

struct EngineMetrics {
  uint64_t requests_submitted = 0;
  uint64_t requests_finished = 0;  // every request that ended, for any reason
  uint64_t requests_cancelled = 0;
  uint64_t requests_failed = 0;
  uint64_t requests_running = 0;
  uint64_t requests_queued = 0;
  uint64_t prompt_tokens = 0;  // prompt tokens run through the model (recomputes included)
  uint64_t generated_tokens = 0;
  uint64_t preemptions = 0;
  uint64_t steps = 0;
  double busy_seconds = 0.0;  // time spent inside steps

  LatencyStats ttft, tpot, inter_token, queue_time;

  uint64_t last_batch_sequences = 0;
  uint64_t last_batch_tokens = 0;
  uint64_t batch_tokens_total = 0;  // over all steps, for the mean batch size

  int64_t kv_used_tokens = 0;      // in pages running requests hold
  int64_t kv_capacity_tokens = 0;  // whole pages the budget allows
  int64_t kv_bytes_per_token = 0;  // the MTP layer's entry included when speculating
  int64_t kv_page_tokens = 0;
  int64_t kv_pages_used = 0;  // every page taken from the pool, the prefix cache's included
  int64_t kv_pages_total = 0;
  int64_t kv_mtp_pages_used = 0;    // of the MTP layer's pool (as many pages as the main one)
  int64_t prefix_cached_pages = 0;  // pages the prefix cache holds (some shared with requests)
  uint64_t prefix_evicted_pages = 0;
  uint64_t prefix_lookups = 0;
  uint64_t prefix_hit_tokens = 0;
  uint64_t prefix_lookup_tokens = 0;

  // Speculative decoding: verify passes (one per sequence and step), the
  // MTP layer's drafts they judged and those that stood.
  uint64_t speculative_steps = 0;
  uint64_t draft_tokens = 0;
  uint64_t accepted_draft_tokens = 0;

  double prefix_hit_rate() const {
    return prefix_lookup_tokens
               ? static_cast<double>(prefix_hit_tokens) / static_cast<double>(prefix_lookup_tokens)
               : 0.0;
  }
  double draft_acceptance_rate() const {
    return draft_tokens
               ? static_cast<double>(accepted_draft_tokens) / static_cast<double>(draft_tokens)
               : 0.0;
  }
  double generated_tokens_per_second() const {
    return busy_seconds > 0 ? static_cast<double>(generated_tokens) / busy_seconds : 0.0;
  }
  double mean_batch_tokens() const {
    return steps ? static_cast<double>(batch_tokens_total) / static_cast<double>(steps) : 0.0;
  }
};

// The Prometheus text exposition format (version 0.0.4) of `m`, with the
// per-layer expert counts when `experts` is given.
std::string PrometheusText(const EngineMetrics& m, const ExpertLoad* experts);

}  // namespace dsv32

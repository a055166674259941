#include "engine/metrics.h"

#include <algorithm>
#include <cstdio>

#include "moe/moe.h"

namespace dsv32 {

void LatencyStats::Add(double seconds) {
  if (recent_.size() < kWindow) {
    recent_.push_back(seconds);
  } else {
    recent_[next_] = seconds;
    next_ = (next_ + 1) % kWindow;
  }
  ++count_;
  sum_ += seconds;
}

double LatencyStats::Quantile(double q) const {
  if (recent_.empty()) return 0.0;
  std::vector<double> sorted = recent_;
  const auto k = static_cast<size_t>(q * static_cast<double>(sorted.size() - 1) + 0.5);
  std::nth_element(sorted.begin(), sorted.begin() + static_cast<ptrdiff_t>(k), sorted.end());
  return sorted[k];
}

namespace {

class Writer {
 public:
  void Header(const char* name, const char* type, const char* help) {
    Line("# HELP dsv32_%s %s\n# TYPE dsv32_%s %s\n", name, help, name, type);
  }
  void Counter(const char* name, const char* help, double v) {
    Header(name, "counter", help);
    Sample(name, "", v);
  }
  void Gauge(const char* name, const char* help, double v) {
    Header(name, "gauge", help);
    Sample(name, "", v);
  }
  void Summary(const char* name, const char* help, const LatencyStats& s) {
    Header(name, "summary", help);
    for (double q : {0.5, 0.9, 0.99}) {
      char label[32];
      std::snprintf(label, sizeof label, "{quantile=\"%g\"}", q);
      Sample(name, label, s.Quantile(q));
    }
    Line("dsv32_%s_sum %.9g\n", name, s.sum());
    Line("dsv32_%s_count %llu\n", name, static_cast<unsigned long long>(s.count()));
  }
  void Sample(const char* name, const char* labels, double v) {
    Line("dsv32_%s%s %.9g\n", name, labels, v);
  }
  template <typename... A>
  void Line(const char* format, A... args) {
    char buf[512];
    std::snprintf(buf, sizeof buf, format, args...);
    text_ += buf;
  }
  std::string text_;
};

}  // namespace

std::string PrometheusText(const EngineMetrics& m, const ExpertLoad* experts) {
  Writer w;
  w.Counter("requests_submitted_total", "Requests accepted by the engine.",
            static_cast<double>(m.requests_submitted));
  w.Counter("requests_finished_total", "Requests that ended, for any reason.",
            static_cast<double>(m.requests_finished));
  w.Counter("requests_cancelled_total", "Requests cancelled by the caller.",
            static_cast<double>(m.requests_cancelled));
  w.Counter("requests_failed_total", "Requests that ended in an error.",
            static_cast<double>(m.requests_failed));
  w.Gauge("requests_running", "Requests admitted and holding KV cache.",
          static_cast<double>(m.requests_running));
  w.Gauge("requests_queued", "Requests waiting for admission.",
          static_cast<double>(m.requests_queued));
  w.Counter("prompt_tokens_total", "Prompt tokens run through the model, recomputes included.",
            static_cast<double>(m.prompt_tokens));
  w.Counter("generated_tokens_total", "Tokens sampled.", static_cast<double>(m.generated_tokens));
  w.Counter("preemptions_total", "Sequences evicted to free KV cache (recomputed later).",
            static_cast<double>(m.preemptions));
  w.Counter("steps_total", "Scheduler steps run.", static_cast<double>(m.steps));
  w.Counter("busy_seconds_total", "Seconds spent inside scheduler steps.", m.busy_seconds);
  w.Gauge("generated_tokens_per_second", "Generated tokens per busy second.",
          m.generated_tokens_per_second());
  w.Summary("time_to_first_token_seconds", "Submission to first generated token.", m.ttft);
  w.Summary("time_per_output_token_seconds", "Per request: (last - first token) / (tokens - 1).",
            m.tpot);
  w.Summary("inter_token_latency_seconds", "Time between consecutive tokens of a request.",
            m.inter_token);
  w.Summary("queue_time_seconds", "Submission to admission.", m.queue_time);
  w.Gauge("batch_sequences", "Sequences in the last step.",
          static_cast<double>(m.last_batch_sequences));
  w.Gauge("batch_tokens", "Tokens in the last step.", static_cast<double>(m.last_batch_tokens));
  w.Gauge("batch_tokens_mean", "Mean tokens per step.", m.mean_batch_tokens());
  w.Gauge("kv_used_tokens", "KV cache tokens in pages held by running sequences.",
          static_cast<double>(m.kv_used_tokens));
  w.Gauge("kv_capacity_tokens", "KV cache tokens the budget allows.",
          static_cast<double>(m.kv_capacity_tokens));
  w.Gauge("kv_used_bytes", "KV cache bytes in pages held by running sequences.",
          static_cast<double>(m.kv_used_tokens * m.kv_bytes_per_token));
  w.Gauge("kv_pages_used", "KV pages taken from the pool, the prefix cache's included.",
          static_cast<double>(m.kv_pages_used));
  w.Gauge("kv_pages_total", "KV pages the budget allows.", static_cast<double>(m.kv_pages_total));
  w.Gauge("prefix_cache_pages", "KV pages held by the prefix cache.",
          static_cast<double>(m.prefix_cached_pages));
  w.Counter("prefix_cache_evicted_pages_total", "Prefix cache pages evicted for room.",
            static_cast<double>(m.prefix_evicted_pages));
  w.Gauge("prefix_cache_hit_rate", "Share of looked-up prompt tokens found in the prefix cache.",
          m.prefix_hit_rate());
  w.Gauge("kv_mtp_pages_used", "KV pages of the MTP layer's pool held (speculative decoding).",
          static_cast<double>(m.kv_mtp_pages_used));
  w.Counter("speculative_steps_total", "Verify passes of speculating sequences.",
            static_cast<double>(m.speculative_steps));
  w.Counter("draft_tokens_total", "Tokens drafted by the MTP layer and judged.",
            static_cast<double>(m.draft_tokens));
  w.Counter("accepted_draft_tokens_total", "Drafted tokens the main model accepted.",
            static_cast<double>(m.accepted_draft_tokens));
  w.Gauge("draft_acceptance_rate", "Share of drafted tokens accepted.", m.draft_acceptance_rate());
  if (experts) {
    w.Header("expert_routed_tokens_total", "counter", "Tokens routed to each expert, per layer.");
    for (int64_t l = 0; l < experts->layers(); ++l)
      for (int64_t e = 0; e < experts->experts(); ++e) {
        const uint64_t n = experts->count(l, e);
        if (n == 0) continue;
        char label[64];
        std::snprintf(label, sizeof label, "{layer=\"%lld\",expert=\"%lld\"}",
                      static_cast<long long>(l), static_cast<long long>(e));
        w.Sample("expert_routed_tokens_total", label, static_cast<double>(n));
      }
  }
  return w.text_;
}

}  // namespace dsv32

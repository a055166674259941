#include "server_state.h"

#include <cstdio>

#include "api_error.h"

namespace dsv32_server {

namespace {

void Metric(std::string* out, const char* name, const char* type, const char* help, double value) {
  char line[512];
  std::snprintf(line, sizeof line, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help, name, type,
                name, value);
  out->append(line);
}

}  // namespace

std::string ServerState::PrometheusText() const {
  std::string out;
  size_t length = 0;
  if (dsv32_engine_metrics_prometheus(backend.engine, nullptr, 0, &length) == DSV32_OK) {
    out.resize(length + 1);
    dsv32_engine_metrics_prometheus(backend.engine, out.data(), out.size(), &length);
    out.resize(length);
  }
  if (!out.empty() && out.back() != '\n') out.push_back('\n');
  Metric(&out, "dsv32_server_requests_in_flight", "gauge",
         "Generating requests being served, queued in the engine or running.",
         static_cast<double>(in_flight.load()));
  Metric(&out, "dsv32_server_queue_depth", "gauge",
         "Generating requests that have not received their first token yet.",
         static_cast<double>(awaiting_first_token.load()));
  Metric(&out, "dsv32_server_max_concurrency", "gauge",
         "Generating requests served at once before new ones get 429.",
         static_cast<double>(max_concurrency));
  Metric(&out, "dsv32_server_rejected_busy_total", "counter",
         "Requests refused with 429 because max_concurrency requests were in flight.",
         static_cast<double>(rejected_busy.load()));
  Metric(&out, "dsv32_server_rejected_too_large_total", "counter",
         "Requests refused with 413 because their body exceeded the limit.",
         static_cast<double>(rejected_too_large.load()));
  Metric(&out, "dsv32_server_client_disconnects_total", "counter",
         "Requests cancelled because their client disconnected.",
         static_cast<double>(client_disconnects.load()));
  out +=
      "# HELP dsv32_server_responses_total HTTP responses by status class.\n"
      "# TYPE dsv32_server_responses_total counter\n";
  const std::pair<const char*, uint64_t> classes[] = {
      {"2xx", responses_2xx.load()}, {"4xx", responses_4xx.load()}, {"5xx", responses_5xx.load()}};
  for (const auto& [name, count] : classes)
    out += "dsv32_server_responses_total{code=\"" + std::string(name) + "\"} " +
           std::to_string(count) + "\n";
  return out;
}

ConcurrencySlot::ConcurrencySlot(ServerState& state) : state_(state) {
  if (state_.in_flight.fetch_add(1) >= state_.max_concurrency) {
    state_.in_flight.fetch_sub(1);
    state_.rejected_busy.fetch_add(1);
    throw ApiError(429,
                   "the server is serving its limit of " + std::to_string(state_.max_concurrency) +
                       " requests at once; retry later",
                   {}, "rate_limit_error", "too_many_requests");
  }
  state_.awaiting_first_token.fetch_add(1);
}

ConcurrencySlot::~ConcurrencySlot() {
  FirstToken();
  state_.in_flight.fetch_sub(1);
}

void ConcurrencySlot::FirstToken() {
  if (!waiting_) return;
  waiting_ = false;
  state_.awaiting_first_token.fetch_sub(1);
}

}  // namespace dsv32_server

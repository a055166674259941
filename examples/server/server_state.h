// What the routes share: the backend, the served model's name, the
// concurrency limit and the server's own counters.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "generation.h"

namespace dsv32_server {

struct ServerState {
  Backend backend;
  std::string served_name;
  int64_t max_concurrency = 0;
  size_t max_body_bytes = 0;
  int64_t started = 0;                // unix seconds
  std::atomic<bool> stopping{false};  // the server is shutting down: end every request

  std::atomic<int64_t> in_flight{0};             // generating requests being served
  std::atomic<int64_t> awaiting_first_token{0};  // of those, the ones with no token yet
  std::atomic<uint64_t> rejected_busy{0};        // 429s
  std::atomic<uint64_t> rejected_too_large{0};   // 413s
  std::atomic<uint64_t> client_disconnects{0};   // requests cancelled for a gone client
  std::atomic<uint64_t> responses_2xx{0}, responses_4xx{0}, responses_5xx{0};

  // The engine's metrics (dsv32_engine_metrics_prometheus) and the server's.
  std::string PrometheusText() const;
};

// One of max_concurrency places for a generating request; taking one when
// all are held is a 429.
class ConcurrencySlot {
 public:
  explicit ConcurrencySlot(ServerState& state);
  ~ConcurrencySlot();
  ConcurrencySlot(const ConcurrencySlot&) = delete;
  ConcurrencySlot& operator=(const ConcurrencySlot&) = delete;

  // Call when the first token arrives.
  void FirstToken();

 private:
  ServerState& state_;
  bool waiting_ = true;
};

}  // namespace dsv32_server

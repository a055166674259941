// Collectives between threads of one process that share memory: the backend
// of the simulated device mesh. Each collective is two rendezvous: ranks post
// their buffers, every rank reads what it needs straight from the others'
// buffers, and a second rendezvous keeps a buffer alive until all have read.
#pragma once

#include <atomic>
#include <memory>
#include <vector>

#include "parallel/communicator.h"

namespace dsv32 {

// Shared by every communicator made from one world (and their splits): when
// set, ranks waiting in a collective give up with kCancelled instead of
// waiting forever for a rank that failed.
struct CollectiveCancellation {
  std::atomic<bool> cancelled{false};
};

// n communicators of one world, one per thread; communicator r is rank r.
// Each must be used from one thread at a time.
std::vector<std::unique_ptr<Communicator>> MakeInProcessWorld(
    int n, std::shared_ptr<CollectiveCancellation> cancellation = nullptr);

}  // namespace dsv32

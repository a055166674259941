// Collectives behind one interface, so the sharded forward pass is written
// once and runs over simulated devices (threads) or processes (MPI).
//
// Every collective is called by all ranks of the communicator, in the same
// order, with matching sizes; a size mismatch between ranks is reported as
// the same error on every rank rather than a hang. An argument that one rank
// can check alone (a buffer too small for its counts) fails on that rank
// before the collective starts; DeviceMesh::Run then cancels the others. Sums are taken in rank order on every
// rank, so a reduction gives bit-identical results whatever the backend or
// the thread timing.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"

namespace dsv32 {

enum class CollectiveKind {
  kAllReduce,
  kAllGather,
  kReduceScatter,
  kAllToAllV,
  kBroadcast,
  kBarrier,
};
inline constexpr int kNumCollectiveKinds = 6;
const char* CollectiveKindName(CollectiveKind kind);

// Bytes this rank puts on and takes off the wire, per collective kind. The
// figures are those of the standard algorithms (ring all-reduce, all-gather
// and reduce-scatter; direct all-to-all and broadcast), the same for every
// backend, so a plan made over simulated devices predicts real traffic:
//   all-reduce of n bytes:        2 (p-1)/p n sent and received
//   all-gather, n bytes per rank: (p-1) n
//   reduce-scatter of n bytes:    (p-1)/p n
//   all-to-all-v:                 what goes to / comes from other ranks
//   broadcast of n bytes:         root sends (p-1) n, others receive n
struct CollectiveBytes {
  int64_t calls = 0;
  int64_t sent = 0;
  int64_t received = 0;
};

struct CommStats {
  std::array<CollectiveBytes, kNumCollectiveKinds> by_kind{};

  const CollectiveBytes& operator[](CollectiveKind k) const {
    return by_kind[static_cast<size_t>(k)];
  }
  CollectiveBytes& operator[](CollectiveKind k) { return by_kind[static_cast<size_t>(k)]; }
  int64_t total_sent() const;
  int64_t total_received() const;
  CommStats operator-(const CommStats& earlier) const;
  CommStats& operator+=(const CommStats& other);
};

class Communicator {
 public:
  virtual ~Communicator() = default;

  virtual int rank() const = 0;
  virtual int size() const = 0;

  // data <- sum over ranks of data, elementwise.
  Status AllReduceSum(std::span<float> data);
  // recv (size() * send.size()) <- every rank's send, in rank order.
  Status AllGather(std::span<const float> send, std::span<float> recv);
  Status AllGatherBytes(std::span<const std::byte> send, std::span<std::byte> recv);
  // recv (send.size() / size()) <- this rank's slice of the sum of sends.
  Status ReduceScatterSum(std::span<const float> send, std::span<float> recv);
  // Sends send_counts[r] items, taken consecutively from send, to rank r, and
  // receives recv_counts[r] items from rank r, placed consecutively in recv.
  // Counts are in elements of the span's type; both count lists have size()
  // entries and must agree between sender and receiver (see ExchangeCounts).
  Status AllToAllV(std::span<const float> send, std::span<const int64_t> send_counts,
                   std::span<float> recv, std::span<const int64_t> recv_counts);
  Status AllToAllVBytes(std::span<const std::byte> send, std::span<const int64_t> send_counts,
                        std::span<std::byte> recv, std::span<const int64_t> recv_counts);
  // recv_counts[r] <- what rank r says it sends to this rank: the step before
  // an AllToAllV whose sizes depend on routing (MoE token dispatch).
  Status ExchangeCounts(std::span<const int64_t> send_counts, std::span<int64_t> recv_counts);
  // data on every rank <- data on root.
  Status Broadcast(std::span<float> data, int root);
  Status BroadcastBytes(std::span<std::byte> data, int root);
  Status Barrier();

  // Splits into sub-communicators as MPI_Comm_split does: ranks passing the
  // same color form one group, ordered by (key, old rank). Collective over
  // this communicator; color must be >= 0.
  virtual Result<std::unique_ptr<Communicator>> Split(int color, int key) = 0;

  // Accounting of this communicator alone (not of its splits).
  const CommStats& stats() const { return stats_; }

 protected:
  // Backends implement raw collectives; the public wrappers validate the
  // arguments that can be checked locally and keep the accounting.
  virtual Status DoAllReduceSum(std::span<float> data) = 0;
  virtual Status DoAllGather(std::span<const std::byte> send, std::span<std::byte> recv) = 0;
  virtual Status DoReduceScatterSum(std::span<const float> send, std::span<float> recv) = 0;
  // Counts and displacements here are in bytes.
  virtual Status DoAllToAllV(std::span<const std::byte> send, std::span<const int64_t> send_counts,
                             std::span<std::byte> recv, std::span<const int64_t> recv_counts) = 0;
  virtual Status DoBroadcast(std::span<std::byte> data, int root) = 0;
  virtual Status DoBarrier() = 0;

 private:
  void Account(CollectiveKind kind, int64_t sent, int64_t received);
  Status CheckCounts(std::span<const int64_t> counts, size_t available, const char* which) const;

  CommStats stats_;
};

}  // namespace dsv32

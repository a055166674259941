#include "parallel/communicator.h"

#include <numeric>

namespace dsv32 {

namespace {

std::span<const std::byte> AsBytes(std::span<const float> s) { return std::as_bytes(s); }
std::span<std::byte> AsWritableBytes(std::span<float> s) { return std::as_writable_bytes(s); }

std::vector<int64_t> ToBytes(std::span<const int64_t> counts, int64_t item_size) {
  std::vector<int64_t> out(counts.begin(), counts.end());
  for (int64_t& c : out) c *= item_size;
  return out;
}

}  // namespace

const char* CollectiveKindName(CollectiveKind kind) {
  switch (kind) {
    case CollectiveKind::kAllReduce:
      return "all_reduce";
    case CollectiveKind::kAllGather:
      return "all_gather";
    case CollectiveKind::kReduceScatter:
      return "reduce_scatter";
    case CollectiveKind::kAllToAllV:
      return "all_to_all_v";
    case CollectiveKind::kBroadcast:
      return "broadcast";
    case CollectiveKind::kBarrier:
      return "barrier";
  }
  return "unknown";
}

int64_t CommStats::total_sent() const {
  int64_t t = 0;
  for (const auto& b : by_kind) t += b.sent;
  return t;
}

int64_t CommStats::total_received() const {
  int64_t t = 0;
  for (const auto& b : by_kind) t += b.received;
  return t;
}

CommStats CommStats::operator-(const CommStats& earlier) const {
  CommStats d;
  for (size_t i = 0; i < by_kind.size(); ++i) {
    d.by_kind[i].calls = by_kind[i].calls - earlier.by_kind[i].calls;
    d.by_kind[i].sent = by_kind[i].sent - earlier.by_kind[i].sent;
    d.by_kind[i].received = by_kind[i].received - earlier.by_kind[i].received;
  }
  return d;
}

CommStats& CommStats::operator+=(const CommStats& other) {
  for (size_t i = 0; i < by_kind.size(); ++i) {
    by_kind[i].calls += other.by_kind[i].calls;
    by_kind[i].sent += other.by_kind[i].sent;
    by_kind[i].received += other.by_kind[i].received;
  }
  return *this;
}

void Communicator::Account(CollectiveKind kind, int64_t sent, int64_t received) {
  CollectiveBytes& b = stats_[kind];
  ++b.calls;
  b.sent += sent;
  b.received += received;
}

Status Communicator::CheckCounts(std::span<const int64_t> counts, size_t available,
                                 const char* which) const {
  if (counts.size() != static_cast<size_t>(size()))
    return InvalidArgument(std::string("all_to_all_v: ") + which + " has " +
                           std::to_string(counts.size()) + " entries for " +
                           std::to_string(size()) + " ranks");
  int64_t total = 0;
  for (int64_t c : counts) {
    if (c < 0) return InvalidArgument(std::string("all_to_all_v: negative ") + which);
    total += c;
  }
  if (static_cast<uint64_t>(total) > available)
    return InvalidArgument(std::string("all_to_all_v: ") + which + " add up to " +
                           std::to_string(total) + " items but the buffer holds " +
                           std::to_string(available));
  return Status::Ok();
}

Status Communicator::AllReduceSum(std::span<float> data) {
  DSV32_RETURN_IF_ERROR(DoAllReduceSum(data));
  const int64_t p = size();
  const int64_t n = static_cast<int64_t>(data.size_bytes());
  const int64_t wire = 2 * (p - 1) * n / p;
  Account(CollectiveKind::kAllReduce, wire, wire);
  return Status::Ok();
}

Status Communicator::AllGather(std::span<const float> send, std::span<float> recv) {
  return AllGatherBytes(AsBytes(send), AsWritableBytes(recv));
}

Status Communicator::AllGatherBytes(std::span<const std::byte> send, std::span<std::byte> recv) {
  if (recv.size() != send.size() * static_cast<size_t>(size()))
    return InvalidArgument("all_gather: receive buffer holds " + std::to_string(recv.size()) +
                           " bytes, expected size() x " + std::to_string(send.size()));
  DSV32_RETURN_IF_ERROR(DoAllGather(send, recv));
  const int64_t wire = (size() - 1) * static_cast<int64_t>(send.size());
  Account(CollectiveKind::kAllGather, wire, wire);
  return Status::Ok();
}

Status Communicator::ReduceScatterSum(std::span<const float> send, std::span<float> recv) {
  if (send.size() != recv.size() * static_cast<size_t>(size()))
    return InvalidArgument("reduce_scatter: send buffer holds " + std::to_string(send.size()) +
                           " values, expected size() x " + std::to_string(recv.size()));
  DSV32_RETURN_IF_ERROR(DoReduceScatterSum(send, recv));
  const int64_t wire = (size() - 1) * static_cast<int64_t>(recv.size_bytes());
  Account(CollectiveKind::kReduceScatter, wire, wire);
  return Status::Ok();
}

Status Communicator::AllToAllV(std::span<const float> send, std::span<const int64_t> send_counts,
                               std::span<float> recv, std::span<const int64_t> recv_counts) {
  DSV32_RETURN_IF_ERROR(CheckCounts(send_counts, send.size(), "send_counts"));
  DSV32_RETURN_IF_ERROR(CheckCounts(recv_counts, recv.size(), "recv_counts"));
  const std::vector<int64_t> sb = ToBytes(send_counts, sizeof(float));
  const std::vector<int64_t> rb = ToBytes(recv_counts, sizeof(float));
  return AllToAllVBytes(AsBytes(send), sb, AsWritableBytes(recv), rb);
}

Status Communicator::AllToAllVBytes(std::span<const std::byte> send,
                                    std::span<const int64_t> send_counts, std::span<std::byte> recv,
                                    std::span<const int64_t> recv_counts) {
  DSV32_RETURN_IF_ERROR(CheckCounts(send_counts, send.size(), "send_counts"));
  DSV32_RETURN_IF_ERROR(CheckCounts(recv_counts, recv.size(), "recv_counts"));
  DSV32_RETURN_IF_ERROR(DoAllToAllV(send, send_counts, recv, recv_counts));
  const size_t me = static_cast<size_t>(rank());
  const int64_t sent =
      std::accumulate(send_counts.begin(), send_counts.end(), int64_t{0}) - send_counts[me];
  const int64_t received =
      std::accumulate(recv_counts.begin(), recv_counts.end(), int64_t{0}) - recv_counts[me];
  Account(CollectiveKind::kAllToAllV, sent, received);
  return Status::Ok();
}

Status Communicator::ExchangeCounts(std::span<const int64_t> send_counts,
                                    std::span<int64_t> recv_counts) {
  const size_t p = static_cast<size_t>(size());
  if (send_counts.size() != p || recv_counts.size() != p)
    return InvalidArgument("exchange_counts: both count lists need one entry per rank (" +
                           std::to_string(p) + ")");
  const std::vector<int64_t> ones(p, sizeof(int64_t));
  return AllToAllVBytes(std::as_bytes(send_counts), ones, std::as_writable_bytes(recv_counts),
                        ones);
}

Status Communicator::Broadcast(std::span<float> data, int root) {
  return BroadcastBytes(AsWritableBytes(data), root);
}

Status Communicator::BroadcastBytes(std::span<std::byte> data, int root) {
  if (root < 0 || root >= size())
    return InvalidArgument("broadcast: root " + std::to_string(root) + " is not a rank of a " +
                           std::to_string(size()) + "-rank communicator");
  DSV32_RETURN_IF_ERROR(DoBroadcast(data, root));
  const int64_t n = static_cast<int64_t>(data.size());
  if (rank() == root)
    Account(CollectiveKind::kBroadcast, (size() - 1) * n, 0);
  else
    Account(CollectiveKind::kBroadcast, 0, n);
  return Status::Ok();
}

Status Communicator::Barrier() {
  DSV32_RETURN_IF_ERROR(DoBarrier());
  Account(CollectiveKind::kBarrier, 0, 0);
  return Status::Ok();
}

}  // namespace dsv32

#include "collective_cases.h"

#include <cmath>
#include <vector>

namespace dsv32::collective_cases {

namespace {

// A value that differs by rank and index and is not exactly representable
// in a short sum, so a wrong summation order would show.
float Value(int rank, size_t i) {
  return std::sin(0.37f * static_cast<float>(i) + rank) * 1e3f + 0.1f * rank;
}

std::string Where(const Communicator& c, const std::string& what) {
  return "rank " + std::to_string(c.rank()) + "/" + std::to_string(c.size()) + ": " + what;
}

// Items rank s sends to rank d in the all-to-all case: ragged, and zero for
// some pairs.
int64_t Count(int s, int d) { return (s * 3 + d * 5) % 4; }

}  // namespace

namespace {

std::string AllReduceOf(Communicator& c, size_t n) {
  std::vector<float> data(n);
  for (size_t i = 0; i < n; ++i) data[i] = Value(c.rank(), i);
  Status s = c.AllReduceSum(data);
  if (!s.ok()) return Where(c, s.message());
  for (size_t i = 0; i < n; ++i) {
    float want = Value(0, i);
    for (int r = 1; r < c.size(); ++r) want += Value(r, i);
    if (data[i] != want) return Where(c, "all_reduce element " + std::to_string(i) + " differs");
  }
  const auto& st = c.stats()[CollectiveKind::kAllReduce];
  const int64_t p = c.size();
  if (st.calls != 1 || st.sent != 2 * (p - 1) * int64_t(n * 4) / p)
    return Where(c, "all_reduce accounting " + std::to_string(st.sent));
  return "";
}

}  // namespace

std::string AllReduceSum(Communicator& c) { return AllReduceOf(c, 37); }

// Past the size where the in-process backend splits the summation.
std::string LargeAllReduceSum(Communicator& c) { return AllReduceOf(c, 40009); }

std::string AllGather(Communicator& c) {
  const size_t n = 5;
  std::vector<float> send(n), recv(n * static_cast<size_t>(c.size()));
  for (size_t i = 0; i < n; ++i) send[i] = Value(c.rank(), i);
  Status s = c.AllGather(send, recv);
  if (!s.ok()) return Where(c, s.message());
  for (int r = 0; r < c.size(); ++r)
    for (size_t i = 0; i < n; ++i)
      if (recv[static_cast<size_t>(r) * n + i] != Value(r, i))
        return Where(c, "all_gather element differs");
  if (c.stats()[CollectiveKind::kAllGather].received != (c.size() - 1) * int64_t(n * 4))
    return Where(c, "all_gather accounting");
  return "";
}

std::string ReduceScatterSum(Communicator& c) {
  const size_t chunk = 6;
  const size_t p = static_cast<size_t>(c.size());
  std::vector<float> send(chunk * p), recv(chunk);
  for (size_t i = 0; i < send.size(); ++i) send[i] = Value(c.rank(), i);
  Status s = c.ReduceScatterSum(send, recv);
  if (!s.ok()) return Where(c, s.message());
  for (size_t i = 0; i < chunk; ++i) {
    const size_t at = static_cast<size_t>(c.rank()) * chunk + i;
    float want = Value(0, at);
    for (int r = 1; r < c.size(); ++r) want += Value(r, at);
    if (recv[i] != want) return Where(c, "reduce_scatter element differs");
  }
  return "";
}

std::string AllToAllV(Communicator& c) {
  const int p = c.size(), me = c.rank();
  std::vector<int64_t> send_counts(static_cast<size_t>(p)), recv_counts(static_cast<size_t>(p));
  std::vector<float> send;
  for (int d = 0; d < p; ++d) {
    send_counts[static_cast<size_t>(d)] = Count(me, d);
    for (int64_t k = 0; k < Count(me, d); ++k) send.push_back(1000.0f * me + 10.0f * d + k);
  }
  Status s = c.ExchangeCounts(send_counts, recv_counts);
  if (!s.ok()) return Where(c, s.message());
  int64_t total = 0;
  for (int r = 0; r < p; ++r) {
    if (recv_counts[static_cast<size_t>(r)] != Count(r, me)) return Where(c, "exchanged count");
    total += Count(r, me);
  }
  std::vector<float> recv(static_cast<size_t>(total));
  s = c.AllToAllV(send, send_counts, recv, recv_counts);
  if (!s.ok()) return Where(c, s.message());
  size_t at = 0;
  for (int r = 0; r < p; ++r)
    for (int64_t k = 0; k < Count(r, me); ++k)
      if (recv[at++] != 1000.0f * r + 10.0f * me + k) return Where(c, "all_to_all_v item");
  int64_t sent_off = 0;
  for (int d = 0; d < p; ++d)
    if (d != me) sent_off += Count(me, d) * 4;
  // The count exchange is an all-to-all too: 8 bytes to each other rank.
  if (c.stats()[CollectiveKind::kAllToAllV].sent != sent_off + 8 * (p - 1))
    return Where(c, "all_to_all_v accounting");
  return "";
}

std::string Broadcast(Communicator& c) {
  const int root = c.size() - 1;
  std::vector<float> data(9);
  for (size_t i = 0; i < data.size(); ++i) data[i] = Value(c.rank(), i);
  Status s = c.Broadcast(data, root);
  if (!s.ok()) return Where(c, s.message());
  for (size_t i = 0; i < data.size(); ++i)
    if (data[i] != Value(root, i)) return Where(c, "broadcast element differs");
  const auto& st = c.stats()[CollectiveKind::kBroadcast];
  const int64_t want_sent = c.rank() == root ? (c.size() - 1) * 36 : 0;
  if (st.sent != want_sent) return Where(c, "broadcast accounting");
  s = c.Broadcast(data, c.size());
  if (s.ok()) return Where(c, "broadcast from a root outside the group succeeded");
  return "";
}

std::string Barrier(Communicator& c) {
  for (int i = 0; i < 3; ++i) {
    Status s = c.Barrier();
    if (!s.ok()) return Where(c, s.message());
  }
  return c.stats()[CollectiveKind::kBarrier].calls == 3 ? "" : Where(c, "barrier count");
}

std::string SplitEvenOdd(Communicator& c) {
  const int color = c.rank() % 2;
  auto sub = c.Split(color, -c.rank());
  if (!sub.ok()) return Where(c, sub.status().message());
  Communicator& g = **sub;
  // Members of my color in descending old rank, as the keys ask.
  std::vector<int> members;
  for (int r = c.size() - 1; r >= 0; --r)
    if (r % 2 == color) members.push_back(r);
  if (g.size() != static_cast<int>(members.size())) return Where(c, "split size");
  if (members[static_cast<size_t>(g.rank())] != c.rank()) return Where(c, "split rank order");
  std::vector<float> v = {static_cast<float>(c.rank()), 1.0f};
  Status s = g.AllReduceSum(v);
  if (!s.ok()) return Where(c, s.message());
  float want = 0;
  for (int r : members) want += static_cast<float>(r);
  if (v[0] != want || v[1] != static_cast<float>(members.size()))
    return Where(c, "split all_reduce");
  std::vector<float> one = {static_cast<float>(c.rank())};
  std::vector<float> all(members.size());
  s = g.AllGather(one, all);
  if (!s.ok()) return Where(c, s.message());
  for (size_t i = 0; i < members.size(); ++i)
    if (all[i] != static_cast<float>(members[i])) return Where(c, "split all_gather order");
  // The parent's accounting is untouched by the sub-group's traffic.
  if (c.stats()[CollectiveKind::kAllReduce].calls != 0) return Where(c, "split accounting");
  return "";
}

std::string MismatchIsAnError(Communicator& c) {
  if (c.size() < 2) return "";
  std::vector<float> data(static_cast<size_t>(4 + c.rank()));
  Status s = c.AllReduceSum(data);
  if (s.ok() || s.code() != StatusCode::kInvalidArgument)
    return Where(c, "mismatched all_reduce sizes were accepted");
  // The communicator is still usable afterwards.
  std::vector<float> ok(3, 1.0f);
  s = c.AllReduceSum(ok);
  if (!s.ok() || ok[0] != static_cast<float>(c.size()))
    return Where(c, "all_reduce after a mismatch failed");
  return "";
}

}  // namespace dsv32::collective_cases

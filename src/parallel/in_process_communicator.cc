#include "parallel/in_process_communicator.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>

namespace dsv32 {

namespace {

// From this many values an all-reduce splits the summation between ranks.
constexpr size_t kSlicedAllReduceFloats = 16384;

// What one rank posts for a collective. Pointers stay valid until the
// collective's second rendezvous.
struct Post {
  const std::byte* send = nullptr;
  std::byte* recv = nullptr;
  int64_t a = 0;  // sizes or root, per collective
  int64_t b = 0;
  const int64_t* send_counts = nullptr;
  const int64_t* recv_counts = nullptr;
  std::shared_ptr<class Group> new_group;
};

class Group {
 public:
  Group(int size, std::shared_ptr<CollectiveCancellation> cancellation)
      : size_(size), posts_(static_cast<size_t>(size)), cancellation_(std::move(cancellation)) {}

  int size() const { return size_; }
  Post& post(int rank) { return posts_[static_cast<size_t>(rank)]; }
  const std::shared_ptr<CollectiveCancellation>& cancellation() const { return cancellation_; }

  // Waits until all ranks arrived; a generation counter makes it reusable.
  Status Rendezvous() {
    std::unique_lock<std::mutex> lock(mu_);
    const int64_t generation = generation_;
    if (++arrived_ == size_) {
      arrived_ = 0;
      ++generation_;
      cv_.notify_all();
      return Status::Ok();
    }
    // Polls the cancellation flag: a failing rank does not know which
    // groups its peers are waiting in.
    while (generation_ == generation) {
      if (cancellation_->cancelled.load())
        return {StatusCode::kCancelled, "collective cancelled: another rank failed"};
      cv_.wait_for(lock, std::chrono::milliseconds(5));
    }
    return Status::Ok();
  }

 private:
  const int size_;
  std::vector<Post> posts_;
  std::shared_ptr<CollectiveCancellation> cancellation_;
  std::mutex mu_;
  std::condition_variable cv_;
  int arrived_ = 0;
  int64_t generation_ = 0;
};

class InProcessCommunicator final : public Communicator {
 public:
  InProcessCommunicator(int rank, std::shared_ptr<Group> group)
      : rank_(rank), group_(std::move(group)) {}

  int rank() const override { return rank_; }
  int size() const override { return group_->size(); }

  Result<std::unique_ptr<Communicator>> Split(int color, int key) override {
    if (color < 0) return InvalidArgument("split: color must be >= 0");
    Post& mine = Mine();
    mine = Post{};
    mine.a = color;
    mine.b = key;
    DSV32_RETURN_IF_ERROR(group_->Rendezvous());
    // Members of my color, ordered by (key, old rank).
    std::vector<int> members;
    for (int r = 0; r < size(); ++r)
      if (group_->post(r).a == color) members.push_back(r);
    std::stable_sort(members.begin(), members.end(),
                     [&](int x, int y) { return group_->post(x).b < group_->post(y).b; });
    const int leader = *std::min_element(members.begin(), members.end());
    if (leader == rank_)
      mine.new_group =
          std::make_shared<Group>(static_cast<int>(members.size()), group_->cancellation());
    DSV32_RETURN_IF_ERROR(group_->Rendezvous());
    std::shared_ptr<Group> g = group_->post(leader).new_group;
    const int new_rank =
        static_cast<int>(std::find(members.begin(), members.end(), rank_) - members.begin());
    DSV32_RETURN_IF_ERROR(group_->Rendezvous());
    mine.new_group.reset();
    return std::unique_ptr<Communicator>(new InProcessCommunicator(new_rank, std::move(g)));
  }

 protected:
  // Small buffers: every rank sums the whole buffer (two rendezvous). Large
  // ones: each rank sums one slice and the slices are then copied to all
  // (three rendezvous, 1/p of the arithmetic). Both add in rank order, so
  // the bits are the same either way.
  Status DoAllReduceSum(std::span<float> data) override {
    Post& mine = Mine();
    mine = Post{};
    mine.send = reinterpret_cast<const std::byte*>(data.data());
    mine.a = static_cast<int64_t>(data.size());
    DSV32_RETURN_IF_ERROR(group_->Rendezvous());
    Status agreed = SameOnAllRanks("all_reduce", [](const Post& p) { return p.a; });
    const bool sliced = data.size() >= kSlicedAllReduceFloats && size() > 1;
    const size_t p = static_cast<size_t>(size());
    const size_t begin = sliced ? data.size() * static_cast<size_t>(rank_) / p : 0;
    const size_t end = sliced ? data.size() * static_cast<size_t>(rank_ + 1) / p : data.size();
    std::vector<float> sum;
    if (agreed.ok()) {
      const float* first = reinterpret_cast<const float*>(group_->post(0).send);
      sum.assign(first + begin, first + end);
      for (int r = 1; r < size(); ++r) {
        const float* x = reinterpret_cast<const float*>(group_->post(r).send) + begin;
        for (size_t i = 0; i < sum.size(); ++i) sum[i] += x[i];
      }
    }
    mine.recv = reinterpret_cast<std::byte*>(sum.data());
    DSV32_RETURN_IF_ERROR(group_->Rendezvous());
    DSV32_RETURN_IF_ERROR(agreed);
    if (!sliced) {
      std::copy(sum.begin(), sum.end(), data.begin());
      return Status::Ok();
    }
    for (size_t r = 0; r < p; ++r) {
      const size_t b = data.size() * r / p, e = data.size() * (r + 1) / p;
      const float* slice = reinterpret_cast<const float*>(group_->post(static_cast<int>(r)).recv);
      std::copy(slice, slice + (e - b), data.begin() + static_cast<std::ptrdiff_t>(b));
    }
    // Keeps every slice alive until all ranks have copied it.
    return group_->Rendezvous();
  }

  Status DoAllGather(std::span<const std::byte> send, std::span<std::byte> recv) override {
    Post& mine = Mine();
    mine = Post{};
    mine.send = send.data();
    mine.a = static_cast<int64_t>(send.size());
    DSV32_RETURN_IF_ERROR(group_->Rendezvous());
    Status agreed = SameOnAllRanks("all_gather", [](const Post& p) { return p.a; });
    if (agreed.ok()) {
      for (int r = 0; r < size(); ++r)
        if (!send.empty())
          std::memcpy(recv.data() + static_cast<size_t>(r) * send.size(), group_->post(r).send,
                      send.size());
    }
    DSV32_RETURN_IF_ERROR(group_->Rendezvous());
    return agreed;
  }

  Status DoReduceScatterSum(std::span<const float> send, std::span<float> recv) override {
    Post& mine = Mine();
    mine = Post{};
    mine.send = reinterpret_cast<const std::byte*>(send.data());
    mine.a = static_cast<int64_t>(send.size());
    DSV32_RETURN_IF_ERROR(group_->Rendezvous());
    Status agreed = SameOnAllRanks("reduce_scatter", [](const Post& p) { return p.a; });
    if (agreed.ok()) {
      const size_t offset = static_cast<size_t>(rank_) * recv.size();
      for (int r = 0; r < size(); ++r) {
        const float* x = reinterpret_cast<const float*>(group_->post(r).send) + offset;
        for (size_t i = 0; i < recv.size(); ++i) recv[i] = r == 0 ? x[i] : recv[i] + x[i];
      }
    }
    DSV32_RETURN_IF_ERROR(group_->Rendezvous());
    return agreed;
  }

  Status DoAllToAllV(std::span<const std::byte> send, std::span<const int64_t> send_counts,
                     std::span<std::byte> recv, std::span<const int64_t> recv_counts) override {
    Post& mine = Mine();
    mine = Post{};
    mine.send = send.data();
    mine.send_counts = send_counts.data();
    mine.recv_counts = recv_counts.data();
    DSV32_RETURN_IF_ERROR(group_->Rendezvous());
    // Every rank checks every pair, so all reach the same verdict.
    Status agreed;
    for (int s = 0; s < size() && agreed.ok(); ++s)
      for (int d = 0; d < size() && agreed.ok(); ++d)
        if (group_->post(s).send_counts[d] != group_->post(d).recv_counts[s])
          agreed = InvalidArgument("all_to_all_v: rank " + std::to_string(s) + " sends " +
                                   std::to_string(group_->post(s).send_counts[d]) +
                                   " bytes to rank " + std::to_string(d) + ", which expects " +
                                   std::to_string(group_->post(d).recv_counts[s]));
    if (agreed.ok()) {
      size_t at = 0;
      for (int s = 0; s < size(); ++s) {
        const Post& p = group_->post(s);
        int64_t offset = 0;
        for (int d = 0; d < rank_; ++d) offset += p.send_counts[d];
        const size_t n = static_cast<size_t>(p.send_counts[rank_]);
        if (n) std::memcpy(recv.data() + at, p.send + offset, n);
        at += n;
      }
    }
    DSV32_RETURN_IF_ERROR(group_->Rendezvous());
    return agreed;
  }

  Status DoBroadcast(std::span<std::byte> data, int root) override {
    Post& mine = Mine();
    mine = Post{};
    mine.send = data.data();
    mine.a = static_cast<int64_t>(data.size());
    mine.b = root;
    DSV32_RETURN_IF_ERROR(group_->Rendezvous());
    Status agreed = SameOnAllRanks("broadcast size", [](const Post& p) { return p.a; });
    if (agreed.ok()) agreed = SameOnAllRanks("broadcast root", [](const Post& p) { return p.b; });
    if (agreed.ok() && rank_ != root && !data.empty())
      std::memcpy(data.data(), group_->post(root).send, data.size());
    DSV32_RETURN_IF_ERROR(group_->Rendezvous());
    return agreed;
  }

  Status DoBarrier() override { return group_->Rendezvous(); }

 private:
  Post& Mine() { return group_->post(rank_); }

  template <typename Field>
  Status SameOnAllRanks(const char* what, Field field) {
    const int64_t first = field(group_->post(0));
    for (int r = 1; r < size(); ++r) {
      const int64_t v = field(group_->post(r));
      if (v != first)
        return InvalidArgument(std::string(what) + ": rank 0 passed " + std::to_string(first) +
                               ", rank " + std::to_string(r) + " passed " + std::to_string(v));
    }
    return Status::Ok();
  }

  int rank_;
  std::shared_ptr<Group> group_;
};

}  // namespace

std::vector<std::unique_ptr<Communicator>> MakeInProcessWorld(
    int n, std::shared_ptr<CollectiveCancellation> cancellation) {
  if (!cancellation) cancellation = std::make_shared<CollectiveCancellation>();
  auto group = std::make_shared<Group>(n, std::move(cancellation));
  std::vector<std::unique_ptr<Communicator>> world;
  for (int r = 0; r < n; ++r) world.push_back(std::make_unique<InProcessCommunicator>(r, group));
  return world;
}

}  // namespace dsv32

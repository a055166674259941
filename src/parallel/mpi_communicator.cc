#include "parallel/mpi_communicator.h"

// Only MPI's C API is used; keep mpi.h from pulling in the removed C++ bindings.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include <climits>
#include <cstring>
#include <vector>

namespace dsv32 {

namespace {

Status MpiError(const char* call, int code) {
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(code, text, &len);
  return Internal(std::string(call) + " failed: " + std::string(text, static_cast<size_t>(len)));
}

#define DSV32_MPI_CALL(call)                                                 \
  do {                                                                       \
    const int dsv32_mpi_rc_ = (call);                                        \
    if (dsv32_mpi_rc_ != MPI_SUCCESS) return MpiError(#call, dsv32_mpi_rc_); \
  } while (0)

Result<int> FitsInt(int64_t n, const char* what) {
  if (n < 0 || n > INT_MAX)
    return Unsupported(std::string(what) + ": " + std::to_string(n) +
                       " exceeds what one MPI call can move (INT_MAX items)");
  return static_cast<int>(n);
}

bool MpiFinalized() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  return finalized != 0;
}

class MpiCommunicator final : public Communicator {
 public:
  explicit MpiCommunicator(MPI_Comm comm) : comm_(comm) {
    MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
  }
  ~MpiCommunicator() override {
    if (!MpiFinalized()) MPI_Comm_free(&comm_);
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }

  Result<std::unique_ptr<Communicator>> Split(int color, int key) override {
    // Every rank must join the split, so a bad color is reported after it.
    MPI_Comm sub = MPI_COMM_NULL;
    DSV32_MPI_CALL(MPI_Comm_split(comm_, color < 0 ? MPI_UNDEFINED : color, key, &sub));
    if (color < 0) return InvalidArgument("split: color must be >= 0");
    return std::unique_ptr<Communicator>(new MpiCommunicator(sub));
  }

 protected:
  Status DoAllReduceSum(std::span<float> data) override {
    DSV32_RETURN_IF_ERROR(Agree("all_reduce", static_cast<int64_t>(data.size())));
    std::vector<float> all(data.size() * static_cast<size_t>(size_));
    DSV32_ASSIGN_OR_RETURN(int n, FitsInt(static_cast<int64_t>(data.size()), "all_reduce"));
    DSV32_MPI_CALL(MPI_Allgather(data.data(), n, MPI_FLOAT, all.data(), n, MPI_FLOAT, comm_));
    SumInRankOrder(all.data(), data.size(), data.data());
    return Status::Ok();
  }

  Status DoAllGather(std::span<const std::byte> send, std::span<std::byte> recv) override {
    DSV32_RETURN_IF_ERROR(Agree("all_gather", static_cast<int64_t>(send.size())));
    DSV32_ASSIGN_OR_RETURN(int n, FitsInt(static_cast<int64_t>(send.size()), "all_gather"));
    DSV32_MPI_CALL(MPI_Allgather(send.data(), n, MPI_BYTE, recv.data(), n, MPI_BYTE, comm_));
    return Status::Ok();
  }

  Status DoReduceScatterSum(std::span<const float> send, std::span<float> recv) override {
    DSV32_RETURN_IF_ERROR(Agree("reduce_scatter", static_cast<int64_t>(send.size())));
    // Rank r's slice from every rank, then the same rank-order sum.
    std::vector<float> slices(send.size());
    DSV32_ASSIGN_OR_RETURN(int n, FitsInt(static_cast<int64_t>(recv.size()), "reduce_scatter"));
    DSV32_MPI_CALL(MPI_Alltoall(send.data(), n, MPI_FLOAT, slices.data(), n, MPI_FLOAT, comm_));
    SumInRankOrder(slices.data(), recv.size(), recv.data());
    return Status::Ok();
  }

  Status DoAllToAllV(std::span<const std::byte> send, std::span<const int64_t> send_counts,
                     std::span<std::byte> recv, std::span<const int64_t> recv_counts) override {
    // What each peer says it sends me must be what I expect, on every rank.
    std::vector<int64_t> announced(static_cast<size_t>(size_));
    DSV32_MPI_CALL(
        MPI_Alltoall(send_counts.data(), 1, MPI_INT64_T, announced.data(), 1, MPI_INT64_T, comm_));
    int bad_from = -1;
    for (int r = 0; r < size_ && bad_from < 0; ++r)
      if (announced[static_cast<size_t>(r)] != recv_counts[static_cast<size_t>(r)]) bad_from = r;
    int any_bad = bad_from >= 0 ? 1 : 0;
    DSV32_MPI_CALL(MPI_Allreduce(MPI_IN_PLACE, &any_bad, 1, MPI_INT, MPI_MAX, comm_));
    if (any_bad)
      return InvalidArgument("all_to_all_v: send and receive counts disagree between ranks" +
                             (bad_from >= 0 ? " (rank " + std::to_string(bad_from) + " to rank " +
                                                  std::to_string(rank_) + ")"
                                            : std::string()));
    std::vector<int> sc, sd, rc, rd;
    int64_t s_at = 0, r_at = 0;
    for (int r = 0; r < size_; ++r) {
      DSV32_ASSIGN_OR_RETURN(int s, FitsInt(send_counts[static_cast<size_t>(r)], "all_to_all_v"));
      DSV32_ASSIGN_OR_RETURN(int q, FitsInt(recv_counts[static_cast<size_t>(r)], "all_to_all_v"));
      DSV32_ASSIGN_OR_RETURN(int sdisp, FitsInt(s_at, "all_to_all_v offset"));
      DSV32_ASSIGN_OR_RETURN(int rdisp, FitsInt(r_at, "all_to_all_v offset"));
      sc.push_back(s);
      rc.push_back(q);
      sd.push_back(sdisp);
      rd.push_back(rdisp);
      s_at += s;
      r_at += q;
    }
    DSV32_MPI_CALL(MPI_Alltoallv(send.data(), sc.data(), sd.data(), MPI_BYTE, recv.data(),
                                 rc.data(), rd.data(), MPI_BYTE, comm_));
    return Status::Ok();
  }

  Status DoBroadcast(std::span<std::byte> data, int root) override {
    DSV32_RETURN_IF_ERROR(Agree("broadcast size", static_cast<int64_t>(data.size())));
    DSV32_RETURN_IF_ERROR(Agree("broadcast root", root));
    DSV32_ASSIGN_OR_RETURN(int n, FitsInt(static_cast<int64_t>(data.size()), "broadcast"));
    DSV32_MPI_CALL(MPI_Bcast(data.data(), n, MPI_BYTE, root, comm_));
    return Status::Ok();
  }

  Status DoBarrier() override {
    DSV32_MPI_CALL(MPI_Barrier(comm_));
    return Status::Ok();
  }

 private:
  // Every rank learns every rank's value, so all return the same verdict.
  Status Agree(const char* what, int64_t mine) {
    std::vector<int64_t> all(static_cast<size_t>(size_));
    DSV32_MPI_CALL(MPI_Allgather(&mine, 1, MPI_INT64_T, all.data(), 1, MPI_INT64_T, comm_));
    for (int r = 1; r < size_; ++r)
      if (all[static_cast<size_t>(r)] != all[0])
        return InvalidArgument(std::string(what) + ": rank 0 passed " + std::to_string(all[0]) +
                               ", rank " + std::to_string(r) + " passed " +
                               std::to_string(all[static_cast<size_t>(r)]));
    return Status::Ok();
  }

  // out[i] = sum over ranks r, in order, of parts[r * n + i].
  void SumInRankOrder(const float* parts, size_t n, float* out) const {
    std::memcpy(out, parts, n * sizeof(float));
    for (int r = 1; r < size_; ++r) {
      const float* x = parts + static_cast<size_t>(r) * n;
      for (size_t i = 0; i < n; ++i) out[i] += x[i];
    }
  }

  MPI_Comm comm_;
  int rank_ = 0;
  int size_ = 1;
};

}  // namespace

bool MpiBackendAvailable() { return true; }

Result<std::unique_ptr<MpiSession>> MpiSession::Start(int* argc, char*** argv) {
  std::unique_ptr<MpiSession> s(new MpiSession());
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    const int rc = MPI_Init(argc, argv);
    if (rc != MPI_SUCCESS) return Internal("MPI_Init failed");
    s->owns_ = true;
  }
  return s;
}

MpiSession::~MpiSession() {
  if (owns_ && !MpiFinalized()) MPI_Finalize();
}

Result<std::unique_ptr<Communicator>> MakeMpiWorld() {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized || MpiFinalized())
    return InvalidArgument("MPI is not running: start an MpiSession first");
  MPI_Comm dup = MPI_COMM_NULL;
  const int rc = MPI_Comm_dup(MPI_COMM_WORLD, &dup);
  if (rc != MPI_SUCCESS) return MpiError("MPI_Comm_dup", rc);
  return std::unique_ptr<Communicator>(new MpiCommunicator(dup));
}

}  // namespace dsv32

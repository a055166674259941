#include "score_mesh.h"

#include <cinttypes>
#include <cstdio>

#include "args.h"
#include "core/safetensors.h"
#include "model/model.h"
#include "parallel/mesh_score.h"
#include "parallel/mpi_communicator.h"

namespace dsv32::cli {
namespace {

void PrintStats(const MeshShape& shape, const std::string& backend, const MeshScoreResult& r) {
  std::fprintf(stderr, "mesh %s (%s): %d devices, %" PRId64 " steps\n", shape.ToString().c_str(),
               backend.c_str(), shape.size(), r.ranks.empty() ? int64_t{0} : r.ranks[0].steps);
  std::fprintf(stderr, "%4s %2s %2s %2s %12s %12s %10s %10s %10s %12s %12s %12s %12s\n", "rank",
               "tp", "ep", "dp", "weight_B", "matrix_B", "scale_B", "vector_B", "kv_B", "sent_B",
               "recv_B", "sent_B/step", "max_step_B");
  RankReport total;
  for (const RankReport& d : r.ranks) {
    const int64_t per_step = d.steps > 0 ? d.comm_sent / d.steps : 0;
    std::fprintf(stderr,
                 "%4d %2d %2d %2d %12" PRId64 " %12" PRId64 " %10" PRId64 " %10" PRId64
                 " %10" PRId64 " %12" PRId64 " %12" PRId64 " %12" PRId64 " %12" PRId64 "\n",
                 d.rank, d.coord.tp, d.coord.ep, d.coord.dp, d.weight_bytes, d.matrix_bytes,
                 d.scale_bytes, d.vector_bytes, d.kv_bytes, d.comm_sent, d.comm_received, per_step,
                 d.max_step_sent);
    total.weight_bytes += d.weight_bytes;
    total.matrix_bytes += d.matrix_bytes;
    total.scale_bytes += d.scale_bytes;
    total.vector_bytes += d.vector_bytes;
    total.kv_bytes += d.kv_bytes;
    total.comm_sent += d.comm_sent;
    total.comm_received += d.comm_received;
    for (int k = 0; k < kNumCollectiveKinds; ++k)
      total.sent_by_kind[static_cast<size_t>(k)] += d.sent_by_kind[static_cast<size_t>(k)];
  }
  std::fprintf(stderr,
               "%-13s %12" PRId64 " %12" PRId64 " %10" PRId64 " %10" PRId64 " %10" PRId64
               " %12" PRId64 " %12" PRId64 "\n",
               "total", total.weight_bytes, total.matrix_bytes, total.scale_bytes,
               total.vector_bytes, total.kv_bytes, total.comm_sent, total.comm_received);
  std::fprintf(stderr, "sent by collective:");
  for (int k = 0; k < kNumCollectiveKinds; ++k)
    std::fprintf(stderr, " %s %" PRId64, CollectiveKindName(static_cast<CollectiveKind>(k)),
                 total.sent_by_kind[static_cast<size_t>(k)]);
  std::fprintf(stderr, "\n");
}

Status WriteLogits(const std::string& out, const std::vector<float>& logits, int64_t tokens,
                   int64_t vocab) {
  return WriteSafetensors(
      out,
      {{"logits", DType::kF32, {tokens, vocab}, logits.data(), logits.size() * sizeof(float)}});
}

}  // namespace

int RunScoreMesh(const ScoreMeshRequest& q) {
  auto shape = ParseMeshShape(q.mesh);
  if (!shape.ok()) return Fail("score", shape.status().message());
  if (q.backend != "inprocess" && q.backend != "mpi")
    return Fail("score", "--backend must be inprocess or mpi, not '" + q.backend + "'");
  auto model = Model::Load(q.model_dir);
  if (!model.ok()) return Fail("score", model.status().message());
  const int64_t T = static_cast<int64_t>(q.tokens.size());
  const int64_t V = (*model)->config().vocab_size;
  const std::vector<ScoreSequence> sequences = {{q.tokens, q.prefill_len}};

  if (q.backend == "inprocess") {
    auto result = ScoreInProcess(**model, *shape, sequences, ShardingOptions{});
    if (!result.ok()) return Fail("score", result.status().message());
    if (q.stats) PrintStats(*shape, q.backend, *result);
    Status s = WriteLogits(q.out, result->logits[0], T, V);
    return s.ok() ? 0 : Fail("score", s.message());
  }

  if (!MpiBackendAvailable()) return Fail("score", "this build has no MPI backend");
  auto session = MpiSession::Start(nullptr, nullptr);
  if (!session.ok()) return Fail("score", session.status().message());
  auto world = MakeMpiWorld();
  if (!world.ok()) return Fail("score", world.status().message());
  MeshScoreResult result;
  Status s = ScoreOnWorld(**world, **model, *shape, sequences, ShardingOptions{}, &result);
  if (!s.ok()) return Fail("score", s.message());
  if ((*world)->rank() != 0) return 0;
  if (q.stats) PrintStats(*shape, q.backend, result);
  s = WriteLogits(q.out, result.logits[0], T, V);
  return s.ok() ? 0 : Fail("score", s.message());
}

}  // namespace dsv32::cli

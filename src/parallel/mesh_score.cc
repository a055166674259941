#include "parallel/mesh_score.h"

#include <algorithm>
#include <cstring>

#include "parallel/device_mesh.h"
#include "parallel/mesh_groups.h"
#include "parallel/rank_weights.h"

namespace dsv32 {

namespace {

int64_t StepsOf(const ScoreSequence& s) {
  const auto T = static_cast<int64_t>(s.tokens.size());
  return (s.prefill_len > 0 ? 1 : 0) + (T - s.prefill_len);
}

// The tokens of step `j` of a sequence and where they start.
std::pair<std::span<const int32_t>, int64_t> StepTokens(const ScoreSequence& s, int64_t j) {
  std::span<const int32_t> all(s.tokens);
  if (s.prefill_len > 0) {
    if (j == 0) return {all.first(static_cast<size_t>(s.prefill_len)), 0};
    const int64_t i = s.prefill_len + j - 1;
    return {all.subspan(static_cast<size_t>(i), 1), i};
  }
  return {all.subspan(static_cast<size_t>(j), 1), j};
}

// Runs this rank's part of every round; fills logits of the sequences its
// replica owns.
Status ScoreRounds(const RankWeights& w, const ShardingPlan& plan, const MeshRank& rank,
                   std::span<const ScoreSequence> sequences,
                   std::vector<std::vector<float>>* logits, RankReport* report) {
  const MeshShape& mesh = plan.mesh();
  const int replicas = mesh.attention_replicas();
  const int mine = mesh.AttentionReplicaOf(w.coord);
  const int64_t V = w.config.vocab_size;
  const Rope rope(w.config);
  std::vector<std::vector<size_t>> owned(static_cast<size_t>(replicas));
  for (size_t s = 0; s < sequences.size(); ++s)
    owned[static_cast<size_t>(plan.SequenceOwner(static_cast<int64_t>(s)))].push_back(s);
  size_t rounds = 0;
  for (const auto& o : owned) rounds = std::max(rounds, o.size());

  for (size_t round = 0; round < rounds; ++round) {
    int64_t steps = 0;
    for (const auto& o : owned)
      if (round < o.size()) steps = std::max(steps, StepsOf(sequences[o[round]]));
    const auto& my_list = owned[static_cast<size_t>(mine)];
    const ScoreSequence* seq = round < my_list.size() ? &sequences[my_list[round]] : nullptr;
    std::unique_ptr<KvCache> cache;
    std::vector<float>* out = nullptr;
    if (seq) {
      cache = std::make_unique<KvCache>(w.config, static_cast<int64_t>(seq->tokens.size()));
      out = &(*logits)[my_list[round]];
      out->assign(seq->tokens.size() * static_cast<size_t>(V), 0.0f);
    }
    for (int64_t j = 0; j < steps; ++j) {
      MeshStep step;
      float* dst = nullptr;
      if (seq && j < StepsOf(*seq)) {
        auto [tokens, first] = StepTokens(*seq, j);
        step.cache = cache.get();
        step.tokens = tokens;
        step.first_position = first;
        dst = out->data() + first * V;
      }
      const CommStats before = rank.groups.stats();
      DSV32_RETURN_IF_ERROR(MeshForward(w, rope, rank.groups, step, dst));
      const CommStats used = rank.groups.stats() - before;
      report->steps += 1;
      report->max_step_sent = std::max(report->max_step_sent, used.total_sent());
      report->max_step_received = std::max(report->max_step_received, used.total_received());
    }
    if (cache) {
      const int64_t kv = cache->allocated_bytes();
      report->kv_bytes = std::max(report->kv_bytes, kv);
      if (rank.memory) {
        DSV32_RETURN_IF_ERROR(rank.memory->Reserve(MemoryKind::kKvCache, kv));
        DSV32_RETURN_IF_ERROR(rank.memory->Release(MemoryKind::kKvCache, kv));
      }
    }
  }
  return Status::Ok();
}

}  // namespace

Status CheckSequences(const ModelConfig& config, std::span<const ScoreSequence> sequences) {
  for (size_t s = 0; s < sequences.size(); ++s) {
    const ScoreSequence& q = sequences[s];
    const auto T = static_cast<int64_t>(q.tokens.size());
    const std::string which = "sequence " + std::to_string(s);
    if (T == 0) return InvalidArgument(which + " is empty");
    if (q.prefill_len < 0 || q.prefill_len > T)
      return InvalidArgument(which + ": prefill_len " + std::to_string(q.prefill_len) +
                             " is outside [0, " + std::to_string(T) + "]");
    for (int64_t i = 0; i < T; ++i) {
      const int32_t id = q.tokens[static_cast<size_t>(i)];
      if (id < 0 || id >= config.vocab_size)
        return OutOfRange(which + ": token id " + std::to_string(id) + " at index " +
                          std::to_string(i) + " is outside the vocabulary [0, " +
                          std::to_string(config.vocab_size) + ")");
    }
  }
  return Status::Ok();
}

Status ScoreOnRank(const Model& model, const ShardingPlan& plan, const MeshRank& rank,
                   std::span<const ScoreSequence> sequences, MeshScoreResult* result) {
  const MeshShape& mesh = plan.mesh();
  const int me = rank.world->rank();
  DSV32_ASSIGN_OR_RETURN(std::unique_ptr<RankWeights> w,
                         SliceWeightsForRank(model.config(), model.weights(), plan, me));
  RankReport report;
  report.rank = me;
  report.coord = w->coord;
  report.matrix_bytes = w->matrix_bytes;
  report.scale_bytes = w->scale_bytes;
  report.vector_bytes = w->vector_bytes;
  report.weight_bytes = w->bytes();
  if (rank.memory) DSV32_RETURN_IF_ERROR(rank.memory->Reserve(MemoryKind::kWeights, w->bytes()));

  std::vector<std::vector<float>> logits(sequences.size());
  const CommStats start = rank.groups.stats();
  DSV32_RETURN_IF_ERROR(ScoreRounds(*w, plan, rank, sequences, &logits, &report));
  const CommStats used = rank.groups.stats() - start;
  report.comm_sent = used.total_sent();
  report.comm_received = used.total_received();
  for (int k = 0; k < kNumCollectiveKinds; ++k)
    report.sent_by_kind[static_cast<size_t>(k)] = used.by_kind[static_cast<size_t>(k)].sent;

  // Logits to world rank 0 from TP rank 0 of each sequence's replica.
  const int64_t V = model.config().vocab_size;
  for (size_t s = 0; s < sequences.size(); ++s) {
    const int replica = plan.SequenceOwner(static_cast<int64_t>(s));
    const int owner = mesh.RankOf({0, replica % mesh.ep, replica / mesh.ep});
    if (owner == 0) continue;
    logits[s].resize(sequences[s].tokens.size() * static_cast<size_t>(V));
    DSV32_RETURN_IF_ERROR(rank.world->Broadcast(logits[s], owner));
  }
  std::vector<RankReport> reports(static_cast<size_t>(rank.world->size()));
  DSV32_RETURN_IF_ERROR(rank.world->AllGatherBytes(std::as_bytes(std::span(&report, 1)),
                                                   std::as_writable_bytes(std::span(reports))));
  if (rank.memory) DSV32_RETURN_IF_ERROR(rank.memory->Release(MemoryKind::kWeights, w->bytes()));
  if (me == 0) {
    result->logits = std::move(logits);
    result->ranks = std::move(reports);
  }
  return Status::Ok();
}

Result<MeshScoreResult> ScoreInProcess(const Model& model, const MeshShape& shape,
                                       std::span<const ScoreSequence> sequences,
                                       ShardingOptions options) {
  DSV32_RETURN_IF_ERROR(CheckSequences(model.config(), sequences));
  DSV32_ASSIGN_OR_RETURN(ShardingPlan plan, ShardingPlan::Create(model.config(), shape, options));
  DSV32_ASSIGN_OR_RETURN(std::unique_ptr<DeviceMesh> mesh, DeviceMesh::Create(shape));
  MeshScoreResult result;
  DSV32_RETURN_IF_ERROR(mesh->Run([&](SimulatedDevice& d) {
    MeshRank rank;
    rank.world = &d.world();
    rank.groups = {&d.tp_group(), &d.ep_group(), &d.dp_group()};
    rank.memory = &d.memory();
    return ScoreOnRank(model, plan, rank, sequences, &result);
  }));
  return result;
}

Status ScoreOnWorld(Communicator& world, const Model& model, const MeshShape& shape,
                    std::span<const ScoreSequence> sequences, ShardingOptions options,
                    MeshScoreResult* result) {
  // Every rank checks the same inputs and so fails, or not, together.
  if (world.size() != shape.size())
    return InvalidArgument("mesh " + shape.ToString() + " needs " + std::to_string(shape.size()) +
                           " ranks, the world has " + std::to_string(world.size()));
  DSV32_RETURN_IF_ERROR(CheckSequences(model.config(), sequences));
  DSV32_ASSIGN_OR_RETURN(ShardingPlan plan, ShardingPlan::Create(model.config(), shape, options));
  DSV32_ASSIGN_OR_RETURN(MeshGroups groups, SplitMeshGroups(world, shape));
  DeviceMemory memory;
  MeshRank rank;
  rank.world = &world;
  rank.groups = {groups.tp.get(), groups.ep.get(), groups.dp.get()};
  rank.memory = &memory;
  return ScoreOnRank(model, plan, rank, sequences, result);
}

}  // namespace dsv32

// The sharded forward pass over simulated devices against the golden
// fixtures: every mesh shape that divides the model (TP 1/2/4, EP 1/2/4/8,
// DP 1/2, up to 8 devices) gives the single-device logits within the
// fixture tolerance, for a whole-sequence forward and for prefill then
// decode, its indexer (split over TP) selects the single-device positions,
// and its weight and traffic accounting equal the sharding plan's.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <ostream>

#include "model/golden.h"
#include "model/weight_catalog.h"
#include "parallel/device_mesh.h"
#include "parallel/mesh_score.h"

namespace dsv32 {
namespace {

constexpr double kRowTolerance = 1e-4;
constexpr double kMinAgreement = 0.99;

struct Fixture {
  std::unique_ptr<Model> model;
  std::unique_ptr<testing::Golden> golden;
};

// Loaded once per fixture: the mesh shapes share it.
Fixture* Load(const std::string& name) {
  static std::map<std::string, Fixture> cache;
  auto it = cache.find(name);
  if (it != cache.end()) return it->second.model ? &it->second : nullptr;
  Fixture& f = cache[name];
  const std::string dir = testing::FixtureDir(name);
  if (!std::filesystem::exists(dir + "/golden.safetensors")) return nullptr;
  auto model = Model::Load(dir);
  if (!model.ok()) return nullptr;
  f.model = std::move(model).value();
  f.golden = testing::Golden::Open(dir);
  return &f;
}

struct Case {
  std::string fixture;
  MeshShape shape;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.fixture << " " << c.shape.ToString(); }

// The shapes that divide each fixture's model; a fixture whose config
// cannot be read keeps every shape, to be skipped with its reason.
// The sanitizer build runs each axis alone at 2, all three at 2 and tensor
// parallelism at 4; the Release build runs every mesh of up to eight devices.
bool InSanitizerSubset(const MeshShape& m) {
#ifdef DSV32_SANITIZER_SUBSET
  const int split_axes = (m.tp > 1) + (m.ep > 1) + (m.dp > 1);
  const bool twos = m.tp <= 2 && m.ep <= 2 && m.dp <= 2;
  return (twos && split_axes != 2) || (m.tp == 4 && split_axes == 1);
#else
  (void)m;
  return true;
#endif
}

std::vector<Case> AllCases() {
  std::vector<Case> cases;
  for (const char* fixture : {"tiny-a", "tiny-b", "tiny-v3"}) {
    auto config = LoadModelConfig(testing::FixtureDir(fixture) + "/config.json");
    for (int tp : {1, 2, 4})
      for (int ep : {1, 2, 4, 8})
        for (int dp : {1, 2}) {
          const MeshShape shape{tp, ep, dp};
          if (shape.size() > 8 || !InSanitizerSubset(shape)) continue;
          if (config.ok() && !ShardingPlan::Create(*config, shape, ShardingOptions{}).ok())
            continue;
          cases.push_back({fixture, shape});
        }
  }
  return cases;
}

class MeshForwardTest : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    fixture_ = Load(GetParam().fixture);
    if (!fixture_)
      GTEST_SKIP() << "fixture '" << GetParam().fixture << "' not found or not loadable at "
                   << testing::FixtureDir(GetParam().fixture);
  }

  void ExpectClose(const std::vector<float>& out, const std::string& key) {
    const int64_t vocab = fixture_->model->config().vocab_size;
    const std::vector<float> golden = fixture_->golden->F32(key);
    ASSERT_EQ(out.size(), golden.size()) << key;
    const testing::RowStats s = testing::CompareRows(out, golden, vocab);
    EXPECT_LE(s.worst_rel_error, kRowTolerance) << key << " worst row " << s.worst_row;
    EXPECT_GE(s.top1_agreement, kMinAgreement) << key;
    std::printf("  %-8s %-16s %-12s worst row relative error %.3g, top-1 %.4f\n",
                GetParam().fixture.c_str(), GetParam().shape.ToString().c_str(), key.c_str(),
                s.worst_rel_error, s.top1_agreement);
  }

  Fixture* fixture_ = nullptr;
};

// One call scores the whole sequence as a single prefill and, as a second
// sequence, prefill then decode: with several attention replicas the two
// run on different replicas at once, the others passing empty steps.
TEST_P(MeshForwardTest, MatchesGoldenLogits) {
  const std::vector<int32_t> tokens = fixture_->golden->I32("input_ids");
  const int64_t prefill = fixture_->golden->I32("prefill_len").at(0);
  const std::vector<ScoreSequence> sequences = {{tokens, static_cast<int64_t>(tokens.size())},
                                                {tokens, prefill}};
  auto result = ScoreInProcess(*fixture_->model, GetParam().shape, sequences, ShardingOptions{});
  ASSERT_TRUE(result.ok()) << result.status().message();
  ExpectClose(result->logits[0], "full_logits");
  ExpectClose(result->logits[1], "logits");

  // Each rank holds exactly the matrix shards its plan gives it.
  const ModelConfig& config = fixture_->model->config();
  auto plan = ShardingPlan::Create(config, GetParam().shape, ShardingOptions{});
  ASSERT_TRUE(plan.ok());
  const std::vector<CheckpointTensor> tensors = CheckpointTensors(config);
  int64_t sent = 0, received = 0;
  for (const RankReport& r : result->ranks) {
    int64_t planned = 0;
    for (const CheckpointTensor& t : tensors) {
      if (t.is_scale || t.mtp || t.shape.size() != 2) continue;
      auto shard = plan->ShardOf(t, r.rank);
      ASSERT_TRUE(shard.ok());
      planned += shard->numel() * static_cast<int64_t>(DTypeSize(t.dtype));
    }
    EXPECT_EQ(r.matrix_bytes, planned) << "rank " << r.rank;
    EXPECT_EQ(r.weight_bytes, r.matrix_bytes + r.scale_bytes + r.vector_bytes);
    const bool owns_sequence = GetParam().shape.AttentionReplicaOf(r.coord) < 2;
    EXPECT_EQ(r.kv_bytes > 0, owns_sequence) << "rank " << r.rank;
    sent += r.comm_sent;
    received += r.comm_received;
  }
  // Over the whole mesh, every byte sent is received somewhere.
  EXPECT_EQ(sent, received);
  if (GetParam().shape.size() == 1) {
    EXPECT_EQ(sent, 0);
  }

  // Summed over the mesh, a replicated matrix is on every device, one split
  // over TP once per TP group, and a routed expert once per DP slice (or
  // once per device of its EP rank's TP group when it is not split).
  const MeshShape& shape = GetParam().shape;
  int64_t want = 0, held = 0;
  for (const CheckpointTensor& t : tensors) {
    if (t.is_scale || t.mtp || t.shape.size() != 2) continue;
    auto shard = plan->ShardOf(t, 0);
    ASSERT_TRUE(shard.ok());
    int64_t copies = shape.size();
    if (shard->kind == ShardKind::kExpert) {
      copies = plan->options().split_experts_over_tp ? shape.dp : shape.dp * shape.tp;
    } else if (shard->kind != ShardKind::kReplicated) {
      copies = shape.ep * shape.dp;
    }
    want += copies * t.stored_bytes();
  }
  for (const RankReport& r : result->ranks) held += r.matrix_bytes;
  EXPECT_EQ(held, want);
}

// The ring all-reduce bytes one TP rank sends while scoring `tokens`
// tokens: the hidden state after the embedding and after each attention and
// FFN block, and, with the indexer split over TP, each layer's index
// scores. Token i's scores cover positions [0, i], whether it was in the
// prefill or decoded, so a sequence all-reduces T (T + 1) / 2 of them.
int64_t TensorParallelReduceBytes(const ModelConfig& c, int64_t p, int64_t tokens,
                                  bool split_indexer) {
  const auto ring = [p](int64_t bytes) { return 2 * (p - 1) * bytes / p; };
  int64_t bytes = (1 + 2 * c.num_hidden_layers) * ring(tokens * c.hidden_size * 4);
  if (c.has_indexer && split_indexer)
    bytes += c.num_hidden_layers * ring(tokens * (tokens + 1) / 2 * 4);
  return bytes;
}

// The other placements the plan allows: the vocabulary, the routed experts
// and the indexer whole on every TP rank. The indexer then scores every
// head on each TP rank and its scores need no all-reduce.
class MeshPlacementTest : public MeshForwardTest {};

TEST_P(MeshPlacementTest, UnsplitVocabularyExpertsAndIndexerMatchGoldenLogits) {
  const MeshShape& shape = GetParam().shape;
  ShardingOptions options;
  options.split_vocab_over_tp = false;
  options.split_experts_over_tp = false;
  options.split_indexer_over_tp = false;
  const std::vector<int32_t> tokens = fixture_->golden->I32("input_ids");
  const int64_t prefill = fixture_->golden->I32("prefill_len").at(0);
  const std::vector<ScoreSequence> sequences = {{tokens, prefill}};
  auto result = ScoreInProcess(*fixture_->model, shape, sequences, options);
  ASSERT_TRUE(result.ok()) << result.status().message();
  ExpectClose(result->logits[0], "logits");
  // The replica scoring the sequence; the others' steps have no tokens.
  const int64_t reduce = TensorParallelReduceBytes(fixture_->model->config(), shape.tp,
                                                   static_cast<int64_t>(tokens.size()), false);
  for (const RankReport& r : result->ranks) {
    if (shape.AttentionReplicaOf(r.coord) == 0) {
      EXPECT_EQ(r.sent_by_kind[static_cast<size_t>(CollectiveKind::kAllReduce)], reduce);
    }
  }
}

// The traffic of one attention replica (tp ranks, no EP or DP) is the
// standard algorithms' bytes: the all-reduces above and an all-gather of
// the logits.
class MeshTrafficTest : public MeshForwardTest {};

TEST_P(MeshTrafficTest, TensorParallelTrafficIsTheRingFormula) {
  const MeshShape& shape = GetParam().shape;
  const std::vector<int32_t> tokens = fixture_->golden->I32("input_ids");
  const int64_t prefill = fixture_->golden->I32("prefill_len").at(0);
  const std::vector<ScoreSequence> sequences = {{tokens, prefill}};
  auto result = ScoreInProcess(*fixture_->model, shape, sequences, ShardingOptions{});
  ASSERT_TRUE(result.ok()) << result.status().message();
  const ModelConfig& c = fixture_->model->config();
  const int64_t p = shape.tp, T = static_cast<int64_t>(tokens.size());
  const int64_t reduce = TensorParallelReduceBytes(c, p, T, true);
  const int64_t gather = (p - 1) * T * ((c.vocab_size + p - 1) / p) * 4;
  for (const RankReport& r : result->ranks) {
    EXPECT_EQ(r.sent_by_kind[static_cast<size_t>(CollectiveKind::kAllReduce)], reduce);
    EXPECT_EQ(r.sent_by_kind[static_cast<size_t>(CollectiveKind::kAllGather)], gather);
    EXPECT_EQ(r.steps, 1 + T - prefill);
  }
}

// Per step, per layer: the positions each new token attended to.
using Selections = std::vector<std::vector<std::vector<int32_t>>>;

// The golden sequence's prefill then decode, as ScoreRounds steps it.
std::vector<std::pair<int64_t, int64_t>> PrefillThenDecode(int64_t tokens, int64_t prefill) {
  std::vector<std::pair<int64_t, int64_t>> steps = {{0, prefill}};
  for (int64_t i = prefill; i < tokens; ++i) steps.push_back({i, 1});
  return steps;
}

// Over a TP group that splits the indexer (TP 2 and 4; EP and DP only add
// replicas, whose logits MeshForwardTest checks), every rank selects
// exactly the positions the single-device forward selects, in the prefill
// and in every decode step: the TP ranks' partial index scores, summed,
// rank the positions as the whole indexer does. The mesh runs the steps
// itself so that each rank's selections can be read back.
class MeshIndexerTest : public MeshForwardTest {};

TEST_P(MeshIndexerTest, SelectionsEqualTheSingleDeviceOnes) {
  const Model& model = *fixture_->model;
  const ModelConfig& c = model.config();
  if (!c.has_indexer) GTEST_SKIP() << GetParam().fixture << " has no indexer";
  const std::vector<int32_t> tokens = fixture_->golden->I32("input_ids");
  const auto T = static_cast<int64_t>(tokens.size());
  const auto steps = PrefillThenDecode(T, fixture_->golden->I32("prefill_len").at(0));
  const std::span<const int32_t> all(tokens);

  Selections want;
  {
    KvCache cache(c, T);
    std::vector<float> logits;
    for (auto [first, n] : steps) {
      ForwardTrace trace;
      ForwardOptions options;
      options.trace = &trace;
      logits.resize(static_cast<size_t>(n * c.vocab_size));
      ASSERT_TRUE(model
                      .Forward(&cache,
                               all.subspan(static_cast<size_t>(first), static_cast<size_t>(n)),
                               first, nullptr, options, logits.data())
                      .ok());
      want.push_back(std::move(trace.indexer_topk));
    }
  }

  const MeshShape& shape = GetParam().shape;
  auto plan = ShardingPlan::Create(c, shape, ShardingOptions{});
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  auto mesh = DeviceMesh::Create(shape);
  ASSERT_TRUE(mesh.ok());
  std::vector<Selections> got(static_cast<size_t>(shape.size()));
  Status run = (*mesh)->Run([&](SimulatedDevice& d) -> Status {
    DSV32_ASSIGN_OR_RETURN(std::unique_ptr<RankWeights> w,
                           SliceWeightsForRank(c, model.weights(), *plan, d.rank()));
    const Rope rope(c);
    const MeshComms comms{&d.tp_group(), &d.ep_group(), &d.dp_group()};
    KvCache cache(c, T);
    std::vector<float> logits;
    for (auto [first, n] : steps) {
      MeshStep step;
      step.cache = &cache;
      step.tokens = all.subspan(static_cast<size_t>(first), static_cast<size_t>(n));
      step.first_position = first;
      step.indexer_topk = &got[static_cast<size_t>(d.rank())].emplace_back();
      logits.resize(static_cast<size_t>(n * c.vocab_size));
      DSV32_RETURN_IF_ERROR(MeshForward(*w, rope, comms, step, logits.data()));
    }
    return Status::Ok();
  });
  ASSERT_TRUE(run.ok()) << run.message();
  for (int r = 0; r < shape.size(); ++r)
    for (size_t j = 0; j < steps.size(); ++j)
      ASSERT_EQ(got[static_cast<size_t>(r)][j], want[j])
          << "rank " << r << ", step at position " << steps[j].first;
}

std::string CaseName(const ::testing::TestParamInfo<Case>& info) {
  const Case& c = info.param;
  std::string name = c.fixture + "_tp" + std::to_string(c.shape.tp) + "_ep" +
                     std::to_string(c.shape.ep) + "_dp" + std::to_string(c.shape.dp);
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

std::vector<Case> CasesWhere(bool (*keep)(const MeshShape&)) {
  std::vector<Case> cases;
  for (const Case& c : AllCases())
    if (keep(c.shape)) cases.push_back(c);
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Meshes, MeshForwardTest, ::testing::ValuesIn(AllCases()), CaseName);
INSTANTIATE_TEST_SUITE_P(Meshes, MeshIndexerTest,
                         ::testing::ValuesIn(CasesWhere([](const MeshShape& m) {
                           return m.tp > 1 && m.ep == 1 && m.dp == 1;
                         })),
                         CaseName);
INSTANTIATE_TEST_SUITE_P(Meshes, MeshTrafficTest,
                         ::testing::ValuesIn(CasesWhere([](const MeshShape& m) {
                           return m.ep == 1 && m.dp == 1;
                         })),
                         CaseName);
INSTANTIATE_TEST_SUITE_P(Meshes, MeshPlacementTest,
                         ::testing::ValuesIn(CasesWhere([](const MeshShape& m) {
                           return m.tp > 1 && m.size() <= 4;
                         })),
                         CaseName);

}  // namespace
}  // namespace dsv32

#include "parallel/planner.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "model/weight_catalog.h"

namespace dsv32 {

namespace {

int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t BlocksTouched(IndexRange r, int64_t block) {
  return r.size() == 0 ? 0 : CeilDiv(r.end, block) - r.begin / block;
}

// The 4.5-bit layout's group along a matrix row.
constexpr int64_t kInt4Group = 32;

bool IsEmbedding(const std::string& name) {
  return name.size() >= 19 && name.compare(name.size() - 19, 19, "embed_tokens.weight") == 0;
}

// Bytes of one shard once converted to `format`. Matrices of linear layers
// are what the formats change; scales are recomputed for the shard (a block
// straddling a shard boundary is held by both sides), so the FP8 total of a
// whole FP8 checkpoint equals its stored bytes.
int64_t ShardBytes(const CheckpointTensor& t, const TensorShard& s, WeightFormat format,
                   const QuantizationConfig& q) {
  if (!s.present || t.is_scale) return 0;
  const int64_t n = s.numel();
  if (!t.linear) return n * static_cast<int64_t>(DTypeSize(t.dtype));
  switch (format) {
    case WeightFormat::kFp8:
      return n + 4 * BlocksTouched(s.rows, q.block_rows) * BlocksTouched(s.cols, q.block_cols);
    case WeightFormat::kBf16:
      return 2 * n;
    case WeightFormat::kInt4:
      return CeilDiv(n, 2) + 2 * s.rows.size() * CeilDiv(s.cols.size(), kInt4Group);
  }
  return 0;
}

std::string Gb(double bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f GB", bytes / 1e9);
  return buf;
}

std::string Mb(double bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f MB", bytes / 1e6);
  return buf;
}

std::string Num(double v, const char* fmt = "%.1f") {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

}  // namespace

Result<WeightFormat> ParseWeightFormat(const std::string& name) {
  if (name == "fp8") return WeightFormat::kFp8;
  if (name == "bf16") return WeightFormat::kBf16;
  if (name == "int4") return WeightFormat::kInt4;
  return InvalidArgument("weight format '" + name + "' is not one of: fp8, bf16, int4");
}

const char* WeightFormatName(WeightFormat format) {
  switch (format) {
    case WeightFormat::kFp8:
      return "fp8";
    case WeightFormat::kBf16:
      return "bf16";
    case WeightFormat::kInt4:
      return "int4";
  }
  return "unknown";
}

const DevicePlan& Plan::busiest() const {
  return *std::max_element(
      devices.begin(), devices.end(),
      [](const DevicePlan& a, const DevicePlan& b) { return a.total() < b.total(); });
}

int64_t Plan::usable_bytes() const {
  return static_cast<int64_t>(static_cast<double>(request.device.memory_bytes()) *
                              request.memory_utilization);
}

Result<Plan> MakePlan(const PlanRequest& r) {
  if (r.context <= 0) return InvalidArgument("context must be positive");
  if (r.concurrency <= 0) return InvalidArgument("concurrency must be positive");
  if (r.prefill_chunk <= 0) return InvalidArgument("prefill chunk must be positive");
  if (r.device.memory_gb <= 0 || r.device.hbm_gbps <= 0)
    return InvalidArgument("the device needs a positive memory size and HBM bandwidth");
  if (r.mesh.size() > 1 && r.device.link_gbps <= 0)
    return InvalidArgument("a mesh of more than one device needs a positive link bandwidth");
  if (!(r.memory_utilization > 0 && r.memory_utilization <= 1))
    return InvalidArgument("memory utilization must be in (0, 1]");
  const ModelConfig& c = r.config;
  DSV32_ASSIGN_OR_RETURN(ShardingPlan sharding, ShardingPlan::Create(c, r.mesh, r.sharding));
  const std::vector<CheckpointTensor> tensors = CheckpointTensors(c);

  Plan plan;
  plan.request = r;
  const ParameterCount params = CountParameters(tensors);
  plan.checkpoint_parameters = params.total();
  plan.checkpoint_mtp_parameters = params.mtp;
  plan.kv_per_token = KvCacheBytesPerToken(c, r.kv);
  plan.kv_layers = c.num_hidden_layers + (r.mtp ? c.num_nextn_predict_layers : 0);
  for (const auto& t : tensors)
    if (!t.mtp || r.mtp)
      plan.model_weight_bytes += ShardBytes(t,
                                            TensorShard{ShardKind::kReplicated,
                                                        true,
                                                        {0, t.shape[0]},
                                                        {0, t.shape.size() > 1 ? t.shape[1] : 1}},
                                            r.weights, c.quantization);

  const MeshShape& m = r.mesh;
  const int replicas = m.attention_replicas();
  const int64_t per_replica = CeilDiv(r.concurrency, replicas);
  const int64_t step_tokens = std::max(per_replica, r.prefill_chunk);
  const int64_t tp = m.tp;
  const int64_t heads_l = c.num_attention_heads / tp;
  const int64_t index_heads_l =
      c.has_indexer ? c.index_n_heads / (r.sharding.split_indexer_over_tp ? tp : 1) : 0;
  const int64_t vocab_l = CeilDiv(c.vocab_size, tp);
  const int64_t k = c.num_experts_per_tok;
  const int64_t expert_inter_l =
      r.sharding.split_experts_over_tp ? c.moe_intermediate_size / tp : c.moe_intermediate_size;
  const int64_t ffn_inter_l = std::max({c.intermediate_size / tp, k * expert_inter_l,
                                        c.moe_intermediate_size * c.n_shared_experts / tp});
  // One step's working set per token, in f32 unless noted (docs/planner.md).
  const int64_t per_token_activation =
      2 * c.hidden_size * 4 +  // residual, normed input
      (c.q_lora_rank.value_or(0) + c.kv_lora_rank + c.qk_rope_head_dim) * 4 +  // latents
      heads_l * (c.qk_head_dim() + c.v_head_dim) * 4 +  // queries, attention out
      index_heads_l * c.index_head_dim * 4 +            // indexer queries
      (c.has_indexer ? std::min(r.context, c.max_position_embeddings) * 4 : 0) +  // index scores
      2 * ffn_inter_l * 4 +                        // gate and up outputs
      (m.ep > 1 ? 2 * k * c.hidden_size * 3 : 0);  // dispatch (fp8) + combine (bf16) buffers

  for (int rank = 0; rank < m.size(); ++rank) {
    DevicePlan d;
    d.rank = rank;
    d.coord = m.CoordOf(rank);
    d.sequences = sharding.SequencesOwned(m.AttentionReplicaOf(d.coord), r.concurrency);
    if (d.coord.dp > 0) {
      // DP replicas hold the same shards as their dp = 0 twin.
      const DevicePlan& twin =
          plan.devices[static_cast<size_t>(m.RankOf({d.coord.tp, d.coord.ep, 0}))];
      d.weight_bytes = twin.weight_bytes;
      d.routed_expert_bytes = twin.routed_expert_bytes;
    } else {
      // All routed experts of a layer have the same shapes: size one shard
      // of the rank's first expert and count it for the rank's whole range.
      const IndexRange experts =
          c.n_routed_experts > 0 ? sharding.routed_experts(d.coord.ep) : IndexRange{};
      for (const auto& t : tensors) {
        if ((t.mtp && !r.mtp) || (t.expert >= 0 && t.expert != experts.begin)) continue;
        DSV32_ASSIGN_OR_RETURN(TensorShard s, sharding.ShardOf(t, rank));
        const int64_t b = ShardBytes(t, s, r.weights, c.quantization);
        if (t.expert >= 0) {
          d.routed_expert_bytes += b * experts.size();
          d.weight_bytes += b * experts.size();
        } else {
          d.weight_bytes += b;
        }
      }
    }
    d.kv_bytes = d.sequences * r.context * plan.kv_bytes_per_token();
    d.activation_bytes = step_tokens * per_token_activation + d.sequences * vocab_l * 4;
    plan.devices.push_back(d);
  }

  int64_t per_replica_capacity = -1;
  for (const auto& d : plan.devices) {
    const int64_t room = plan.usable_bytes() - d.weight_bytes - d.activation_bytes;
    const int64_t fit = room > 0 ? room / (r.context * plan.kv_bytes_per_token()) : 0;
    per_replica_capacity = per_replica_capacity < 0 ? fit : std::min(per_replica_capacity, fit);
  }
  plan.max_sequences = per_replica_capacity * replicas;

  // Decode: one token for every sequence, on the busiest device.
  DecodeEstimate& e = plan.decode;
  const DevicePlan& dev = plan.busiest();
  e.sequences_per_replica = per_replica;
  const int64_t tokens_into_ep_group = per_replica * m.ep;
  e.expert_touch_fraction =
      c.n_routed_experts > 0
          ? 1.0 - std::pow(1.0 - static_cast<double>(k) / static_cast<double>(c.n_routed_experts),
                           static_cast<double>(tokens_into_ep_group))
          : 0.0;
  // A step reads every weight of the layers it runs except the embeddings
  // (a few rows) and the routed experts no token chose; the MTP layers stay
  // out even when loaded.
  int64_t dense_read = 0, experts_held = 0;
  const IndexRange dev_experts =
      c.n_routed_experts > 0 ? sharding.routed_experts(dev.coord.ep) : IndexRange{};
  for (const auto& t : tensors) {
    if (t.mtp || IsEmbedding(t.name) || (t.expert >= 0 && t.expert != dev_experts.begin)) continue;
    DSV32_ASSIGN_OR_RETURN(TensorShard s, sharding.ShardOf(t, dev.rank));
    const int64_t b = ShardBytes(t, s, r.weights, c.quantization);
    if (t.expert >= 0)
      experts_held += b * dev_experts.size();
    else
      dense_read += b;
  }
  e.weight_bytes_read =
      dense_read + static_cast<int64_t>(
                       std::llround(static_cast<double>(experts_held) * e.expert_touch_fraction));
  const int64_t layers = c.num_hidden_layers;
  const int64_t kv_per_seq =
      c.has_indexer ? layers * (plan.kv_per_token.indexer * r.context +
                                plan.kv_per_token.mla * std::min(r.context, c.index_topk))
                    : layers * plan.kv_per_token.mla * r.context;
  e.kv_bytes_read = per_replica * kv_per_seq;

  int64_t moe_layers = 0;
  for (int64_t l = 0; l < layers; ++l) moe_layers += c.is_moe_layer(l) ? 1 : 0;
  if (tp > 1) {
    auto ring = [&](int64_t n) { return 2 * (tp - 1) * n / tp; };
    const int64_t hidden_bf16 = per_replica * c.hidden_size * 2;
    e.tp_allreduce_bytes = layers * 2 * ring(hidden_bf16) +
                           (c.has_indexer && r.sharding.split_indexer_over_tp
                                ? layers * ring(per_replica * r.context * 4)
                                : 0) +
                           (tp - 1) * per_replica * vocab_l * 4;  // logits all-gather
  }
  if (m.ep > 1) {
    const double off_rank = static_cast<double>(m.ep - 1) / static_cast<double>(m.ep);
    e.ep_alltoall_bytes = static_cast<int64_t>(std::llround(
        static_cast<double>(moe_layers * per_replica * k * c.hidden_size * (1 + 2)) * off_rank));
  }
  e.hbm_seconds =
      static_cast<double>(e.weight_bytes_read + e.kv_bytes_read) / (r.device.hbm_gbps * 1e9);
  e.link_seconds = m.size() > 1 ? static_cast<double>(e.tp_allreduce_bytes + e.ep_alltoall_bytes) /
                                      (r.device.link_gbps * 1e9)
                                : 0.0;
  e.tokens_per_second_per_sequence = 1.0 / e.step_seconds();
  e.tokens_per_second = static_cast<double>(r.concurrency) / e.step_seconds();
  return plan;
}

std::string PlanToText(const Plan& p) {
  const PlanRequest& r = p.request;
  const DevicePlan& d = p.busiest();
  const DecodeEstimate& e = p.decode;
  std::string s;
  s += "model:        " + r.config.model_type + ", " + Num(p.checkpoint_parameters / 1e9, "%.2f") +
       "B parameters in the checkpoint (" +
       Num((p.checkpoint_parameters - p.checkpoint_mtp_parameters) / 1e9, "%.2f") + "B + " +
       Num(p.checkpoint_mtp_parameters / 1e9, "%.2f") + "B MTP" +
       (r.mtp ? ", MTP loaded" : ", MTP not loaded") + ")\n";
  s += "mesh:         " + r.mesh.ToString() + " = " + std::to_string(r.mesh.size()) + " devices, " +
       std::to_string(r.mesh.attention_replicas()) + " attention replica(s)\n";
  s += "device:       " + r.device.name + ", " + Num(r.device.memory_gb) + " GB, HBM " +
       Num(r.device.hbm_gbps, "%.0f") + " GB/s, link " + Num(r.device.link_gbps, "%.0f") +
       " GB/s; usable " + Num(r.memory_utilization * 100, "%.0f") + "% = " + Gb(p.usable_bytes()) +
       "\n";
  s += "weights:      " + std::string(WeightFormatName(r.weights)) + ", " +
       Gb(p.model_weight_bytes) + " for the whole model\n";
  s += "KV cache:     " + std::string(KvCacheFormatName(r.kv)) + ", " +
       std::to_string(p.kv_per_token.per_layer()) + " bytes/token/layer (MLA " +
       std::to_string(p.kv_per_token.mla) + " + indexer " + std::to_string(p.kv_per_token.indexer) +
       ") x " + std::to_string(p.kv_layers) +
       " layers = " + std::to_string(p.kv_bytes_per_token()) + " bytes/token; " +
       Gb(static_cast<double>(p.kv_bytes_per_token()) * r.context) + " per sequence at " +
       std::to_string(r.context) + " tokens\n";
  s += "load:         context " + std::to_string(r.context) + ", concurrency " +
       std::to_string(r.concurrency) + " (" + std::to_string(e.sequences_per_replica) +
       " per replica), steps of up to " +
       std::to_string(std::max(e.sequences_per_replica, r.prefill_chunk)) + " tokens\n\n";
  s += "per device (busiest: rank " + std::to_string(d.rank) + ", tp " +
       std::to_string(d.coord.tp) + " ep " + std::to_string(d.coord.ep) + " dp " +
       std::to_string(d.coord.dp) + "):\n";
  s += "  weights      " + Gb(d.weight_bytes) + " (routed experts " + Gb(d.routed_expert_bytes) +
       ")\n";
  s += "  KV cache     " + Gb(d.kv_bytes) + " (" + std::to_string(d.sequences) + " sequences)\n";
  s += "  activations  " + Gb(d.activation_bytes) + "\n";
  s += "  total        " + Gb(d.total()) + " of " + Gb(p.usable_bytes()) + " usable: ";
  s += p.fits() ? "fits (" + Gb(p.usable_bytes() - d.total()) + " spare)\n"
                : "DOES NOT FIT (short by " + Gb(d.total() - p.usable_bytes()) + ")\n";
  s += "  capacity     " + std::to_string(p.max_sequences) + " sequences of " +
       std::to_string(r.context) + " tokens fit on the mesh\n";
  s += "\ndecode estimate (bandwidth model, one token per sequence per step):\n";
  s += "  HBM reads    weights " + Gb(e.weight_bytes_read) + " (experts touched " +
       Num(e.expert_touch_fraction * 100) + "%), KV " + Gb(e.kv_bytes_read) + "\n";
  s += "  link         all-reduce " + Mb(e.tp_allreduce_bytes) + ", all-to-all " +
       Mb(e.ep_alltoall_bytes) + "\n";
  s += "  step         " + Num(e.hbm_seconds * 1e3, "%.3f") + " ms HBM + " +
       Num(e.link_seconds * 1e3, "%.3f") + " ms link = " + Num(e.step_seconds() * 1e3, "%.3f") +
       " ms\n";
  s += "  throughput   " + Num(e.tokens_per_second, "%.0f") + " tok/s over the mesh, " +
       Num(e.tokens_per_second_per_sequence, "%.1f") + " tok/s per sequence\n";
  return s;
}

std::string PlanToJson(const Plan& p) {
  using nlohmann::json;
  const PlanRequest& r = p.request;
  json j;
  j["model_type"] = r.config.model_type;
  j["mesh"] = {{"tp", r.mesh.tp}, {"ep", r.mesh.ep}, {"dp", r.mesh.dp}, {"devices", r.mesh.size()}};
  j["device"] = {{"name", r.device.name},
                 {"memory_bytes", r.device.memory_bytes()},
                 {"hbm_gbps", r.device.hbm_gbps},
                 {"link_gbps", r.device.link_gbps},
                 {"memory_utilization", r.memory_utilization},
                 {"usable_bytes", p.usable_bytes()}};
  j["weights"] = WeightFormatName(r.weights);
  j["kv_cache"] = KvCacheFormatName(r.kv);
  j["context"] = r.context;
  j["concurrency"] = r.concurrency;
  j["prefill_chunk"] = r.prefill_chunk;
  j["mtp_loaded"] = r.mtp;
  j["checkpoint_parameters"] = p.checkpoint_parameters;
  j["checkpoint_mtp_parameters"] = p.checkpoint_mtp_parameters;
  j["model_weight_bytes"] = p.model_weight_bytes;
  j["kv_bytes_per_token"] = {{"mla_per_layer", p.kv_per_token.mla},
                             {"indexer_per_layer", p.kv_per_token.indexer},
                             {"layers", p.kv_layers},
                             {"total", p.kv_bytes_per_token()}};
  json devices = json::array();
  for (const auto& d : p.devices)
    devices.push_back({{"rank", d.rank},
                       {"tp", d.coord.tp},
                       {"ep", d.coord.ep},
                       {"dp", d.coord.dp},
                       {"sequences", d.sequences},
                       {"weight_bytes", d.weight_bytes},
                       {"routed_expert_bytes", d.routed_expert_bytes},
                       {"kv_bytes", d.kv_bytes},
                       {"activation_bytes", d.activation_bytes},
                       {"total_bytes", d.total()}});
  j["devices"] = devices;
  j["busiest_rank"] = p.busiest().rank;
  j["fits"] = p.fits();
  j["max_sequences"] = p.max_sequences;
  const DecodeEstimate& e = p.decode;
  j["decode"] = {{"sequences_per_replica", e.sequences_per_replica},
                 {"expert_touch_fraction", e.expert_touch_fraction},
                 {"weight_bytes_read", e.weight_bytes_read},
                 {"kv_bytes_read", e.kv_bytes_read},
                 {"tp_allreduce_bytes", e.tp_allreduce_bytes},
                 {"ep_alltoall_bytes", e.ep_alltoall_bytes},
                 {"hbm_seconds", e.hbm_seconds},
                 {"link_seconds", e.link_seconds},
                 {"step_seconds", e.step_seconds()},
                 {"tokens_per_second", e.tokens_per_second},
                 {"tokens_per_second_per_sequence", e.tokens_per_second_per_sequence}};
  return j.dump(2) + "\n";
}

}  // namespace dsv32

#include "parallel/mesh_forward.h"

#include <algorithm>
#include <vector>

#include "attention/mla.h"
#include "core/ops.h"
#include "moe/mlp.h"
#include "moe/router.h"

namespace dsv32 {

namespace {

// The EP rank whose expert range holds `expert`.
int OwnerOf(const RankWeights& w, int64_t expert) {
  for (size_t r = 0; r < w.experts_of_ep.size(); ++r)
    if (w.experts_of_ep[r].contains(expert)) return static_cast<int>(r);
  return -1;
}

// Vocabulary-parallel lookup: rows outside this rank's range stay zero and
// the all-reduce fills them in from their owner.
Status Embed(const RankWeights& w, const MeshComms& comms, std::span<const int32_t> tokens,
             float* h) {
  const int64_t H = w.config.hidden_size;
  const auto T = static_cast<int64_t>(tokens.size());
  std::fill(h, h + T * H, 0.0f);
  // Without a vocabulary split every TP rank holds the whole table and one
  // of them contributes.
  const bool whole = w.vocab.size() == w.config.vocab_size;
  if (whole && w.coord.tp != 0)
    return comms.tp->AllReduceSum(std::span(h, static_cast<size_t>(T * H)));
  for (int64_t i = 0; i < T; ++i) {
    const int32_t id = tokens[static_cast<size_t>(i)];
    if (w.vocab.contains(id)) DequantizeRow(w.embed_tokens, id - w.vocab.begin, &h[i * H]);
  }
  return comms.tp->AllReduceSum(std::span(h, static_cast<size_t>(T * H)));
}

// Routed experts over the EP group. Adds this rank's share of every token's
// weighted expert outputs to `out`: whole outputs on TP rank 0 when experts
// are not split over TP, this rank's partial sums when they are.
Status RoutedExperts(const RankWeights& w, const RankLayerWeights& lw, const MeshComms& comms,
                     const float* x, int64_t T, float* out) {
  const int64_t H = w.config.hidden_size;
  const int64_t row = H + 1;  // expert id, then the hidden state
  const int E = comms.ep->size();
  Routing routing;
  if (T > 0) routing = Route(w.config, lw.router, x, T, nullptr);
  const int64_t slots = T * routing.k;

  // Slots grouped by destination, each group in (token, choice) order.
  std::vector<std::vector<int64_t>> by_dest(static_cast<size_t>(E));
  for (int64_t s = 0; s < slots; ++s) {
    const int owner = OwnerOf(w, routing.expert_ids[static_cast<size_t>(s)]);
    if (owner < 0)
      return Internal("expert " + std::to_string(routing.expert_ids[static_cast<size_t>(s)]) +
                      " has no EP rank");
    by_dest[static_cast<size_t>(owner)].push_back(s);
  }
  std::vector<int64_t> send_rows(static_cast<size_t>(E)), send_counts(static_cast<size_t>(E));
  std::vector<float> send(static_cast<size_t>(slots * row));
  std::vector<int64_t> slot_at;  // send position -> slot
  slot_at.reserve(static_cast<size_t>(slots));
  for (int r = 0; r < E; ++r) {
    for (int64_t s : by_dest[static_cast<size_t>(r)]) {
      float* dst = &send[slot_at.size() * static_cast<size_t>(row)];
      dst[0] = static_cast<float>(routing.expert_ids[static_cast<size_t>(s)]);
      std::copy_n(x + (s / routing.k) * H, H, dst + 1);
      slot_at.push_back(s);
    }
    send_rows[static_cast<size_t>(r)] =
        static_cast<int64_t>(by_dest[static_cast<size_t>(r)].size());
    send_counts[static_cast<size_t>(r)] = send_rows[static_cast<size_t>(r)] * row;
  }
  std::vector<int64_t> recv_counts(static_cast<size_t>(E));
  DSV32_RETURN_IF_ERROR(comms.ep->ExchangeCounts(send_counts, recv_counts));
  int64_t recv_total = 0;
  for (int64_t c : recv_counts) recv_total += c;
  std::vector<float> recv(static_cast<size_t>(recv_total));
  DSV32_RETURN_IF_ERROR(comms.ep->AllToAllV(send, send_counts, recv, recv_counts));

  // Each held expert runs once over every row sent to it.
  const int64_t n_recv = recv_total / row;
  std::vector<std::vector<int64_t>> rows_of(lw.experts.size());
  for (int64_t i = 0; i < n_recv; ++i) {
    const auto expert = static_cast<int64_t>(recv[static_cast<size_t>(i * row)]);
    if (!w.experts.contains(expert))
      return Internal("expert " + std::to_string(expert) + " was sent to an EP rank without it");
    rows_of[static_cast<size_t>(expert - w.experts.begin)].push_back(i);
  }
  std::vector<float> results(static_cast<size_t>(n_recv * H));
  std::vector<float> xs, ys;
  for (size_t e = 0; e < rows_of.size(); ++e) {
    const auto& rows = rows_of[e];
    if (rows.empty()) continue;
    const auto n = static_cast<int64_t>(rows.size());
    xs.resize(static_cast<size_t>(n * H));
    ys.resize(static_cast<size_t>(n * H));
    for (int64_t i = 0; i < n; ++i)
      std::copy_n(&recv[static_cast<size_t>(rows[static_cast<size_t>(i)] * row + 1)], H,
                  &xs[static_cast<size_t>(i * H)]);
    MlpForward(lw.experts[e], xs.data(), n, ys.data(), nullptr);
    for (int64_t i = 0; i < n; ++i)
      std::copy_n(&ys[static_cast<size_t>(i * H)], H,
                  &results[static_cast<size_t>(rows[static_cast<size_t>(i)] * H)]);
  }

  // Back the way they came: counts swap roles, rows lose the id column.
  std::vector<int64_t> back_send(static_cast<size_t>(E)), back_recv(static_cast<size_t>(E));
  for (int r = 0; r < E; ++r) {
    back_send[static_cast<size_t>(r)] = recv_counts[static_cast<size_t>(r)] / row * H;
    back_recv[static_cast<size_t>(r)] = send_rows[static_cast<size_t>(r)] * H;
  }
  std::vector<float> returned(static_cast<size_t>(slots * H));
  DSV32_RETURN_IF_ERROR(comms.ep->AllToAllV(results, back_send, returned, back_recv));

  if (!w.experts_split_over_tp && w.coord.tp != 0) return Status::Ok();
  std::vector<int64_t> position_of(static_cast<size_t>(slots));
  for (size_t p = 0; p < slot_at.size(); ++p)
    position_of[static_cast<size_t>(slot_at[p])] = static_cast<int64_t>(p);
  for (int64_t s = 0; s < slots; ++s)
    Axpy(routing.weights[static_cast<size_t>(s)],
         &returned[static_cast<size_t>(position_of[static_cast<size_t>(s)] * H)],
         out + (s / routing.k) * H, H);
  return Status::Ok();
}

Status FeedForward(const RankWeights& w, const RankLayerWeights& lw, const MeshComms& comms,
                   const float* x, int64_t T, float* out) {
  const int64_t H = w.config.hidden_size;
  const std::span<float> all(out, static_cast<size_t>(T * H));
  if (!lw.is_moe) {
    if (T > 0) MlpForward(lw.mlp, x, T, out, nullptr);
    return comms.tp->AllReduceSum(all);
  }
  if (lw.shared && T > 0) {
    MlpForward(*lw.shared, x, T, out, nullptr);
  } else {
    std::fill(all.begin(), all.end(), 0.0f);
  }
  DSV32_RETURN_IF_ERROR(RoutedExperts(w, lw, comms, x, T, out));
  return comms.tp->AllReduceSum(all);
}

// Each TP rank's vocabulary rows, padded to the largest part so the
// all-gather has equal sizes, then laid out row by row.
Status LmHead(const RankWeights& w, const MeshComms& comms, const float* x, int64_t rows,
              float* logits) {
  const int64_t V = w.config.vocab_size;
  if (w.vocab.size() == V) {  // the whole head on every TP rank
    if (rows > 0) MatMul(w.lm_head, x, rows, logits, nullptr);
    return Status::Ok();
  }
  const int tp = comms.tp->size();
  const int64_t part = (V + tp - 1) / tp;
  std::vector<float> mine(static_cast<size_t>(rows * part), 0.0f);
  std::vector<float> local(static_cast<size_t>(rows * w.vocab.size()));
  if (rows > 0) MatMul(w.lm_head, x, rows, local.data(), nullptr);
  for (int64_t i = 0; i < rows; ++i)
    std::copy_n(&local[static_cast<size_t>(i * w.vocab.size())], w.vocab.size(),
                &mine[static_cast<size_t>(i * part)]);
  std::vector<float> gathered(static_cast<size_t>(tp) * mine.size());
  DSV32_RETURN_IF_ERROR(comms.tp->AllGather(mine, gathered));
  if (rows == 0) return Status::Ok();
  // Vocabulary parts are balanced: part r starts at r * base + min(r, extra).
  const int64_t base = V / tp, extra = V % tp;
  for (int r = 0; r < tp; ++r) {
    const int64_t begin = r * base + std::min<int64_t>(r, extra);
    const int64_t size = base + (r < extra ? 1 : 0);
    for (int64_t i = 0; i < rows; ++i)
      std::copy_n(&gathered[static_cast<size_t>((r * rows + i) * part)], size,
                  logits + i * V + begin);
  }
  return Status::Ok();
}

}  // namespace

CommStats MeshComms::stats() const {
  CommStats s = tp->stats();
  s += ep->stats();
  s += dp->stats();
  return s;
}

Status MeshForward(const RankWeights& w, const Rope& rope, const MeshComms& comms,
                   const MeshStep& step, float* logits) {
  const ModelConfig& c = w.config;
  const auto T = static_cast<int64_t>(step.tokens.size());
  const int64_t H = c.hidden_size;
  KvCache* cache = step.cache;
  if (T > 0) {
    if (!cache) return InvalidArgument("a step with tokens needs its sequence's KV cache");
    if (step.first_position < 0 || step.first_position > cache->length())
      return OutOfRange("position " + std::to_string(step.first_position) +
                        " is not within the sequence's " + std::to_string(cache->length()) +
                        " cached tokens");
    // Drop the positions this step replaces first: Reserve then holds pages
    // for exactly [0, first_position + T), private where they are written.
    cache->Truncate(step.first_position);
    if (Status s = cache->Reserve(step.first_position + T, step.first_position); !s.ok()) {
      cache->Truncate(step.first_position);
      return s;
    }
  }

  AttentionContext ctx;
  ctx.config = &w.attention_config;
  ctx.rope = &rope;
  ctx.tokens = T;
  ctx.first_position = step.first_position;
  const int64_t half_rope = c.qk_rope_head_dim / 2;
  ctx.cos.resize(static_cast<size_t>(T * half_rope));
  ctx.sin.resize(static_cast<size_t>(T * half_rope));
  for (int64_t i = 0; i < T; ++i)
    rope.Angles(step.first_position + i, &ctx.cos[i * half_rope], &ctx.sin[i * half_rope]);
  if (w.indexer_split_over_tp && comms.tp->size() > 1)
    ctx.reduce_index_scores = [&comms](std::span<float> scores) {
      return comms.tp->AllReduceSum(scores);
    };
  if (step.indexer_topk) step.indexer_topk->assign(w.layers.size(), {});

  std::vector<float> h(static_cast<size_t>(T * H));
  DSV32_RETURN_IF_ERROR(Embed(w, comms, step.tokens, h.data()));
  std::vector<float> normed(h.size()), delta(h.size());
  for (size_t l = 0; l < w.layers.size(); ++l) {
    const RankLayerWeights& lw = w.layers[l];
    const auto layer = static_cast<int64_t>(l);
    for (int64_t i = 0; i < T; ++i)
      RmsNorm(&h[i * H], lw.input_layernorm.data(), H, c.rms_norm_eps, &normed[i * H]);
    if (T > 0)
      DSV32_RETURN_IF_ERROR(MlaForward(ctx, lw.self_attn, layer, normed.data(), cache, delta.data(),
                                       step.indexer_topk ? &(*step.indexer_topk)[l] : nullptr));
    DSV32_RETURN_IF_ERROR(comms.tp->AllReduceSum(delta));
    for (size_t j = 0; j < h.size(); ++j) h[j] += delta[j];

    for (int64_t i = 0; i < T; ++i)
      RmsNorm(&h[i * H], lw.post_attention_layernorm.data(), H, c.rms_norm_eps, &normed[i * H]);
    DSV32_RETURN_IF_ERROR(FeedForward(w, lw, comms, normed.data(), T, delta.data()));
    for (size_t j = 0; j < h.size(); ++j) h[j] += delta[j];
  }
  if (T > 0) cache->SetLength(step.first_position + T);

  const int64_t first_row = step.all_logits ? 0 : std::max<int64_t>(T - 1, 0);
  const int64_t rows = T - first_row;
  for (int64_t i = 0; i < T; ++i)
    RmsNorm(&h[i * H], w.norm.data(), H, c.rms_norm_eps, &normed[i * H]);
  return LmHead(w, comms, normed.data() + first_row * H, rows, logits);
}

}  // namespace dsv32

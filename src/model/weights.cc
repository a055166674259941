#include "model/weights.h"

#include "quant/int4_tensors.h"

namespace dsv32 {

namespace {

class Binder {
 public:
  Binder(const ModelConfig& c, const Checkpoint& ckpt, const BindOptions& options = {})
      : c_(c), ckpt_(ckpt), options_(options) {}

  // A [rows, cols] matrix: F8_E4M3 with its weight_scale_inv blocks, BF16,
  // F32, or packed INT4 (U8) with its group scales and zero points.
  Result<QuantMatrix> Matrix(const std::string& prefix, int64_t rows, int64_t cols) {
    const std::string name = prefix + ".weight";
    DSV32_ASSIGN_OR_RETURN(TensorView raw, ckpt_.Get(name));
    if (raw.dtype == DType::kU8) return Int4Matrix(prefix, rows, cols);
    DSV32_ASSIGN_OR_RETURN(TensorView view,
                           ckpt_.Get(name, {DType::kF8E4M3, DType::kBF16, DType::kF32}, {rows, cols}));
    QuantMatrix m;
    m.name = name;
    m.rows = rows;
    m.cols = cols;
    m.data = view.data;
    if (view.dtype == DType::kBF16) {
      m.format = WeightFormat::kBF16;
    } else if (view.dtype == DType::kF32) {
      m.format = WeightFormat::kF32;
    } else {
      m.format = WeightFormat::kFp8Block;
      m.block_rows = c_.quantization.block_rows;
      m.block_cols = c_.quantization.block_cols;
      DSV32_ASSIGN_OR_RETURN(
          TensorView scales,
          ckpt_.Get(prefix + ".weight_scale_inv", {DType::kF32},
                    {m.scale_rows(), m.scale_cols()}));
      m.scales = scales.as<float>();
      // Only the FP8 projections: the BF16 router and heads keep f32
      // activations in either mode.
      m.bf16_activations = options_.activations == ActivationPrecision::kBf16;
    }
    return m;
  }

  Result<QuantMatrix> Int4Matrix(const std::string& prefix, int64_t rows, int64_t cols) {
    const int64_t group = c_.quantization.group_size;
    if (c_.quantization.quant_method != "dsv32_int4" || group <= 0)
      return InvalidArgument("tensor '" + prefix +
                             ".weight' is packed INT4 (U8) but config.json's quantization_config "
                             "does not say quant_method \"dsv32_int4\" with a group_size");
    DSV32_ASSIGN_OR_RETURN(TensorView weight, ckpt_.Get(prefix + ".weight"));
    DSV32_ASSIGN_OR_RETURN(TensorView scale, ckpt_.Get(prefix + ".weight_scale"));
    std::optional<TensorView> zero;
    if (c_.quantization.zero_point) {
      DSV32_ASSIGN_OR_RETURN(zero, ckpt_.Get(prefix + ".weight_zero"));
    }
    auto m = Int4MatrixFromTensors(weight, scale, zero ? &*zero : nullptr, cols, group);
    if (!m.ok()) return m.status().WithContext(prefix);
    if (m->rows != rows)
      return InvalidArgument("tensor '" + prefix + ".weight' has " + std::to_string(m->rows) +
                             " rows, expected " + std::to_string(rows));
    m->name = prefix + ".weight";
    return m;
  }

  Result<std::vector<float>> Vector(const std::string& name, int64_t n) {
    DSV32_ASSIGN_OR_RETURN(TensorView view,
                           ckpt_.Get(name, {DType::kBF16, DType::kF32, DType::kF16}, {n}));
    return ToF32(view);
  }

  Result<MlpWeights> Mlp(const std::string& prefix, int64_t inter) {
    MlpWeights m;
    const int64_t h = c_.hidden_size;
    DSV32_ASSIGN_OR_RETURN(m.gate_proj, Matrix(prefix + ".gate_proj", inter, h));
    DSV32_ASSIGN_OR_RETURN(m.up_proj, Matrix(prefix + ".up_proj", inter, h));
    DSV32_ASSIGN_OR_RETURN(m.down_proj, Matrix(prefix + ".down_proj", h, inter));
    return m;
  }

  Result<MlaWeights> Attention(const std::string& prefix) {
    MlaWeights a;
    const int64_t h = c_.hidden_size;
    const int64_t heads = c_.num_attention_heads;
    if (c_.q_lora_rank) {
      const int64_t r = *c_.q_lora_rank;
      DSV32_ASSIGN_OR_RETURN(a.q_a_proj, Matrix(prefix + ".q_a_proj", r, h));
      DSV32_ASSIGN_OR_RETURN(a.q_a_layernorm, Vector(prefix + ".q_a_layernorm.weight", r));
      DSV32_ASSIGN_OR_RETURN(a.q_b_proj, Matrix(prefix + ".q_b_proj", heads * c_.qk_head_dim(), r));
    } else {
      DSV32_ASSIGN_OR_RETURN(a.q_proj, Matrix(prefix + ".q_proj", heads * c_.qk_head_dim(), h));
    }
    DSV32_ASSIGN_OR_RETURN(a.kv_a_proj_with_mqa, Matrix(prefix + ".kv_a_proj_with_mqa",
                                                        c_.kv_lora_rank + c_.qk_rope_head_dim, h));
    DSV32_ASSIGN_OR_RETURN(a.kv_a_layernorm,
                           Vector(prefix + ".kv_a_layernorm.weight", c_.kv_lora_rank));
    DSV32_ASSIGN_OR_RETURN(a.kv_b_proj, Matrix(prefix + ".kv_b_proj",
                                               heads * (c_.qk_nope_head_dim + c_.v_head_dim),
                                               c_.kv_lora_rank));
    DSV32_ASSIGN_OR_RETURN(a.o_proj, Matrix(prefix + ".o_proj", h, heads * c_.v_head_dim));
    if (c_.has_indexer) {
      IndexerWeights ix;
      const std::string p = prefix + ".indexer";
      const int64_t dim = c_.index_head_dim;
      DSV32_ASSIGN_OR_RETURN(ix.wq_b, Matrix(p + ".wq_b", c_.index_n_heads * dim, *c_.q_lora_rank));
      DSV32_ASSIGN_OR_RETURN(ix.wk, Matrix(p + ".wk", dim, h));
      DSV32_ASSIGN_OR_RETURN(ix.weights_proj, Matrix(p + ".weights_proj", c_.index_n_heads, h));
      // The indexer picks positions by rank: in both modes its projections
      // keep f32 activations, so that bf16 rounding does not reorder
      // near-tied scores at the top-k boundary. On tiny-a's fast mode this
      // took the mean row error from 0.093 to 0.065 (top-1 84.8% -> 88.4%).
      ix.wq_b.bf16_activations = ix.wk.bf16_activations = ix.weights_proj.bf16_activations = false;
      DSV32_ASSIGN_OR_RETURN(ix.k_norm_weight, Vector(p + ".k_norm.weight", dim));
      DSV32_ASSIGN_OR_RETURN(ix.k_norm_bias, Vector(p + ".k_norm.bias", dim));
      a.indexer = std::move(ix);
    }
    return a;
  }

  Result<LayerWeights> Layer(int64_t index) {
    const std::string prefix = "model.layers." + std::to_string(index);
    LayerWeights l;
    const int64_t h = c_.hidden_size;
    DSV32_ASSIGN_OR_RETURN(l.input_layernorm, Vector(prefix + ".input_layernorm.weight", h));
    DSV32_ASSIGN_OR_RETURN(l.post_attention_layernorm,
                           Vector(prefix + ".post_attention_layernorm.weight", h));
    DSV32_ASSIGN_OR_RETURN(l.self_attn, Attention(prefix + ".self_attn"));
    // The MTP layer is always an MoE layer in the released checkpoints.
    l.is_moe = c_.is_moe_layer(index) || index >= c_.num_hidden_layers;
    if (!l.is_moe) {
      DSV32_ASSIGN_OR_RETURN(l.mlp, Mlp(prefix + ".mlp", c_.intermediate_size));
      return l;
    }
    const int64_t n = c_.n_routed_experts;
    DSV32_ASSIGN_OR_RETURN(l.moe.router.gate, Matrix(prefix + ".mlp.gate", n, h));
    DSV32_ASSIGN_OR_RETURN(
        TensorView bias,
        ckpt_.Get(prefix + ".mlp.gate.e_score_correction_bias", {DType::kF32, DType::kBF16}, {n}));
    DSV32_ASSIGN_OR_RETURN(l.moe.router.e_score_correction_bias, ToF32(bias));
    l.moe.experts.reserve(static_cast<size_t>(n));
    for (int64_t e = 0; e < n; ++e) {
      DSV32_ASSIGN_OR_RETURN(MlpWeights expert, Mlp(prefix + ".mlp.experts." + std::to_string(e),
                                                    c_.moe_intermediate_size));
      l.moe.experts.push_back(std::move(expert));
    }
    if (c_.n_shared_experts > 0) {
      DSV32_ASSIGN_OR_RETURN(l.moe.shared, Mlp(prefix + ".mlp.shared_experts",
                                               c_.moe_intermediate_size * c_.n_shared_experts));
    }
    return l;
  }

  Result<MtpWeights> Mtp(int64_t index, const ModelWeights& main) {
    const std::string prefix = "model.layers." + std::to_string(index);
    const int64_t h = c_.hidden_size;
    MtpWeights m;
    DSV32_ASSIGN_OR_RETURN(m.enorm, Vector(prefix + ".enorm.weight", h));
    DSV32_ASSIGN_OR_RETURN(m.hnorm, Vector(prefix + ".hnorm.weight", h));
    DSV32_ASSIGN_OR_RETURN(m.eh_proj, Matrix(prefix + ".eh_proj", h, 2 * h));
    DSV32_ASSIGN_OR_RETURN(m.shared_head_norm, Vector(prefix + ".shared_head.norm.weight", h));
    m.embed_tokens = main.embed_tokens;
    if (ckpt_.Has(prefix + ".embed_tokens.weight")) {
      DSV32_ASSIGN_OR_RETURN(m.embed_tokens, Matrix(prefix + ".embed_tokens", c_.vocab_size, h));
    }
    m.shared_head_head = main.lm_head;
    if (ckpt_.Has(prefix + ".shared_head.head.weight")) {
      DSV32_ASSIGN_OR_RETURN(m.shared_head_head,
                             Matrix(prefix + ".shared_head.head", c_.vocab_size, h));
    }
    DSV32_ASSIGN_OR_RETURN(m.layer, Layer(index));
    return m;
  }

 private:
  const ModelConfig& c_;
  const Checkpoint& ckpt_;
  BindOptions options_;
};

}  // namespace

Result<ActivationPrecision> ParseActivationPrecision(std::string_view name) {
  if (name == "f32") return ActivationPrecision::kF32;
  if (name == "bf16") return ActivationPrecision::kBf16;
  return InvalidArgument("unknown activation precision '" + std::string(name) +
                         "' (expected f32 or bf16)");
}

const char* ActivationPrecisionName(ActivationPrecision p) {
  return p == ActivationPrecision::kBf16 ? "bf16" : "f32";
}

Result<QuantMatrix> BindMatrix(const ModelConfig& config, const Checkpoint& checkpoint,
                               const std::string& prefix, int64_t rows, int64_t cols) {
  return Binder(config, checkpoint).Matrix(prefix, rows, cols);
}

Result<ModelWeights> BindWeights(const ModelConfig& config, const Checkpoint& checkpoint,
                                 const BindOptions& options) {
  if (config.has_indexer && !config.q_lora_rank)
    return Unsupported("the DSA indexer needs q_lora_rank (its queries come from the q latent)");
  Binder b(config, checkpoint, options);
  ModelWeights w;
  const int64_t h = config.hidden_size;
  DSV32_ASSIGN_OR_RETURN(w.embed_tokens, b.Matrix("model.embed_tokens", config.vocab_size, h));
  DSV32_ASSIGN_OR_RETURN(w.norm, b.Vector("model.norm.weight", h));
  if (config.tie_word_embeddings && !checkpoint.Has("lm_head.weight")) {
    w.lm_head = w.embed_tokens;
  } else {
    DSV32_ASSIGN_OR_RETURN(w.lm_head, b.Matrix("lm_head", config.vocab_size, h));
  }
  for (int64_t l = 0; l < config.num_hidden_layers; ++l) {
    auto layer = b.Layer(l);
    if (!layer.ok()) return layer.status().WithContext("layer " + std::to_string(l));
    w.layers.push_back(std::move(layer).value());
  }
  for (int64_t i = 0; i < config.num_nextn_predict_layers; ++i) {
    const int64_t index = config.num_hidden_layers + i;
    // Many redistributed checkpoints drop the MTP module; it is optional.
    if (!checkpoint.Has("model.layers." + std::to_string(index) + ".eh_proj.weight")) break;
    auto mtp = b.Mtp(index, w);
    if (!mtp.ok()) return mtp.status().WithContext("MTP layer " + std::to_string(index));
    w.mtp.push_back(std::move(mtp).value());
  }
  return w;
}

}  // namespace dsv32

#include "model/weight_catalog.h"

namespace dsv32 {

namespace {

int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

class Catalog {
 public:
  explicit Catalog(const ModelConfig& c) : c_(c), fp8_(c.quantization.quant_method == "fp8") {}

  // A norm, bias or other small tensor kept in bf16.
  void Plain(const std::string& name, Shape shape, DType dtype = DType::kBF16) {
    CheckpointTensor t;
    t.name = name;
    t.shape = std::move(shape);
    t.dtype = dtype;
    Add(std::move(t));
  }

  // A linear layer's [out, in] matrix: FP8 with block scales when the
  // checkpoint is quantized.
  void Linear(const std::string& name, int64_t out, int64_t in) {
    CheckpointTensor w;
    w.name = name;
    w.shape = {out, in};
    w.dtype = fp8_ ? DType::kF8E4M3 : DType::kBF16;
    w.quantized = fp8_;
    w.linear = true;
    Add(w);
    if (!fp8_) return;
    CheckpointTensor s = w;
    s.name = name + "_scale_inv";
    s.shape = {CeilDiv(out, c_.quantization.block_rows), CeilDiv(in, c_.quantization.block_cols)};
    s.dtype = DType::kF32;
    s.quantized = false;
    s.linear = false;
    s.is_scale = true;
    s.scaled_shape = w.shape;
    Add(std::move(s));
  }

  void Layer(int64_t layer, bool mtp) {
    layer_ = layer;
    mtp_ = mtp;
    const std::string p = "model.layers." + std::to_string(layer) + ".";
    const int64_t h = c_.hidden_size;
    const int64_t heads = c_.num_attention_heads;
    Plain(p + "input_layernorm.weight", {h});
    Plain(p + "post_attention_layernorm.weight", {h});

    const std::string a = p + "self_attn.";
    int64_t q_in = h;
    if (c_.q_lora_rank) {
      q_in = *c_.q_lora_rank;
      Linear(a + "q_a_proj.weight", q_in, h);
      Plain(a + "q_a_layernorm.weight", {q_in});
      Linear(a + "q_b_proj.weight", heads * c_.qk_head_dim(), q_in);
    } else {
      Linear(a + "q_proj.weight", heads * c_.qk_head_dim(), h);
    }
    Linear(a + "kv_a_proj_with_mqa.weight", c_.kv_lora_rank + c_.qk_rope_head_dim, h);
    Plain(a + "kv_a_layernorm.weight", {c_.kv_lora_rank});
    Linear(a + "kv_b_proj.weight", heads * (c_.qk_nope_head_dim + c_.v_head_dim), c_.kv_lora_rank);
    Linear(a + "o_proj.weight", h, heads * c_.v_head_dim);
    if (c_.has_indexer) {
      const std::string ix = a + "indexer.";
      Linear(ix + "wq_b.weight", c_.index_n_heads * c_.index_head_dim, q_in);
      Linear(ix + "wk.weight", c_.index_head_dim, h);
      Plain(ix + "k_norm.weight", {c_.index_head_dim});
      Plain(ix + "k_norm.bias", {c_.index_head_dim});
      Plain(ix + "weights_proj.weight", {c_.index_n_heads, h});
    }

    const std::string m = p + "mlp.";
    if (!c_.is_moe_layer(layer)) {
      Linear(m + "gate_proj.weight", c_.intermediate_size, h);
      Linear(m + "up_proj.weight", c_.intermediate_size, h);
      Linear(m + "down_proj.weight", h, c_.intermediate_size);
      return;
    }
    const int64_t mi = c_.moe_intermediate_size;
    Plain(m + "gate.weight", {c_.n_routed_experts, h});
    Plain(m + "gate.e_score_correction_bias", {c_.n_routed_experts}, DType::kF32);
    for (int64_t e = 0; e < c_.n_routed_experts; ++e) {
      expert_ = e;
      const std::string x = m + "experts." + std::to_string(e) + ".";
      Linear(x + "gate_proj.weight", mi, h);
      Linear(x + "up_proj.weight", mi, h);
      Linear(x + "down_proj.weight", h, mi);
    }
    expert_ = -1;
    if (c_.n_shared_experts > 0) {
      const int64_t si = mi * c_.n_shared_experts;
      Linear(m + "shared_experts.gate_proj.weight", si, h);
      Linear(m + "shared_experts.up_proj.weight", si, h);
      Linear(m + "shared_experts.down_proj.weight", h, si);
    }
  }

  // The MTP module around its decoder layer: embedding, the two norms of
  // the previous hidden state and the next token's embedding, their
  // projection, and its own head.
  void MtpExtras(int64_t layer) {
    const std::string p = "model.layers." + std::to_string(layer) + ".";
    const int64_t h = c_.hidden_size;
    Plain(p + "embed_tokens.weight", {c_.vocab_size, h});
    Plain(p + "enorm.weight", {h});
    Plain(p + "hnorm.weight", {h});
    Linear(p + "eh_proj.weight", h, 2 * h);
    Plain(p + "shared_head.norm.weight", {h});
    Plain(p + "shared_head.head.weight", {c_.vocab_size, h});
  }

  std::vector<CheckpointTensor> Build() {
    const int64_t h = c_.hidden_size;
    layer_ = -1;
    Plain("model.embed_tokens.weight", {c_.vocab_size, h});
    for (int64_t l = 0; l < c_.num_hidden_layers; ++l) Layer(l, false);
    for (int64_t k = 0; k < c_.num_nextn_predict_layers; ++k) {
      const int64_t l = c_.num_hidden_layers + k;
      Layer(l, true);
      MtpExtras(l);
    }
    layer_ = -1;
    mtp_ = false;
    Plain("model.norm.weight", {h});
    if (!c_.tie_word_embeddings) Plain("lm_head.weight", {c_.vocab_size, h});
    return std::move(out_);
  }

 private:
  void Add(CheckpointTensor t) {
    t.layer = layer_;
    t.mtp = mtp_;
    t.expert = expert_;
    out_.push_back(std::move(t));
  }

  const ModelConfig& c_;
  const bool fp8_;
  int64_t layer_ = -1;
  bool mtp_ = false;
  int64_t expert_ = -1;
  std::vector<CheckpointTensor> out_;
};

}  // namespace

std::vector<CheckpointTensor> CheckpointTensors(const ModelConfig& config) {
  return Catalog(config).Build();
}

ParameterCount CountParameters(const std::vector<CheckpointTensor>& tensors) {
  ParameterCount n;
  for (const auto& t : tensors) {
    if (t.is_scale) continue;
    (t.mtp ? n.mtp : n.main) += t.numel();
  }
  return n;
}

}  // namespace dsv32

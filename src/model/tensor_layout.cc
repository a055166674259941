#include "model/tensor_layout.h"

namespace dsv32 {

namespace {

class LayoutBuilder {
 public:
  explicit LayoutBuilder(const ModelConfig& c) : c_(c) {}

  void Add(const std::string& name, Shape shape, TensorRole role) {
    out_.push_back({name, std::move(shape), role});
  }
  void Proj(const std::string& prefix, int64_t rows, int64_t cols) {
    Add(prefix + ".weight", {rows, cols}, TensorRole::kProjection);
  }
  void Norm(const std::string& name, int64_t n) { Add(name, {n}, TensorRole::kNorm); }
  void Mlp(const std::string& prefix, int64_t inter) {
    Proj(prefix + ".gate_proj", inter, c_.hidden_size);
    Proj(prefix + ".up_proj", inter, c_.hidden_size);
    Proj(prefix + ".down_proj", c_.hidden_size, inter);
  }

  void Layer(int64_t index, bool moe) {
    const std::string p = "model.layers." + std::to_string(index);
    const int64_t h = c_.hidden_size;
    const int64_t heads = c_.num_attention_heads;
    Norm(p + ".input_layernorm.weight", h);
    Norm(p + ".post_attention_layernorm.weight", h);
    const std::string a = p + ".self_attn";
    if (c_.q_lora_rank) {
      Proj(a + ".q_a_proj", *c_.q_lora_rank, h);
      Norm(a + ".q_a_layernorm.weight", *c_.q_lora_rank);
      Proj(a + ".q_b_proj", heads * c_.qk_head_dim(), *c_.q_lora_rank);
    } else {
      Proj(a + ".q_proj", heads * c_.qk_head_dim(), h);
    }
    Proj(a + ".kv_a_proj_with_mqa", c_.kv_lora_rank + c_.qk_rope_head_dim, h);
    Norm(a + ".kv_a_layernorm.weight", c_.kv_lora_rank);
    Proj(a + ".kv_b_proj", heads * (c_.qk_nope_head_dim + c_.v_head_dim), c_.kv_lora_rank);
    Proj(a + ".o_proj", h, heads * c_.v_head_dim);
    if (c_.has_indexer) {
      const std::string ix = a + ".indexer";
      Proj(ix + ".wq_b", c_.index_n_heads * c_.index_head_dim, c_.q_lora_rank.value_or(h));
      Proj(ix + ".wk", c_.index_head_dim, h);
      Norm(ix + ".k_norm.weight", c_.index_head_dim);
      Add(ix + ".k_norm.bias", {c_.index_head_dim}, TensorRole::kNormBias);
      Add(ix + ".weights_proj.weight", {c_.index_n_heads, h}, TensorRole::kHighPrecision);
    }
    if (!moe) {
      Mlp(p + ".mlp", c_.intermediate_size);
      return;
    }
    Add(p + ".mlp.gate.weight", {c_.n_routed_experts, h}, TensorRole::kHighPrecision);
    Add(p + ".mlp.gate.e_score_correction_bias", {c_.n_routed_experts}, TensorRole::kCorrectionBias);
    for (int64_t e = 0; e < c_.n_routed_experts; ++e)
      Mlp(p + ".mlp.experts." + std::to_string(e), c_.moe_intermediate_size);
    if (c_.n_shared_experts > 0)
      Mlp(p + ".mlp.shared_experts", c_.moe_intermediate_size * c_.n_shared_experts);
  }

  std::vector<TensorEntry> Build() {
    const int64_t h = c_.hidden_size;
    Add("model.embed_tokens.weight", {c_.vocab_size, h}, TensorRole::kHighPrecision);
    for (int64_t l = 0; l < c_.num_hidden_layers; ++l) Layer(l, c_.is_moe_layer(l));
    Norm("model.norm.weight", h);
    if (!c_.tie_word_embeddings) Add("lm_head.weight", {c_.vocab_size, h}, TensorRole::kHighPrecision);
    for (int64_t i = 0; i < c_.num_nextn_predict_layers; ++i) {
      const int64_t index = c_.num_hidden_layers + i;
      const std::string p = "model.layers." + std::to_string(index);
      Norm(p + ".enorm.weight", h);
      Norm(p + ".hnorm.weight", h);
      Proj(p + ".eh_proj", h, 2 * h);
      Norm(p + ".shared_head.norm.weight", h);
      Add(p + ".shared_head.head.weight", {c_.vocab_size, h}, TensorRole::kHighPrecision);
      Add(p + ".embed_tokens.weight", {c_.vocab_size, h}, TensorRole::kHighPrecision);
      Layer(index, c_.n_routed_experts > 0);
    }
    return std::move(out_);
  }

 private:
  const ModelConfig& c_;
  std::vector<TensorEntry> out_;
};

}  // namespace

std::vector<TensorEntry> CheckpointTensors(const ModelConfig& config) {
  return LayoutBuilder(config).Build();
}

}  // namespace dsv32

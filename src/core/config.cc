#include "core/config.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace dsv32 {

using json = nlohmann::json;

namespace {

// Reads fields from one JSON object and remembers the first failure, so a
// long list of reads stays flat.
class FieldReader {
 public:
  FieldReader(const json& j, std::string origin) : j_(j), origin_(std::move(origin)) {}

  void Int(const char* key, int64_t* out, bool required = true) {
    const json* v = Find(key, required);
    if (!v) return;
    if (!v->is_number_integer()) return Fail(key, "must be an integer");
    *out = v->get<int64_t>();
  }
  void Positive(const char* key, int64_t* out) {
    Int(key, out);
    if (status_.ok() && *out <= 0) Fail(key, "must be positive, got " + std::to_string(*out));
  }
  void Double(const char* key, double* out, bool required = true) {
    const json* v = Find(key, required);
    if (!v) return;
    if (!v->is_number()) return Fail(key, "must be a number");
    *out = v->get<double>();
  }
  void Bool(const char* key, bool* out, bool required = true) {
    const json* v = Find(key, required);
    if (!v) return;
    if (!v->is_boolean()) return Fail(key, "must be true or false");
    *out = v->get<bool>();
  }
  void String(const char* key, std::string* out, bool required = true) {
    const json* v = Find(key, required);
    if (!v) return;
    if (!v->is_string()) return Fail(key, "must be a string");
    *out = v->get<std::string>();
  }
  void OneOf(const char* key, std::string* out, std::initializer_list<const char*> allowed) {
    String(key, out);
    if (!status_.ok()) return;
    for (const char* a : allowed)
      if (*out == a) return;
    std::string list;
    for (const char* a : allowed) list += (list.empty() ? "'" : ", '") + std::string(a) + "'";
    Fail(key, "unsupported value '" + *out + "' (supported: " + list + ")");
  }
  void Fail(const std::string& key, const std::string& why) {
    if (status_.ok()) status_ = Unsupported(origin_ + ": field '" + key + "' " + why);
  }
  bool Has(const char* key) const { return j_.contains(key) && !j_[key].is_null(); }
  const Status& status() const { return status_; }

 private:
  const json* Find(const char* key, bool required) {
    if (!j_.contains(key) || j_[key].is_null()) {
      if (required && status_.ok())
        status_ = InvalidArgument(origin_ + ": missing required field '" + key + "'");
      return nullptr;
    }
    return &j_[key];
  }

  const json& j_;
  std::string origin_;
  Status status_;
};

Status ParseRopeScaling(const json& j, const std::string& origin, RopeScaling* out) {
  FieldReader r(j, origin + ": rope_scaling");
  std::string type;
  // Older configs say "type", newer transformers "rope_type".
  if (j.contains("rope_type")) {
    r.OneOf("rope_type", &type, {"yarn", "default"});
  } else {
    r.OneOf("type", &type, {"yarn", "default"});
  }
  if (type == "default") return r.status();
  out->type = type;
  r.Double("factor", &out->factor);
  r.Int("original_max_position_embeddings", &out->original_max_position_embeddings);
  r.Double("beta_fast", &out->beta_fast, false);
  r.Double("beta_slow", &out->beta_slow, false);
  r.Double("mscale", &out->mscale, false);
  r.Double("mscale_all_dim", &out->mscale_all_dim, false);
  if (r.status().ok() && out->factor < 1.0) r.Fail("factor", "must be >= 1");
  return r.status();
}

Status ParseQuantization(const json& j, const std::string& origin, QuantizationConfig* out) {
  FieldReader r(j, origin + ": quantization_config");
  r.OneOf("quant_method", &out->quant_method, {"fp8", "dsv32_int4"});
  if (r.status().ok() && out->quant_method == "dsv32_int4") {
    r.Positive("group_size", &out->group_size);
    bool symmetric = true;
    if (r.Has("symmetric")) r.Bool("symmetric", &symmetric);
    out->zero_point = !symmetric;
    if (r.status().ok() && out->group_size % 32 != 0)
      r.Fail("group_size", "must be a multiple of 32, got " + std::to_string(out->group_size));
    return r.status();
  }
  if (r.Has("fmt")) r.OneOf("fmt", &out->fmt, {"e4m3"});
  if (r.Has("scale_fmt")) r.OneOf("scale_fmt", &out->scale_fmt, {"ue8m0"});
  if (!r.status().ok()) return r.status();
  if (j.contains("weight_block_size")) {
    const json& b = j["weight_block_size"];
    if (!b.is_array() || b.size() != 2 || !b[0].is_number_integer() || !b[1].is_number_integer() ||
        b[0].get<int64_t>() <= 0 || b[1].get<int64_t>() <= 0)
      return Unsupported(origin +
                         ": quantization_config: field 'weight_block_size' must be two "
                         "positive integers");
    out->block_rows = b[0].get<int64_t>();
    out->block_cols = b[1].get<int64_t>();
  }
  return Status::Ok();
}

}  // namespace

Result<ModelConfig> ParseModelConfig(const std::string& json_text, const std::string& origin) {
  json j = json::parse(json_text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return FormatError(origin + ": not a JSON object");

  ModelConfig c;
  FieldReader r(j, origin);
  r.OneOf("model_type", &c.model_type, {"deepseek_v32", "deepseek_v3"});
  r.Positive("vocab_size", &c.vocab_size);
  r.Positive("hidden_size", &c.hidden_size);
  r.Positive("intermediate_size", &c.intermediate_size);
  r.Positive("num_hidden_layers", &c.num_hidden_layers);
  r.Positive("num_attention_heads", &c.num_attention_heads);
  r.Positive("max_position_embeddings", &c.max_position_embeddings);
  r.Int("num_nextn_predict_layers", &c.num_nextn_predict_layers, false);
  r.Double("rms_norm_eps", &c.rms_norm_eps, false);
  r.Double("rope_theta", &c.rope_theta, false);
  r.Bool("tie_word_embeddings", &c.tie_word_embeddings, false);
  r.Int("bos_token_id", &c.bos_token_id, false);
  r.Int("eos_token_id", &c.eos_token_id, false);
  std::string hidden_act;
  r.OneOf("hidden_act", &hidden_act, {"silu"});
  if (r.Has("attention_bias")) {
    bool bias = false;
    r.Bool("attention_bias", &bias);
    if (bias) r.Fail("attention_bias", "true is not supported (DeepSeek checkpoints have none)");
  }

  if (r.Has("q_lora_rank")) {
    int64_t q = 0;
    r.Positive("q_lora_rank", &q);
    c.q_lora_rank = q;
  }
  r.Positive("kv_lora_rank", &c.kv_lora_rank);
  r.Positive("qk_nope_head_dim", &c.qk_nope_head_dim);
  r.Positive("qk_rope_head_dim", &c.qk_rope_head_dim);
  r.Positive("v_head_dim", &c.v_head_dim);

  r.Int("n_routed_experts", &c.n_routed_experts);
  if (c.n_routed_experts > 0) {
    r.Positive("moe_intermediate_size", &c.moe_intermediate_size);
    r.Int("n_shared_experts", &c.n_shared_experts);
    r.Positive("num_experts_per_tok", &c.num_experts_per_tok);
    r.Positive("n_group", &c.n_group);
    r.Positive("topk_group", &c.topk_group);
    r.Double("routed_scaling_factor", &c.routed_scaling_factor);
    r.Bool("norm_topk_prob", &c.norm_topk_prob);
    r.OneOf("scoring_func", &c.scoring_func, {"sigmoid"});
    r.OneOf("topk_method", &c.topk_method, {"noaux_tc"});
    r.Int("first_k_dense_replace", &c.first_k_dense_replace);
    r.Positive("moe_layer_freq", &c.moe_layer_freq);
  }

  c.has_indexer = c.model_type == "deepseek_v32";
  if (c.has_indexer) {
    r.Positive("index_n_heads", &c.index_n_heads);
    r.Positive("index_head_dim", &c.index_head_dim);
    r.Positive("index_topk", &c.index_topk);
  }
  if (!r.status().ok()) return r.status();

  if (j.contains("rope_scaling") && !j["rope_scaling"].is_null()) {
    if (!j["rope_scaling"].is_object())
      return Unsupported(origin + ": field 'rope_scaling' must be an object");
    DSV32_RETURN_IF_ERROR(ParseRopeScaling(j["rope_scaling"], origin, &c.rope_scaling));
  }
  if (j.contains("quantization_config") && !j["quantization_config"].is_null()) {
    if (!j["quantization_config"].is_object())
      return Unsupported(origin + ": field 'quantization_config' must be an object");
    DSV32_RETURN_IF_ERROR(ParseQuantization(j["quantization_config"], origin, &c.quantization));
  }

  // Consistency between fields.
  auto fail = [&](const std::string& field, const std::string& why) -> Status {
    return InvalidArgument(origin + ": field '" + field + "' " + why);
  };
  if (c.qk_rope_head_dim % 2) return fail("qk_rope_head_dim", "must be even");
  if (c.n_routed_experts > 0) {
    if (c.n_routed_experts % c.n_group)
      return fail("n_group", "must divide n_routed_experts");
    if (c.topk_group > c.n_group) return fail("topk_group", "must not exceed n_group");
    if (c.num_experts_per_tok > c.topk_group * (c.n_routed_experts / c.n_group))
      return fail("num_experts_per_tok", "exceeds the experts in the topk_group groups");
    if (c.n_routed_experts / c.n_group < 2)
      return fail("n_group", "leaves fewer than 2 experts per group (groups are scored by their top 2)");
    if (c.first_k_dense_replace < 0) return fail("first_k_dense_replace", "must be >= 0");
  }
  if (c.has_indexer) {
    if (c.index_head_dim < c.qk_rope_head_dim)
      return fail("index_head_dim", "must be at least qk_rope_head_dim");
  }
  if (c.bos_token_id >= c.vocab_size) return fail("bos_token_id", "is not below vocab_size");
  if (c.eos_token_id >= c.vocab_size) return fail("eos_token_id", "is not below vocab_size");
  return c;
}

Result<ModelConfig> LoadModelConfig(const std::string& path) {
  std::ifstream in(path);
  if (!in) return NotFound(path + ": cannot open");
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseModelConfig(ss.str(), path);
}

}  // namespace dsv32

#include "model/random_init.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <vector>

#include "core/checkpoint_writer.h"
#include "core/dtype.h"
#include "model/weight_catalog.h"
#include "quant/quantize.h"

namespace dsv32 {

using json = nlohmann::json;

namespace {

constexpr int64_t kFp8Block = 128;

// splitmix64: a tiny, well-mixed generator whose output is the same on every
// platform, so a seed names one checkpoint everywhere.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in (0, 1).
  double Uniform() { return (static_cast<double>(Next() >> 11) + 0.5) * 0x1.0p-53; }
  // Standard normal by Box-Muller.
  float Normal() {
    const double r = std::sqrt(-2.0 * std::log(Uniform()));
    return static_cast<float>(r * std::cos(2.0 * M_PI * Uniform()));
  }

 private:
  uint64_t state_;
};

uint64_t HashName(uint64_t seed, const std::string& name) {
  uint64_t h = 1469598103934665603ull ^ seed;
  for (unsigned char ch : name) h = (h ^ ch) * 1099511628211ull;
  return h;
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Matrices get fan-in scaled normals (embeddings unit normals), norm scales
// values near 1, biases values near 0.
std::vector<float> RandomValues(const CheckpointTensor& t, uint64_t seed) {
  Rng rng(HashName(seed, t.name));
  std::vector<float> v(static_cast<size_t>(t.numel()));
  float center = 0.0f;
  float spread = 1.0f;
  if (EndsWith(t.name, "e_score_correction_bias")) {
    spread = 0.01f;
  } else if (EndsWith(t.name, ".bias")) {
    spread = 0.1f;
  } else if (t.shape.size() == 1) {
    center = 1.0f;
    spread = 0.1f;
  } else if (t.name.find("embed_tokens") == std::string::npos) {
    spread = 1.0f / std::sqrt(static_cast<float>(t.shape[1]));
  }
  for (float& x : v) x = center + spread * rng.Normal();
  return v;
}

}  // namespace

Status WriteRandomCheckpoint(const std::string& config_json, const std::string& out_dir,
                             const RandomInitOptions& options) {
  json j = json::parse(config_json, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return FormatError("config: not a JSON object");
  const bool fp8 = options.dtype == InitDType::kFp8;
  if (fp8) {
    j["quantization_config"] = {{"activation_scheme", "dynamic"},
                                {"fmt", "e4m3"},
                                {"quant_method", "fp8"},
                                {"scale_fmt", "ue8m0"},
                                {"weight_block_size", {kFp8Block, kFp8Block}}};
  } else {
    j.erase("quantization_config");
  }
  const std::string text = j.dump(2);
  DSV32_ASSIGN_OR_RETURN(ModelConfig config, ParseModelConfig(text, "config"));

  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec) return IoError(out_dir + ": " + ec.message());
  {
    std::ofstream out(out_dir + "/config.json");
    out << text << "\n";
    if (!out) return IoError(out_dir + "/config.json: write failed");
  }

  // The catalog lists each FP8 matrix followed by its scales; the scales are
  // written with their matrix.
  const std::vector<CheckpointTensor> catalog = CheckpointTensors(config);
  std::vector<TensorSpec> specs;
  std::vector<const CheckpointTensor*> values;
  for (const auto& t : catalog) {
    specs.push_back({t.name, t.dtype, t.shape});
    if (!t.is_scale) values.push_back(&t);
  }
  CheckpointWriter writer(out_dir, specs, options.max_shard_bytes);
  std::vector<uint16_t> bf16;
  for (size_t i = 0; i < values.size(); ++i) {
    const CheckpointTensor& e = *values[i];
    const std::vector<float> v = RandomValues(e, options.seed);
    if (e.dtype == DType::kF8E4M3) {
      // Power-of-two (ue8m0) block scales, as V3.2 stores them.
      Fp8Options fp8_options;
      fp8_options.block = kFp8Block;
      fp8_options.ue8m0_scales = true;
      DSV32_ASSIGN_OR_RETURN(QuantizedMatrix q,
                             QuantizeFp8Block(v.data(), e.shape[0], e.shape[1], fp8_options));
      DSV32_RETURN_IF_ERROR(writer.Write(q.data.data(), q.data.size()));
      DSV32_RETURN_IF_ERROR(writer.Write(q.scales.data(), q.scales.size() * sizeof(float)));
    } else if (e.dtype == DType::kF32) {
      DSV32_RETURN_IF_ERROR(writer.Write(v.data(), v.size() * sizeof(float)));
    } else {
      bf16.resize(v.size());
      std::transform(v.begin(), v.end(), bf16.begin(), F32ToBF16);
      DSV32_RETURN_IF_ERROR(writer.Write(bf16.data(), bf16.size() * sizeof(uint16_t)));
    }
    if (options.progress) options.progress(i + 1, values.size());
  }
  return writer.Finish();
}

}  // namespace dsv32

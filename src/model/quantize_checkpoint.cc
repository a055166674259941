#include "model/quantize_checkpoint.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "core/checkpoint.h"
#include "core/checkpoint_writer.h"
#include "core/config.h"
#include "core/thread_pool.h"
#include "model/weight_catalog.h"
#include "model/weights.h"
#include "quant/int4.h"
#include "quant/kernels.h"
#include "quant/quantize.h"

namespace dsv32 {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr int64_t kFp8Block = 128;

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string Prefix(const std::string& weight_name) {
  return weight_name.substr(0, weight_name.size() - std::string(".weight").size());
}

// Companion tensors that travel with their weight and are rewritten with it.
bool IsCompanion(const std::string& name) {
  return EndsWith(name, ".weight_scale_inv") || EndsWith(name, ".weight_scale") ||
         EndsWith(name, ".weight_zero");
}

json QuantizationJson(const QuantizeOptions& o) {
  switch (o.target) {
    case QuantizeTarget::kInt4:
      return {{"quant_method", "dsv32_int4"}, {"group_size", o.group}, {"symmetric", !o.zero_point}};
    case QuantizeTarget::kFp8:
      return {{"activation_scheme", "dynamic"}, {"fmt", "e4m3"}, {"quant_method", "fp8"},
              {"scale_fmt", "ue8m0"}, {"weight_block_size", {kFp8Block, kFp8Block}}};
    case QuantizeTarget::kBf16:
      return nullptr;
  }
  return nullptr;
}

// The tensors one converted projection becomes.
std::vector<TensorSpec> ProjectionSpecs(const std::string& prefix, int64_t rows, int64_t cols,
                                        const QuantizeOptions& o) {
  switch (o.target) {
    case QuantizeTarget::kInt4: {
      const Shape groups = {rows, (cols + o.group - 1) / o.group};
      std::vector<TensorSpec> specs = {{prefix + ".weight", DType::kU8, {rows, Int4RowBytes(cols)}},
                                       {prefix + ".weight_scale", DType::kF32, groups}};
      if (o.zero_point) specs.push_back({prefix + ".weight_zero", DType::kU8, groups});
      return specs;
    }
    case QuantizeTarget::kFp8:
      return {{prefix + ".weight", DType::kF8E4M3, {rows, cols}},
              {prefix + ".weight_scale_inv", DType::kF32,
               {(rows + kFp8Block - 1) / kFp8Block, (cols + kFp8Block - 1) / kFp8Block}}};
    case QuantizeTarget::kBf16:
      return {{prefix + ".weight", DType::kBF16, {rows, cols}}};
  }
  return {};
}

// W in f32, [rows, cols]. FP8, BF16 and F32 go through the vectorized
// DequantizeRows, split over the pool: the same values as DequantizeRow,
// which took a quarter of a quantize run. INT4 input keeps DequantizeRow,
// whose rounding DequantizeRows does not repeat exactly (it subtracts the
// zero point after scaling), so requantizing an INT4 model writes what it
// always did.
void Dequantize(const QuantMatrix& m, ThreadPool* pool, std::vector<float>* w) {
  w->resize(static_cast<size_t>(m.rows * m.cols));
  float* out = w->data();
  const auto rows = [&](int64_t begin, int64_t end) {
    if (m.format == WeightFormat::kInt4) {
      for (int64_t r = begin; r < end; ++r) DequantizeRow(m, r, out + r * m.cols);
    } else {
      DequantizeRows(m, begin, end - begin, out + begin * m.cols);
    }
  };
  if (pool) {
    // In whole 128-row blocks of FP8 scales.
    pool->ParallelFor(m.rows, 128, rows);
  } else {
    rows(0, m.rows);
  }
}

Result<QuantizedMatrix> Convert(const std::vector<float>& w, int64_t rows, int64_t cols,
                                const QuantizeOptions& o) {
  switch (o.target) {
    case QuantizeTarget::kInt4: {
      Int4Options io;
      io.group = o.group;
      io.asymmetric = o.zero_point;
      return QuantizeInt4(w.data(), rows, cols, io, o.pool);
    }
    case QuantizeTarget::kFp8: {
      Fp8Options fo;
      fo.block = kFp8Block;
      fo.ue8m0_scales = true;
      return QuantizeFp8Block(w.data(), rows, cols, fo, o.pool);
    }
    case QuantizeTarget::kBf16:
      return ConvertToBF16(w.data(), rows, cols);
  }
  return Internal("unknown quantize target");
}

Status WriteConverted(const QuantizedMatrix& q, const QuantizeOptions& o, CheckpointWriter* writer) {
  DSV32_RETURN_IF_ERROR(writer->Write(q.data.data(), q.data.size()));
  if (o.target == QuantizeTarget::kBf16) return Status::Ok();
  DSV32_RETURN_IF_ERROR(writer->Write(q.scales.data(), q.scales.size() * sizeof(float)));
  if (o.target == QuantizeTarget::kInt4 && o.zero_point)
    DSV32_RETURN_IF_ERROR(writer->Write(q.zeros.data(), q.zeros.size()));
  return Status::Ok();
}

}  // namespace

Status QuantizeCheckpoint(const std::string& in_dir, const std::string& out_dir,
                          const QuantizeOptions& options) {
  if (options.target == QuantizeTarget::kInt4 && !IsValidInt4Group(options.group))
    return InvalidArgument("INT4 group size must be a positive multiple of 32, got " +
                           std::to_string(options.group));
  std::error_code ec;
  if (fs::equivalent(in_dir, out_dir, ec)) return InvalidArgument("--out must differ from --model");

  const std::string config_path = (fs::path(in_dir) / "config.json").string();
  DSV32_ASSIGN_OR_RETURN(ModelConfig config, LoadModelConfig(config_path));
  DSV32_ASSIGN_OR_RETURN(auto checkpoint, Checkpoint::Open(in_dir));

  std::map<std::string, const CheckpointTensor*> projections;
  const std::vector<CheckpointTensor> catalog = CheckpointTensors(config);
  for (const CheckpointTensor& t : catalog)
    if (t.linear) projections[t.name] = &t;

  // Plan every output tensor first so the writer can lay out the shards.
  std::vector<TensorSpec> specs;
  std::vector<std::string> order;  // input tensors in output order
  for (const auto& [name, view] : checkpoint->tensors()) {
    if (IsCompanion(name)) continue;
    order.push_back(name);
    auto it = projections.find(name);
    if (it != projections.end()) {
      for (TensorSpec& s : ProjectionSpecs(Prefix(name), it->second->shape[0], it->second->shape[1], options))
        specs.push_back(std::move(s));
    } else {
      specs.push_back({name, view->dtype, view->shape});
    }
  }

  fs::create_directories(out_dir, ec);
  if (ec) return IoError(out_dir + ": " + ec.message());
  CheckpointWriter writer(out_dir, specs, options.max_shard_bytes);
  std::vector<float> w;
  for (size_t i = 0; i < order.size(); ++i) {
    const std::string& name = order[i];
    auto it = projections.find(name);
    if (it == projections.end()) {
      const TensorView* view = checkpoint->tensors().at(name);
      DSV32_RETURN_IF_ERROR(writer.Write(view->data, view->nbytes));
    } else {
      const int64_t rows = it->second->shape[0];
      const int64_t cols = it->second->shape[1];
      auto m = BindMatrix(config, *checkpoint, Prefix(name), rows, cols);
      if (!m.ok()) return m.status();
      Dequantize(*m, options.pool, &w);
      DSV32_ASSIGN_OR_RETURN(QuantizedMatrix q, Convert(w, rows, cols, options));
      DSV32_RETURN_IF_ERROR(WriteConverted(q, options, &writer));
    }
    if (options.progress) options.progress(i + 1, order.size(), name);
  }
  DSV32_RETURN_IF_ERROR(writer.Finish());

  // config.json names the new format; tokenizer and generation files follow.
  std::ifstream in(config_path);
  json j = json::parse(in, nullptr, false);
  const json q = QuantizationJson(options);
  if (q.is_null()) {
    j.erase("quantization_config");
  } else {
    j["quantization_config"] = q;
  }
  std::ofstream(fs::path(out_dir) / "config.json") << j.dump(2) << "\n";
  for (const auto& entry : fs::directory_iterator(in_dir, ec)) {
    const std::string file = entry.path().filename().string();
    if (!entry.is_regular_file() || file == "config.json" || EndsWith(file, ".safetensors") ||
        file == "model.safetensors.index.json")
      continue;
    fs::copy_file(entry.path(), fs::path(out_dir) / file, fs::copy_options::overwrite_existing, ec);
    if (ec) return IoError(entry.path().string() + ": copy failed: " + ec.message());
  }
  return Status::Ok();
}

}  // namespace dsv32

#include "model/golden.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>

#include "core/tensor.h"

namespace dsv32::testing {

std::string FixtureDir(const std::string& name) {
  if (name == "tiny-a") return std::string(DSV32_SHARED_DIR) + "/fixtures/" + name;
  return std::string(DSV32_TEST_DATA_DIR) + "/../fixtures/" + name;
}

std::unique_ptr<Golden> Golden::Open(const std::string& fixture_dir) {
  auto file = SafetensorsFile::Open(fixture_dir + "/golden.safetensors");
  if (!file.ok()) return nullptr;
  auto g = std::make_unique<Golden>();
  g->file_ = std::move(file).value();
  return g;
}

std::vector<float> Golden::F32(const std::string& name) const {
  const TensorView* v = file_->Find(name);
  if (!v || v->dtype != DType::kF32) return {};
  return std::vector<float>(v->as<float>(), v->as<float>() + v->numel());
}

std::vector<int32_t> Golden::I32(const std::string& name) const {
  const TensorView* v = file_->Find(name);
  if (!v || v->dtype != DType::kI32) return {};
  return std::vector<int32_t>(v->as<int32_t>(), v->as<int32_t>() + v->numel());
}

std::vector<int64_t> Golden::Shape(const std::string& name) const {
  const TensorView* v = file_->Find(name);
  return v ? v->shape : std::vector<int64_t>{};
}

RowStats CompareRows(const std::vector<float>& out, const std::vector<float>& golden, int64_t cols) {
  RowStats s;
  const int64_t rows = static_cast<int64_t>(golden.size()) / cols;
  int64_t agree = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const float* o = &out[static_cast<size_t>(r * cols)];
    const float* g = &golden[static_cast<size_t>(r * cols)];
    double diff = 0.0, norm = 0.0;
    for (int64_t c = 0; c < cols; ++c) {
      diff += (double(o[c]) - g[c]) * (double(o[c]) - g[c]);
      norm += double(g[c]) * g[c];
    }
    const double rel = std::sqrt(diff) / std::max(std::sqrt(norm), 1e-30);
    s.mean_rel_error += rel / static_cast<double>(rows);
    if (s.worst_row < 0 || rel > s.worst_rel_error) {
      s.worst_rel_error = rel;
      s.worst_row = r;
    }
    if (std::max_element(o, o + cols) - o == std::max_element(g, g + cols) - g) ++agree;
  }
  s.top1_agreement = rows ? double(agree) / double(rows) : 1.0;
  return s;
}

double SetAgreement(const std::vector<int32_t>& out, const std::vector<int32_t>& golden,
                    int64_t cols) {
  const int64_t rows = static_cast<int64_t>(golden.size()) / cols;
  int64_t agree = 0;
  for (int64_t r = 0; r < rows; ++r) {
    std::set<int32_t> a, b;
    for (int64_t c = 0; c < cols; ++c) {
      if (out[static_cast<size_t>(r * cols + c)] >= 0) a.insert(out[static_cast<size_t>(r * cols + c)]);
      if (golden[static_cast<size_t>(r * cols + c)] >= 0) b.insert(golden[static_cast<size_t>(r * cols + c)]);
    }
    if (a == b) ++agree;
  }
  return rows ? double(agree) / double(rows) : 1.0;
}

}  // namespace dsv32::testing

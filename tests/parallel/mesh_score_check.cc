// Checks a logits file written by `dsv32 score` against a fixture's golden
// logits by the fixture rules; used by the ctest entries that run score
// under mpirun. Usage: mesh_score_check OUT.safetensors FIXTURE_DIR
#include <cstdio>

#include "core/safetensors.h"
#include "model/golden.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: mesh_score_check OUT.safetensors FIXTURE_DIR\n");
    return 2;
  }
  auto out = dsv32::SafetensorsFile::Open(argv[1]);
  if (!out.ok()) {
    std::fprintf(stderr, "%s\n", out.status().message().c_str());
    return 1;
  }
  const dsv32::TensorView* logits = (*out)->Find("logits");
  auto golden = dsv32::testing::Golden::Open(argv[2]);
  if (!logits || !golden || logits->dtype != dsv32::DType::kF32 ||
      logits->shape != golden->Shape("logits")) {
    std::fprintf(stderr, "%s: no f32 logits of the golden's shape\n", argv[1]);
    return 1;
  }
  const std::vector<float> values(logits->as<float>(), logits->as<float>() + logits->numel());
  const auto s = dsv32::testing::CompareRows(values, golden->F32("logits"), logits->shape[1]);
  std::printf("worst row relative error %.3g, top-1 agreement %.4f\n", s.worst_rel_error,
              s.top1_agreement);
  return s.worst_rel_error <= 1e-4 && s.top1_agreement >= 0.99 ? 0 : 1;
}

// Reading golden fixtures and comparing against them by the rules in
// shared/fixtures/README.md: rows compared one at a time by relative L2
// error, plus top-1 agreement.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/safetensors.h"

namespace dsv32::testing {

// Where the fixture named `name` lives: the shared reference data for
// tiny-a, this repository's tests/fixtures for the ones generated here.
std::string FixtureDir(const std::string& name);

class Golden {
 public:
  static std::unique_ptr<Golden> Open(const std::string& fixture_dir);
  bool Has(const std::string& name) const { return file_->Find(name) != nullptr; }
  std::vector<float> F32(const std::string& name) const;
  std::vector<int32_t> I32(const std::string& name) const;
  std::vector<int64_t> Shape(const std::string& name) const;

 private:
  std::unique_ptr<SafetensorsFile> file_;
};

struct RowStats {
  double worst_rel_error = 0.0;
  double mean_rel_error = 0.0;
  int64_t worst_row = -1;
  double top1_agreement = 1.0;
};

// `cols` values per row; top-1 is the argmax of each row.
RowStats CompareRows(const std::vector<float>& out, const std::vector<float>& golden, int64_t cols);

// Fraction of rows whose sets of non-negative entries are equal.
double SetAgreement(const std::vector<int32_t>& out, const std::vector<int32_t>& golden,
                    int64_t cols);

}  // namespace dsv32::testing

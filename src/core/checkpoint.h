// A checkpoint directory: either one model.safetensors, a sharded set named
// by model.safetensors.index.json, or (for hand-made directories) every
// *.safetensors file in it. Tensors are looked up by their checkpoint names.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/safetensors.h"

namespace dsv32 {

class Checkpoint {
 public:
  static Result<std::unique_ptr<Checkpoint>> Open(const std::string& dir);

  bool Has(const std::string& name) const { return index_.count(name) != 0; }
  // The tensor, or NotFound naming it.
  Result<TensorView> Get(const std::string& name) const;
  // The tensor, checked against the dtypes allowed and the expected shape.
  Result<TensorView> Get(const std::string& name, std::initializer_list<DType> dtypes,
                         const Shape& shape) const;

  const std::string& dir() const { return dir_; }
  const std::map<std::string, const TensorView*>& tensors() const { return index_; }
  size_t num_files() const { return files_.size(); }
  // Maps every page of every file in now (MappedFile::Populate): a model
  // whose first pass should take no page faults, as a benchmark's timed one.
  void Populate() const {
    for (const auto& f : files_) f->Populate();
  }

 private:
  std::string dir_;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, const TensorView*> index_;
};

}  // namespace dsv32

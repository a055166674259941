// Writes a checkpoint directory tensor by tensor with bounded memory: the
// caller declares every tensor up front (so headers can be written first),
// then streams their bytes in the declared order. Tensors are split into
// shards of at most `max_shard_bytes`; more than one shard gets a
// model.safetensors.index.json, as released checkpoints have.
#pragma once

#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"

namespace dsv32 {

struct TensorSpec {
  std::string name;
  DType dtype;
  Shape shape;
  size_t nbytes() const { return static_cast<size_t>(NumElements(shape)) * DTypeSize(dtype); }
};

class CheckpointWriter {
 public:
  CheckpointWriter(std::string dir, std::vector<TensorSpec> specs, size_t max_shard_bytes);
  ~CheckpointWriter();

  // The tensor whose bytes Write expects next, or nullptr when all are written.
  const TensorSpec* next() const;
  // Writes the next declared tensor; `nbytes` must match its spec.
  Status Write(const void* data, size_t nbytes);
  // Closes the last shard and writes the index; fails if tensors are missing.
  Status Finish();

  size_t tensors_written() const { return next_; }
  size_t tensors_total() const { return specs_.size(); }

 private:
  Status OpenShard(size_t shard);

  std::string dir_;
  std::vector<TensorSpec> specs_;
  std::vector<size_t> shard_of_;  // per spec
  std::vector<size_t> shard_first_;  // first spec of each shard
  size_t next_ = 0;
  size_t open_shard_ = SIZE_MAX;
  std::FILE* file_ = nullptr;
  uint64_t written_in_shard_ = 0;
  std::map<size_t, uint64_t> padding_before_;  // spec -> zero bytes to write first
};

}  // namespace dsv32

#include "core/checkpoint_writer.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

namespace dsv32 {

using json = nlohmann::json;

namespace {

std::string ShardName(size_t shard, size_t count) {
  if (count == 1) return "model.safetensors";
  char name[64];
  std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", shard + 1, count);
  return name;
}

}  // namespace

CheckpointWriter::CheckpointWriter(std::string dir, std::vector<TensorSpec> specs,
                                   size_t max_shard_bytes)
    : dir_(std::move(dir)), specs_(std::move(specs)) {
  size_t in_shard = 0;
  for (size_t i = 0; i < specs_.size(); ++i) {
    const size_t bytes = specs_[i].nbytes();
    if (shard_first_.empty() || (in_shard > 0 && in_shard + bytes > max_shard_bytes)) {
      shard_first_.push_back(i);
      in_shard = 0;
    }
    shard_of_.push_back(shard_first_.size() - 1);
    in_shard += (bytes + 7) / 8 * 8;
  }
}

CheckpointWriter::~CheckpointWriter() {
  if (file_) std::fclose(file_);
}

const TensorSpec* CheckpointWriter::next() const {
  return next_ < specs_.size() ? &specs_[next_] : nullptr;
}

Status CheckpointWriter::OpenShard(size_t shard) {
  if (file_ && std::fclose(file_) != 0) {
    file_ = nullptr;
    return IoError(dir_ + ": closing a shard failed");
  }
  file_ = nullptr;
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  const std::string path = dir_ + "/" + ShardName(shard, shard_first_.size());
  file_ = std::fopen(path.c_str(), "wb");
  if (!file_) return IoError(path + ": " + std::strerror(errno));

  const size_t end = shard + 1 < shard_first_.size() ? shard_first_[shard + 1] : specs_.size();
  json header = json::object();
  header["__metadata__"] = {{"format", "pt"}};
  uint64_t offset = 0;
  padding_before_.clear();
  for (size_t i = shard_first_[shard]; i < end; ++i) {
    const uint64_t aligned = (offset + 7) / 8 * 8;
    padding_before_[i] = aligned - offset;
    header[specs_[i].name] = {{"dtype", std::string(DTypeName(specs_[i].dtype))},
                              {"shape", specs_[i].shape},
                              {"data_offsets", {aligned, aligned + specs_[i].nbytes()}}};
    offset = aligned + specs_[i].nbytes();
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  uint8_t len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(static_cast<uint64_t>(text.size()) >> (8 * i));
  if (std::fwrite(len, 1, 8, file_) != 8 || std::fwrite(text.data(), 1, text.size(), file_) != text.size())
    return IoError(path + ": write failed");
  open_shard_ = shard;
  written_in_shard_ = 0;
  return Status::Ok();
}

Status CheckpointWriter::Write(const void* data, size_t nbytes) {
  if (next_ >= specs_.size()) return InvalidArgument("all declared tensors are already written");
  const TensorSpec& spec = specs_[next_];
  if (nbytes != spec.nbytes())
    return InvalidArgument("tensor '" + spec.name + "' needs " + std::to_string(spec.nbytes()) +
                           " bytes, got " + std::to_string(nbytes));
  if (shard_of_[next_] != open_shard_) DSV32_RETURN_IF_ERROR(OpenShard(shard_of_[next_]));
  static const char kZeros[8] = {};
  const uint64_t pad = padding_before_[next_];
  if (std::fwrite(kZeros, 1, pad, file_) != pad ||
      (nbytes && std::fwrite(data, 1, nbytes, file_) != nbytes))
    return IoError(dir_ + ": writing tensor '" + spec.name + "' failed: " + std::strerror(errno));
  ++next_;
  return Status::Ok();
}

Status CheckpointWriter::Finish() {
  if (next_ != specs_.size())
    return InvalidArgument("only " + std::to_string(next_) + " of " +
                           std::to_string(specs_.size()) + " tensors were written");
  if (file_ && std::fclose(file_) != 0) {
    file_ = nullptr;
    return IoError(dir_ + ": closing the last shard failed");
  }
  file_ = nullptr;
  if (shard_first_.size() <= 1) return Status::Ok();
  json index;
  uint64_t total = 0;
  for (size_t i = 0; i < specs_.size(); ++i) {
    index["weight_map"][specs_[i].name] = ShardName(shard_of_[i], shard_first_.size());
    total += specs_[i].nbytes();
  }
  index["metadata"] = {{"total_size", total}};
  std::ofstream out(dir_ + "/model.safetensors.index.json");
  out << index.dump(2) << "\n";
  if (!out) return IoError(dir_ + "/model.safetensors.index.json: write failed");
  return Status::Ok();
}

}  // namespace dsv32

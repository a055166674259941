#include "core/checkpoint.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

namespace dsv32 {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

Result<std::vector<std::string>> ShardsFromIndex(const fs::path& index_path,
                                                 std::map<std::string, std::string>* weight_map) {
  std::ifstream in(index_path);
  if (!in) return IoError(index_path.string() + ": cannot read");
  json j = json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("weight_map") ||
      !j["weight_map"].is_object())
    return FormatError(index_path.string() + ": not a safetensors index (no 'weight_map' object)");
  std::set<std::string> shards;
  for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
    if (!it->is_string())
      return FormatError(index_path.string() + ": weight_map['" + it.key() + "'] is not a string");
    const std::string shard = it->get<std::string>();
    if (shard.find('/') != std::string::npos || shard == "..")
      return FormatError(index_path.string() + ": shard name '" + shard +
                         "' must be a file in the same directory");
    shards.insert(shard);
    (*weight_map)[it.key()] = shard;
  }
  return std::vector<std::string>(shards.begin(), shards.end());
}

}  // namespace

Result<std::unique_ptr<Checkpoint>> Checkpoint::Open(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return NotFound(dir + ": not a directory");
  std::unique_ptr<Checkpoint> ckpt(new Checkpoint());
  ckpt->dir_ = dir;

  std::vector<std::string> shards;
  std::map<std::string, std::string> weight_map;
  const fs::path index_path = fs::path(dir) / "model.safetensors.index.json";
  if (fs::exists(index_path)) {
    DSV32_ASSIGN_OR_RETURN(shards, ShardsFromIndex(index_path, &weight_map));
  } else if (fs::exists(fs::path(dir) / "model.safetensors")) {
    shards.push_back("model.safetensors");
  } else {
    for (const auto& entry : fs::directory_iterator(dir, ec))
      if (entry.path().extension() == ".safetensors") shards.push_back(entry.path().filename());
    std::sort(shards.begin(), shards.end());
  }
  if (shards.empty()) return NotFound(dir + ": no safetensors files");

  for (const auto& shard : shards) {
    DSV32_ASSIGN_OR_RETURN(auto file, SafetensorsFile::Open((fs::path(dir) / shard).string()));
    for (const auto& [name, view] : file->tensors()) {
      if (!weight_map.empty()) {
        auto it = weight_map.find(name);
        if (it == weight_map.end() || it->second != shard) continue;
      }
      if (!ckpt->index_.emplace(name, &view).second)
        return FormatError(dir + ": tensor '" + name + "' appears in more than one shard");
    }
    ckpt->files_.push_back(std::move(file));
  }
  for (const auto& [name, shard] : weight_map)
    if (!ckpt->index_.count(name))
      return FormatError(dir + ": index maps '" + name + "' to " + shard +
                         ", which does not contain it");
  return ckpt;
}

Result<TensorView> Checkpoint::Get(const std::string& name) const {
  auto it = index_.find(name);
  if (it == index_.end()) return NotFound("checkpoint " + dir_ + " has no tensor '" + name + "'");
  return *it->second;
}

Result<TensorView> Checkpoint::Get(const std::string& name, std::initializer_list<DType> dtypes,
                                   const Shape& shape) const {
  DSV32_ASSIGN_OR_RETURN(TensorView view, Get(name));
  if (std::find(dtypes.begin(), dtypes.end(), view.dtype) == dtypes.end()) {
    std::string allowed;
    for (DType d : dtypes) allowed += (allowed.empty() ? "" : " or ") + std::string(DTypeName(d));
    return InvalidArgument("tensor '" + name + "' has dtype " +
                           std::string(DTypeName(view.dtype)) + ", expected " + allowed);
  }
  if (view.shape != shape)
    return InvalidArgument("tensor '" + name + "' has shape " + ShapeToString(view.shape) +
                           ", expected " + ShapeToString(shape));
  return view;
}

}  // namespace dsv32

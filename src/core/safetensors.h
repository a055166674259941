// safetensors files: an 8-byte little-endian header length, a JSON header
// naming each tensor's dtype, shape and byte range, then the data. Files are
// mmap'd read-only; views point straight into the mapping.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"

namespace dsv32 {

// A read-only memory mapping of a whole file.
class MappedFile {
 public:
  static Result<std::shared_ptr<MappedFile>> Open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::byte* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }
  // Maps every page of the file in now (MADV_POPULATE_READ, then a read of
  // each page), so later reads take no page faults and run at full speed.
  void Populate() const;

 private:
  MappedFile() = default;
  std::string path_;
  const std::byte* data_ = nullptr;
  size_t size_ = 0;
};

class SafetensorsFile {
 public:
  // Maps the file and validates the whole header: its length bound, the JSON,
  // every dtype name, shape and byte range (inside the file, matching the
  // shape, element-aligned, no two ranges overlapping).
  static Result<std::unique_ptr<SafetensorsFile>> Open(const std::string& path);

  const std::map<std::string, TensorView>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const std::string& path() const { return file_->path(); }
  const TensorView* Find(const std::string& name) const;
  void Populate() const { file_->Populate(); }

 private:
  std::shared_ptr<MappedFile> file_;
  std::map<std::string, TensorView> tensors_;
  std::map<std::string, std::string> metadata_;
};

// The largest JSON header accepted; real checkpoints stay far below it.
inline constexpr size_t kMaxSafetensorsHeaderBytes = 100u << 20;

// Writes tensors to a safetensors file (8-byte aligned data, sorted names).
struct TensorToWrite {
  std::string name;
  DType dtype;
  Shape shape;
  const void* data;
  size_t nbytes;
};
Status WriteSafetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                        const std::map<std::string, std::string>& metadata = {});

}  // namespace dsv32

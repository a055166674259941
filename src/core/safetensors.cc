#include "core/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

namespace dsv32 {

using json = nlohmann::json;

Result<std::shared_ptr<MappedFile>> MappedFile::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    Status s(err == ENOENT ? StatusCode::kNotFound : StatusCode::kIoError,
             path + ": " + std::strerror(err));
    return s;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return IoError(path + ": not a regular file");
  }
  std::shared_ptr<MappedFile> file(new MappedFile());
  file->path_ = path;
  file->size_ = static_cast<size_t>(st.st_size);
  if (file->size_ > 0) {
    void* p = ::mmap(nullptr, file->size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      return IoError(path + ": mmap failed: " + std::strerror(err));
    }
    file->data_ = static_cast<const std::byte*>(p);
  }
  ::close(fd);
  return file;
}

void MappedFile::Populate() const {
  if (!data_) return;
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22  // Linux 5.14; older kernels answer EINVAL
#endif
  // Where MADV_POPULATE_READ is missing, the reads below fault the pages in
  // themselves. Where it worked they are still needed: pages it had just
  // read from disk were slow on their first touch (a 4.3 GB shard streamed
  // at 1.9 GB/s right after it, at 15 GB/s once each page had been read
  // once, which took 0.2 s; 0.02 s when the pages were cached already).
  (void)::madvise(const_cast<std::byte*>(data_), size_, MADV_POPULATE_READ);
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  unsigned sum = 0;
  for (size_t i = 0; i < size_; i += page) sum += static_cast<unsigned>(data_[i]);
  volatile unsigned sink = sum;
  (void)sink;
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(const_cast<std::byte*>(data_), size_);
}

namespace {

Status HeaderError(const std::string& path, const std::string& what) {
  return FormatError(path + ": invalid safetensors header: " + what);
}

Result<Shape> ParseShape(const json& j, const std::string& where) {
  if (!j.is_array()) return FormatError(where + ": 'shape' is not an array");
  Shape shape;
  for (const auto& d : j) {
    if (!d.is_number_integer() || d.get<int64_t>() < 0)
      return FormatError(where + ": shape entries must be non-negative integers");
    shape.push_back(d.get<int64_t>());
  }
  return shape;
}

}  // namespace

Result<std::unique_ptr<SafetensorsFile>> SafetensorsFile::Open(const std::string& path) {
  std::unique_ptr<SafetensorsFile> st(new SafetensorsFile());
  DSV32_ASSIGN_OR_RETURN(st->file_, MappedFile::Open(path));
  const size_t file_size = st->file_->size();
  if (file_size < 8) return HeaderError(path, "file is shorter than the 8-byte length prefix");

  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i)
    header_len = (header_len << 8) | static_cast<uint8_t>(st->file_->data()[i]);
  if (header_len > kMaxSafetensorsHeaderBytes)
    return HeaderError(path, "header length " + std::to_string(header_len) +
                                 " exceeds the " + std::to_string(kMaxSafetensorsHeaderBytes) +
                                 "-byte bound");
  if (header_len > file_size - 8)
    return HeaderError(path, "header length " + std::to_string(header_len) +
                                 " runs past the end of the " + std::to_string(file_size) +
                                 "-byte file (truncated?)");

  const char* header_begin = reinterpret_cast<const char*>(st->file_->data() + 8);
  json header = json::parse(header_begin, header_begin + header_len, nullptr, false);
  if (header.is_discarded() || !header.is_object())
    return HeaderError(path, "header is not a JSON object");

  const std::byte* data_start = st->file_->data() + 8 + header_len;
  const size_t data_size = file_size - 8 - header_len;
  struct Range {
    uint64_t begin, end;
    const std::string* name;
  };
  std::vector<Range> ranges;

  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    if (name == "__metadata__") {
      if (!it->is_object()) return HeaderError(path, "__metadata__ is not an object");
      for (auto m = it->begin(); m != it->end(); ++m) {
        if (!m->is_string()) return HeaderError(path, "__metadata__ values must be strings");
        st->metadata_[m.key()] = m->get<std::string>();
      }
      continue;
    }
    const std::string where = path + ": tensor '" + name + "'";
    if (!it->is_object()) return FormatError(where + ": entry is not an object");
    const json& entry = *it;
    if (!entry.contains("dtype") || !entry["dtype"].is_string())
      return FormatError(where + ": missing 'dtype'");
    auto dtype = ParseDType(entry["dtype"].get<std::string>());
    if (!dtype.ok()) return dtype.status().WithContext(where);
    if (!entry.contains("shape")) return FormatError(where + ": missing 'shape'");
    DSV32_ASSIGN_OR_RETURN(Shape shape, ParseShape(entry["shape"], where));
    const json& offsets = entry.value("data_offsets", json());
    if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
        !offsets[1].is_number_unsigned())
      return FormatError(where + ": 'data_offsets' must be two non-negative integers");
    const uint64_t begin = offsets[0].get<uint64_t>();
    const uint64_t end = offsets[1].get<uint64_t>();
    if (begin > end) return FormatError(where + ": data_offsets begin after they end");
    if (end > data_size)
      return FormatError(where + ": data_offsets [" + std::to_string(begin) + ", " +
                         std::to_string(end) + ") run past the " + std::to_string(data_size) +
                         "-byte data section (truncated file?)");
    const size_t elem = DTypeSize(*dtype);
    // Overflow-safe: each dimension is bounded by the data size before multiplying.
    uint64_t expected = elem;
    for (int64_t d : shape) {
      if (d != 0 && expected > data_size / static_cast<uint64_t>(d) + 1) {
        expected = UINT64_MAX;
        break;
      }
      expected *= static_cast<uint64_t>(d);
    }
    if (expected != end - begin)
      return FormatError(where + ": shape " + ShapeToString(shape) + " of " +
                         std::string(DTypeName(*dtype)) + " needs " +
                         (expected == UINT64_MAX ? std::string("too many") : std::to_string(expected)) +
                         " bytes but data_offsets span " + std::to_string(end - begin));
    if (reinterpret_cast<uintptr_t>(data_start + begin) % elem != 0)
      return FormatError(where + ": data is not aligned to its " + std::to_string(elem) +
                         "-byte element size");
    TensorView view{name, *dtype, std::move(shape), data_start + begin, end - begin};
    auto [pos, inserted] = st->tensors_.emplace(name, std::move(view));
    ranges.push_back({begin, end, &pos->first});
  }

  std::sort(ranges.begin(), ranges.end(),
            [](const Range& a, const Range& b) { return a.begin < b.begin; });
  for (size_t i = 1; i < ranges.size(); ++i) {
    if (ranges[i].begin < ranges[i - 1].end && ranges[i].end > ranges[i].begin)
      return FormatError(path + ": tensors '" + *ranges[i - 1].name + "' and '" +
                         *ranges[i].name + "' overlap");
  }
  return st;
}

const TensorView* SafetensorsFile::Find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

Status WriteSafetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                        const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<const TensorToWrite*> order;
  for (const auto& t : tensors) order.push_back(&t);
  std::sort(order.begin(), order.end(),
            [](const TensorToWrite* a, const TensorToWrite* b) { return a->name < b->name; });
  uint64_t offset = 0;
  std::vector<uint64_t> begins;
  for (const TensorToWrite* t : order) {
    if (static_cast<uint64_t>(NumElements(t->shape)) * DTypeSize(t->dtype) != t->nbytes)
      return InvalidArgument("tensor '" + t->name + "': byte size does not match its shape");
    // Keep every tensor 8-byte aligned so readers can use typed loads.
    offset = (offset + 7) / 8 * 8;
    begins.push_back(offset);
    header[t->name] = {{"dtype", std::string(DTypeName(t->dtype))},
                       {"shape", t->shape},
                       {"data_offsets", {offset, offset + t->nbytes}}};
    offset += t->nbytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');

  const std::string tmp = path + ".tmp";
  std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
  if (!out) return IoError(tmp + ": cannot open for writing");
  uint8_t len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(text.size() >> (8 * i));
  out.write(reinterpret_cast<const char*>(len), 8);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  uint64_t written = 0;
  static const char kZeros[8] = {};
  for (size_t i = 0; i < order.size(); ++i) {
    out.write(kZeros, static_cast<std::streamsize>(begins[i] - written));
    out.write(static_cast<const char*>(order[i]->data),
              static_cast<std::streamsize>(order[i]->nbytes));
    written = begins[i] + order[i]->nbytes;
  }
  out.close();
  if (!out) return IoError(tmp + ": write failed");
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    return IoError(path + ": rename failed: " + std::strerror(errno));
  return Status::Ok();
}

}  // namespace dsv32

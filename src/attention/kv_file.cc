#include "attention/kv_file.h"

#include <zstd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>

namespace dsv32 {

namespace {

constexpr char kMagic[8] = {'D', 'S', 'V', '3', '2', 'K', 'V', 'C'};
constexpr size_t kChunk = size_t{1} << 20;

struct Header {
  uint64_t model_hash = 0;
  uint32_t layout = 0, page_tokens = 0, layers = 0, entry_bytes = 0;
  uint64_t page_bytes = 0, nodes = 0, payload_bytes = 0, checksum = 0;
};
constexpr uint32_t kHeaderBytes = 8 + 4 * 4 + 4 * 8;

void Put(std::vector<uint8_t>* out, const void* p, size_t n) {
  const auto* b = static_cast<const uint8_t*>(p);
  out->insert(out->end(), b, b + n);
}

std::vector<uint8_t> EncodeHeader(const Header& h) {
  std::vector<uint8_t> out;
  Put(&out, kMagic, 8);
  const uint32_t version = kKvFileVersion, size = kHeaderBytes;
  Put(&out, &version, 4);
  Put(&out, &size, 4);
  Put(&out, &h.model_hash, 8);
  Put(&out, &h.layout, 4);
  Put(&out, &h.page_tokens, 4);
  Put(&out, &h.layers, 4);
  Put(&out, &h.entry_bytes, 4);
  Put(&out, &h.page_bytes, 8);
  Put(&out, &h.nodes, 8);
  Put(&out, &h.payload_bytes, 8);
  Put(&out, &h.checksum, 8);
  return out;
}

Header HeaderFor(const KvPagePool& pool, uint64_t model_hash) {
  Header h;
  h.model_hash = model_hash;
  h.layout = static_cast<uint32_t>(pool.layout());
  h.page_tokens = static_cast<uint32_t>(pool.page_tokens());
  h.layers = static_cast<uint32_t>(pool.num_layers());
  h.entry_bytes = static_cast<uint32_t>(pool.format().bytes());
  h.page_bytes = static_cast<uint64_t>(pool.page_bytes());
  return h;
}

struct FileCloser {
  void operator()(FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<FILE, FileCloser>;

Status IoFailure(const std::string& path, const std::string& what) {
  return IoError(path + ": " + what + ": " + std::strerror(errno));
}

struct NodeOut {
  int64_t parent;
  std::span<const int32_t> tokens;
  int32_t page;
};

// Compresses everything given to Add into one zstd frame in the file,
// keeping a running checksum of the compressed bytes.
class FrameWriter {
 public:
  FrameWriter(FILE* f, const std::string& path) : f_(f), path_(path), out_(kChunk) {
    ZSTD_CCtx_setParameter(cctx_.get(), ZSTD_c_compressionLevel, 3);
    ZSTD_CCtx_setParameter(cctx_.get(), ZSTD_c_checksumFlag, 1);
  }
  Status Add(const void* data, size_t size) { return Run(data, size, ZSTD_e_continue); }
  Status Finish() { return Run(nullptr, 0, ZSTD_e_end); }
  uint64_t bytes() const { return bytes_; }
  uint64_t checksum() const { return checksum_; }

 private:
  Status Run(const void* data, size_t size, ZSTD_EndDirective mode) {
    ZSTD_inBuffer in{data, size, 0};
    for (;;) {
      ZSTD_outBuffer out{out_.data(), out_.size(), 0};
      const size_t left = ZSTD_compressStream2(cctx_.get(), &out, &in, mode);
      if (ZSTD_isError(left)) return Internal(path_ + ": zstd: " + ZSTD_getErrorName(left));
      if (out.pos && std::fwrite(out_.data(), 1, out.pos, f_) != out.pos)
        return IoFailure(path_, "write failed");
      checksum_ = Fnv1a64(out_.data(), out.pos, checksum_);
      bytes_ += out.pos;
      if (mode == ZSTD_e_end ? left == 0 : in.pos == in.size) return Status::Ok();
    }
  }
  struct Free {
    void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
  };
  FILE* f_;
  std::string path_;
  std::vector<uint8_t> out_;
  std::unique_ptr<ZSTD_CCtx, Free> cctx_{ZSTD_createCCtx()};
  uint64_t bytes_ = 0;
  uint64_t checksum_ = 0xcbf29ce484222325ull;
};

// Reads exactly `payload` compressed bytes from the file and hands out the
// decompressed stream in pieces of the size asked for.
class FrameReader {
 public:
  FrameReader(FILE* f, const std::string& path, uint64_t payload)
      : f_(f), path_(path), left_(payload), in_buf_(kChunk) {}
  Status Read(void* dst, size_t size) {
    ZSTD_outBuffer out{dst, size, 0};
    while (out.pos < out.size) {
      DSV32_RETURN_IF_ERROR(Refill());
      const size_t r = ZSTD_decompressStream(dctx_.get(), &out, &in_);
      if (ZSTD_isError(r))
        return FormatError(path_ +
                           ": the KV cache file is corrupted (zstd: " + ZSTD_getErrorName(r) + ")");
      frame_done_ = r == 0;
      if (frame_done_ && out.pos < out.size) return Truncated();
    }
    return Status::Ok();
  }
  // Everything read, the frame closed and its checksum verified?
  Status Finish(uint64_t expected_checksum) {
    if (!frame_done_) {
      uint8_t extra;
      ZSTD_outBuffer out{&extra, 1, 0};
      while (!frame_done_) {
        DSV32_RETURN_IF_ERROR(Refill());
        const size_t r = ZSTD_decompressStream(dctx_.get(), &out, &in_);
        if (ZSTD_isError(r))
          return FormatError(
              path_ + ": the KV cache file is corrupted (zstd: " + ZSTD_getErrorName(r) + ")");
        if (out.pos) return FormatError(path_ + ": unexpected data after the last page");
        frame_done_ = r == 0;
      }
    }
    if (left_ != 0 || in_.pos != in_.size)
      return FormatError(path_ + ": unexpected data after the compressed pages");
    if (std::fgetc(f_) != EOF)
      return FormatError(path_ + ": unexpected bytes at the end of the file");
    if (checksum_ != expected_checksum)
      return FormatError(path_ + ": checksum mismatch: the KV cache file is corrupted");
    return Status::Ok();
  }

 private:
  // Reads the next compressed chunk once the last one is used up.
  Status Refill() {
    if (in_.pos < in_.size) return Status::Ok();
    if (left_ == 0) return Truncated();
    const size_t want = static_cast<size_t>(std::min<uint64_t>(left_, in_buf_.size()));
    if (std::fread(in_buf_.data(), 1, want, f_) != want) return Truncated();
    left_ -= want;
    checksum_ = Fnv1a64(in_buf_.data(), want, checksum_);
    in_ = {in_buf_.data(), want, 0};
    return Status::Ok();
  }
  Status Truncated() const { return FormatError(path_ + ": the KV cache file is truncated"); }
  struct Free {
    void operator()(ZSTD_DCtx* c) const { ZSTD_freeDCtx(c); }
  };
  FILE* f_;
  std::string path_;
  uint64_t left_;
  std::vector<uint8_t> in_buf_;
  ZSTD_inBuffer in_{nullptr, 0, 0};
  std::unique_ptr<ZSTD_DCtx, Free> dctx_{ZSTD_createDCtx()};
  bool frame_done_ = false;
  uint64_t checksum_ = 0xcbf29ce484222325ull;
};

Status WriteNodes(const std::string& path, uint64_t model_hash, const KvPagePool& pool,
                  const std::vector<NodeOut>& nodes) {
  File f(std::fopen(path.c_str(), "wb"));
  if (!f) return IoFailure(path, "cannot create the KV cache file");
  Header h = HeaderFor(pool, model_hash);
  h.nodes = nodes.size();
  std::vector<uint8_t> head = EncodeHeader(h);
  if (std::fwrite(head.data(), 1, head.size(), f.get()) != head.size())
    return IoFailure(path, "write failed");
  FrameWriter frame(f.get(), path);
  for (const NodeOut& n : nodes) {
    const auto count = static_cast<int64_t>(n.tokens.size());
    DSV32_RETURN_IF_ERROR(frame.Add(&n.parent, 8));
    DSV32_RETURN_IF_ERROR(frame.Add(&count, 8));
    DSV32_RETURN_IF_ERROR(frame.Add(n.tokens.data(), n.tokens.size() * 4));
    DSV32_RETURN_IF_ERROR(
        frame.Add(pool.page_data(n.page), static_cast<size_t>(pool.page_bytes())));
  }
  DSV32_RETURN_IF_ERROR(frame.Finish());
  h.payload_bytes = frame.bytes();
  h.checksum = frame.checksum();
  head = EncodeHeader(h);
  if (std::fseek(f.get(), 0, SEEK_SET) != 0 ||
      std::fwrite(head.data(), 1, head.size(), f.get()) != head.size())
    return IoFailure(path, "write failed");
  if (std::fclose(f.release()) != 0) return IoFailure(path, "close failed");
  return Status::Ok();
}

struct NodeIn {
  int64_t parent;
  std::vector<int32_t> tokens;
  int32_t page;
};

// Pages allocated while reading, given back unless the read succeeds.
struct LoadedNodes {
  KvPagePool* pool;
  std::vector<NodeIn> nodes;
  ~LoadedNodes() {
    for (const NodeIn& n : nodes) pool->Release(n.page);
  }
};

Status ReadNodes(const std::string& path, uint64_t model_hash, KvPagePool& pool,
                 LoadedNodes* loaded) {
  File f(std::fopen(path.c_str(), "rb"));
  if (!f) return IoFailure(path, "cannot open the KV cache file");
  uint8_t head[8 + 8 + kHeaderBytes];
  const size_t got = std::fread(head, 1, sizeof head, f.get());
  if (got < 16 || std::memcmp(head, kMagic, 8) != 0)
    return FormatError(path + ": not a libdsv32 KV cache file");
  uint32_t version, size;
  std::memcpy(&version, head + 8, 4);
  std::memcpy(&size, head + 12, 4);
  if (version != kKvFileVersion)
    return Unsupported(path + ": KV cache file format version " + std::to_string(version) +
                       ", this build reads version " + std::to_string(kKvFileVersion));
  if (size != kHeaderBytes || got != sizeof head)
    return FormatError(path + ": the KV cache file is truncated or its header is malformed");
  Header h;
  const uint8_t* p = head + 16;
  auto take = [&p](auto* v) {
    std::memcpy(v, p, sizeof *v);
    p += sizeof *v;
  };
  take(&h.model_hash);
  take(&h.layout);
  take(&h.page_tokens);
  take(&h.layers);
  take(&h.entry_bytes);
  take(&h.page_bytes);
  take(&h.nodes);
  take(&h.payload_bytes);
  take(&h.checksum);
  const Header want = HeaderFor(pool, model_hash);
  if (h.model_hash != want.model_hash)
    return InvalidArgument(path + ": the KV cache was made by a different model (config hash " +
                           std::to_string(h.model_hash) + ", this model has " +
                           std::to_string(want.model_hash) + ")");
  if (h.layout != want.layout || h.entry_bytes != want.entry_bytes)
    return InvalidArgument(path + ": the KV cache file holds layout " +
                           std::string(KvLayoutName(static_cast<KvLayout>(h.layout))) +
                           ", the cache uses " + std::string(KvLayoutName(pool.layout())));
  if (h.page_tokens != want.page_tokens || h.layers != want.layers ||
      h.page_bytes != want.page_bytes)
    return InvalidArgument(
        path + ": the KV cache file has pages of " + std::to_string(h.page_tokens) +
        " tokens over " + std::to_string(h.layers) + " layers, the cache uses " +
        std::to_string(want.page_tokens) + " over " + std::to_string(want.layers));
  if (h.nodes > static_cast<uint64_t>(pool.max_pages()))
    return OutOfMemory(path + ": " + std::to_string(h.nodes) + " pages do not fit the KV pool of " +
                       std::to_string(pool.max_pages()));

  FrameReader frame(f.get(), path, h.payload_bytes);
  for (uint64_t i = 0; i < h.nodes; ++i) {
    int64_t parent = 0, count = 0;
    DSV32_RETURN_IF_ERROR(frame.Read(&parent, 8));
    DSV32_RETURN_IF_ERROR(frame.Read(&count, 8));
    if (parent < -1 || parent >= static_cast<int64_t>(i) || count < 1 ||
        count > static_cast<int64_t>(h.page_tokens))
      return FormatError(path + ": page " + std::to_string(i) + " has a malformed record");
    NodeIn node{parent, std::vector<int32_t>(static_cast<size_t>(count)), -1};
    DSV32_RETURN_IF_ERROR(frame.Read(node.tokens.data(), node.tokens.size() * 4));
    DSV32_ASSIGN_OR_RETURN(node.page, pool.Allocate());
    loaded->nodes.push_back(std::move(node));
    DSV32_RETURN_IF_ERROR(
        frame.Read(pool.page_data(loaded->nodes.back().page), static_cast<size_t>(h.page_bytes)));
  }
  return frame.Finish(h.checksum);
}

}  // namespace

uint64_t Fnv1a64(const void* data, size_t size, uint64_t seed) {
  const auto* b = static_cast<const uint8_t*>(data);
  uint64_t h = seed;
  for (size_t i = 0; i < size; ++i) {
    h ^= b[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

Result<uint64_t> ConfigHash(const std::string& config_json_text) {
  const nlohmann::json j = nlohmann::json::parse(config_json_text, nullptr, false);
  if (j.is_discarded()) return FormatError("config.json is not valid JSON");
  const std::string canonical = j.dump();
  return Fnv1a64(canonical.data(), canonical.size());
}

Status SaveSequenceCache(const std::string& path, uint64_t model_hash, const KvCache& cache,
                         std::span<const int32_t> tokens) {
  const int64_t n = cache.length();
  if (static_cast<int64_t>(tokens.size()) < n)
    return InvalidArgument("SaveSequenceCache: " + std::to_string(tokens.size()) +
                           " tokens for a sequence of " + std::to_string(n));
  const int64_t P = cache.page_tokens();
  std::vector<NodeOut> nodes;
  for (int64_t first = 0; first < n; first += P)
    nodes.push_back(
        {static_cast<int64_t>(nodes.size()) - 1,
         tokens.subspan(static_cast<size_t>(first), static_cast<size_t>(std::min(P, n - first))),
         cache.pages()[static_cast<size_t>(first / P)]});
  return WriteNodes(path, model_hash, cache.pool(), nodes);
}

Result<std::vector<int32_t>> LoadSequenceCache(const std::string& path, uint64_t model_hash,
                                               KvCache* cache) {
  if (cache->length() != 0 || !cache->pages().empty())
    return InvalidArgument("LoadSequenceCache needs an empty sequence");
  LoadedNodes loaded{&cache->pool(), {}};
  DSV32_RETURN_IF_ERROR(ReadNodes(path, model_hash, cache->pool(), &loaded));
  std::vector<int32_t> tokens, pages;
  for (size_t i = 0; i < loaded.nodes.size(); ++i) {
    const NodeIn& n = loaded.nodes[i];
    const bool full = static_cast<int64_t>(n.tokens.size()) == cache->page_tokens();
    if (n.parent != static_cast<int64_t>(i) - 1 || (!full && i + 1 != loaded.nodes.size()))
      return FormatError(path + ": not a single sequence (a prefix cache file?)");
    tokens.insert(tokens.end(), n.tokens.begin(), n.tokens.end());
    pages.push_back(n.page);
  }
  DSV32_RETURN_IF_ERROR(
      cache->AdoptPages(pages, static_cast<int64_t>(tokens.size())).WithContext(path));
  return tokens;
}

Status SavePrefixCache(const std::string& path, uint64_t model_hash, const PrefixCache& prefixes) {
  const std::vector<PrefixCache::NodeRecord> records = prefixes.Nodes();
  std::vector<NodeOut> nodes;
  nodes.reserve(records.size());
  for (const auto& r : records) nodes.push_back({r.parent, r.tokens, r.page});
  return WriteNodes(path, model_hash, prefixes.pool(), nodes);
}

Result<int64_t> LoadPrefixCache(const std::string& path, uint64_t model_hash,
                                PrefixCache* prefixes) {
  LoadedNodes loaded{&prefixes->pool(), {}};
  DSV32_RETURN_IF_ERROR(ReadNodes(path, model_hash, prefixes->pool(), &loaded));
  for (const NodeIn& n : loaded.nodes)
    if (static_cast<int64_t>(n.tokens.size()) != prefixes->pool().page_tokens())
      return FormatError(path + ": a prefix cache holds full pages only (a sequence file?)");
  std::vector<int64_t> ids;
  for (const NodeIn& n : loaded.nodes)
    ids.push_back(prefixes->AddNode(n.parent < 0 ? -1 : ids[static_cast<size_t>(n.parent)],
                                    n.tokens, n.page));
  return static_cast<int64_t>(loaded.nodes.size());
}

}  // namespace dsv32

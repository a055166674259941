// KV cache pages on disk, so a context computed once can be restored by
// another process: one sequence (its tokens and pages) or a whole prefix
// cache (its tree of pages). Every page is written whole: all layers'
// latents, rope keys and indexer keys (without the indexer keys a V3.2
// context could not select its positions again).
//
// File layout (little-endian):
//   magic "DSV32KVC", u32 format version, u32 header bytes,
//   header: u64 model hash, u32 layout, u32 page_tokens, u32 layers,
//           u32 entry bytes, u64 page bytes, u64 node count,
//           u64 payload bytes (compressed), u64 FNV-1a 64 of the payload
//   payload: one zstd frame (with its own content checksum) of, per node,
//           i64 parent (-1: root), i64 tokens, i32 token ids, page bytes.
// A sequence is a chain of nodes whose last may be partly filled; a prefix
// cache is a tree of full nodes. Any mismatch (model, layout, page size,
// version) or damage (size, checksum, zstd) is a FormatError or
// InvalidArgument naming the file and the cause.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "attention/kv_cache.h"
#include "attention/prefix_cache.h"
#include "core/status.h"

namespace dsv32 {

inline constexpr uint32_t kKvFileVersion = 1;

// FNV-1a 64 of canonical JSON text (nlohmann's dump of the parsed
// config.json, keys sorted, no spaces): formatting does not change it.
Result<uint64_t> ConfigHash(const std::string& config_json_text);
uint64_t Fnv1a64(const void* data, size_t size, uint64_t seed = 0xcbf29ce484222325ull);

// Writes positions [0, cache.length()) of `cache`, whose tokens are `tokens`.
Status SaveSequenceCache(const std::string& path, uint64_t model_hash, const KvCache& cache,
                         std::span<const int32_t> tokens);
// Fills the empty `cache` (same layout and page size as the file) and
// returns the tokens whose entries it now holds.
Result<std::vector<int32_t>> LoadSequenceCache(const std::string& path, uint64_t model_hash,
                                               KvCache* cache);

Status SavePrefixCache(const std::string& path, uint64_t model_hash, const PrefixCache& prefixes);
// Adds the file's tree to `prefixes`; returns the number of pages read.
Result<int64_t> LoadPrefixCache(const std::string& path, uint64_t model_hash,
                                PrefixCache* prefixes);

}  // namespace dsv32

// Shared by the C API's source files: the handles' contents and the guard
// that turns internal Status values and exceptions into status codes.
#pragma once

#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <string>

#include "core/status.h"
#include "dsv32/dsv32.h"
#include "engine/sampling.h"
#include "model/model.h"
#include "structured/token_vocabulary.h"
#include "text/tokenizer.h"

struct dsv32_model {
  std::shared_ptr<const dsv32::Model> model;
  int64_t num_parameters = 0;
  // From the model directory's generation_config.json, if any.
  dsv32::SamplingParams sampling_defaults;
};

struct dsv32_tokenizer {
  std::shared_ptr<const dsv32::Tokenizer> tokenizer;
  // What constrained decoding masks, built on first use for one width:
  // without added tokens, and with the markup tokens tool-call replies use.
  mutable std::mutex mu;
  mutable std::shared_ptr<const dsv32::structured::TokenVocabulary> vocabulary;
  mutable std::shared_ptr<const dsv32::structured::TokenVocabulary> markup_vocabulary;
};

namespace dsv32::capi {

// The tokenizer's vocabulary for masks `vocab_size` wide (built once and
// kept while that width is asked for); `markup`: with the added tokens a
// tool-call reply may spell (chat::kMarkupTokens).
Result<std::shared_ptr<const structured::TokenVocabulary>> Vocabulary(
    const dsv32_tokenizer& tokenizer, int32_t vocab_size, bool markup = false);

// Records `message` as the calling thread's last error and returns `code`.
dsv32_status SetError(dsv32_status code, const std::string& message);
dsv32_status FromStatus(const Status& status);
const char* LastError();

// Runs `fn` (returning dsv32_status) so that nothing escapes across the ABI.
template <typename Fn>
dsv32_status Guard(Fn&& fn) noexcept {
  try {
    return fn();
  } catch (const std::bad_alloc&) {
    return SetError(DSV32_ERR_OUT_OF_MEMORY, "out of memory");
  } catch (const std::exception& e) {
    return SetError(DSV32_ERR_INTERNAL, e.what());
  } catch (...) {
    return SetError(DSV32_ERR_INTERNAL, "unknown internal error");
  }
}

// Copies the caller's params struct over the defaults, reading no more
// bytes than both the caller and this library know.
template <typename Params>
Params ReadParams(const Params* given, Params defaults) {
  if (!given) return defaults;
  const size_t n = given->struct_size < sizeof(Params) ? given->struct_size : sizeof(Params);
  if (n > sizeof(size_t))
    std::memcpy(reinterpret_cast<char*>(&defaults) + sizeof(size_t),
                reinterpret_cast<const char*>(given) + sizeof(size_t), n - sizeof(size_t));
  return defaults;
}

// Writes `defaults` over the caller's struct of `size` bytes, no further
// than both know; struct_size says the caller's size.
template <typename Params>
void InitParams(Params* out, size_t size, Params defaults) {
  if (!out || size < sizeof(size_t)) return;
  std::memset(static_cast<void*>(out), 0, size < sizeof(Params) ? size : sizeof(Params));
  defaults.struct_size = size;
  std::memcpy(static_cast<void*>(out), &defaults, size < sizeof(Params) ? size : sizeof(Params));
}

}  // namespace dsv32::capi

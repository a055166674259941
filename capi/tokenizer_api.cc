// The tokenizer through the C API: encode, decode, streaming decode.
#include <algorithm>
#include <memory>
#include <string>

#include "capi_internal.h"
#include "chat/tool_call_grammar.h"
#include "text/stream_decoder.h"
#include "text/tokenizer.h"

struct dsv32_token_decoder {
  std::shared_ptr<const dsv32::Tokenizer> tokenizer;  // outlives `decoder`
  dsv32::StreamDecoder decoder;
  std::string text;
};

namespace dsv32::capi {

Result<std::shared_ptr<const structured::TokenVocabulary>> Vocabulary(
    const dsv32_tokenizer& tokenizer, int32_t vocab_size, bool markup) {
  std::lock_guard lock(tokenizer.mu);
  auto& kept = markup ? tokenizer.markup_vocabulary : tokenizer.vocabulary;
  if (!kept || kept->vocab_size() != vocab_size) {
    auto v = structured::TokenVocabulary::Build(
        *tokenizer.tokenizer, vocab_size,
        markup ? std::span<const std::string_view>(chat::kMarkupTokens)
               : std::span<const std::string_view>());
    if (!v.ok()) return v.status();
    kept = std::move(v).value();
  }
  return kept;
}

}  // namespace dsv32::capi

using dsv32::capi::FromStatus;
using dsv32::capi::Guard;
using dsv32::capi::SetError;

extern "C" {

dsv32_status dsv32_tokenizer_load(const char* dir, dsv32_tokenizer** out) {
  return Guard([&] {
    if (!out) return SetError(DSV32_ERR_INVALID_ARGUMENT, "dsv32_tokenizer_load: out is NULL");
    *out = nullptr;
    if (!dir) return SetError(DSV32_ERR_INVALID_ARGUMENT, "dsv32_tokenizer_load: dir is NULL");
    auto tokenizer = dsv32::Tokenizer::Load(dir);
    if (!tokenizer.ok()) return FromStatus(tokenizer.status());
    auto handle = std::make_unique<dsv32_tokenizer>();
    handle->tokenizer = std::move(tokenizer).value();
    *out = handle.release();
    return DSV32_OK;
  });
}

void dsv32_tokenizer_free(dsv32_tokenizer* tokenizer) { delete tokenizer; }

dsv32_status dsv32_tokenizer_special_ids(const dsv32_tokenizer* tokenizer, int32_t* bos_id,
                                         int32_t* eos_id) {
  return Guard([&] {
    if (!tokenizer)
      return SetError(DSV32_ERR_INVALID_ARGUMENT, "dsv32_tokenizer_special_ids: NULL tokenizer");
    if (bos_id) *bos_id = tokenizer->tokenizer->bos_id();
    if (eos_id) *eos_id = tokenizer->tokenizer->eos_id();
    return DSV32_OK;
  });
}

dsv32_status dsv32_tokenizer_encode(const dsv32_tokenizer* tokenizer, const char* text,
                                    size_t length, int32_t add_bos, int32_t parse_special,
                                    int32_t* ids, size_t capacity, size_t* n_ids) {
  return Guard([&] {
    if (!tokenizer || (!text && length) || (!ids && capacity) || !n_ids)
      return SetError(DSV32_ERR_INVALID_ARGUMENT, "dsv32_tokenizer_encode: NULL argument");
    dsv32::EncodeOptions options;
    options.add_bos = add_bos != 0;
    options.parse_special_tokens = parse_special != 0;
    auto encoded =
        tokenizer->tokenizer->Encode(std::string_view(text ? text : "", length), options);
    if (!encoded.ok()) return FromStatus(encoded.status());
    std::copy_n(encoded->begin(), std::min(capacity, encoded->size()), ids);
    *n_ids = encoded->size();
    return DSV32_OK;
  });
}

dsv32_status dsv32_tokenizer_decode(const dsv32_tokenizer* tokenizer, const int32_t* ids,
                                    size_t n_ids, int32_t skip_special, char* text, size_t capacity,
                                    size_t* length) {
  return Guard([&] {
    if (!tokenizer || (!ids && n_ids) || (!text && capacity))
      return SetError(DSV32_ERR_INVALID_ARGUMENT, "dsv32_tokenizer_decode: NULL argument");
    dsv32::DecodeOptions options;
    options.skip_special_tokens = skip_special != 0;
    auto decoded = tokenizer->tokenizer->Decode(std::span<const int32_t>(ids, n_ids), options);
    if (!decoded.ok()) return FromStatus(decoded.status());
    if (capacity) {
      const size_t n = std::min(capacity - 1, decoded->size());
      std::memcpy(text, decoded->data(), n);
      text[n] = '\0';
    }
    if (length) *length = decoded->size();
    return DSV32_OK;
  });
}

dsv32_status dsv32_token_decoder_create(dsv32_tokenizer* tokenizer, int32_t skip_special,
                                        dsv32_token_decoder** out) {
  return Guard([&] {
    if (!out || !tokenizer)
      return SetError(DSV32_ERR_INVALID_ARGUMENT, "dsv32_token_decoder_create: NULL argument");
    dsv32::DecodeOptions options;
    options.skip_special_tokens = skip_special != 0;
    *out = new dsv32_token_decoder{
        tokenizer->tokenizer, dsv32::StreamDecoder(*tokenizer->tokenizer, options), {}};
    return DSV32_OK;
  });
}

void dsv32_token_decoder_free(dsv32_token_decoder* decoder) { delete decoder; }

dsv32_status dsv32_token_decoder_push(dsv32_token_decoder* decoder, int32_t id, const char** text,
                                      size_t* length) {
  return Guard([&] {
    if (!decoder || !text)
      return SetError(DSV32_ERR_INVALID_ARGUMENT, "dsv32_token_decoder_push: NULL argument");
    decoder->text.clear();
    if (id == -1) {
      decoder->decoder.Finish(&decoder->text);
    } else {
      dsv32::Status s = decoder->decoder.Push(id, &decoder->text);
      if (!s.ok()) return FromStatus(s);
    }
    *text = decoder->text.c_str();
    if (length) *length = decoder->text.size();
    return DSV32_OK;
  });
}

}  // extern "C"

// The DeepSeek tokenizer: Hugging Face's tokenizer.json format as DeepSeek
// ships it (byte-level BPE, a sequence of regex splits, added tokens, the
// byte-level decoder) plus tokenizer_config.json for BOS and EOS. Encoding
// and decoding match the reference `tokenizers` library id for id.
//
// Thread-safe: a loaded Tokenizer is immutable apart from an internal,
// locked cache of encoded words.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "text/added_vocabulary.h"
#include "text/bpe.h"
#include "text/pre_tokenizer.h"

namespace dsv32 {

struct EncodeOptions {
  // Put the BOS token in front (tokenizer_config.json's add_bos_token says
  // whether the model expects it; see Tokenizer::add_bos_token()).
  bool add_bos = false;
  // Turn added-token strings found in the text (e.g. "<｜User｜>") into their
  // ids, as the reference does. Set to false for untrusted user text: then
  // every added token, special or not, is encoded as the plain text it is,
  // so a user cannot forge the chat markup.
  bool parse_special_tokens = true;
};

struct DecodeOptions {
  // Leave out tokens marked "special" in tokenizer.json (BOS, EOS, ...).
  bool skip_special_tokens = false;
};

class Tokenizer {
 public:
  // Loads `dir`/tokenizer.json and `dir`/tokenizer_config.json.
  static Result<std::unique_ptr<Tokenizer>> Load(const std::filesystem::path& dir);
  // The same from the files' text; `origin` names them in error messages.
  static Result<std::unique_ptr<Tokenizer>> FromJson(std::string_view tokenizer_json,
                                                     std::string_view config_json,
                                                     const std::string& origin);

  // Fails with InvalidArgument when `text` is not valid UTF-8.
  Result<std::vector<int32_t>> Encode(std::string_view text,
                                      const EncodeOptions& options = {}) const;
  // Appends to `ids`, so a caller can reuse one buffer.
  Status EncodeInto(std::string_view text, const EncodeOptions& options,
                    std::vector<int32_t>* ids) const;

  // Fails with OutOfRange on an id that has no token. Byte sequences that
  // are not valid UTF-8 come out as U+FFFD, as in the reference.
  Result<std::string> Decode(std::span<const int32_t> ids, const DecodeOptions& options = {}) const;

  // The raw bytes token `id` stands for (for an added token, its text), or
  // OutOfRange.
  Result<std::string_view> TokenBytes(int32_t id) const;
  bool IsSpecial(int32_t id) const;
  std::optional<int32_t> TokenId(std::string_view token_text) const;

  // One past the largest id.
  int32_t id_limit() const { return static_cast<int32_t>(bytes_.size()); }
  size_t bpe_vocab_size() const { return bpe_vocab_size_; }
  size_t merge_count() const { return bpe_.merge_count(); }
  const BpeModel& bpe() const { return bpe_; }
  const std::vector<AddedToken>& added_tokens() const { return added_.tokens(); }
  // -1 when tokenizer_config.json names none.
  int32_t bos_id() const { return bos_id_; }
  int32_t eos_id() const { return eos_id_; }
  bool add_bos_token() const { return add_bos_token_; }

 private:
  friend class TokenizerLoader;
  Tokenizer(BpeModel bpe, PreTokenizer pre, AddedVocabulary added)
      : bpe_(std::move(bpe)), pre_(std::move(pre)), added_(std::move(added)) {}

  BpeModel bpe_;
  PreTokenizer pre_;
  AddedVocabulary added_;
  static constexpr uint8_t kPresent = 1;
  static constexpr uint8_t kSpecial = 2;
  // Per id: the bytes it decodes to, and kPresent / kSpecial.
  std::vector<std::string> bytes_;
  std::vector<uint8_t> flags_;
  std::unordered_map<std::string, int32_t> ids_by_text_;
  size_t bpe_vocab_size_ = 0;
  int32_t bos_id_ = -1;
  int32_t eos_id_ = -1;
  bool add_bos_token_ = false;
};

}  // namespace dsv32

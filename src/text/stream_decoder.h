// Decodes ids one at a time, as a model generates them, and hands out only
// whole UTF-8 characters: a token that ends inside a multibyte character
// (byte-level BPE often splits emoji and CJK) is held until the tokens that
// finish it arrive. The pieces joined equal Tokenizer::Decode of all ids.
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"
#include "text/tokenizer.h"

namespace dsv32 {

class StreamDecoder {
 public:
  // `tokenizer` must outlive the decoder.
  explicit StreamDecoder(const Tokenizer& tokenizer, DecodeOptions options = {})
      : tokenizer_(tokenizer), options_(options) {}

  // Appends to `text` whatever `id` completes. OutOfRange on an unknown id,
  // which leaves the decoder as it was.
  Status Push(int32_t id, std::string* text);
  // Appends what is still held (an unfinished character becomes U+FFFD) and
  // starts over.
  void Finish(std::string* text);

  // Bytes of an unfinished character waiting for more tokens.
  size_t pending_bytes() const { return pending_.size(); }

 private:
  const Tokenizer& tokenizer_;
  DecodeOptions options_;
  std::string pending_;
};

}  // namespace dsv32

// Reads tokenizer.json. simdjson parses the whole file; the vocab and merges
// (about 128k entries each in DeepSeek's file) are copied from its tree
// straight into flat vectors, and the rest of the file, small, becomes an
// ordinary nlohmann tree for the loader. Parsing with nlohmann (its SAX
// reader) was most of a load: 0.3 s in Release and 2.5 s in the sanitizer
// build, where every test that loads the tokenizer pays it.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace dsv32 {

struct TokenizerJson {
  // The file without model.vocab and model.merges when they were read below.
  nlohmann::json root;
  // model.vocab when it is an object: token text and id, in file order.
  bool has_vocab = false;
  std::vector<std::pair<std::string, int64_t>> vocab;
  // model.merges when it is an array: each merge as its two tokens.
  bool has_merges = false;
  std::vector<std::pair<std::string, std::string>> merges;
};

// FormatError naming `origin` and the bad field or the JSON syntax error.
Result<TokenizerJson> ReadTokenizerJson(std::string_view text, const std::string& origin);

}  // namespace dsv32

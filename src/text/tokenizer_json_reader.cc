#include "text/tokenizer_json_reader.h"

#include <simdjson.h>

namespace dsv32 {

namespace {

using json = nlohmann::json;
namespace dom = simdjson::dom;

// The element as nlohmann's parser would have built it: non-negative
// integers unsigned, negative ones signed, object keys last one wins.
json ToJson(dom::element e) {
  switch (e.type()) {
    case dom::element_type::OBJECT: {
      json out = json::object();
      for (dom::key_value_pair field : dom::object(e))
        out[std::string(field.key)] = ToJson(field.value);
      return out;
    }
    case dom::element_type::ARRAY: {
      json out = json::array();
      for (dom::element item : dom::array(e)) out.push_back(ToJson(item));
      return out;
    }
    case dom::element_type::STRING:
      return std::string(std::string_view(e));
    case dom::element_type::INT64: {
      const int64_t v = int64_t(e);
      if (v >= 0) return static_cast<uint64_t>(v);
      return v;
    }
    case dom::element_type::UINT64:
      return uint64_t(e);
    case dom::element_type::DOUBLE:
      return double(e);
    case dom::element_type::BOOL:
      return bool(e);
    case dom::element_type::NULL_VALUE:
      return nullptr;
  }
  return nullptr;
}

Status ReadVocab(dom::object vocab, TokenizerJson* out) {
  out->has_vocab = true;
  for (dom::key_value_pair entry : vocab) {
    const auto where = [&] { return "model.vocab['" + std::string(entry.key) + "']"; };
    int64_t id;
    switch (entry.value.type()) {
      case dom::element_type::INT64:
        id = int64_t(entry.value);
        break;
      case dom::element_type::UINT64:
        id = INT64_MAX;  // out of any id range; the loader says so
        break;
      case dom::element_type::OBJECT:
        return FormatError(where() + " must not contain objects");
      case dom::element_type::ARRAY:
        return FormatError(where() + " must hold strings");
      default:
        return FormatError(where() + " must be an integer id");
    }
    out->vocab.emplace_back(std::string(entry.key), id);
  }
  return Status::Ok();
}

// Each merge is "left right" (one space) or ["left", "right"].
Status ReadMerges(dom::array merges, TokenizerJson* out) {
  out->has_merges = true;
  for (dom::element merge : merges) {
    const std::string where = "model.merges[" + std::to_string(out->merges.size()) + "]";
    if (merge.is_string()) {
      const std::string_view text(merge);
      const size_t space = text.find(' ');
      if (space == std::string_view::npos || text.find(' ', space + 1) != std::string_view::npos)
        return FormatError(where + " must be two tokens separated by one space");
      out->merges.emplace_back(text.substr(0, space), text.substr(space + 1));
      continue;
    }
    if (merge.is_object()) return FormatError(where + " must not contain objects");
    if (!merge.is_array()) return FormatError(where + " must be a string or a pair of strings");
    std::vector<std::string_view> pair;
    for (dom::element part : dom::array(merge)) {
      if (part.is_object()) return FormatError(where + " must not contain objects");
      if (part.is_array()) return FormatError(where + " must hold strings");
      if (!part.is_string()) return FormatError(where + " must be a string or a pair of strings");
      pair.push_back(std::string_view(part));
    }
    if (pair.size() != 2) return FormatError(where + " must be a pair of strings");
    out->merges.emplace_back(pair[0], pair[1]);
  }
  return Status::Ok();
}

}  // namespace

Result<TokenizerJson> ReadTokenizerJson(std::string_view text, const std::string& origin) {
  const simdjson::padded_string padded(text);
  dom::parser parser;
  dom::element doc;
  if (const auto error = parser.parse(padded).get(doc); error != simdjson::SUCCESS)
    return FormatError(origin + ": not valid JSON: " + simdjson::error_message(error));
  TokenizerJson out;
  if (!doc.is_object()) {
    out.root = ToJson(doc);
    return out;
  }
  out.root = json::object();
  for (dom::key_value_pair top : dom::object(doc)) {
    if (top.key != "model" || !top.value.is_object()) {
      out.root[std::string(top.key)] = ToJson(top.value);
      continue;
    }
    json model = json::object();
    for (dom::key_value_pair field : dom::object(top.value)) {
      Status read = Status::Ok();
      if (field.key == "vocab" && field.value.is_object()) {
        read = ReadVocab(dom::object(field.value), &out);
      } else if (field.key == "merges" && field.value.is_array()) {
        read = ReadMerges(dom::array(field.value), &out);
      } else {
        model[std::string(field.key)] = ToJson(field.value);
      }
      if (!read.ok()) return FormatError(origin + ": " + read.message());
    }
    out.root["model"] = std::move(model);
  }
  return out;
}

}  // namespace dsv32

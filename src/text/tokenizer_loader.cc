// Reads tokenizer.json and tokenizer_config.json into a Tokenizer. Every
// field is type-checked before use, so a malformed file is an error naming
// the field, never an exception or a crash. Features of the format that
// DeepSeek's files do not use are refused as Unsupported rather than
// silently encoded differently from the reference.
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "text/byte_level.h"
#include "text/tokenizer.h"
#include "text/tokenizer_json_reader.h"

namespace dsv32 {

using json = nlohmann::json;

namespace {

// Ids beyond this are taken for a corrupt file rather than allocated for.
constexpr int64_t kMaxTokenId = int64_t{1} << 24;

// The GPT-2 split that ByteLevel applies itself when "use_regex" is true.
constexpr char kByteLevelPattern[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

Result<json> ParseJson(std::string_view text, const std::string& origin) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    return FormatError(origin + ": not valid JSON: " + e.what());
  }
}

const json* Field(const json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

// Whether `object` is an object whose "type" is the string `type`.
bool HasType(const json& object, const char* type) {
  const json* t = Field(object, "type");
  return t && t->is_string() && t->get_ref<const std::string&>() == type;
}

// A boolean field that must be absent, null or `expected`.
Status Expect(const json& object, const char* key, bool expected, const std::string& where) {
  const json* v = Field(object, key);
  if (v == nullptr) return Status::Ok();
  if (!v->is_boolean()) return FormatError(where + ": '" + key + "' must be true or false");
  if (v->get<bool>() != expected)
    return Unsupported(where + ": '" + key + "' = " + (expected ? "false" : "true") +
                       " is not supported");
  return Status::Ok();
}

Result<std::string> String(const json& object, const char* key, const std::string& where) {
  const json* v = Field(object, key);
  if (v == nullptr || !v->is_string())
    return FormatError(where + ": '" + key + "' must be a string");
  return v->get<std::string>();
}

Result<int32_t> TokenIdField(int64_t id, const std::string& where) {
  if (id < 0 || id >= kMaxTokenId)
    return FormatError(where + " = " + std::to_string(id) + " is out of range");
  return static_cast<int32_t>(id);
}

Result<int32_t> TokenIdField(const json& v, const std::string& where) {
  if (!v.is_number_integer()) return FormatError(where + " must be an integer id");
  const int64_t id = v.get<int64_t>();
  if (id < 0 || id >= kMaxTokenId)
    return FormatError(where + " = " + std::to_string(id) + " is out of range");
  return static_cast<int32_t>(id);
}

Status CheckNormalizer(const json& root, const std::string& origin) {
  const json* n = Field(root, "normalizer");
  if (n == nullptr) return Status::Ok();
  const json* list = Field(*n, "normalizers");
  if (HasType(*n, "Sequence") && list && list->is_array() && list->empty()) return Status::Ok();
  return Unsupported(origin + ": only an empty normalizer is supported");
}

Status AddPreTokenizer(const json& p, const std::string& where, bool* saw_byte_level,
                       std::vector<PreTokenizer::Split>* splits) {
  if (!p.is_object()) return FormatError(where + " must be an object");
  DSV32_ASSIGN_OR_RETURN(std::string type, String(p, "type", where));
  if (*saw_byte_level)
    return Unsupported(where + ": a '" + type + "' step after ByteLevel is not supported");
  if (type == "Sequence") {
    const json* list = Field(p, "pretokenizers");
    if (list == nullptr || !list->is_array())
      return FormatError(where + ": 'pretokenizers' must be an array");
    for (size_t i = 0; i < list->size(); ++i)
      DSV32_RETURN_IF_ERROR(AddPreTokenizer((*list)[i], where + "[" + std::to_string(i) + "]",
                                            saw_byte_level, splits));
    return Status::Ok();
  }
  if (type == "Split") {
    DSV32_ASSIGN_OR_RETURN(std::string behavior, String(p, "behavior", where));
    if (behavior != "Isolated")
      return Unsupported(where + ": split behavior '" + behavior + "' is not supported");
    DSV32_RETURN_IF_ERROR(Expect(p, "invert", false, where));
    const json* pattern = Field(p, "pattern");
    if (pattern == nullptr || !pattern->is_object())
      return FormatError(where + ": 'pattern' must be an object");
    if (Field(*pattern, "Regex")) {
      DSV32_ASSIGN_OR_RETURN(std::string regex, String(*pattern, "Regex", where + ".pattern"));
      splits->push_back({std::move(regex), false});
    } else {
      DSV32_ASSIGN_OR_RETURN(std::string text, String(*pattern, "String", where + ".pattern"));
      splits->push_back({std::move(text), true});
    }
    return Status::Ok();
  }
  if (type == "ByteLevel") {
    DSV32_RETURN_IF_ERROR(Expect(p, "add_prefix_space", false, where));
    const json* use_regex = Field(p, "use_regex");
    if (use_regex && !use_regex->is_boolean())
      return FormatError(where + ": 'use_regex' must be true or false");
    if (use_regex == nullptr || use_regex->get<bool>())
      splits->push_back({kByteLevelPattern, false});
    *saw_byte_level = true;
    return Status::Ok();
  }
  return Unsupported(where + ": pre-tokenizer type '" + type + "' is not supported");
}

Result<std::vector<PreTokenizer::Split>> ReadPreTokenizer(const json& root,
                                                          const std::string& origin) {
  const json* p = Field(root, "pre_tokenizer");
  if (p == nullptr) return Unsupported(origin + ": a ByteLevel pre_tokenizer is required");
  std::vector<PreTokenizer::Split> splits;
  bool saw_byte_level = false;
  DSV32_RETURN_IF_ERROR(AddPreTokenizer(*p, origin + ": pre_tokenizer", &saw_byte_level, &splits));
  if (!saw_byte_level) return Unsupported(origin + ": a ByteLevel pre_tokenizer is required");
  return splits;
}

Status CheckDecoder(const json& root, const std::string& origin) {
  const json* d = Field(root, "decoder");
  if (d && HasType(*d, "ByteLevel")) return Status::Ok();
  return Unsupported(origin + ": only the ByteLevel decoder is supported");
}

Status CheckModel(const json& model, const std::string& where) {
  if (!model.is_object()) return FormatError(where + " must be an object");
  const json* type = Field(model, "type");
  if (type && (!type->is_string() || type->get<std::string>() != "BPE"))
    return Unsupported(where + ": only the BPE model is supported");
  if (Field(model, "dropout")) return Unsupported(where + ": BPE dropout is not supported");
  DSV32_RETURN_IF_ERROR(Expect(model, "byte_fallback", false, where));
  DSV32_RETURN_IF_ERROR(Expect(model, "ignore_merges", false, where));
  for (const char* affix : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    const json* v = Field(model, affix);
    if (v && !(v->is_string() && v->get<std::string>().empty()))
      return Unsupported(where + ": '" + affix + "' is not supported");
  }
  return Status::Ok();
}

Result<std::string> ReadFile(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    return NotFound(path.string() + ": no such file");
  std::ifstream in(path, std::ios::binary);
  if (!in) return IoError(path.string() + ": cannot open");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return IoError(path.string() + ": read failed");
  return text.str();
}

// tokenizer_config.json names special tokens as a string or as an
// AddedToken object with "content".
Result<std::optional<std::string>> ConfigToken(const json& config, const char* key,
                                               const std::string& origin) {
  const json* v = Field(config, key);
  if (v == nullptr) return std::optional<std::string>();
  if (v->is_string()) return std::optional<std::string>(v->get<std::string>());
  DSV32_ASSIGN_OR_RETURN(std::string content, String(*v, "content", origin + ": " + key));
  return std::optional<std::string>(std::move(content));
}

}  // namespace

class TokenizerLoader {
 public:
  static Result<std::unique_ptr<Tokenizer>> Build(TokenizerJson file, const json& config,
                                                  const std::string& origin);
};

Result<std::unique_ptr<Tokenizer>> TokenizerLoader::Build(TokenizerJson file, const json& config,
                                                          const std::string& origin) {
  const json& root = file.root;
  const std::string json_origin = origin + "/tokenizer.json";
  if (!root.is_object()) return FormatError(json_origin + ": must be a JSON object");
  DSV32_RETURN_IF_ERROR(CheckNormalizer(root, json_origin));
  DSV32_RETURN_IF_ERROR(CheckDecoder(root, json_origin));
  const json* model = Field(root, "model");
  if (model == nullptr) return FormatError(json_origin + ": 'model' is missing");
  DSV32_RETURN_IF_ERROR(CheckModel(*model, json_origin + ": model"));

  if (!file.has_vocab) return FormatError(json_origin + ": model.vocab must be an object");
  std::unordered_map<std::string, int32_t> vocab_ids;
  vocab_ids.reserve(file.vocab.size());
  int32_t limit = 0;
  for (auto& [text, raw_id] : file.vocab) {
    DSV32_ASSIGN_OR_RETURN(int32_t id,
                           TokenIdField(raw_id, json_origin + ": model.vocab['" + text + "']"));
    limit = std::max(limit, id + 1);
    if (!vocab_ids.emplace(std::move(text), id).second)
      return FormatError(json_origin + ": model.vocab lists a token twice (id " +
                         std::to_string(id) + ")");
  }
  file.vocab = {};

  std::array<int32_t, 256> byte_ids{};
  for (int b = 0; b < 256; ++b) {
    auto it = vocab_ids.find(ByteLevelToken(static_cast<uint8_t>(b)));
    if (it == vocab_ids.end())
      return Unsupported(json_origin + ": model.vocab has no token for byte " + std::to_string(b));
    byte_ids[b] = it->second;
  }

  if (!file.has_merges) return FormatError(json_origin + ": model.merges must be an array");
  std::vector<BpeMerge> merges;
  merges.reserve(file.merges.size());
  std::string joined;
  for (size_t i = 0; i < file.merges.size(); ++i) {
    const auto& [left, right] = file.merges[i];
    joined.assign(left).append(right);
    auto l = vocab_ids.find(left);
    auto r = vocab_ids.find(right);
    auto m = vocab_ids.find(joined);
    if (l == vocab_ids.end() || r == vocab_ids.end() || m == vocab_ids.end())
      return FormatError(json_origin + ": model.merges[" + std::to_string(i) + "] ('" + left + " " +
                         right + "') uses a token not in the vocab");
    merges.push_back({l->second, r->second, m->second});
  }
  file.merges = {};
  DSV32_ASSIGN_OR_RETURN(BpeModel bpe, BpeModel::Build(byte_ids, merges));

  DSV32_ASSIGN_OR_RETURN(std::vector<PreTokenizer::Split> splits,
                         ReadPreTokenizer(root, json_origin));
  DSV32_ASSIGN_OR_RETURN(PreTokenizer pre, PreTokenizer::Build(splits));

  std::vector<AddedToken> added_tokens;
  if (const json* list = Field(root, "added_tokens")) {
    if (!list->is_array()) return FormatError(json_origin + ": 'added_tokens' must be an array");
    for (size_t i = 0; i < list->size(); ++i) {
      const json& t = (*list)[i];
      const std::string where = json_origin + ": added_tokens[" + std::to_string(i) + "]";
      if (!t.is_object()) return FormatError(where + " must be an object");
      AddedToken token;
      const json* id = Field(t, "id");
      if (id == nullptr) return FormatError(where + ": 'id' is missing");
      DSV32_ASSIGN_OR_RETURN(token.id, TokenIdField(*id, where + ".id"));
      DSV32_ASSIGN_OR_RETURN(token.content, String(t, "content", where));
      const json* special = Field(t, "special");
      if (special && !special->is_boolean())
        return FormatError(where + ": 'special' must be true or false");
      token.special = special && special->get<bool>();
      // The reference's default: special tokens are matched before normalization.
      const json* normalized = Field(t, "normalized");
      if (normalized && !normalized->is_boolean())
        return FormatError(where + ": 'normalized' must be true or false");
      token.normalized = normalized ? normalized->get<bool>() : !token.special;
      for (const char* flag : {"lstrip", "rstrip", "single_word"})
        DSV32_RETURN_IF_ERROR(Expect(t, flag, false, where));
      limit = std::max(limit, token.id + 1);
      added_tokens.push_back(std::move(token));
    }
  }
  DSV32_ASSIGN_OR_RETURN(AddedVocabulary added, AddedVocabulary::Build(added_tokens));

  auto tok =
      std::unique_ptr<Tokenizer>(new Tokenizer(std::move(bpe), std::move(pre), std::move(added)));
  tok->bpe_vocab_size_ = vocab_ids.size();
  tok->bytes_.resize(limit);
  tok->flags_.assign(limit, 0);
  // The byte-level decoder turns each token's text back into bytes; text
  // outside its alphabet (most added tokens) stands for its own UTF-8.
  auto set = [&](const std::string& text, int32_t id, uint8_t flags) {
    tok->bytes_[id] = ByteLevelToBytes(text).value_or(text);
    tok->flags_[id] = Tokenizer::kPresent | flags;
  };
  for (const auto& [text, id] : vocab_ids) set(text, id, 0);
  tok->ids_by_text_ = std::move(vocab_ids);
  // Added tokens come second: their text wins where an id is in both.
  for (const AddedToken& t : tok->added_.tokens()) {
    set(t.content, t.id, t.special ? Tokenizer::kSpecial : 0);
    tok->ids_by_text_[t.content] = t.id;
  }

  const std::string config_origin = origin + "/tokenizer_config.json";
  if (!config.is_object()) return FormatError(config_origin + ": must be a JSON object");
  const json* add_bos = Field(config, "add_bos_token");
  if (add_bos && !add_bos->is_boolean())
    return FormatError(config_origin + ": 'add_bos_token' must be true or false");
  tok->add_bos_token_ = add_bos && add_bos->get<bool>();
  for (auto [key, out] : {std::pair{"bos_token", &tok->bos_id_}, {"eos_token", &tok->eos_id_}}) {
    DSV32_ASSIGN_OR_RETURN(std::optional<std::string> text,
                           ConfigToken(config, key, config_origin));
    if (!text) continue;
    const auto id = tok->TokenId(*text);
    if (!id) return FormatError(config_origin + ": " + key + " '" + *text + "' is not a token");
    *out = *id;
  }
  if (tok->add_bos_token_ && tok->bos_id_ < 0)
    return FormatError(config_origin + ": add_bos_token is true but bos_token is missing");
  return tok;
}

Result<std::unique_ptr<Tokenizer>> Tokenizer::FromJson(std::string_view tokenizer_json,
                                                       std::string_view config_json,
                                                       const std::string& origin) {
  DSV32_ASSIGN_OR_RETURN(TokenizerJson file,
                         ReadTokenizerJson(tokenizer_json, origin + "/tokenizer.json"));
  DSV32_ASSIGN_OR_RETURN(json config, ParseJson(config_json, origin + "/tokenizer_config.json"));
  return TokenizerLoader::Build(std::move(file), config, origin);
}

Result<std::unique_ptr<Tokenizer>> Tokenizer::Load(const std::filesystem::path& dir) {
  DSV32_ASSIGN_OR_RETURN(std::string tokenizer_json, ReadFile(dir / "tokenizer.json"));
  DSV32_ASSIGN_OR_RETURN(std::string config_json, ReadFile(dir / "tokenizer_config.json"));
  return FromJson(tokenizer_json, config_json, dir.string());
}

}  // namespace dsv32

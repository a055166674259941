#include "text/tokenizer_json_reader.h"

namespace dsv32 {

namespace {

using json = nlohmann::json;

// SAX handler: builds the tree itself, except inside model.vocab and
// model.merges, where it fills the flat vectors. Returning false stops the
// parse; `error` then says why.
class Reader : public nlohmann::json_sax<json> {
 public:
  explicit Reader(TokenizerJson* out) : out_(out) {}

  std::string error;

  bool null() override { return Value(json()); }
  bool boolean(bool v) override { return Value(json(v)); }
  bool number_integer(number_integer_t v) override {
    if (mode_ == Mode::kVocab) return VocabEntry(v);
    return Value(json(v));
  }
  bool number_unsigned(number_unsigned_t v) override {
    if (mode_ == Mode::kVocab)
      return VocabEntry(v > INT64_MAX ? INT64_MAX : static_cast<int64_t>(v));
    return Value(json(v));
  }
  bool number_float(number_float_t v, const string_t&) override { return Value(json(v)); }
  bool string(string_t& v) override {
    if (mode_ == Mode::kMerges) return MergeString(v);
    if (mode_ == Mode::kMergePair) {
      pair_.push_back(std::move(v));
      return true;
    }
    return Value(json(std::move(v)));
  }
  bool binary(binary_t&) override { return Fail("binary values are not JSON"); }

  bool start_object(std::size_t) override {
    if (mode_ == Mode::kDom && InModel() && key_ == "vocab") {
      mode_ = Mode::kVocab;
      out_->has_vocab = true;
      return true;
    }
    if (mode_ != Mode::kDom) return Fail(Where() + " must not contain objects");
    return Open(json::object());
  }
  bool key(string_t& k) override {
    key_ = std::move(k);
    return true;
  }
  bool end_object() override {
    if (mode_ == Mode::kVocab) {
      mode_ = Mode::kDom;
      return true;
    }
    return Close();
  }
  bool start_array(std::size_t) override {
    if (mode_ == Mode::kDom && InModel() && key_ == "merges") {
      mode_ = Mode::kMerges;
      out_->has_merges = true;
      return true;
    }
    if (mode_ == Mode::kMerges) {
      mode_ = Mode::kMergePair;
      pair_.clear();
      return true;
    }
    if (mode_ != Mode::kDom) return Fail(Where() + " must hold strings");
    return Open(json::array());
  }
  bool end_array() override {
    if (mode_ == Mode::kMergePair) {
      mode_ = Mode::kMerges;
      if (pair_.size() != 2) return Fail(Where() + " must be a pair of strings");
      out_->merges.emplace_back(std::move(pair_[0]), std::move(pair_[1]));
      return true;
    }
    if (mode_ == Mode::kMerges) {
      mode_ = Mode::kDom;
      return true;
    }
    return Close();
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    return Fail(std::string("not valid JSON: ") + e.what());
  }

 private:
  enum class Mode { kDom, kVocab, kMerges, kMergePair };
  struct Frame {
    json* node;
    std::string key;  // the key this container sits under in its parent
  };

  bool Fail(std::string why) {
    if (error.empty()) error = std::move(why);
    return false;
  }

  // Inside the top-level "model" object.
  bool InModel() const {
    return stack_.size() == 2 && stack_[1].key == "model" && stack_[1].node->is_object();
  }

  std::string Where() const {
    if (mode_ == Mode::kVocab) return "model.vocab['" + key_ + "']";
    return "model.merges[" + std::to_string(out_->merges.size()) + "]";
  }

  bool VocabEntry(int64_t id) {
    out_->vocab.emplace_back(std::move(key_), id);
    return true;
  }

  bool MergeString(std::string& merge) {
    const size_t space = merge.find(' ');
    if (space == std::string::npos || merge.find(' ', space + 1) != std::string::npos)
      return Fail(Where() + " must be two tokens separated by one space");
    out_->merges.emplace_back(merge.substr(0, space), merge.substr(space + 1));
    return true;
  }

  // Places a value in the open container, or makes it the root.
  json* Place(json value) {
    if (stack_.empty()) {
      out_->root = std::move(value);
      return &out_->root;
    }
    json& parent = *stack_.back().node;
    if (parent.is_array()) {
      parent.push_back(std::move(value));
      return &parent.back();
    }
    json& slot = parent[key_];
    slot = std::move(value);
    return &slot;
  }

  bool Value(json value) {
    if (mode_ == Mode::kVocab) return Fail(Where() + " must be an integer id");
    if (mode_ != Mode::kDom) return Fail(Where() + " must be a string or a pair of strings");
    Place(std::move(value));
    return true;
  }

  bool Open(json container) {
    std::string key = !stack_.empty() && stack_.back().node->is_object() ? key_ : "";
    json* node = Place(std::move(container));
    stack_.push_back({node, std::move(key)});
    return true;
  }

  bool Close() {
    stack_.pop_back();
    return true;
  }

  TokenizerJson* out_;
  Mode mode_ = Mode::kDom;
  std::vector<Frame> stack_;
  std::string key_;
  std::vector<std::string> pair_;
};

}  // namespace

Result<TokenizerJson> ReadTokenizerJson(std::string_view text, const std::string& origin) {
  TokenizerJson out;
  Reader reader(&out);
  const bool ok = json::sax_parse(text, &reader);
  if (!ok)
    return FormatError(origin + ": " + (reader.error.empty() ? "not valid JSON" : reader.error));
  return out;
}

}  // namespace dsv32

// Missing, malformed and unsupported tokenizer files are clear errors.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "text/byte_level.h"
#include "text/tokenizer.h"

namespace dsv32 {
namespace {

using json = nlohmann::json;

// A small but complete tokenizer.json: the 256 byte tokens, one merge
// ("h" + "i"), the DeepSeek pre-tokenizer layout and two added tokens.
json MiniTokenizer() {
  json vocab = json::object();
  for (int b = 0; b < 256; ++b) vocab[ByteLevelToken(static_cast<uint8_t>(b))] = b + 2;
  vocab["hi"] = 258;
  return {
      {"version", "1.0"},
      {"normalizer", {{"type", "Sequence"}, {"normalizers", json::array()}}},
      {"pre_tokenizer",
       {{"type", "Sequence"},
        {"pretokenizers",
         {{{"type", "Split"},
           {"pattern", {{"Regex", "\\p{N}{1,3}"}}},
           {"behavior", "Isolated"},
           {"invert", false}},
          {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}}}}}},
      {"decoder", {{"type", "ByteLevel"}}},
      {"added_tokens",
       {{{"id", 0}, {"content", "<s>"}, {"special", true}, {"normalized", false}},
        {{"id", 1}, {"content", "</s>"}, {"special", true}, {"normalized", false}}}},
      {"model", {{"type", "BPE"}, {"dropout", nullptr}, {"vocab", vocab}, {"merges", {"h i"}}}}};
}

json MiniConfig() { return {{"add_bos_token", true}, {"bos_token", "<s>"}, {"eos_token", "</s>"}}; }

Status Load(const json& tokenizer, const json& config) {
  return Tokenizer::FromJson(tokenizer.dump(), config.dump(), "mini").status();
}

void ExpectError(const Status& s, StatusCode code, const std::string& mentions) {
  EXPECT_EQ(s.code(), code) << s.message();
  EXPECT_NE(s.message().find(mentions), std::string::npos) << s.message();
}

TEST(TokenizerErrorsTest, TheMiniTokenizerWorks) {
  auto tok = Tokenizer::FromJson(MiniTokenizer().dump(), MiniConfig().dump(), "mini");
  ASSERT_TRUE(tok.ok()) << tok.status().message();
  auto ids = (*tok)->Encode("hi 12345</s>", {.add_bos = true});
  ASSERT_TRUE(ids.ok()) << ids.status().message();
  // "hi", " ", "123", "45" as bytes, then </s>.
  EXPECT_EQ(*ids, (std::vector<int32_t>{0, 258, ' ' + 2, '1' + 2, '2' + 2, '3' + 2, '4' + 2,
                                        '5' + 2, 1}));
  EXPECT_EQ((*tok)->Decode(*ids).value(), "<s>hi 12345</s>");
}

TEST(TokenizerErrorsTest, MergesMayBePairs) {
  json t = MiniTokenizer();
  t["model"]["merges"] = json::array({json::array({"h", "i"})});
  auto tok = Tokenizer::FromJson(t.dump(), MiniConfig().dump(), "mini");
  ASSERT_TRUE(tok.ok()) << tok.status().message();
  EXPECT_EQ((*tok)->Encode("hi").value(), (std::vector<int32_t>{258}));
  EXPECT_EQ((*tok)->merge_count(), 1u);
}

TEST(TokenizerErrorsTest, MissingFilesAreNotFound) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("dsv32_tokenizer_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  ExpectError(Tokenizer::Load(dir).status(), StatusCode::kNotFound, "tokenizer.json");
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "tokenizer.json") << MiniTokenizer().dump();
  ExpectError(Tokenizer::Load(dir).status(), StatusCode::kNotFound, "tokenizer_config.json");
  std::ofstream(dir / "tokenizer_config.json") << "{ not json";
  ExpectError(Tokenizer::Load(dir).status(), StatusCode::kFormatError, "not valid JSON");
  std::ofstream(dir / "tokenizer_config.json") << MiniConfig().dump();
  EXPECT_TRUE(Tokenizer::Load(dir).ok());
  std::filesystem::remove_all(dir);
}

TEST(TokenizerErrorsTest, MalformedFieldsAreFormatErrors) {
  const json config = MiniConfig();
  ExpectError(Tokenizer::FromJson("[1,", "{}", "x").status(), StatusCode::kFormatError,
              "not valid JSON");
  ExpectError(Load(json::array(), config), StatusCode::kFormatError, "JSON object");

  json t = MiniTokenizer();
  t.erase("model");
  ExpectError(Load(t, config), StatusCode::kFormatError, "'model'");

  t = MiniTokenizer();
  t["model"]["vocab"] = "nope";
  ExpectError(Load(t, config), StatusCode::kFormatError, "vocab");

  t = MiniTokenizer();
  t["model"]["vocab"]["hi"] = "258";
  ExpectError(Load(t, config), StatusCode::kFormatError, "vocab['hi']");

  t = MiniTokenizer();
  t["model"]["merges"] = {"h i", "x y"};
  ExpectError(Load(t, config), StatusCode::kFormatError, "merges[1]");

  t = MiniTokenizer();
  t["model"]["merges"] = {"hi"};
  ExpectError(Load(t, config), StatusCode::kFormatError, "one space");

  t = MiniTokenizer();
  t["model"]["merges"] = {{"h", "i", "j"}};
  ExpectError(Load(t, config), StatusCode::kFormatError, "pair of strings");

  t = MiniTokenizer();
  t["model"]["merges"] = {7};
  ExpectError(Load(t, config), StatusCode::kFormatError, "merges[0]");

  t = MiniTokenizer();
  t["model"]["vocab"]["x"] = {{"nested", 1}};
  ExpectError(Load(t, config), StatusCode::kFormatError, "model.vocab['x']");

  // Two spellings of one key: a JSON tree keeps one, the streaming reader sees both.
  std::string twice = MiniTokenizer().dump();
  const std::string once = "\"hi\":258";
  twice.replace(twice.find(once), once.size(), once + ",\"hi\":259");
  ExpectError(Tokenizer::FromJson(twice, config.dump(), "mini").status(), StatusCode::kFormatError,
              "twice");

  t = MiniTokenizer();
  t["added_tokens"][0]["id"] = -5;
  ExpectError(Load(t, config), StatusCode::kFormatError, "added_tokens[0]");

  t = MiniTokenizer();
  t["added_tokens"][1]["content"] = "<s>";
  ExpectError(Load(t, config), StatusCode::kFormatError, "twice");

  t = MiniTokenizer();
  t["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "[";
  ExpectError(Load(t, config), StatusCode::kFormatError, "does not compile");

  ExpectError(Load(MiniTokenizer(), {{"bos_token", "<nope>"}}), StatusCode::kFormatError,
              "bos_token");
  ExpectError(Load(MiniTokenizer(), {{"add_bos_token", true}}), StatusCode::kFormatError,
              "bos_token is missing");
  ExpectError(Load(MiniTokenizer(), {{"add_bos_token", "yes"}}), StatusCode::kFormatError,
              "add_bos_token");
}

TEST(TokenizerErrorsTest, UnsupportedFeaturesAreRefused) {
  const json config = MiniConfig();
  json t = MiniTokenizer();
  t["model"]["type"] = "WordPiece";
  ExpectError(Load(t, config), StatusCode::kUnsupported, "BPE");

  t = MiniTokenizer();
  t["model"]["vocab"].erase(ByteLevelToken(0x00));
  ExpectError(Load(t, config), StatusCode::kUnsupported, "byte 0");

  t = MiniTokenizer();
  t["normalizer"] = {{"type", "NFC"}};
  ExpectError(Load(t, config), StatusCode::kUnsupported, "normalizer");

  t = MiniTokenizer();
  t["decoder"] = {{"type", "WordPiece"}};
  ExpectError(Load(t, config), StatusCode::kUnsupported, "decoder");

  // A "type" that is not a string at all (found by fuzzing).
  t = MiniTokenizer();
  t["decoder"] = {{"type", 5}};
  ExpectError(Load(t, config), StatusCode::kUnsupported, "decoder");
  t = MiniTokenizer();
  t["normalizer"]["type"] = json::array();
  ExpectError(Load(t, config), StatusCode::kUnsupported, "normalizer");

  t = MiniTokenizer();
  t["pre_tokenizer"] = {{"type", "Whitespace"}};
  ExpectError(Load(t, config), StatusCode::kUnsupported, "Whitespace");

  t = MiniTokenizer();
  t["pre_tokenizer"]["pretokenizers"][0]["behavior"] = "Removed";
  ExpectError(Load(t, config), StatusCode::kUnsupported, "Removed");

  t = MiniTokenizer();
  t["added_tokens"][0]["lstrip"] = true;
  ExpectError(Load(t, config), StatusCode::kUnsupported, "lstrip");
}

TEST(TokenizerErrorsTest, TruncatedAndNonUtf8FilesAreNotValidJson) {
  const std::string config = MiniConfig().dump();
  const std::string whole = MiniTokenizer().dump();
  // Cut inside the vocab, inside the merges, and just before the last brace.
  for (const size_t at : {whole.find("\"hi\""), whole.find("\"h i\"") + 2, whole.size() - 1}) {
    ExpectError(Tokenizer::FromJson(whole.substr(0, at), config, "mini").status(),
                StatusCode::kFormatError, "mini/tokenizer.json: not valid JSON");
  }
  std::string bad_utf8 = whole;
  bad_utf8.replace(bad_utf8.find("\"hi\""), 4, "\"h\xff\"");
  ExpectError(Tokenizer::FromJson(bad_utf8, config, "mini").status(), StatusCode::kFormatError,
              "not valid JSON");
}

TEST(TokenizerErrorsTest, VocabIdsAndMergePairsAreChecked) {
  const json config = MiniConfig();
  json t = MiniTokenizer();
  t["model"]["vocab"]["hi"] = 18446744073709551615ull;
  ExpectError(Load(t, config), StatusCode::kFormatError, "out of range");
  t["model"]["vocab"]["hi"] = -1;
  ExpectError(Load(t, config), StatusCode::kFormatError, "out of range");
  t["model"]["vocab"]["hi"] = 258.5;
  ExpectError(Load(t, config), StatusCode::kFormatError, "vocab['hi'] must be an integer id");

  t = MiniTokenizer();
  t["model"]["merges"] = json::array({json::array({"h", json::array({"i"})})});
  ExpectError(Load(t, config), StatusCode::kFormatError, "merges[0] must hold strings");
  t["model"]["merges"] = json::array({json::array({"h", 1})});
  ExpectError(Load(t, config), StatusCode::kFormatError, "merges[0] must be a string or a pair");
  t["model"]["merges"] = json::array({"h i", json::object()});
  ExpectError(Load(t, config), StatusCode::kFormatError, "merges[1] must not contain objects");
}

TEST(TokenizerErrorsTest, OtherFieldsReadAsAJsonTreeWouldHaveThem) {
  // A key given twice outside the vocab keeps its last value, as a JSON
  // tree does: here the second, valid decoder.
  std::string twice = MiniTokenizer().dump();
  const std::string decoder = "\"decoder\":{\"type\":\"ByteLevel\"}";
  ASSERT_NE(twice.find(decoder), std::string::npos);
  twice.replace(twice.find(decoder), decoder.size(),
                "\"decoder\":{\"type\":\"WordPiece\"}," + decoder);
  auto tok = Tokenizer::FromJson(twice, MiniConfig().dump(), "mini");
  ASSERT_TRUE(tok.ok()) << tok.status().message();
  EXPECT_EQ((*tok)->Decode((*tok)->Encode("hi 12").value()).value(), "hi 12");
}

}  // namespace
}  // namespace dsv32

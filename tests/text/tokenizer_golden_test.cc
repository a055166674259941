// Every case of the shared goldens, made with Hugging Face `tokenizers` on
// the same tokenizer files, must come out id for id and byte for byte.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "test_tokenizer.h"

namespace dsv32 {
namespace {

constexpr char kCasesPath[] = DSV32_SHARED_DIR "/tokenizer/cases.jsonl";

struct GoldenCase {
  std::string text;
  std::vector<int32_t> ids;
  std::vector<int32_t> ids_bos;
  std::string decoded;
};

std::vector<GoldenCase> ReadCases(std::string* error) {
  std::vector<GoldenCase> cases;
  std::ifstream in(kCasesPath);
  std::string line;
  for (size_t n = 1; std::getline(in, line); ++n) {
    if (line.empty()) continue;
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      *error = "line " + std::to_string(n) + " is not a JSON object";
      return {};
    }
    cases.push_back({j.at("text").get<std::string>(), j.at("ids").get<std::vector<int32_t>>(),
                     j.at("ids_bos").get<std::vector<int32_t>>(),
                     j.at("decoded").get<std::string>()});
  }
  return cases;
}

TEST(TokenizerGoldenTest, MatchesEveryCase) {
  if (!std::filesystem::exists(kCasesPath))
    GTEST_SKIP() << "golden cases not found at " << kCasesPath
                 << " (set DSV32_SHARED_DIR to the shared reference data)";
  std::string error;
  const std::vector<GoldenCase> cases = ReadCases(&error);
  ASSERT_TRUE(error.empty()) << kCasesPath << ": " << error;
  ASSERT_GT(cases.size(), 100u);
  const Tokenizer& tok = DeepSeekV3Tokenizer();
  size_t failures = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const GoldenCase& c = cases[i];
    SCOPED_TRACE("case " + std::to_string(i + 1) + ": " + c.text.substr(0, 80));
    auto ids = tok.Encode(c.text);
    ASSERT_TRUE(ids.ok()) << ids.status().message();
    EXPECT_EQ(*ids, c.ids);
    auto ids_bos = tok.Encode(c.text, {.add_bos = true});
    ASSERT_TRUE(ids_bos.ok()) << ids_bos.status().message();
    EXPECT_EQ(*ids_bos, c.ids_bos);
    auto decoded = tok.Decode(c.ids);
    ASSERT_TRUE(decoded.ok()) << decoded.status().message();
    EXPECT_EQ(*decoded, c.decoded);
    if (*ids != c.ids || *ids_bos != c.ids_bos || *decoded != c.decoded) ++failures;
    if (failures > 20) FAIL() << "stopping after 20 failing cases";
  }
}

}  // namespace
}  // namespace dsv32

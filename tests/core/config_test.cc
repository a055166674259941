#include "core/config.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace dsv32 {
namespace {

nlohmann::json TinyConfig() {
  std::ifstream in(std::string(DSV32_TEST_DATA_DIR) + "/configs/tiny-v32.json");
  return nlohmann::json::parse(in);
}

Status ParseWith(const std::function<void(nlohmann::json&)>& edit) {
  nlohmann::json j = TinyConfig();
  edit(j);
  return ParseModelConfig(j.dump(), "config.json").status();
}

TEST(ConfigTest, ParsesEveryFieldTheForwardNeeds) {
  auto c = ParseModelConfig(TinyConfig().dump(), "config.json");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->model_type, "deepseek_v32");
  EXPECT_TRUE(c->has_indexer);
  EXPECT_EQ(c->index_topk, 32);
  EXPECT_EQ(*c->q_lora_rank, 192);
  EXPECT_EQ(c->kv_lora_rank, 128);
  EXPECT_EQ(c->qk_head_dim(), 96);
  EXPECT_EQ(c->rope_scaling.type, "yarn");
  EXPECT_EQ(c->rope_scaling.factor, 4.0);
  EXPECT_EQ(c->rope_scaling.original_max_position_embeddings, 4096);
  EXPECT_FALSE(c->is_moe_layer(0));
  EXPECT_TRUE(c->is_moe_layer(1));
}

TEST(ConfigTest, DeepseekV3HasNoIndexer) {
  std::ifstream in(std::string(DSV32_TEST_DATA_DIR) + "/configs/tiny-v3.json");
  std::stringstream ss;
  ss << in.rdbuf();
  auto c = ParseModelConfig(ss.str(), "config.json");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_FALSE(c->has_indexer);
}

TEST(ConfigTest, UnknownScoringFuncNamesTheField) {
  Status s = ParseWith([](auto& j) { j["scoring_func"] = "softmax_v9"; });
  EXPECT_EQ(s.code(), StatusCode::kUnsupported);
  EXPECT_NE(s.message().find("'scoring_func'"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("softmax_v9"), std::string::npos) << s.message();
}

TEST(ConfigTest, MissingAndMistypedFieldsNameTheField) {
  Status s = ParseWith([](auto& j) { j.erase("kv_lora_rank"); });
  EXPECT_NE(s.message().find("missing required field 'kv_lora_rank'"), std::string::npos);
  s = ParseWith([](auto& j) { j["hidden_size"] = "big"; });
  EXPECT_NE(s.message().find("'hidden_size'"), std::string::npos);
  s = ParseWith([](auto& j) { j.erase("index_topk"); });
  EXPECT_NE(s.message().find("'index_topk'"), std::string::npos);
  s = ParseWith([](auto& j) { j["model_type"] = "llama"; });
  EXPECT_NE(s.message().find("'model_type'"), std::string::npos);
  s = ParseWith([](auto& j) { j["rope_scaling"]["type"] = "ntk"; });
  EXPECT_NE(s.message().find("rope_scaling"), std::string::npos);
  s = ParseWith([](auto& j) { j["quantization_config"] = {{"quant_method", "gptq"}}; });
  EXPECT_NE(s.message().find("quant_method"), std::string::npos);
  s = ParseWith([](auto& j) { j["n_group"] = 3; });
  EXPECT_NE(s.message().find("'n_group'"), std::string::npos);
  EXPECT_FALSE(ParseModelConfig("[1,2]", "config.json").ok());
}

}  // namespace
}  // namespace dsv32

// Random-weight checkpoints written by the library itself: determinism,
// sharding, and the errors a broken checkpoint or bad input must give.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/safetensors.h"
#include "core/thread_pool.h"
#include "model/model.h"
#include "model/random_init.h"

namespace dsv32 {
namespace {

namespace fs = std::filesystem;

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string ConfigText(const std::string& name) {
  return ReadText(std::string(DSV32_TEST_DATA_DIR) + "/configs/" + name);
}

class RandomModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("dsv32_rm_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Write(const std::string& sub, const std::string& config, RandomInitOptions options) {
    const std::string out = (dir_ / sub).string();
    Status s = WriteRandomCheckpoint(ConfigText(config), out, options);
    EXPECT_TRUE(s.ok()) << s.message();
    return out;
  }

  static std::vector<float> Logits(const Model& model, const std::vector<int32_t>& tokens) {
    KvCache cache(model.config(), 0);
    ThreadPool pool(2);
    std::vector<float> logits(tokens.size() * static_cast<size_t>(model.config().vocab_size));
    Status s = model.Forward(&cache, tokens, 0, &pool, {}, logits.data());
    EXPECT_TRUE(s.ok()) << s.message();
    return logits;
  }

  fs::path dir_;
  const std::vector<int32_t> tokens_ = {3, 14, 15, 92, 65, 35, 89, 79};
};

TEST_F(RandomModelTest, SameSeedSameBytesAndTheModelRuns) {
  RandomInitOptions options;
  options.seed = 7;
  const std::string a = Write("a", "tiny-v32.json", options);
  const std::string b = Write("b", "tiny-v32.json", options);
  EXPECT_EQ(ReadText(a + "/model.safetensors"), ReadText(b + "/model.safetensors"));
  options.seed = 8;
  const std::string c = Write("c", "tiny-v32.json", options);
  EXPECT_NE(ReadText(a + "/model.safetensors"), ReadText(c + "/model.safetensors"));

  auto model = Model::Load(a);
  ASSERT_TRUE(model.ok()) << model.status().message();
  EXPECT_EQ((*model)->weights().mtp.size(), 1u) << "the MTP layer is recognised";
  for (float v : Logits(**model, tokens_)) ASSERT_TRUE(std::isfinite(v));
}

// Heads of 128 + 128 rows of kv_b_proj start on FP8 blocks of rows, as at
// V3.2's sizes, so the absorbed decode multiplies each head's slices with
// the matrix-vector kernels in place. Decoding token by token that way
// gives the logits of the naive path, which expands keys and values.
TEST_F(RandomModelTest, AbsorbedDecodeOnBlockAlignedHeadsMatchesNaive) {
  nlohmann::json config = nlohmann::json::parse(ConfigText("tiny-v32.json"));
  config["qk_nope_head_dim"] = 128;
  config["v_head_dim"] = 128;
  config["num_hidden_layers"] = 2;
  const std::string dir = (dir_ / "aligned").string();
  RandomInitOptions options;
  options.seed = 11;
  ASSERT_TRUE(WriteRandomCheckpoint(config.dump(), dir, options).ok());
  auto model = Model::Load(dir);
  ASSERT_TRUE(model.ok()) << model.status().message();
  const int64_t vocab = (*model)->config().vocab_size;
  ThreadPool pool(2);
  auto decode = [&](AttentionPath path) {
    KvCache cache((*model)->config(), 0);
    ForwardOptions o;
    o.attention_path = path;
    std::vector<float> logits(tokens_.size() * static_cast<size_t>(vocab));
    for (size_t t = 0; t < tokens_.size(); ++t) {
      const Status s =
          (*model)->Forward(&cache, std::span(tokens_).subspan(t, 1), static_cast<int64_t>(t),
                            &pool, o, logits.data() + t * static_cast<size_t>(vocab));
      EXPECT_TRUE(s.ok()) << s.message();
    }
    return logits;
  };
  const std::vector<float> naive = decode(AttentionPath::kNaive);
  const std::vector<float> absorbed = decode(AttentionPath::kAbsorbed);
  double worst = 0.0, largest = 0.0;
  for (size_t i = 0; i < naive.size(); ++i) {
    worst = std::max(worst, static_cast<double>(std::abs(absorbed[i] - naive[i])));
    largest = std::max(largest, static_cast<double>(std::abs(naive[i])));
  }
  EXPECT_LE(worst, 1e-4 * largest) << "largest logit " << largest;
}

TEST_F(RandomModelTest, ShardedAndSingleFileGiveTheSameLogits) {
  RandomInitOptions options;
  options.dtype = InitDType::kBf16;
  const std::string single = Write("single", "tiny-v32.json", options);
  options.max_shard_bytes = 1 << 20;
  const std::string sharded = Write("sharded", "tiny-v32.json", options);
  EXPECT_TRUE(fs::exists(sharded + "/model.safetensors.index.json"));
  auto m1 = Model::Load(single);
  auto m2 = Model::Load(sharded);
  ASSERT_TRUE(m1.ok() && m2.ok());
  EXPECT_EQ(Logits(**m1, tokens_), Logits(**m2, tokens_));
}

TEST_F(RandomModelTest, DeepseekV3WithoutIndexerRuns) {
  const std::string dir = Write("v3", "tiny-v3.json", {});
  auto model = Model::Load(dir);
  ASSERT_TRUE(model.ok()) << model.status().message();
  EXPECT_FALSE((*model)->config().has_indexer);
  // Cached decoding equals the full forward on the dense path too.
  const std::vector<float> full = Logits(**model, tokens_);
  KvCache cache((*model)->config(), 0);
  ThreadPool pool(1);
  const int64_t vocab = (*model)->config().vocab_size;
  std::vector<float> step(static_cast<size_t>(vocab));
  for (size_t i = 0; i < tokens_.size(); ++i)
    ASSERT_TRUE((*model)->Forward(&cache, std::span(tokens_).subspan(i, 1), static_cast<int64_t>(i),
                                  &pool, {}, step.data()).ok());
  for (int64_t v = 0; v < vocab; ++v)
    EXPECT_NEAR(step[static_cast<size_t>(v)], full[(tokens_.size() - 1) * static_cast<size_t>(vocab) + static_cast<size_t>(v)], 1e-4);
}

TEST_F(RandomModelTest, MissingTensorAndWrongDtypeNameTheTensor) {
  RandomInitOptions options;
  options.max_shard_bytes = 1 << 20;
  const std::string dir = Write("broken", "tiny-v32.json", options);
  const std::string index_path = dir + "/model.safetensors.index.json";
  nlohmann::json index = nlohmann::json::parse(ReadText(index_path));
  const std::string victim = "model.layers.1.self_attn.q_a_proj.weight";

  nlohmann::json missing = index;
  missing["weight_map"].erase(victim);
  std::ofstream(index_path) << missing.dump();
  auto m = Model::Load(dir);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kNotFound);
  EXPECT_NE(m.status().message().find(victim), std::string::npos) << m.status().message();

  // Point the name at an I32 tensor of the right shape in an extra shard.
  std::vector<int32_t> ints(192 * 256);
  ASSERT_TRUE(WriteSafetensors(dir + "/extra.safetensors",
                               {{victim, DType::kI32, {192, 256}, ints.data(), ints.size() * 4}})
                  .ok());
  nlohmann::json wrong = index;
  wrong["weight_map"][victim] = "extra.safetensors";
  std::ofstream(index_path) << wrong.dump();
  m = Model::Load(dir);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find(victim), std::string::npos) << m.status().message();
  EXPECT_NE(m.status().message().find("dtype I32"), std::string::npos) << m.status().message();
}

TEST_F(RandomModelTest, BadTokensAndPositionsAreErrors) {
  const std::string dir = Write("m", "tiny-v32.json", {});
  auto model = Model::Load(dir);
  ASSERT_TRUE(model.ok());
  const int64_t vocab = (*model)->config().vocab_size;
  KvCache cache((*model)->config(), 8);
  ThreadPool pool(1);
  std::vector<float> logits(static_cast<size_t>(16 * vocab));

  const std::vector<int32_t> too_big = {1, static_cast<int32_t>(vocab)};
  Status s = (*model)->Forward(&cache, too_big, 0, &pool, {}, logits.data());
  EXPECT_EQ(s.code(), StatusCode::kOutOfRange);
  EXPECT_NE(s.message().find("token id " + std::to_string(vocab)), std::string::npos) << s.message();
  const std::vector<int32_t> negative = {-1};
  EXPECT_EQ((*model)->Forward(&cache, negative, 0, &pool, {}, logits.data()).code(),
            StatusCode::kOutOfRange);

  const std::vector<int32_t> nine(9, 1);
  s = (*model)->Forward(&cache, nine, 0, &pool, {}, logits.data());
  EXPECT_EQ(s.code(), StatusCode::kOutOfRange);
  EXPECT_NE(s.message().find("does not fit"), std::string::npos) << s.message();

  const std::vector<int32_t> one = {1};
  s = (*model)->Forward(&cache, one, 3, &pool, {}, logits.data());
  EXPECT_EQ(s.code(), StatusCode::kOutOfRange) << "a gap before position 3";
  EXPECT_EQ(cache.length(), 0);
  EXPECT_EQ((*model)->Forward(&cache, {}, 0, &pool, {}, logits.data()).code(),
            StatusCode::kInvalidArgument);
}

TEST_F(RandomModelTest, BadConfigIsAClearError) {
  const std::string dir = Write("cfg", "tiny-v32.json", {});
  nlohmann::json config = nlohmann::json::parse(ReadText(dir + "/config.json"));
  config["scoring_func"] = "softplus";
  std::ofstream(dir + "/config.json") << config.dump();
  auto m = Model::Load(dir);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(m.status().message().find("scoring_func"), std::string::npos);
}

}  // namespace
}  // namespace dsv32

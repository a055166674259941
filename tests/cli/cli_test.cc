// The dsv32 tool's command-line contracts, run as a user would run them.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/run_dsv32.h"
#include "core/safetensors.h"
#include "model/golden.h"

namespace dsv32 {
namespace {

namespace fs = std::filesystem;

using testing::CommandRun;
using testing::Dsv32;

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("dsv32_cli_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }
  // Writes a random model of tests/data/configs/<config> to `out`; call it
  // under ASSERT_NO_FATAL_FAILURE.
  void InitRandom(const std::string& config, const std::string& out,
                  const std::string& flags = "") const {
    const CommandRun r = Dsv32("init-random --config " + std::string(DSV32_TEST_DATA_DIR) +
                               "/configs/" + config + " --out " + out + flags + " --quiet");
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  fs::path dir_;
};

TEST_F(CliTest, ScoreReproducesTheGoldenLogits) {
  const std::string fixture = testing::FixtureDir("tiny-a");
  if (!fs::exists(fixture)) GTEST_SKIP() << "fixture tiny-a not found at " << fixture;
  const CommandRun r =
      Dsv32("score --model " + fixture + " --input " + fixture + "/golden.safetensors --out " +
            Path("out.safetensors") + " --threads 2");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto out = SafetensorsFile::Open(Path("out.safetensors"));
  ASSERT_TRUE(out.ok()) << out.status().message();
  const TensorView* logits = (*out)->Find("logits");
  ASSERT_NE(logits, nullptr);
  EXPECT_EQ(logits->dtype, DType::kF32);
  auto golden = testing::Golden::Open(fixture);
  EXPECT_EQ(logits->shape, golden->Shape("logits"));
  const std::vector<float> values(logits->as<float>(), logits->as<float>() + logits->numel());
  const auto stats = testing::CompareRows(values, golden->F32("logits"), logits->shape[1]);
  EXPECT_LE(stats.worst_rel_error, 1e-4);
}

// The same logits over a TP x EP x DP mesh of simulated devices, with the
// per-device accounting on stderr.
TEST_F(CliTest, ScoreOverAMeshReproducesTheGoldenLogits) {
  const std::string fixture = testing::FixtureDir("tiny-a");
  if (!fs::exists(fixture)) GTEST_SKIP() << "fixture tiny-a not found at " << fixture;
  const CommandRun r =
      Dsv32("score --model " + fixture + " --input " + fixture + "/golden.safetensors --out " +
            Path("out.safetensors") + " --mesh tp=2,ep=2,dp=2 --stats");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("mesh tp=2,ep=2,dp=2 (inprocess): 8 devices"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("sent by collective: all_reduce"), std::string::npos) << r.output;
  auto out = SafetensorsFile::Open(Path("out.safetensors"));
  ASSERT_TRUE(out.ok()) << out.status().message();
  const TensorView* logits = (*out)->Find("logits");
  ASSERT_NE(logits, nullptr);
  auto golden = testing::Golden::Open(fixture);
  EXPECT_EQ(logits->shape, golden->Shape("logits"));
  const std::vector<float> values(logits->as<float>(), logits->as<float>() + logits->numel());
  EXPECT_LE(testing::CompareRows(values, golden->F32("logits"), logits->shape[1]).worst_rel_error,
            1e-4);
}

TEST_F(CliTest, InitRandomThenInfo) {
  const std::string model = Path("model");
  ASSERT_NO_FATAL_FAILURE(InitRandom("tiny-v3.json", model, " --seed 5 --dtype bf16"));
  CommandRun r = Dsv32("info --model " + model);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("deepseek_v3"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("parameters"), std::string::npos);
  EXPECT_NE(r.output.find("KV bytes/token"), std::string::npos);
  EXPECT_NE(r.output.find("BF16"), std::string::npos);
}

TEST_F(CliTest, QuantizeToInt4ThenScore) {
  const std::string fixture = testing::FixtureDir("tiny-a");
  if (!fs::exists(fixture)) GTEST_SKIP() << "fixture tiny-a not found at " << fixture;
  const std::string model = Path("int4");
  CommandRun r = Dsv32("quantize --model " + fixture + " --out " + model +
                       " --to int4 --group 128 --zero-point --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = Dsv32("info --model " + model);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("U8"), std::string::npos) << r.output;
  r = Dsv32("score --model " + model + " --input " + fixture + "/golden.safetensors --out " +
            Path("out.safetensors"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  r = Dsv32("quantize --model " + fixture + " --out " + Path("x") + " --to int3");
  EXPECT_NE(r.exit_code, 0);
}

TEST_F(CliTest, BenchJsonHasTheContractKeys) {
  const std::string model = Path("model");
  ASSERT_NO_FATAL_FAILURE(InitRandom("tiny-v32.json", model));
  CommandRun r =
      Dsv32("bench --model " + model + " --prompt-len 16 --gen-len 4 --threads 1 --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.output;
  for (const char* key :
       {"prefill_tokens_per_s", "decode_tokens_per_s", "decode_bytes_per_token"}) {
    ASSERT_TRUE(j.contains(key)) << key;
    EXPECT_GT(j[key].get<double>(), 0.0) << key;
  }
}

// --activations bf16 runs the fast mode and says so; anything else but f32
// is refused with a message naming the flag.
TEST_F(CliTest, BenchActivationsFlag) {
  const std::string model = Path("model");
  ASSERT_NO_FATAL_FAILURE(InitRandom("tiny-v32.json", model));
  CommandRun r = Dsv32("bench --model " + model +
                       " --prompt-len 8 --gen-len 2 --threads 1 --activations bf16 --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.output;
  EXPECT_EQ(j["activations"], "bf16");
  EXPECT_GT(j["decode_tokens_per_s"].get<double>(), 0.0);
  r = Dsv32("bench --model " + model + " --prompt-len 8 --gen-len 2 --threads 1 --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(nlohmann::json::parse(r.output, nullptr, false)["activations"], "f32");
  r = Dsv32("bench --model " + model + " --activations fp16");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("--activations"), std::string::npos) << r.output;
}

// --profile adds decode_profile: every stage, its bytes adding up to
// decode_bytes_per_token, its shares to at most the whole decode; the
// contract's keys stay. Without --json it prints the table.
TEST_F(CliTest, BenchProfileSplitsDecodeByStage) {
  const std::string model = Path("model");
  ASSERT_NO_FATAL_FAILURE(InitRandom("tiny-v32.json", model));
  CommandRun r =
      Dsv32("bench --model " + model + " --prompt-len 8 --gen-len 3 --threads 1 --profile --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.output;
  ASSERT_TRUE(j.contains("decode_bytes_per_token"));
  ASSERT_TRUE(j.contains("decode_profile")) << r.output;
  int64_t bytes = 0;
  double share = 0.0;
  for (const char* stage : {"embedding", "attention", "dense_mlp", "moe", "lm_head", "other"}) {
    ASSERT_TRUE(j["decode_profile"].contains(stage)) << stage;
    const auto& s = j["decode_profile"][stage];
    for (const char* key : {"seconds_per_token", "bytes_per_token", "gb_per_s", "share_of_decode"})
      ASSERT_TRUE(s.contains(key)) << stage << " " << key;
    EXPECT_GE(s["seconds_per_token"].get<double>(), 0.0) << stage;
    bytes += s["bytes_per_token"].get<int64_t>();
    share += s["share_of_decode"].get<double>();
  }
  EXPECT_GT(j["decode_profile"]["attention"]["bytes_per_token"].get<int64_t>(), 0);
  EXPECT_GT(j["decode_profile"]["lm_head"]["seconds_per_token"].get<double>(), 0.0);
  EXPECT_EQ(bytes, j["decode_bytes_per_token"].get<int64_t>());
  EXPECT_LE(share, 1.0 + 1e-9);
  r = Dsv32("bench --model " + model + " --prompt-len 8 --gen-len 2 --threads 1 --profile");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("decode stages"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("lm_head"), std::string::npos) << r.output;
}

// --speculative adds its own keys and keeps the contract's.
TEST_F(CliTest, BenchSpeculativeAddsKeys) {
  const std::string model = Path("model");
  ASSERT_NO_FATAL_FAILURE(InitRandom("tiny-v32.json", model));
  CommandRun r = Dsv32("bench --model " + model +
                       " --prompt-len 16 --gen-len 6 --threads 1 --speculative 2 --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.output;
  for (const char* key : {"prefill_tokens_per_s", "decode_tokens_per_s", "decode_bytes_per_token",
                          "speculative_decode_tokens_per_s"}) {
    ASSERT_TRUE(j.contains(key)) << key;
    EXPECT_GT(j[key].get<double>(), 0.0) << key;
  }
  ASSERT_TRUE(j.contains("draft_acceptance_rate"));
  EXPECT_GE(j["draft_acceptance_rate"].get<double>(), 0.0);
  EXPECT_LE(j["draft_acceptance_rate"].get<double>(), 1.0);
  EXPECT_EQ(j["speculative_draft_tokens"], 2);
  EXPECT_EQ(j["speculative_matches_plain"], true);

  r = Dsv32("generate --model " + model +
            " --prompt-ids 5,6,7 --max-tokens 9 --temperature 0 --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const CommandRun spec =
      Dsv32("generate --model " + model +
            " --prompt-ids 5,6,7 --max-tokens 9 --temperature 0 --speculative 3");
  ASSERT_EQ(spec.exit_code, 0) << spec.output;
  EXPECT_EQ(r.output.substr(0, r.output.find('\n')), spec.output.substr(0, spec.output.find('\n')))
      << "greedy output does not depend on drafting";
  EXPECT_NE(spec.output.find("drafts accepted"), std::string::npos) << spec.output;

  // A model without the MTP layer cannot draft.
  const std::string v3 = Path("v3");
  ASSERT_NO_FATAL_FAILURE(InitRandom("tiny-v3.json", v3));
  for (const std::string& command : {"bench --model " + v3 + " --prompt-len 4 --gen-len 2",
                                     "generate --model " + v3 + " --prompt-ids 1,2"}) {
    r = Dsv32(command + " --speculative 1");
    EXPECT_NE(r.exit_code, 0) << command;
    EXPECT_NE(r.output.find("num_nextn_predict_layers is 0"), std::string::npos) << r.output;
  }
}

TEST_F(CliTest, GenerateStreamsTokenIds) {
  const std::string model = Path("model");
  ASSERT_NO_FATAL_FAILURE(InitRandom("tiny-v32.json", model));
  CommandRun r = Dsv32("generate --model " + model +
                       " --prompt-ids 5,6,7 --max-tokens 6 --temperature 0 --threads 1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("tokens/s"), std::string::npos) << r.output;
  // --populate reads the weights in first and changes nothing else.
  const CommandRun again =
      Dsv32("generate --model " + model +
            " --prompt-ids 5,6,7 --max-tokens 6 --temperature 0 --quiet --populate");
  EXPECT_EQ(r.output.substr(0, r.output.find('\n')),
            again.output.substr(0, again.output.find('\n')));
  r = Dsv32("generate --model " + model + " --prompt-ids 5,x");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("dsv32 generate: error:"), std::string::npos) << r.output;
}

TEST_F(CliTest, GenerateAndChatSpeakText) {
  const std::string model = Path("model");
  const std::string tokenizer = std::string(DSV32_TEST_DATA_DIR) + "/tokenizer/deepseek-v3";
  ASSERT_NO_FATAL_FAILURE(InitRandom("tiny-engine-full-vocab.json", model));
  CommandRun r = Dsv32("generate --model " + model + " --tokenizer " + tokenizer +
                       " --prompt 'Once upon a time' --max-tokens 6 --temperature 0 --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_FALSE(r.output.empty());
  r = Dsv32("generate --model " + model + " --prompt 'no tokenizer here' --max-tokens 2");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("dsv32 generate: error: tokenizer"), std::string::npos) << r.output;

  // Two turns, the second in thinking mode; the history is encoded again and
  // its start comes from the prefix cache.
  const std::string turns = Path("turns.txt");
  FILE* f = std::fopen(turns.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fputs("Hello!\n/think on\nAnd now?\n/quit\n", f);
  std::fclose(f);
  r = Dsv32("chat --model " + model + " --tokenizer " + tokenizer +
            " --max-tokens 5 --seed 3 --system 'Be brief.' < " + turns);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("[thinking]"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("[5 tokens"), std::string::npos) << r.output;
}

TEST_F(CliTest, GenerateSplitsPrefillAndDecodeAcrossProcesses) {
  const std::string model = Path("model");
  ASSERT_NO_FATAL_FAILURE(InitRandom("tiny-v32.json", model));
  const std::string common = "generate --model " + model + " --temperature 0 --quiet ";
  const CommandRun single = Dsv32(common + "--prompt-ids 5,6,7,8,9 --max-tokens 4");
  ASSERT_EQ(single.exit_code, 0) << single.output;
  const CommandRun prefill =
      Dsv32(common + "--prompt-ids 5,6,7,8,9 --max-tokens 1 --export-kv " + Path("kv.bin"));
  ASSERT_EQ(prefill.exit_code, 0) << prefill.output;
  const std::string first = prefill.output.substr(0, prefill.output.find(' '));
  const CommandRun decode = Dsv32(common + "--prompt-ids 5,6,7,8,9," + first +
                                  " --max-tokens 3 --import-kv " + Path("kv.bin"));
  ASSERT_EQ(decode.exit_code, 0) << decode.output;
  EXPECT_EQ(single.output, first + " " + decode.output);
  const CommandRun foreign = Dsv32(common + "--prompt-ids 1,2,3 --import-kv " + Path("kv.bin"));
  EXPECT_NE(foreign.exit_code, 0);
  EXPECT_NE(foreign.output.find("dsv32 generate: error:"), std::string::npos) << foreign.output;
}

TEST_F(CliTest, FailuresAreOneLineAndNonZero) {
  const std::string input = Path("in.safetensors");
  const std::vector<int32_t> ids = {1, 2, 3};
  const std::vector<float> wrong = {3.0f};
  ASSERT_TRUE(WriteSafetensors(input, {{"input_ids", DType::kI32, {3}, ids.data(), 12},
                                       {"prefill_len", DType::kF32, {1}, wrong.data(), 4}})
                  .ok());
  const std::string fixture = testing::FixtureDir("tiny-a");
  for (const std::string& args :
       {std::string("score --model /nonexistent --input ") + input + " --out " + Path("o"),
        "score --model " + fixture + " --input " + input + " --out " + Path("o"),
        std::string("score --input x"), std::string("info --model /nonexistent"),
        std::string("init-random --out ") + Path("m") + " --dtype int3",
        std::string("score --bogus 1"),
        "score --model " + fixture + " --input " + fixture + "/golden.safetensors --out " +
            Path("o") + " --mesh tp=3",
        "score --model " + fixture + " --input " + fixture + "/golden.safetensors --out " +
            Path("o") + " --mesh tp=2 --backend carrier-pigeon",
        "score --model " + fixture + " --input " + fixture + "/golden.safetensors --out " +
            Path("o") + " --stats"}) {
    const CommandRun r = Dsv32(args);
    EXPECT_NE(r.exit_code, 0) << args;
    EXPECT_EQ(r.output.find("error:"), r.output.rfind("error:")) << r.output;
    ASSERT_FALSE(r.output.empty()) << args;
    EXPECT_EQ(r.output.find('\n'), r.output.size() - 1) << "one line: " << r.output;
  }
  EXPECT_NE(Dsv32("no-such-command").exit_code, 0);
  EXPECT_EQ(Dsv32("help").exit_code, 0);
}

}  // namespace
}  // namespace dsv32

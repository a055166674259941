// Disaggregated prefill and decode: one engine computes the prompt and
// writes its cache, another (as in another process: only the file passes)
// continues from it. The continuation must equal a single engine's run, bit
// for bit, on the random test model and on the reference fixture.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "engine/engine.h"
#include "engine/engine_requests.h"
#include "engine/test_model.h"

namespace dsv32 {
namespace {

using testing::Greedy;

namespace fs = std::filesystem;

struct Output {
  std::vector<int32_t> tokens;
  std::vector<float> logprobs;
  FinishReason reason = FinishReason::kNone;
  std::string error;
};

Output RunAlone(std::shared_ptr<const Model> model, RequestSpec spec) {
  EngineOptions o;
  o.threads = 2;
  o.page_tokens = 4;
  auto engine = Engine::Create(std::move(model), o);
  EXPECT_TRUE(engine.ok()) << engine.status().message();
  auto id = (*engine)->Submit(std::move(spec));
  EXPECT_TRUE(id.ok()) << id.status().message();
  for (int i = 0; i < 1000; ++i) {
    auto ran = (*engine)->Step();
    EXPECT_TRUE(ran.ok());
    if (!ran.ok() || *ran == 0) break;
  }
  const RequestStatus s = (*engine)->Poll(*id).value();
  return {s.generated, s.logprobs, s.reason, s.error};
}

class DisaggregatedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = (fs::temp_directory_path() /
             ("dsv32_disagg_" + std::to_string(::getpid()) + "_" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name()))
                .string();
  }
  void TearDown() override { fs::remove(path_); }

  // Single engine against prefill-then-decode through the file.
  void ExpectSplitEqualsSingle(std::shared_ptr<const Model> model, std::vector<int32_t> prompt) {
    const Output single = RunAlone(model, Greedy(prompt, 6));
    ASSERT_EQ(single.tokens.size(), 6u) << single.error;

    RequestSpec prefill = Greedy(prompt, 1);
    prefill.kv_export_path = path_;
    const Output first = RunAlone(model, prefill);
    ASSERT_EQ(first.tokens.size(), 1u) << first.error;
    EXPECT_EQ(first.tokens[0], single.tokens[0]);
    const auto bytes = static_cast<double>(fs::file_size(path_));
    RecordProperty("kv_file_bytes_per_prompt_token", std::to_string(bytes / prompt.size()));

    std::vector<int32_t> continued = prompt;
    continued.push_back(first.tokens[0]);
    RequestSpec decode = Greedy(continued, 5);
    decode.kv_import_path = path_;
    const Output rest = RunAlone(model, decode);
    ASSERT_EQ(rest.tokens.size(), 5u) << rest.error;
    EXPECT_EQ(std::vector<int32_t>(single.tokens.begin() + 1, single.tokens.end()), rest.tokens);
    EXPECT_EQ(std::vector<float>(single.logprobs.begin() + 1, single.logprobs.end()),
              rest.logprobs);
  }

  std::string path_;
};

TEST_F(DisaggregatedTest, DecodeFromAnExportedPrefillEqualsOneEngine) {
  std::vector<int32_t> prompt;
  for (int i = 0; i < 11; ++i) prompt.push_back((i * 37 + 3) % 500);
  ExpectSplitEqualsSingle(testing::RandomModel(), prompt);
}

TEST_F(DisaggregatedTest, ReferenceFixtureSplitsTheSameWay) {
  const std::string dir = std::string(DSV32_SHARED_DIR) + "/fixtures/tiny-a";
  if (!fs::exists(dir + "/config.json")) GTEST_SKIP() << "fixture tiny-a not found at " << dir;
  auto model = Model::Load(dir);
  ASSERT_TRUE(model.ok()) << model.status().message();
  std::vector<int32_t> prompt;
  for (int i = 0; i < 9; ++i) prompt.push_back((i * 53 + 11) % 1000);
  ExpectSplitEqualsSingle(std::shared_ptr<const Model>(std::move(model).value()), prompt);
}

TEST_F(DisaggregatedTest, TheWholePromptInTheFileRecomputesItsLastToken) {
  std::vector<int32_t> prompt = {5, 9, 13, 17, 21, 25};
  RequestSpec prefill = Greedy(prompt, 1);
  prefill.kv_export_path = path_;
  const Output first = RunAlone(testing::RandomModel(), prefill);
  RequestSpec decode = Greedy(prompt, 1);
  decode.kv_import_path = path_;
  const Output again = RunAlone(testing::RandomModel(), decode);
  EXPECT_EQ(again.tokens, first.tokens) << again.error;
}

TEST_F(DisaggregatedTest, ForeignOrDamagedFilesEndTheRequestWithAnError) {
  RequestSpec prefill = Greedy({1, 2, 3, 4, 5}, 1);
  prefill.kv_export_path = path_;
  ASSERT_EQ(RunAlone(testing::RandomModel(), prefill).tokens.size(), 1u);

  RequestSpec other = Greedy({9, 9, 9, 9, 9, 9}, 2);
  other.kv_import_path = path_;
  Output r = RunAlone(testing::RandomModel(), other);
  EXPECT_EQ(r.reason, FinishReason::kError);
  EXPECT_NE(r.error.find("do not start the prompt"), std::string::npos) << r.error;

  RequestSpec v3 = Greedy({1, 2, 3, 4, 5, 6}, 2);
  v3.kv_import_path = path_;
  r = RunAlone(testing::RandomModel("tiny-engine-v3.json"), v3);
  EXPECT_EQ(r.reason, FinishReason::kError);
  EXPECT_FALSE(r.error.empty());

  fs::resize_file(path_, fs::file_size(path_) / 2);
  RequestSpec cut = Greedy({1, 2, 3, 4, 5, 6}, 2);
  cut.kv_import_path = path_;
  r = RunAlone(testing::RandomModel(), cut);
  EXPECT_EQ(r.reason, FinishReason::kError);
  EXPECT_NE(r.error.find(path_), std::string::npos) << r.error;

  RequestSpec missing = Greedy({1, 2, 3}, 2);
  missing.kv_import_path = path_ + ".absent";
  EXPECT_EQ(RunAlone(testing::RandomModel(), missing).reason, FinishReason::kError);

  RequestSpec unwritable = Greedy({1, 2, 3}, 2);
  unwritable.kv_export_path = "/nonexistent-dir/kv.bin";
  r = RunAlone(testing::RandomModel(), unwritable);
  EXPECT_EQ(r.reason, FinishReason::kError);
  EXPECT_EQ(r.tokens.size(), 1u);  // the token was sampled, the export failed
}

}  // namespace
}  // namespace dsv32

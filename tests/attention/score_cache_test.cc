// `dsv32 score` with a saved cache, run as a user would: the decoded rows
// from a restored cache equal those of a run that prefilled itself.
#include <gtest/gtest.h>

#include "cli/run_dsv32.h"
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "core/safetensors.h"
#include "model/golden.h"

namespace dsv32 {
namespace {

namespace fs = std::filesystem;

using testing::CommandRun;
using testing::Dsv32;

class ScoreCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fixture_ = testing::FixtureDir("tiny-a");
    if (!fs::exists(fixture_ + "/golden.safetensors"))
      GTEST_SKIP() << "fixture tiny-a not found at " << fixture_;
    dir_ = fs::temp_directory_path() /
           ("dsv32_score_cache_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }
  CommandRun Score(const std::string& out, const std::string& extra) {
    return Dsv32("score --model " + fixture_ + " --input " + fixture_ +
                 "/golden.safetensors --out " + Path(out) + " --threads 2 " + extra);
  }
  std::vector<float> Logits(const std::string& out) {
    auto file = SafetensorsFile::Open(Path(out));
    EXPECT_TRUE(file.ok()) << file.status().message();
    if (!file.ok()) return {};
    const TensorView* v = (*file)->Find("logits");
    return {v->as<float>(), v->as<float>() + v->numel()};
  }
  std::string fixture_;
  fs::path dir_;
};

TEST_F(ScoreCacheTest, LoadCacheDecodesExactlyLikeAFullRun) {
  auto golden = testing::Golden::Open(fixture_);
  const int64_t P = golden->I32("prefill_len").at(0);
  const int64_t V = golden->Shape("logits")[1];
  // The default (f32) cache, named explicitly; the other layouts' round
  // trips are KvFileTest's.
  CommandRun r = Score("plain.safetensors", "--kv-dtype f32 --save-cache " + Path("ctx.kv"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = Score("restored.safetensors", "--kv-dtype f32 --load-cache " + Path("ctx.kv"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::vector<float> plain = Logits("plain.safetensors");
  const std::vector<float> restored = Logits("restored.safetensors");
  ASSERT_EQ(plain.size(), restored.size());
  EXPECT_TRUE(std::equal(plain.begin() + P * V, plain.end(), restored.begin() + P * V));
  EXPECT_LE(testing::CompareRows(plain, golden->F32("logits"), V).worst_rel_error, 1e-4);
}

TEST_F(ScoreCacheTest, BadCacheFilesAndFlagsAreOneLineErrors) {
  ASSERT_EQ(Score("a.safetensors", "--save-cache " + Path("ctx.kv")).exit_code, 0);
  CommandRun r = Score("b.safetensors", "--kv-dtype bf16 --load-cache " + Path("ctx.kv"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("layout f32"), std::string::npos) << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  r = Score("b.safetensors", "--load-cache " + Path("missing.kv"));
  EXPECT_NE(r.exit_code, 0);
  r = Score("b.safetensors", "--kv-dtype fp16");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("unknown KV cache dtype"), std::string::npos) << r.output;
  fs::resize_file(Path("ctx.kv"), fs::file_size(Path("ctx.kv")) - 5);
  r = Score("b.safetensors", "--load-cache " + Path("ctx.kv"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("truncated"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace dsv32

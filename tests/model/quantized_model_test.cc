// Checkpoints converted by `dsv32 quantize` (QuantizeCheckpoint) against the
// originals' reference logits. BF16 holds every FP8 value exactly, so FP8 ->
// BF16 must reproduce the goldens; INT4 and BF16 -> FP8 lose precision, and
// these tests pin how much (measured figures in the comments).
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "core/thread_pool.h"
#include "model/golden.h"
#include "model/model.h"
#include "model/quantize_checkpoint.h"

namespace dsv32 {
namespace {

namespace fs = std::filesystem;

struct Case {
  const char* fixture;
  QuantizeTarget target;
  int64_t group;
  bool zero_point;
  double max_mean_error;  // mean row relative error vs the golden logits
  double max_row_error;   // worst row relative error
  double min_top1;        // top-1 agreement with the golden logits
};

class QuantizedModelTest : public ::testing::TestWithParam<Case> {};

TEST_P(QuantizedModelTest, StaysWithinItsMeasuredTolerance) {
  const Case& c = GetParam();
  const std::string fixture = testing::FixtureDir(c.fixture);
  if (!fs::exists(fixture + "/golden.safetensors"))
    GTEST_SKIP() << "fixture " << c.fixture << " not found at " << fixture;
  const fs::path out = fs::temp_directory_path() /
                       ("dsv32_q_" + std::to_string(::getpid()) + "_" +
                        std::to_string(static_cast<int>(c.target)) + "_" + std::to_string(c.group) +
                        (c.zero_point ? "z" : "") + c.fixture);
  ThreadPool pool(2);
  QuantizeOptions options;
  options.target = c.target;
  options.group = c.group;
  options.zero_point = c.zero_point;
  options.pool = &pool;
  Status s = QuantizeCheckpoint(fixture, out.string(), options);
  ASSERT_TRUE(s.ok()) << s.message();

  auto model = Model::Load(out.string());
  ASSERT_TRUE(model.ok()) << model.status().message();
  auto golden = testing::Golden::Open(fixture);
  const std::vector<int32_t> tokens = golden->I32("input_ids");
  const int64_t vocab = (*model)->config().vocab_size;
  KvCache cache((*model)->config(), 0);
  std::vector<float> logits(tokens.size() * static_cast<size_t>(vocab));
  ASSERT_TRUE((*model)->Forward(&cache, tokens, 0, &pool, {}, logits.data()).ok());
  const auto stats = testing::CompareRows(logits, golden->F32("full_logits"), vocab);
  std::printf("  %s -> %s: row relative error worst %.4g mean %.4g, top-1 agreement %.4f\n",
              c.fixture, out.filename().c_str(), stats.worst_rel_error, stats.mean_rel_error,
              stats.top1_agreement);
  EXPECT_LE(stats.mean_rel_error, c.max_mean_error);
  EXPECT_LE(stats.worst_rel_error, c.max_row_error);
  EXPECT_GE(stats.top1_agreement, c.min_top1);
  fs::remove_all(out);
}

std::string FileBytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The weights are dequantized in pieces over the pool; the pieces must not
// change a byte of what is written.
TEST(QuantizeCheckpointTest, ThreadsWriteTheSameFiles) {
  const std::string fixture = testing::FixtureDir("tiny-a");
  if (!fs::exists(fixture + "/config.json")) GTEST_SKIP() << "fixture tiny-a not found";
  const fs::path base =
      fs::temp_directory_path() / ("dsv32_q_threads_" + std::to_string(::getpid()));
  ThreadPool pool(2);
  QuantizeOptions options;
  options.target = QuantizeTarget::kInt4;
  ASSERT_TRUE(QuantizeCheckpoint(fixture, (base / "one").string(), options).ok());
  options.pool = &pool;
  ASSERT_TRUE(QuantizeCheckpoint(fixture, (base / "two").string(), options).ok());
  int files = 0;
  for (const auto& entry : fs::directory_iterator(base / "one")) {
    const fs::path other = base / "two" / entry.path().filename();
    ASSERT_TRUE(fs::exists(other)) << other;
    EXPECT_EQ(FileBytes(entry.path()), FileBytes(other)) << entry.path().filename();
    ++files;
  }
  EXPECT_GT(files, 1);
  fs::remove_all(base);
}

INSTANTIATE_TEST_SUITE_P(
    Conversions, QuantizedModelTest,
    ::testing::Values(Case{"tiny-a", QuantizeTarget::kBf16, 32, false, 1e-4, 1e-4, 0.99},
                      Case{"tiny-a", QuantizeTarget::kFp8, 32, false, 1e-4, 1e-4, 0.99},
                      Case{"tiny-a", QuantizeTarget::kInt4, 32, false, 0.7, 1.0, 0.1},
                      Case{"tiny-a", QuantizeTarget::kInt4, 128, true, 0.7, 1.0, 0.1},
                      Case{"tiny-b", QuantizeTarget::kFp8, 32, false, 0.4, 1.0, 0.5}),
    [](const auto& info) { return std::to_string(info.index); });

}  // namespace
}  // namespace dsv32

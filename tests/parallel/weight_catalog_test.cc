#include "model/weight_catalog.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "core/safetensors.h"
#include "model_configs.h"

namespace dsv32 {
namespace {

TEST(WeightCatalogTest, MatchesTheFixtureCheckpointExactly) {
  const std::string dir = test_configs::TinyDir();
  if (!std::filesystem::exists(dir + "/config.json")) GTEST_SKIP() << "no fixture at " << dir;
  auto config = LoadModelConfig(dir + "/config.json");
  ASSERT_TRUE(config.ok()) << config.status().message();
  std::map<std::string, const TensorView*> stored;
  std::vector<std::unique_ptr<SafetensorsFile>> files;
  for (const char* f : {"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}) {
    auto file = SafetensorsFile::Open(dir + "/" + f);
    ASSERT_TRUE(file.ok()) << file.status().message();
    files.push_back(std::move(file).value());
    for (const auto& [name, view] : files.back()->tensors()) stored[name] = &view;
  }
  const auto tensors = CheckpointTensors(*config);
  EXPECT_EQ(tensors.size(), stored.size());
  for (const auto& t : tensors) {
    auto it = stored.find(t.name);
    if (it == stored.end()) {
      ADD_FAILURE() << "catalog names " << t.name << ", the checkpoint lacks it";
      continue;
    }
    EXPECT_EQ(it->second->shape, t.shape) << t.name;
    EXPECT_EQ(it->second->dtype, t.dtype) << t.name;
    EXPECT_EQ(static_cast<int64_t>(it->second->nbytes), t.stored_bytes()) << t.name;
  }
}

TEST(WeightCatalogTest, DeepSeekV32HasAbout671BPlus14BMtpParameters) {
  auto config = LoadModelConfig(test_configs::V32Path());
  ASSERT_TRUE(config.ok()) << config.status().message();
  const auto tensors = CheckpointTensors(*config);
  const ParameterCount n = CountParameters(tensors);
  // Counted by hand from the shapes (docs/planner.md).
  EXPECT_EQ(n.main, 671877944064);
  EXPECT_EQ(n.mtp, 13477385728);
  EXPECT_NEAR(n.total() / 1e9, 685.0, 0.5);
  int64_t bytes = 0, scale_bytes = 0;
  for (const auto& t : tensors) (t.is_scale ? scale_bytes : bytes) += t.stored_bytes();
  // One f32 per 128x128 block: about 1/4096 of the FP8 bytes.
  EXPECT_GT(scale_bytes, 0);
  EXPECT_LT(scale_bytes, bytes / 1000);
  // 1 routed-expert layer has 256 x 3 matrices, each with a scale.
  int64_t layer5 = 0;
  for (const auto& t : tensors)
    if (t.layer == 5 && t.expert >= 0) ++layer5;
  EXPECT_EQ(layer5, 256 * 3 * 2);
}

}  // namespace
}  // namespace dsv32

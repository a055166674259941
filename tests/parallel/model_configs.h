// The configs the parallel tests plan for: the real DeepSeek-V3.2 one in
// configs/ and the tiny fixture model beside the checkout.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "core/config.h"

namespace dsv32::test_configs {

inline std::string V32Path() {
  return std::string(DSV32_SOURCE_DIR) + "/configs/deepseek-v3.2.json";
}
inline std::string V3Path() { return std::string(DSV32_SOURCE_DIR) + "/configs/deepseek-v3.json"; }
inline std::string TinyDir() { return std::string(DSV32_SHARED_DIR) + "/fixtures/tiny-a"; }

// The parsed config; a parse failure fails the calling test.
inline ModelConfig Load(const std::string& path) {
  auto c = LoadModelConfig(path);
  EXPECT_TRUE(c.ok()) << c.status().message();
  return c.ok() ? *c : ModelConfig{};
}

}  // namespace dsv32::test_configs

#include "engine/test_model.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

#include "model/random_init.h"

namespace dsv32::testing {

std::shared_ptr<const Model> RandomModel(const std::string& config) {
  static std::mutex mu;
  static std::map<std::string, std::shared_ptr<const Model>> models;
  std::lock_guard lock(mu);
  auto& slot = models[config];
  if (slot) return slot;
  namespace fs = std::filesystem;
  const fs::path dir =
      fs::temp_directory_path() / ("dsv32_engine_" + std::to_string(::getpid()) + "_" + config);
  std::ifstream in(std::string(DSV32_TEST_DATA_DIR) + "/configs/" + config);
  std::stringstream text;
  text << in.rdbuf();
  RandomInitOptions options;
  Status s = WriteRandomCheckpoint(text.str(), dir.string(), options);
  EXPECT_TRUE(s.ok()) << s.message();
  auto model = Model::Load(dir.string());
  EXPECT_TRUE(model.ok()) << model.status().message();
  fs::remove_all(dir);  // the mapping stays valid after the files are unlinked
  if (!model.ok()) return nullptr;
  slot = std::move(model).value();
  return slot;
}

}  // namespace dsv32::testing

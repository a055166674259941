// A small random-weight model written once per test binary, shared by the
// engine tests.
#pragma once

#include <memory>
#include <string>

#include "model/model.h"

namespace dsv32::testing {

// Loads (writing on first use) tests/data/configs/`config` as a random model.
std::shared_ptr<const Model> RandomModel(const std::string& config = "tiny-engine.json");

}  // namespace dsv32::testing

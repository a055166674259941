// Requests and stepping shared by the engine tests.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/engine.h"

namespace dsv32::testing {

// A prompt of n token ids below 500 (every test vocabulary has them), a
// different one per seed.
std::vector<int32_t> Prompt(int seed, int n);

// Greedy decoding of `prompt` for up to max_tokens tokens.
RequestSpec Greedy(std::vector<int32_t> prompt, int max_tokens, Lane lane = Lane::kInteractive);

// Steps until every request has ended; fails the test on a step error or
// if the engine never drains.
void Drain(Engine& engine);

}  // namespace dsv32::testing

// dsv32-server's command line.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace dsv32_server {

struct Options {
  std::string model;
  std::string tokenizer;  // empty: the model directory
  std::string host = "127.0.0.1";
  int port = -1;  // 0: any free port (the one chosen is printed)
  int threads = 0;
  int64_t max_concurrency = 16;
  int64_t max_body_bytes = 8 << 20;
  int64_t max_context = 4096;
  int64_t speculative_tokens = 0;  // drafts per step with the model's MTP layer; 0: none
  bool bf16_activations = false;   // --activations bf16: the fast mode
  bool populate = false;           // --populate: read the weights in before serving
  std::string served_model_name;   // empty: the model directory's name
  std::string echo_completion;     // testing: a file whose tokens replace the model's
};

extern const char kUsage[];

// The options, or nullopt with *error set (empty for --help).
std::optional<Options> ParseOptions(int argc, char** argv, std::string* error);

}  // namespace dsv32_server

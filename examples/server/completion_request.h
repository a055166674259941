// Reads a /v1/completions body: the prompt (text, or token ids) and the
// sampling fields.
#pragma once

#include <string>

#include "generation.h"
#include "sampling_fields.h"

namespace dsv32_server {

struct CompletionCall {
  GenerationSpec spec;
  StreamOptions stream;
  int32_t logprobs = -1;  // -1: none; else the alternatives reported per token
};

// Throws ApiError naming the field at fault.
CompletionCall ReadCompletionRequest(const std::string& body, const Backend& backend,
                                     const std::string& served_name);

}  // namespace dsv32_server

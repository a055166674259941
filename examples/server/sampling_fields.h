// The request fields /v1/chat/completions and /v1/completions share:
// sampling, length, stop conditions, n, streaming.
#pragma once

#include <string>

#include "generation.h"
#include "json_fields.h"

namespace dsv32_server {

struct StreamOptions {
  bool stream = false;
  bool include_usage = false;
};

// Reads temperature, top_p, top_k, min_p, the penalties, seed, max_tokens /
// max_completion_tokens, stop, stop_token_ids, ignore_eos and n into
// *spec, starting from the engine's sampling defaults.
void ReadSamplingFields(const Fields& body, const Backend& backend, GenerationSpec* spec);

StreamOptions ReadStreamOptions(const Fields& body);

// The body's "model" must be absent or this server's model name.
void CheckModel(const Fields& body, const std::string& served_name);

// What both endpoints read first: the model, the stream options, the
// sampling fields.
void ReadCommonFields(const Fields& body, const Backend& backend, const std::string& served_name,
                      GenerationSpec* spec, StreamOptions* stream);

}  // namespace dsv32_server

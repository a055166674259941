#include "options.h"

#include <charconv>
#include <cstring>

namespace dsv32_server {

const char kUsage[] =
    "usage: dsv32-server --model DIR --port P [--host 127.0.0.1] [--tokenizer DIR]\n"
    "                    [--threads N] [--max-concurrency N] [--max-body-bytes N]\n"
    "                    [--max-context N] [--served-model-name NAME] [--speculative K]\n"
    "                    [--activations f32|bf16] [--populate]\n"
    "An OpenAI-compatible HTTP server: /v1/chat/completions, /v1/completions, /v1/models,\n"
    "/health, /metrics. --port 0 takes a free port and prints it. --speculative K drafts\n"
    "up to K (1 .. 16) tokens per step with the model's MTP layer (needs the layer).\n"
    "--activations bf16 rounds the FP8 matmuls' activations to bf16 (faster; f32 is exact).\n"
    "--populate reads all the weights in before listening, so the first requests run at\n"
    "full speed.\n";

namespace {

bool ReadInt(const char* text, int64_t min, int64_t* out) {
  const char* end = text + std::strlen(text);
  auto [ptr, ec] = std::from_chars(text, end, *out);
  return ec == std::errc() && ptr == end && *out >= min;
}

}  // namespace

std::optional<Options> ParseOptions(int argc, char** argv, std::string* error) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      error->clear();
      return std::nullopt;
    }
    if (flag == "--populate") {  // the one option without a value
      o.populate = true;
      continue;
    }
    if (i + 1 >= argc) {
      *error = flag + " needs a value";
      return std::nullopt;
    }
    const char* value = argv[++i];
    int64_t n = 0;
    auto integer = [&](int64_t min, int64_t* out) {
      if (ReadInt(value, min, &n)) {
        *out = n;
        return true;
      }
      *error = flag + ": expected an integer >= " + std::to_string(min) + ", got '" + value + "'";
      return false;
    };
    int64_t port = 0, threads = 0;
    if (flag == "--model") {
      o.model = value;
    } else if (flag == "--tokenizer") {
      o.tokenizer = value;
    } else if (flag == "--host") {
      o.host = value;
    } else if (flag == "--port") {
      if (!integer(0, &port)) return std::nullopt;
      if (port > 65535) {
        *error = "--port: must be at most 65535";
        return std::nullopt;
      }
      o.port = static_cast<int>(port);
    } else if (flag == "--threads") {
      if (!integer(0, &threads)) return std::nullopt;
      o.threads = static_cast<int>(threads);
    } else if (flag == "--max-concurrency") {
      if (!integer(1, &o.max_concurrency)) return std::nullopt;
    } else if (flag == "--max-body-bytes") {
      if (!integer(1, &o.max_body_bytes)) return std::nullopt;
    } else if (flag == "--max-context") {
      if (!integer(2, &o.max_context)) return std::nullopt;
    } else if (flag == "--speculative") {
      if (!integer(0, &o.speculative_tokens)) return std::nullopt;
      if (o.speculative_tokens > 16) {
        *error = "--speculative: at most 16 drafts per step";
        return std::nullopt;
      }
    } else if (flag == "--activations") {
      if (std::strcmp(value, "f32") != 0 && std::strcmp(value, "bf16") != 0) {
        *error = std::string("--activations: expected f32 or bf16, got '") + value + "'";
        return std::nullopt;
      }
      o.bf16_activations = std::strcmp(value, "bf16") == 0;
    } else if (flag == "--served-model-name") {
      o.served_model_name = value;
    } else if (flag == "--echo-completion") {
      o.echo_completion = value;
    } else {
      *error = "unknown option " + flag;
      return std::nullopt;
    }
  }
  if (o.model.empty() || o.port < 0) {
    *error = "--model and --port are required";
    return std::nullopt;
  }
  return o;
}

}  // namespace dsv32_server

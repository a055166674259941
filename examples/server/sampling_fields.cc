#include "sampling_fields.h"

#include <limits>

#include "api_error.h"

namespace dsv32_server {

namespace {

constexpr double kHuge = std::numeric_limits<double>::max();

std::vector<std::string> ReadStop(const Fields& body) {
  const nlohmann::json* stop = body.Get("stop");
  if (!stop) return {};
  std::vector<std::string> out;
  if (stop->is_string()) {
    out.push_back(stop->get<std::string>());
  } else if (stop->is_array()) {
    if (stop->size() > 16) throw InvalidField("stop", "at most 16 stop strings");
    for (const nlohmann::json& s : *stop) {
      if (!s.is_string()) throw InvalidField("stop", "must be a string or an array of strings");
      out.push_back(s.get<std::string>());
    }
  } else {
    throw InvalidField("stop", "must be a string or an array of strings");
  }
  for (const std::string& s : out)
    if (s.empty()) throw InvalidField("stop", "stop strings must not be empty");
  return out;
}

std::vector<int32_t> ReadStopTokens(const Fields& body, int64_t vocab_size) {
  const nlohmann::json* ids = body.Get("stop_token_ids");
  if (!ids) return {};
  if (!ids->is_array()) throw InvalidField("stop_token_ids", "must be an array of token ids");
  std::vector<int32_t> out;
  for (const nlohmann::json& id : *ids) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= vocab_size)
      throw InvalidField("stop_token_ids",
                         "must hold token ids in [0, " + std::to_string(vocab_size) + ")");
    out.push_back(id.get<int32_t>());
  }
  return out;
}

}  // namespace

void ReadSamplingFields(const Fields& body, const Backend& backend, GenerationSpec* spec) {
  if (auto n = body.Int("n", INT32_MIN, INT32_MAX); n && *n != 1)
    throw InvalidField("n", "only n = 1 is supported (one choice per request)");
  if (auto best_of = body.Int("best_of", INT32_MIN, INT32_MAX); best_of && *best_of != 1)
    throw InvalidField("best_of", "only best_of = 1 is supported");

  dsv32_sampling_params& s = spec->sampling;
  s = dsv32_sampling_default_params();
  dsv32_engine_sampling_defaults(backend.engine, &s);
  if (auto v = body.Number("temperature", 0, 2)) s.temperature = static_cast<float>(*v);
  if (auto v = body.Number("top_p", 0, 1)) {
    if (*v <= 0) throw InvalidField("top_p", "must be in (0, 1]");
    s.top_p = static_cast<float>(*v);
  }
  if (auto v = body.Int("top_k", -1, INT32_MAX)) s.top_k = *v < 0 ? 0 : static_cast<int32_t>(*v);
  if (auto v = body.Number("min_p", 0, 1)) s.min_p = static_cast<float>(*v);
  if (auto v = body.Number("presence_penalty", -2, 2)) s.presence_penalty = static_cast<float>(*v);
  if (auto v = body.Number("frequency_penalty", -2, 2))
    s.frequency_penalty = static_cast<float>(*v);
  if (auto v = body.Number("repetition_penalty", 0, kHuge)) {
    if (*v <= 0) throw InvalidField("repetition_penalty", "must be > 0");
    s.repetition_penalty = static_cast<float>(*v);
  }
  // The engine reads a negative seed as "draw a fresh one"; requests always get the one they name.
  if (auto v = body.Int("seed", INT64_MIN, INT64_MAX)) s.seed = *v & INT64_MAX;

  // max_completion_tokens is the newer name; it wins when both are given.
  if (auto v = body.Int("max_tokens", 1, INT32_MAX)) spec->max_tokens = static_cast<int32_t>(*v);
  if (auto v = body.Int("max_completion_tokens", 1, INT32_MAX))
    spec->max_tokens = static_cast<int32_t>(*v);

  spec->stop_strings = ReadStop(body);
  spec->stop_tokens = ReadStopTokens(body, backend.vocab_size);
  if (auto v = body.Bool("ignore_eos")) spec->stop_at_eos = !*v;
}

StreamOptions ReadStreamOptions(const Fields& body) {
  StreamOptions out;
  out.stream = body.Bool("stream").value_or(false);
  if (const nlohmann::json* options = body.Get("stream_options")) {
    if (!options->is_object()) throw InvalidField("stream_options", "must be an object");
    if (!out.stream) throw InvalidField("stream_options", "is only allowed with stream: true");
    out.include_usage = Fields(*options, "stream_options.").Bool("include_usage").value_or(false);
  }
  return out;
}

void CheckModel(const Fields& body, const std::string& served_name) {
  const std::optional<std::string> model = body.String("model");
  if (model && *model != served_name)
    throw ApiError(
        404, "the model '" + *model + "' does not exist; this server serves '" + served_name + "'",
        "model", {}, "model_not_found");
}

void ReadCommonFields(const Fields& body, const Backend& backend, const std::string& served_name,
                      GenerationSpec* spec, StreamOptions* stream) {
  CheckModel(body, served_name);
  *stream = ReadStreamOptions(body);
  ReadSamplingFields(body, backend, spec);
}

}  // namespace dsv32_server

#include "chat_request.h"

#include "api_error.h"

namespace dsv32_server {

namespace {

// The request's thinking switch, in the forms serving stacks accept:
// chat_template_kwargs {"thinking": b} or {"enable_thinking": b}, and a
// top-level "thinking" that is a boolean or {"type": "enabled"|"disabled"}
// (which wins when both are given).
bool ReadThinking(const Fields& body, nlohmann::json* encoder_request) {
  bool thinking = false;
  if (const nlohmann::json* kwargs = body.Get("chat_template_kwargs")) {
    if (!kwargs->is_object()) throw InvalidField("chat_template_kwargs", "must be an object");
    const Fields k(*kwargs, "chat_template_kwargs.");
    if (auto v = k.Bool("enable_thinking")) thinking = *v;
    if (auto v = k.Bool("thinking")) thinking = *v;
    if (auto v = k.String("reasoning_retention")) (*encoder_request)["reasoning_retention"] = *v;
    if (auto v = k.Bool("drop_thinking")) (*encoder_request)["drop_thinking"] = *v;
  }
  if (const nlohmann::json* t = body.Get("thinking")) {
    if (t->is_boolean()) {
      thinking = t->get<bool>();
    } else if (t->is_object() && t->contains("type") && (*t)["type"].is_string() &&
               ((*t)["type"] == "enabled" || (*t)["type"] == "disabled")) {
      thinking = (*t)["type"] == "enabled";
    } else {
      throw InvalidField("thinking", "must be true, false or {\"type\": \"enabled\"|\"disabled\"}");
    }
  }
  return thinking;
}

// The request's tool_choice: "auto" (the default), "none" (the tools stay
// out of the prompt), "required" or {"type": "function", "function":
// {"name": N}} naming one of the tools. Returns the choice the reply is
// held to, null for "none".
nlohmann::json ReadToolChoice(const Fields& body, const nlohmann::json* tools) {
  const nlohmann::json* choice = body.Get("tool_choice");
  if (!choice || *choice == "auto") return "auto";
  if (*choice == "none") return nullptr;
  if (!tools || !tools->is_array() || tools->empty())
    throw InvalidField("tool_choice", "needs tools to choose from");
  if (*choice == "required") return *choice;
  if (choice->is_object() && choice->contains("type") && (*choice)["type"] == "function" &&
      choice->contains("function") && (*choice)["function"].is_object() &&
      (*choice)["function"].contains("name") && (*choice)["function"]["name"].is_string()) {
    for (const nlohmann::json& tool : *tools)
      if (tool.is_object() && tool.contains("function") && tool["function"].is_object() &&
          tool["function"].value("name", nlohmann::json()) == (*choice)["function"]["name"])
        return *choice;
    throw InvalidField("tool_choice", "names a function that is not among the tools");
  }
  throw InvalidField("tool_choice",
                     "must be \"auto\", \"none\", \"required\" or {\"type\": \"function\", "
                     "\"function\": {\"name\": ...}}");
}

// OpenAI's top-level response_format becomes the first system (or
// developer) message's, which is where the encoder writes it in the prompt.
// Returns whether a system message had to be put in front.
bool AttachResponseFormat(const Fields& body, nlohmann::json* encoder_request) {
  const nlohmann::json* format = body.Get("response_format");
  if (!format) return false;
  if (!format->is_object() || !format->contains("type") || !(*format)["type"].is_string())
    throw InvalidField("response_format", "must be an object with a string \"type\"");
  const std::string type = (*format)["type"];
  if (type == "text") return false;
  if (type != "json_object" && type != "json_schema")
    throw InvalidField("response_format.type",
                       "must be \"text\", \"json_object\" or \"json_schema\"");
  if (type == "json_schema" &&
      (!format->contains("json_schema") || !(*format)["json_schema"].is_object()))
    throw InvalidField("response_format.json_schema", "must be an object");
  nlohmann::json& messages = (*encoder_request)["messages"];
  if (!messages.empty() && messages[0].is_object() && messages[0].contains("role") &&
      (messages[0]["role"] == "system" || messages[0]["role"] == "developer")) {
    messages[0]["response_format"] = *format;
    return false;
  }
  messages.insert(
      messages.begin(),
      nlohmann::json{{"role", "system"}, {"content", ""}, {"response_format", *format}});
  return true;
}

std::string Encode(const nlohmann::json& request) {
  char* text = nullptr;
  size_t length = 0;
  if (dsv32_chat_encode(request.dump().c_str(), &text, &length) != DSV32_OK) {
    // The encoder's messages start with the JSON path of the bad field.
    const std::string message = dsv32_last_error();
    const size_t colon = message.find(": ");
    throw ApiError(400, message, colon == std::string::npos ? "" : message.substr(0, colon));
  }
  std::string prompt(text, length);
  dsv32_string_free(text);
  return prompt;
}

}  // namespace

std::vector<int32_t> Tokenize(const Backend& backend, const std::string& text, bool add_bos,
                              bool parse_special, const char* param) {
  size_t n = 0;
  if (dsv32_tokenizer_encode(backend.tokenizer, text.data(), text.size(), add_bos, parse_special,
                             nullptr, 0, &n) != DSV32_OK)
    throw InvalidField(param, dsv32_last_error());
  std::vector<int32_t> ids(n);
  dsv32_tokenizer_encode(backend.tokenizer, text.data(), text.size(), add_bos, parse_special,
                         ids.data(), ids.size(), &n);
  return ids;
}

ChatCall ReadChatRequest(const std::string& text, const Backend& backend,
                         const std::string& served_name) {
  const nlohmann::json json = ParseBody(text);
  const Fields body(json);
  ChatCall call;
  ReadCommonFields(body, backend, served_name, &call.spec, &call.stream);
  const bool logprobs = body.Bool("logprobs").value_or(false);
  if (auto v = body.Int("top_logprobs", 0, 20)) {
    if (!logprobs) throw InvalidField("top_logprobs", "needs logprobs: true");
    call.top_logprobs = static_cast<int32_t>(*v);
  }
  call.spec.logprobs = logprobs;
  call.spec.sampling.top_logprobs = call.top_logprobs;

  const nlohmann::json* messages = body.Get("messages");
  if (!messages) throw InvalidField("messages", "missing");
  if (!messages->is_array() || messages->empty())
    throw InvalidField("messages", "must be a non-empty array");
  nlohmann::json request = {{"messages", *messages}};
  request["thinking"] = ReadThinking(body, &request);
  const nlohmann::json* tools = body.Get("tools");
  const nlohmann::json choice = ReadToolChoice(body, tools);
  if (tools && !choice.is_null()) request["tools"] = *tools;
  if (tools && tools->is_array() && !tools->empty() && !choice.is_null()) {
    // The reply is held to the tools too, so that calls always parse.
    call.spec.tools = tools->dump();
    call.spec.tool_choice = choice.dump();
  }
  nlohmann::json as_sent = request;
  std::string prompt;
  if (!AttachResponseFormat(body, &request)) {
    prompt = Encode(request);
  } else {
    try {
      prompt = Encode(request);
    } catch (const ApiError&) {
      // Errors should name the messages as the client numbered them.
      Encode(as_sent);
      throw;
    }
  }

  constexpr std::string_view kThinkStart = "<think>";
  call.thinking =
      prompt.size() >= kThinkStart.size() &&
      prompt.compare(prompt.size() - kThinkStart.size(), kThinkStart.size(), kThinkStart) == 0;
  // The prompt is the encoder's markup around the messages' text, so its
  // special tokens are meant.
  call.spec.prompt =
      Tokenize(backend, prompt, /*add_bos=*/false, /*parse_special=*/true, "messages");
  // The response format's schema holds the reply's content (after its
  // reasoning when thinking), or, with tools, the content a tool-call reply
  // may have instead of a call; it is in the prompt as an instruction too.
  if (const nlohmann::json* format = body.Get("response_format")) {
    const std::string type = (*format)["type"];
    if (type == "json_object") call.spec.json_schema = R"({"type":"object"})";
    if (type == "json_schema") {
      const nlohmann::json& spec = (*format)["json_schema"];
      call.spec.json_schema =
          spec.contains("schema") ? spec["schema"].dump() : std::string(R"({"type":"object"})");
    }
  }
  // The parser needs the end-of-sentence marker's text to tell a finished
  // reply from a cut one.
  call.spec.skip_special = false;
  return call;
}

}  // namespace dsv32_server

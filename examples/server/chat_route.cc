#include "chat_route.h"

#include <memory>

#include "api_error.h"
#include "chat_output.h"
#include "chat_request.h"
#include "request_session.h"
#include "responses.h"
#include "sse.h"

namespace dsv32_server {

namespace {

nlohmann::json DeltaJson(const ChatDelta& d) {
  switch (d.kind) {
    case ChatDelta::kReasoning:
      return {{"reasoning_content", d.text}};
    case ChatDelta::kContent:
      return {{"content", d.text}};
    case ChatDelta::kToolStart:
      return {{"tool_calls",
               {{{"index", d.tool_index},
                 {"id", d.call_id},
                 {"type", "function"},
                 {"function", {{"name", d.text}, {"arguments", ""}}}}}}};
    case ChatDelta::kToolArguments:
      return {{"tool_calls", {{{"index", d.tool_index}, {"function", {{"arguments", d.text}}}}}}};
  }
  return nlohmann::json::object();
}

class ChatSession : public RequestSession {
 public:
  ChatSession(ServerState& state, const httplib::Request& request, ChatCall call)
      : RequestSession(state, request, std::move(call.spec)),
        call_(std::move(call)),
        output_(call_.thinking),
        id_("chatcmpl-" + RandomAlnum(24)),
        created_(UnixSeconds()) {}

 protected:
  nlohmann::json Whole() override {
    std::vector<TokenInfo> tokens;
    Finish finish = Finish::kNone;
    std::string error;
    const bool connected = RunToEnd([&](const GenerationUpdate& u) {
      output_.Feed(u.text);
      tokens.insert(tokens.end(), u.tokens.begin(), u.tokens.end());
      finish = u.finish;
      error = u.error;
    });
    if (!connected) return nullptr;
    if (finish == Finish::kError) throw ApiError(500, "generation failed: " + error);
    output_.Finish();
    const std::vector<ToolCallOut> calls = output_.tool_calls();
    nlohmann::json message = {{"role", "assistant"}};
    message["content"] = output_.content().empty() && !calls.empty()
                             ? nlohmann::json(nullptr)
                             : nlohmann::json(output_.content());
    if (call_.thinking || !output_.reasoning().empty())
      message["reasoning_content"] = output_.reasoning();
    if (!calls.empty()) {
      message["tool_calls"] = nlohmann::json::array();
      for (const ToolCallOut& c : calls)
        message["tool_calls"].push_back(
            {{"id", c.id},
             {"type", "function"},
             {"function", {{"name", c.name}, {"arguments", c.arguments}}}});
    }
    nlohmann::json choice = {{"index", 0},
                             {"message", std::move(message)},
                             {"logprobs", nullptr},
                             {"finish_reason", FinishReasonJson(finish, !calls.empty())}};
    if (call_.spec.logprobs)
      choice["logprobs"] = {{"content", ChatLogprobs(state().backend, tokens, call_.top_logprobs)}};
    return {{"id", id_},
            {"object", "chat.completion"},
            {"created", created_},
            {"model", state().served_name},
            {"choices", {std::move(choice)}},
            {"usage", Usage()}};
  }

  bool Open(httplib::DataSink& sink) override {
    return SendEvent(sink, Chunk({{"role", "assistant"}, {"content", ""}}));
  }

  bool Write(const GenerationUpdate& u, httplib::DataSink& sink) override {
    std::vector<ChatDelta> deltas = output_.Feed(u.text);
    if (u.finish != Finish::kNone) {
      std::vector<ChatDelta> rest = output_.Finish();
      deltas.insert(deltas.end(), rest.begin(), rest.end());
    }
    nlohmann::json logprobs = nullptr;
    if (call_.spec.logprobs && !u.tokens.empty())
      logprobs = {{"content", ChatLogprobs(state().backend, u.tokens, call_.top_logprobs)}};
    for (const ChatDelta& d : deltas) {
      if (!SendEvent(sink, Chunk(DeltaJson(d), nullptr, logprobs))) return false;
      logprobs = nullptr;
    }
    if (!logprobs.is_null() && !SendEvent(sink, Chunk(nlohmann::json::object(), nullptr, logprobs)))
      return false;
    if (u.finish == Finish::kNone) return true;
    if (u.finish == Finish::kError) return SendStreamError(u.error, sink);
    const bool calls = !output_.tool_calls().empty();
    if (!SendEvent(sink, Chunk(nlohmann::json::object(), FinishReasonJson(u.finish, calls))))
      return false;
    if (call_.stream.include_usage) {
      nlohmann::json usage = Chunk(nullptr);
      usage["choices"] = nlohmann::json::array();
      usage["usage"] = Usage();
      if (!SendEvent(sink, usage)) return false;
    }
    return SendDone(sink);
  }

 private:
  nlohmann::json Chunk(nlohmann::json delta, nlohmann::json finish_reason = nullptr,
                       nlohmann::json logprobs = nullptr) const {
    return {{"id", id_},
            {"object", "chat.completion.chunk"},
            {"created", created_},
            {"model", state().served_name},
            {"choices",
             {{{"index", 0},
               {"delta", std::move(delta)},
               {"logprobs", std::move(logprobs)},
               {"finish_reason", std::move(finish_reason)}}}}};
  }

  ChatCall call_;
  ChatOutput output_;
  std::string id_;
  int64_t created_;
};

}  // namespace

void HandleChatCompletions(ServerState& state, const httplib::Request& request,
                           httplib::Response& response) {
  ChatCall call = ReadChatRequest(request.body, state.backend, state.served_name);
  const bool stream = call.stream.stream;
  RequestSession::Respond(std::make_shared<ChatSession>(state, request, std::move(call)), stream,
                          &response);
}

}  // namespace dsv32_server

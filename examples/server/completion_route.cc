#include "completion_route.h"

#include <memory>

#include "api_error.h"
#include "chat_output.h"
#include "completion_request.h"
#include "request_session.h"
#include "responses.h"
#include "sse.h"

namespace dsv32_server {

namespace {

class CompletionSession : public RequestSession {
 public:
  CompletionSession(ServerState& state, const httplib::Request& request, CompletionCall call)
      : RequestSession(state, request, std::move(call.spec)),
        call_(std::move(call)),
        id_("cmpl-" + RandomAlnum(24)),
        created_(UnixSeconds()) {}

 protected:
  nlohmann::json Whole() override {
    std::string text;
    std::vector<TokenInfo> tokens;
    Finish finish = Finish::kNone;
    std::string error;
    const bool connected = RunToEnd([&](const GenerationUpdate& u) {
      text += u.text;
      tokens.insert(tokens.end(), u.tokens.begin(), u.tokens.end());
      finish = u.finish;
      error = u.error;
    });
    if (!connected) return nullptr;
    if (finish == Finish::kError) throw ApiError(500, "generation failed: " + error);
    size_t offset = 0;
    nlohmann::json reply = Object(text, FinishReasonJson(finish, false), Logprobs(tokens, &offset));
    reply["usage"] = Usage();
    return reply;
  }

  bool Write(const GenerationUpdate& u, httplib::DataSink& sink) override {
    if (!u.text.empty() || !u.tokens.empty())
      if (!SendEvent(sink, Object(u.text, nullptr, Logprobs(u.tokens, &offset_)))) return false;
    if (u.finish == Finish::kNone) return true;
    if (u.finish == Finish::kError) return SendStreamError(u.error, sink);
    if (!SendEvent(sink, Object("", FinishReasonJson(u.finish, false), nullptr))) return false;
    if (call_.stream.include_usage) {
      nlohmann::json usage = Object("", nullptr, nullptr);
      usage["choices"] = nlohmann::json::array();
      usage["usage"] = Usage();
      if (!SendEvent(sink, usage)) return false;
    }
    return SendDone(sink);
  }

 private:
  nlohmann::json Logprobs(const std::vector<TokenInfo>& tokens, size_t* offset) const {
    if (call_.logprobs < 0) return nullptr;
    return CompletionLogprobs(state().backend, tokens, call_.logprobs, offset);
  }

  nlohmann::json Object(const std::string& text, nlohmann::json finish_reason,
                        nlohmann::json logprobs) const {
    return {{"id", id_},
            {"object", "text_completion"},
            {"created", created_},
            {"model", state().served_name},
            {"choices",
             {{{"index", 0},
               {"text", text},
               {"logprobs", std::move(logprobs)},
               {"finish_reason", std::move(finish_reason)}}}}};
  }

  CompletionCall call_;
  std::string id_;
  int64_t created_;
  size_t offset_ = 0;
};

}  // namespace

void HandleCompletions(ServerState& state, const httplib::Request& request,
                       httplib::Response& response) {
  CompletionCall call = ReadCompletionRequest(request.body, state.backend, state.served_name);
  const bool stream = call.stream.stream;
  RequestSession::Respond(std::make_shared<CompletionSession>(state, request, std::move(call)),
                          stream, &response);
}

}  // namespace dsv32_server

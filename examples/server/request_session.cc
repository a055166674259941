#include "request_session.h"

#include <cstdio>

#include "api_error.h"
#include "responses.h"
#include "sse.h"

namespace dsv32_server {

namespace {

// How often a waiting request checks its client.
constexpr int kPollMs = 50;

}  // namespace

RequestSession::RequestSession(ServerState& state, const httplib::Request& request,
                               GenerationSpec spec)
    : state_(state),
      slot_(state),
      probe_(request.local_addr, request.local_port, request.remote_addr, request.remote_port),
      generation_(std::make_unique<Generation>(state.backend, std::move(spec))) {}

void RequestSession::ClientGone() {
  generation_->Cancel();
  state_.client_disconnects.fetch_add(1);
  std::fprintf(stderr, "dsv32-server: client disconnected, request cancelled\n");
}

bool RequestSession::RunToEnd(const std::function<void(const GenerationUpdate&)>& on_update) {
  GenerationUpdate update;
  while (!generation_->finished()) {
    if (generation_->Next(kPollMs, &update)) {
      if (generation_->started()) slot_.FirstToken();
      on_update(update);
    } else if (state_.stopping) {
      generation_->Cancel();
    } else if (!probe_.Alive()) {
      ClientGone();
      return false;
    }
  }
  return true;
}

bool RequestSession::Pump(httplib::DataSink& sink) {
  if (!opened_) {
    opened_ = true;
    if (!Open(sink)) {
      ClientGone();
      return false;
    }
    return true;
  }
  GenerationUpdate update;
  if (!generation_->Next(kPollMs, &update)) {
    if (generation_->finished()) return false;  // the stream was already closed
    if (state_.stopping) {
      generation_->Cancel();
      return false;
    }
    if (probe_.Alive()) return true;
    ClientGone();
    return false;
  }
  if (generation_->started()) slot_.FirstToken();
  if (!Write(update, sink)) {
    if (!generation_->finished()) ClientGone();
    return false;
  }
  return true;
}

nlohmann::json RequestSession::Usage() const {
  return UsageJson(generation_->prompt_tokens(), generation_->completion_tokens());
}

bool RequestSession::SendStreamError(const std::string& error, httplib::DataSink& sink) {
  const ApiError api_error(500, "generation failed: " + error);
  return SendEvent(sink, nlohmann::json::parse(ErrorBody(api_error))) && SendDone(sink);
}

void RequestSession::Respond(std::shared_ptr<RequestSession> session, bool stream,
                             httplib::Response* response) {
  if (!stream) {
    const nlohmann::json reply = session->Whole();
    if (!reply.is_null()) response->set_content(Dump(reply), "application/json");
    return;
  }
  response->set_header("Cache-Control", "no-cache");
  response->set_header("X-Accel-Buffering", "no");
  response->set_chunked_content_provider(
      "text/event-stream",
      // The session, and with it the engine request, lives as long as the
      // reply, whatever way the reply ends.
      [session](size_t, httplib::DataSink& sink) { return session->Pump(sink); });
}

}  // namespace dsv32_server

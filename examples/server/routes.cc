#include "routes.h"

#include <cstdio>
#include <functional>

#include "api_error.h"
#include "chat_route.h"
#include "completion_route.h"
#include "responses.h"

namespace dsv32_server {

namespace {

using Handler = std::function<void(ServerState&, const httplib::Request&, httplib::Response&)>;

void SetError(httplib::Response& response, const ApiError& error) {
  response.status = error.status;
  response.set_content(ErrorBody(error), "application/json");
}

// Runs a handler, turning what it throws into an error reply.
httplib::Server::Handler Guarded(ServerState& state, Handler handler) {
  return [&state, handler](const httplib::Request& request, httplib::Response& response) {
    try {
      handler(state, request, response);
    } catch (const ApiError& e) {
      SetError(response, e);
    } catch (const std::exception& e) {
      SetError(response, ApiError(500, std::string("internal error: ") + e.what()));
    }
  };
}

nlohmann::json ModelJson(const ServerState& state) {
  return {{"id", state.served_name},
          {"object", "model"},
          {"created", state.started},
          {"owned_by", "dsv32"},
          {"max_model_len", state.backend.max_context}};
}

void Models(ServerState& state, const httplib::Request&, httplib::Response& response) {
  const nlohmann::json list = {{"object", "list"}, {"data", {ModelJson(state)}}};
  response.set_content(Dump(list), "application/json");
}

void Model(ServerState& state, const httplib::Request& request, httplib::Response& response) {
  if (request.matches[1] != state.served_name)
    throw ApiError(404, "the model '" + std::string(request.matches[1]) + "' does not exist",
                   "model", {}, "model_not_found");
  response.set_content(Dump(ModelJson(state)), "application/json");
}

void Health(ServerState&, const httplib::Request&, httplib::Response& response) {
  response.set_content("{\"status\":\"ok\"}", "application/json");
}

void Metrics(ServerState& state, const httplib::Request&, httplib::Response& response) {
  response.set_content(state.PrometheusText(), "text/plain; version=0.0.4");
}

}  // namespace

void AddRoutes(httplib::Server& server, ServerState& state) {
  server.Get("/health", Guarded(state, Health));
  server.Get("/v1/models", Guarded(state, Models));
  server.Get("/v1/models/(.+)", Guarded(state, Model));
  server.Get("/metrics", Guarded(state, Metrics));
  server.Post("/v1/chat/completions", Guarded(state, HandleChatCompletions));
  server.Post("/v1/completions", Guarded(state, HandleCompletions));

  // Replies the HTTP layer makes itself come here with an empty body.
  server.set_error_handler(httplib::Server::HandlerWithResponse(
      [&state](const httplib::Request& request, httplib::Response& response) {
        if (!response.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        std::string message;
        switch (response.status) {
          case 404:
            message = "no route for " + request.method + " " + request.path;
            break;
          case 413:
            state.rejected_too_large.fetch_add(1);
            message = "the request body is larger than this server's limit of " +
                      std::to_string(state.max_body_bytes) + " bytes";
            break;
          default:
            message = "the HTTP request could not be served";
            break;
        }
        SetError(response, ApiError(response.status, message));
        return httplib::Server::HandlerResponse::Handled;
      }));
  server.set_logger([&state](const httplib::Request& request, const httplib::Response& response) {
    if (response.status >= 500)
      state.responses_5xx.fetch_add(1);
    else if (response.status >= 400)
      state.responses_4xx.fetch_add(1);
    else
      state.responses_2xx.fetch_add(1);
    std::fprintf(stderr, "dsv32-server: %s %s %d\n", request.method.c_str(), request.path.c_str(),
                 response.status);
  });
}

}  // namespace dsv32_server

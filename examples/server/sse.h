// Server-sent events as OpenAI streams them: each chunk one
// "data: {json}\n\n" event, the stream closed by "data: [DONE]\n\n".
#pragma once

#include <httplib.h>

#include <nlohmann/json.hpp>

namespace dsv32_server {

// False when the client can no longer be written to.
bool SendEvent(httplib::DataSink& sink, const nlohmann::json& data);
bool SendDone(httplib::DataSink& sink);

}  // namespace dsv32_server

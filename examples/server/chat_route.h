// POST /v1/chat/completions.
#pragma once

#include <httplib.h>

#include "server_state.h"

namespace dsv32_server {

void HandleChatCompletions(ServerState& state, const httplib::Request& request,
                           httplib::Response& response);

}  // namespace dsv32_server

// Every endpoint of the server, and the error replies in OpenAI's shape for
// what the HTTP layer refuses itself (unknown routes, bodies over the limit).
#pragma once

#include <httplib.h>

#include "server_state.h"

namespace dsv32_server {

void AddRoutes(httplib::Server& server, ServerState& state);

}  // namespace dsv32_server

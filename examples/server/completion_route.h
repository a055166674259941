// POST /v1/completions.
#pragma once

#include <httplib.h>

#include "server_state.h"

namespace dsv32_server {

void HandleCompletions(ServerState& state, const httplib::Request& request,
                       httplib::Response& response);

}  // namespace dsv32_server

// dsv32-server: an OpenAI-compatible HTTP server over libdsv32's C API.
// Usage: see kUsage in options.cc, or dsv32-server --help.
#include <dsv32/dsv32.h>
#include <httplib.h>
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "chat_request.h"
#include "options.h"
#include "responses.h"
#include "routes.h"
#include "server_state.h"

namespace {

using dsv32_server::Options;

int Fail(const std::string& message) {
  std::fprintf(stderr, "dsv32-server: error: %s\n", message.c_str());
  return 1;
}

std::string ModelName(const Options& o) {
  if (!o.served_model_name.empty()) return o.served_model_name;
  std::filesystem::path dir(o.model);
  if (dir.filename().empty()) dir = dir.parent_path();
  return dir.filename().string();
}

int Serve(const Options& o) {
  dsv32_model* model = nullptr;
  dsv32_model_params model_params = dsv32_model_default_params();
  model_params.activations = o.bf16_activations ? DSV32_ACTIVATIONS_BF16 : DSV32_ACTIVATIONS_F32;
  model_params.populate = o.populate ? 1 : 0;
  if (dsv32_model_load(o.model.c_str(), &model_params, &model) != DSV32_OK)
    return Fail(std::string("loading the model: ") + dsv32_last_error());
  dsv32_model_info info{};
  info.struct_size = sizeof info;
  dsv32_model_get_info(model, &info);
  dsv32_tokenizer* tokenizer = nullptr;
  const std::string tokenizer_dir = o.tokenizer.empty() ? o.model : o.tokenizer;
  if (dsv32_tokenizer_load(tokenizer_dir.c_str(), &tokenizer) != DSV32_OK) {
    dsv32_model_free(model);
    return Fail(std::string("loading the tokenizer: ") + dsv32_last_error());
  }
  dsv32_engine_params params = dsv32_engine_default_params();
  params.n_threads = o.threads;
  params.max_context = o.max_context;
  params.speculative_tokens = static_cast<int32_t>(o.speculative_tokens);
  params.tokenizer = tokenizer;  // the engine streams text and applies stop strings
  dsv32_engine* engine = nullptr;
  const dsv32_status created = dsv32_engine_create(model, &params, &engine);
  dsv32_model_free(model);
  if (created != DSV32_OK) {
    dsv32_tokenizer_free(tokenizer);
    return Fail(std::string("creating the engine: ") + dsv32_last_error());
  }

  dsv32_server::ServerState state;
  state.backend.engine = engine;
  state.backend.tokenizer = tokenizer;
  state.backend.max_context = o.max_context;
  state.backend.vocab_size = info.vocab_size;
  int32_t bos = -1, eos = -1;
  dsv32_tokenizer_special_ids(tokenizer, &bos, &eos);
  state.backend.eos_id = eos >= 0 ? eos : static_cast<int32_t>(info.eos_token_id);
  state.served_name = ModelName(o);
  state.max_concurrency = o.max_concurrency;
  state.max_body_bytes = static_cast<size_t>(o.max_body_bytes);
  state.started = dsv32_server::UnixSeconds();
  int rc = 0;
  if (!o.echo_completion.empty()) {
    std::ifstream in(o.echo_completion, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    if (!in || text.str().empty()) {
      rc = Fail("--echo-completion: cannot read " + o.echo_completion);
    } else {
      state.backend.canned =
          dsv32_server::Tokenize(state.backend, text.str(), false, true, "--echo-completion");
    }
  }

  if (rc == 0) {
    httplib::Server server;
    // A streaming reply holds its thread, so there is one per allowed
    // request, and a few more for health checks and metrics.
    const size_t threads = static_cast<size_t>(o.max_concurrency) + 4;
    server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    server.set_payload_max_length(state.max_body_bytes);
    dsv32_server::AddRoutes(server, state);
    int port = o.port;
    const bool bound = port == 0 ? (port = server.bind_to_any_port(o.host)) > 0
                                 : server.bind_to_port(o.host, port);
    if (!bound) {
      rc = Fail("cannot listen on " + o.host + ":" + std::to_string(o.port));
    } else {
      // SIGINT and SIGTERM stop the server from a thread of their own, once
      // it is listening.
      std::thread stopper([&server, &state] {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGTERM);
        int sig = 0;
        sigwait(&set, &sig);
        state.stopping = true;
        server.stop();
      });
      std::printf("dsv32-server: serving %s on http://%s:%d\n", state.served_name.c_str(),
                  o.host.c_str(), port);
      std::fflush(stdout);
      server.listen_after_bind();
      state.stopping = true;
      pthread_kill(stopper.native_handle(), SIGTERM);
      stopper.join();
    }
  }
  dsv32_engine_free(engine);
  dsv32_tokenizer_free(tokenizer);
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  std::string error;
  const std::optional<Options> options = dsv32_server::ParseOptions(argc, argv, &error);
  if (!options) {
    if (error.empty()) {
      std::fputs(dsv32_server::kUsage, stdout);
      return 0;
    }
    std::fputs(dsv32_server::kUsage, stderr);
    return Fail(error);
  }
  // Every thread inherits this mask, so only the stopper takes the signals.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return Serve(*options);
}

// The life of one generating HTTP request: its concurrency slot, its
// engine request and its connection. Runs the generation to its end for a
// plain reply, or feeds a streamed reply chunk by chunk; either way a client
// that goes away gets its request cancelled.
#pragma once

#include <httplib.h>

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>

#include "connection.h"
#include "generation.h"
#include "server_state.h"

namespace dsv32_server {

class RequestSession {
 public:
  // Takes a slot (429 when none is free) and submits the spec.
  RequestSession(ServerState& state, const httplib::Request& request, GenerationSpec spec);
  virtual ~RequestSession() = default;

  // Runs to the end, passing each update on. Returns false when the client
  // disconnected first.
  bool RunToEnd(const std::function<void(const GenerationUpdate&)>& on_update);

  // Streams the reply as server-sent events, or waits for it whole.
  static void Respond(std::shared_ptr<RequestSession> session, bool stream,
                      httplib::Response* response);

  ServerState& state() const { return state_; }

 protected:
  // The whole reply, or null when the client left first.
  virtual nlohmann::json Whole() = 0;
  // Stream hooks: the opening events, then one call per update (the last
  // carries the finish and must end the stream with SendDone). Return false
  // when a write failed.
  virtual bool Open(httplib::DataSink& sink) { return true; }
  virtual bool Write(const GenerationUpdate& update, httplib::DataSink& sink) = 0;

  nlohmann::json Usage() const;
  // Ends a stream whose generation failed: an error event, then [DONE].
  static bool SendStreamError(const std::string& error, httplib::DataSink& sink);

 private:
  bool Pump(httplib::DataSink& sink);
  void ClientGone();

  ServerState& state_;
  ConcurrencySlot slot_;
  ConnectionProbe probe_;
  std::unique_ptr<Generation> generation_;
  bool opened_ = false;
};

}  // namespace dsv32_server

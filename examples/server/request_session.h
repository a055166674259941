// The life of one generating HTTP request: its concurrency slot, its
// engine request and its connection. Runs the generation to its end for a
// plain reply, or feeds a streamed reply chunk by chunk; either way a client
// that goes away gets its request cancelled.
#pragma once

#include <httplib.h>

#include <functional>
#include <memory>

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

  // Makes `response` a server-sent event stream driven by `session`.
  static void Stream(std::shared_ptr<RequestSession> session, httplib::Response* response);

  Generation& generation() { return *generation_; }
  ServerState& state() const { return state_; }

 protected:
  // Stream hooks: the opening events, then one call per update (the last
  // carries the finish and must end the stream with SendDone). Return false
  // when a write failed.
  virtual bool Open(httplib::DataSink& sink) { return true; }
  virtual bool Write(const GenerationUpdate& update, httplib::DataSink& sink) { return false; }

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

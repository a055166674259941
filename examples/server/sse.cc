#include "sse.h"

#include <string>

#include "responses.h"

namespace dsv32_server {

bool SendEvent(httplib::DataSink& sink, const nlohmann::json& data) {
  const std::string event = "data: " + Dump(data) + "\n\n";
  return sink.write(event.data(), event.size());
}

bool SendDone(httplib::DataSink& sink) {
  static constexpr char kDone[] = "data: [DONE]\n\n";
  if (!sink.write(kDone, sizeof kDone - 1)) return false;
  sink.done();
  return true;
}

}  // namespace dsv32_server

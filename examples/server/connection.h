// Whether the client of a request is still connected. cpp-httplib does not
// hand a handler its socket, so the socket is found once by the request's
// address pair (local and remote address and port are unique to a TCP
// connection) and then polled: a peer that has closed its end reads as end
// of file.
#pragma once

#include <string>

namespace dsv32_server {

class ConnectionProbe {
 public:
  ConnectionProbe(const std::string& local_addr, int local_port, const std::string& remote_addr,
                  int remote_port);

  // False once the client has closed or reset the connection. When the
  // socket could not be found, reports the connection as open.
  bool Alive() const;

 private:
  int fd_ = -1;
};

}  // namespace dsv32_server

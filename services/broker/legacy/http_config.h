#pragma once

// nsqd's /config/:opt: GET any option's value as JSON; PUT the two that change at run
// time (log_level, nsqlookupd_tcp_addresses), as nsqd allows.

#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/http/server.h"
#include "services/broker/legacy/http_api.h"

namespace nsq::legacy {

// Thread-safe: handlers run on the HTTP server's threads.
class ConfigEndpoint {
 public:
  // `options` supplies the initial values and the run-time setters; it must outlive this.
  explicit ConfigEndpoint(const HttpApiOptions& options)
      : options_(options), config_(options.config) {}

  // GET or PUT /config/<opt> (other methods are refused by the router).
  http::Response Handle(const http::Request& req) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  const HttpApiOptions& options_;
  absl::Mutex mu_;
  std::map<std::string, std::string> config_ ABSL_GUARDED_BY(mu_);  // option -> JSON value
};

}  // namespace nsq::legacy

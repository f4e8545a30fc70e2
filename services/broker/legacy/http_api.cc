#include "services/broker/legacy/http_api.h"

#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/http/server.h"
#include "common/json/go_json.h"
#include "services/broker/legacy/http_config.h"
#include "services/broker/legacy/http_policy.h"
#include "services/broker/legacy/http_pub.h"
#include "services/broker/legacy/http_stats.h"
#include "services/broker/legacy/http_topic_channel.h"
#include "services/broker/legacy/http_v1.h"
#include "services/broker/legacy/v2_protocol.h"

namespace nsq::legacy {
namespace {

using Handler = std::function<http::Response(const http::Request&)>;

// httprouter's answer (nsqd's router) for a path served with other `methods`: OPTIONS
// gets 200 with only an Allow header, any other method 405 METHOD_NOT_ALLOWED. Allow lists
// the methods and OPTIONS, sorted ("OPTIONS, POST").
http::Response MethodNotAllowed(const http::Request& req, std::vector<std::string> methods) {
  methods.push_back("OPTIONS");
  std::sort(methods.begin(), methods.end());
  std::string allow = absl::StrJoin(methods, ", ");
  http::Response r;
  if (req.method == "OPTIONS") {
    r.content_type.clear();
  } else {
    r = V1Error(405, "METHOD_NOT_ALLOWED");
  }
  r.headers.emplace_back("Allow", std::move(allow));
  return r;
}

// The routes, /ping and /info; each endpoint group lives in its own file (http_pub,
// http_topic_channel, http_stats, http_config).
class HttpApi {
 public:
  HttpApi(broker::Engine* engine, const V2Server* v2, HttpApiOptions options)
      : engine_(engine), v2_(v2), options_(std::move(options)), config_(options_) {}

  // Every handler holds `self`, so the API lives as long as the server's routes.
  static void Register(http::Server* server, const std::shared_ptr<HttpApi>& self) {
    auto route = [server, self](const std::string& path, const char* method, Handler fn) {
      server->Handle(path, [self, method, fn = std::move(fn)](const http::Request& req) {
        if (self->options_.tls_required) return self->TlsRequired();
        if (req.method != method) return MethodNotAllowed(req, {method});
        return fn(req);
      });
    };
    // The same for an endpoint that answers later (publishes, once durable).
    auto async_route = [server, self](const std::string& path, const char* method,
                                      http::AsyncHandler fn) {
      server->HandleAsync(path, [self, method, fn = std::move(fn)](const http::Request& req,
                                                                   http::Reply reply) {
        if (self->options_.tls_required) return reply(self->TlsRequired());
        if (req.method != method) return reply(MethodNotAllowed(req, {method}));
        fn(req, std::move(reply));
      });
    };
    HttpApi* api = self.get();
    broker::Engine* engine = self->engine_;
    const HttpApiOptions* options = &self->options_;
    route("/ping", "GET", [api](const http::Request& req) { return api->Ping(req); });
    route("/info", "GET", [api](const http::Request& req) { return api->Info(req); });
    async_route("/pub", "POST", [engine, options](const http::Request& req, http::Reply reply) {
      HandlePub(engine, *options, req, std::move(reply));
    });
    async_route("/mpub", "POST", [engine, options](const http::Request& req, http::Reply reply) {
      HandleMpub(engine, *options, req, std::move(reply));
    });
    route("/stats", "GET", [api](const http::Request& req) {
      return HandleStats(api->engine_, api->v2_, api->options_.start_time, req);
    });
    auto on_engine = [engine](http::Response (*fn)(broker::Engine*, const http::Request&)) {
      return [engine, fn](const http::Request& req) { return fn(engine, req); };
    };
    route("/topic/create", "POST", on_engine(&HandleTopicCreate));
    route("/topic/delete", "POST", on_engine(&HandleTopicDelete));
    route("/topic/empty", "POST", on_engine(&HandleTopicEmpty));
    route("/topic/pause", "POST", on_engine(&HandleTopicPause));
    route("/topic/unpause", "POST", on_engine(&HandleTopicPause));
    route("/channel/create", "POST", on_engine(&HandleChannelCreate));
    route("/channel/delete", "POST", on_engine(&HandleChannelDelete));
    route("/channel/empty", "POST", on_engine(&HandleChannelEmpty));
    route("/channel/pause", "POST", on_engine(&HandleChannelPause));
    route("/channel/unpause", "POST", on_engine(&HandleChannelPause));
    // Beyond NSQ (http_policy): GET and POST on one path.
    auto get_post_route = [server, self](const std::string& path, Handler fn) {
      server->Handle(path, [self, fn = std::move(fn)](const http::Request& req) {
        if (self->options_.tls_required) return self->TlsRequired();
        if (req.method != "GET" && req.method != "POST") return MethodNotAllowed(req, {"GET", "POST"});
        return fn(req);
      });
    };
    get_post_route("/channel/policy", on_engine(&HandleChannelPolicy));
    get_post_route("/topic/policy", on_engine(&HandleTopicPolicy));
    route("/channel/peek", "GET", on_engine(&HandleChannelPeek));
    server->HandlePrefix("/config/", [self](const http::Request& req) {
      if (self->options_.tls_required) return self->TlsRequired();
      if (req.method != "GET" && req.method != "PUT") return MethodNotAllowed(req, {"GET", "PUT"});
      return self->config_.Handle(req);
    });
    server->SetNotFound([self](const http::Request&) {
      if (self->options_.tls_required) return self->TlsRequired();
      return V1Error(404, "NOT_FOUND");
    });
  }

 private:
  // nsqd writes this one by hand (with spaces), not through encoding/json.
  http::Response TlsRequired() {
    const int port = options_.https_port ? options_.https_port() : 0;
    return V1(403, absl::StrCat("{\"message\": \"TLS_REQUIRED\", \"https_port\": ", port, "}"),
              kJsonContentType);
  }

  // /ping is plain text without the V1 header, as nsqd's.
  http::Response Ping(const http::Request&) {
    http::Response r;
    const absl::Status health = engine_->Health();
    if (health.ok()) {
      r.body = "OK";
    } else {
      r.status = 500;
      r.body = absl::StrCat("NOK - ", std::string(health.message()));
    }
    return r;
  }

  http::Response Info(const http::Request&) {
    json::GoJsonWriter w;
    w.BeginObject();
    w.Key("version").String(kNsqdVersion);
    w.Key("broadcast_address").String(options_.broadcast_address);
    w.Key("hostname").String(options_.hostname);
    w.Key("http_port").Int(options_.http_port ? options_.http_port() : -1);
    w.Key("tcp_port").Int(options_.tcp_port ? options_.tcp_port() : -1);
    w.Key("start_time").Int(absl::ToUnixSeconds(options_.start_time));
    w.Key("max_heartbeat_interval").Int(absl::ToInt64Nanoseconds(options_.max_heartbeat_interval));
    w.Key("max_output_buffer_size").Int(options_.max_output_buffer_size);
    w.Key("max_output_buffer_timeout")
        .Int(absl::ToInt64Nanoseconds(options_.max_output_buffer_timeout));
    w.Key("max_deflate_level").Int(options_.max_deflate_level);
    w.Key("topology_zone").String(options_.topology_zone);
    w.Key("topology_region").String(options_.topology_region);
    w.EndObject();
    return V1Json(w.Release());
  }

  broker::Engine* const engine_;
  const V2Server* const v2_;
  const HttpApiOptions options_;
  ConfigEndpoint config_;
};

}  // namespace

void RegisterHttpApi(http::Server* server, broker::Engine* engine, const V2Server* v2,
                     HttpApiOptions options) {
  HttpApi::Register(server, std::make_shared<HttpApi>(engine, v2, std::move(options)));
}

}  // namespace nsq::legacy

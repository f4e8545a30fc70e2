#include "tools/nsq/cli.h"

#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <functional>
#include <istream>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/flags/flags.h"
#include "common/grpc/server_options.h"
#include "common/grpc/tls.h"
#include "common/process/signals.h"
#include "nsq/v1/broker.grpc.pb.h"
#include "nsq/v1/discovery.grpc.pb.h"
#include "tools/nsq/args.h"

namespace nsq::tools::cli {
namespace {

namespace v1 = ::nsq::v1;

// Bounds of one Publish request: a batch is sent when it has this many bodies or bytes
// (below the broker's default --max-body-size of 5 MiB).
constexpr int64_t kDefaultBatchSize = 200;
constexpr size_t kMaxBatchBytes = 4 << 20;

// What every command takes.
struct Globals {
  std::string address = "127.0.0.1:4153";         // the broker's gRPC port
  std::string lookup_address = "127.0.0.1:4162";  // discovery's gRPC port
  absl::Duration timeout = absl::Seconds(5);      // per call (connecting, for sub)
  // TLS and the auth secret toward both addresses: --grpc-tls, --grpc-tls-ca,
  // --grpc-tls-cert, --grpc-tls-key, --grpc-tls-server-name, --grpc-auth-secret, as the
  // admin and the other tools take them.
  grpcutil::ClientOptions grpc;

  void Register(flags::FlagSet* fs) {
    fs->AddString("address", &address, "broker gRPC address (host:port)");
    fs->AddString("lookup-address", &lookup_address, "discovery gRPC address (host:port), for lookup");
    fs->AddDuration("timeout", &timeout, "deadline of each call; for sub, of subscribing");
    grpcutil::RegisterClientFlags(fs, &grpc, "grpc-", /*auth_secret=*/true);
  }
};

// One command: its name (with the subcommand, "topic create"), its arguments as usage
// shows them, and what it does.
struct CommandInfo {
  const char* name;
  const char* args;
  const char* summary;
};

constexpr CommandInfo kCommands[] = {
    {"pub", "TOPIC [BODY...]", "publish the BODYs, or one message per line of stdin, in batches"},
    {"sub", "TOPIC CHANNEL", "print each message's body, one per line, and finish it"},
    {"stats", "[TOPIC [CHANNEL]]", "the broker's topics and channels, as nsqd's text /stats"},
    {"topic", "create|delete|pause|unpause|empty TOPIC", "manage a topic"},
    {"channel", "create|delete|pause|unpause|empty TOPIC CHANNEL", "manage a channel"},
    {"peek", "TOPIC CHANNEL", "show a channel's messages (in flight, ready, deferred) without taking them"},
    {"policy", "get|set TOPIC [CHANNEL]", "a topic's default or a channel's policy (max attempts, TTL, max depth)"},
    {"lookup", "TOPIC", "the brokers discovery lists for TOPIC (--lookup-address)"},
};

std::string MainUsage() {
  std::string s =
      "usage: nsq [--address=HOST:PORT] [--lookup-address=HOST:PORT] [--timeout=DURATION]\n"
      "           [--grpc-tls] [--grpc-tls-ca=FILE] [--grpc-tls-cert=FILE --grpc-tls-key=FILE]\n"
      "           [--grpc-tls-server-name=NAME] [--grpc-auth-secret=SECRET] COMMAND [ARGS]\n\n"
      "A client for the nsq-cpp broker's and discovery's gRPC APIs.\n\ncommands:\n";
  for (const CommandInfo& c : kCommands) {
    absl::StrAppend(&s, absl::StrFormat("  %-8s %-48s %s\n", c.name, c.args, c.summary));
  }
  absl::StrAppend(&s,
                  "\nThe --grpc-* flags apply to --address and --lookup-address alike: TLS (on with any of\n"
                  "them; system roots without --grpc-tls-ca), a client certificate for mTLS, the name\n"
                  "expected in the server's certificate, and the secret a broker with --auth-http-address\n"
                  "asks for (sent as \"authorization: Bearer SECRET\").\n"
                  "\nFlags may come anywhere after the command; `--` ends them. `nsq COMMAND --help` shows a\n"
                  "command's flags. Exit status: 0 ok, 1 a call failed (its gRPC status is printed), 2 a bad\n"
                  "command line.\n");
  return s;
}

// "INVALID_ARGUMENT: E_BAD_TOPIC ..." for a failed call.
std::string StatusText(const grpc::Status& status) {
  return grpcutil::FromGrpcStatus(status).ToString();
}

std::string Hex(const std::string& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

// NSQ's ids are 16 printable hex characters; anything else is shown in hex.
std::string IdText(const std::string& id) {
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return Hex(id);
  }
  return id;
}

std::string FormatTimeNs(int64_t ns) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::FromUnixNanos(ns), absl::UTCTimeZone());
}

class Cli {
 public:
  Cli(std::istream& in, std::ostream& out, std::ostream& err) : in_(in), out_(out), err_(err) {}

  int Run(const std::vector<std::string>& args) {
    // Global flags before the command; the command's FlagSet takes them again after it.
    flags::FlagSet fs("nsq");
    globals_.Register(&fs);
    absl::Status st = fs.Parse(args);
    if (fs.HelpRequested() || (st.ok() && !fs.positional().empty() && fs.positional()[0] == "help")) {
      out_ << MainUsage();
      return kExitOk;
    }
    if (!st.ok()) return UsageError("", std::string(st.message()));
    if (fs.positional().empty()) {
      err_ << MainUsage();
      return kExitUsage;
    }
    command_ = fs.positional()[0];
    const std::vector<std::string> rest(fs.positional().begin() + 1, fs.positional().end());
    if (command_ == "pub") return Pub(rest);
    if (command_ == "sub") return Sub(rest);
    if (command_ == "stats") return Stats(rest);
    if (command_ == "topic" || command_ == "channel") return Admin(rest);
    if (command_ == "peek") return Peek(rest);
    if (command_ == "policy") return Policy(rest);
    if (command_ == "lookup") return Lookup(rest);
    command_.clear();
    return UsageError("", absl::StrCat("unknown command \"", fs.positional()[0], "\" (see nsq --help)"));
  }

 private:
  // "nsq: <command>: <message>" and kExitUsage.
  int UsageError(const std::string& usage, const std::string& message) {
    err_ << "nsq: " << (command_.empty() ? "" : command_ + ": ") << message << "\n";
    if (!usage.empty()) err_ << "usage: " << usage << "\n";
    return kExitUsage;
  }
  int CallFailed(const std::string& what, const grpc::Status& status) {
    err_ << "nsq: " << command_ << ": " << what << ": " << StatusText(status) << "\n";
    return kExitFailed;
  }

  // Parses a command's arguments: the global flags and the command's own (registered on
  // `fs` by the caller), between `min` and `max` positional arguments (max < 0: any).
  // nullopt to go on; otherwise the exit status (after --help or a usage error).
  std::optional<int> Parse(flags::FlagSet* fs, const std::vector<std::string>& args, const std::string& usage,
                           const std::string& help, int min, int max, std::vector<std::string>* positional) {
    globals_.Register(fs);
    absl::Status st = ParseInterleaved(fs, args, positional);
    if (fs->HelpRequested()) {
      out_ << "usage: " << usage << "\n\n" << help << "\n\n" << fs->Usage();
      return kExitOk;
    }
    if (!st.ok()) return UsageError(usage, std::string(st.message()));
    const int n = static_cast<int>(positional->size());
    if (n < min) return UsageError(usage, "missing arguments");
    if (max >= 0 && n > max) {
      return UsageError(usage, absl::StrCat("unexpected argument \"", (*positional)[max], "\""));
    }
    if (globals_.timeout <= absl::ZeroDuration()) return UsageError(usage, "--timeout must be positive");
    // A missing or mismatched certificate file is a bad command line too (nothing is sent).
    auto credentials = grpcutil::MakeChannelCredentials(globals_.grpc);
    if (!credentials.ok()) return UsageError("", std::string(credentials.status().message()));
    credentials_ = *std::move(credentials);
    return std::nullopt;
  }

  // Plaintext, or TLS and the auth secret from the --grpc-* flags (credentials made by
  // Parse).
  std::shared_ptr<grpc::Channel> Channel(const std::string& address) {
    return grpcutil::CreateChannel(address, credentials_, globals_.grpc, grpc::ChannelArguments());
  }
  std::unique_ptr<v1::Broker::Stub> Broker() { return v1::Broker::NewStub(Channel(globals_.address)); }
  // A context with the --timeout deadline.
  std::unique_ptr<grpc::ClientContext> Context() {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + absl::ToChronoMicroseconds(globals_.timeout));
    return ctx;
  }

  // ---- pub

  int Pub(const std::vector<std::string>& args) {
    flags::FlagSet fs("nsq pub");
    absl::Duration defer = absl::ZeroDuration();
    int64_t batch_size = 0;
    fs.AddDuration("defer", &defer, "deliver each message this long from now (DPUB), e.g. 30s");
    fs.AddInt64("batch-size", &batch_size,
                "bodies per Publish request (default: 200, or 1 when stdin is a terminal)");
    std::vector<std::string> pos;
    const std::string usage = "nsq pub [--defer=DURATION] [--batch-size=N] TOPIC [BODY...]";
    if (auto exit = Parse(&fs, args, usage,
                          "Publishes each BODY, or without any, each line of stdin (empty lines are skipped),\n"
                          "in batches of --batch-size (MPUB). Prints how many were published.",
                          1, -1, &pos)) {
      return *exit;
    }
    if (defer < absl::ZeroDuration()) return UsageError(usage, "--defer must not be negative");
    if (batch_size < 0) return UsageError(usage, "--batch-size must not be negative");
    if (batch_size == 0) batch_size = isatty(STDIN_FILENO) ? 1 : kDefaultBatchSize;
    const std::string& topic = pos[0];
    auto stub = Broker();
    int64_t published = 0;
    v1::PublishRequest req;
    size_t bytes = 0;
    auto flush = [&]() -> bool {
      if (req.bodies_size() == 0) return true;
      req.set_topic(topic);
      req.set_defer_ms(absl::ToInt64Milliseconds(defer));
      v1::PublishResponse resp;
      auto ctx = Context();
      grpc::Status st = stub->Publish(ctx.get(), req, &resp);
      if (!st.ok()) {
        CallFailed(absl::StrCat("publish to ", globals_.address, " (", published, " published before)"), st);
        return false;
      }
      published += req.bodies_size();
      req.clear_bodies();
      bytes = 0;
      return true;
    };
    auto add = [&](std::string body) -> bool {
      if (bytes > 0 && bytes + body.size() > kMaxBatchBytes && !flush()) return false;
      bytes += body.size();
      req.add_bodies(std::move(body));
      return req.bodies_size() < batch_size || flush();
    };
    if (pos.size() > 1) {
      for (size_t i = 1; i < pos.size(); ++i) {
        if (!add(pos[i])) return kExitFailed;
      }
    } else {
      std::string line;
      while (std::getline(in_, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty()) continue;
        if (!add(std::move(line))) return kExitFailed;
        line.clear();
      }
    }
    if (!flush()) return kExitFailed;
    out_ << "published " << published << (published == 1 ? " message" : " messages") << " to " << topic << "\n";
    return kExitOk;
  }

  // ---- sub

  int Sub(const std::vector<std::string>& args) {
    // Before gRPC's first thread (Parse makes the channel credentials): SIGINT, SIGTERM
    // and SIGHUP are then taken by Subscribe's watcher. Every other command keeps their
    // default action, ending the process.
    process::BlockShutdownSignals();
    flags::FlagSet fs("nsq sub");
    int64_t count = 0;
    int64_t rdy = 100;
    bool print_id = false;
    fs.AddInt64("count", &count, "stop after this many messages (0: until interrupted)");
    fs.AddInt64("rdy", &rdy, "most messages in flight at once (RDY)");
    fs.AddBool("print-id", &print_id, "print each message's id and attempts before its body");
    std::vector<std::string> pos;
    const std::string usage = "nsq sub [--count=N] [--rdy=N] [--print-id] TOPIC CHANNEL";
    if (auto exit = Parse(&fs, args, usage,
                          "Subscribes to CHANNEL of TOPIC (both created if missing), prints each message's\n"
                          "body on a line and finishes it (FIN). Ends after --count messages, or on SIGINT /\n"
                          "SIGTERM (what is in flight then goes back to the channel).",
                          2, 2, &pos)) {
      return *exit;
    }
    if (count < 0) return UsageError(usage, "--count must not be negative");
    if (rdy < 1) return UsageError(usage, "--rdy must be at least 1");
    return Subscribe(pos[0], pos[1], count, rdy, print_id);
  }

  int Subscribe(const std::string& topic, const std::string& channel, int64_t count, int64_t rdy, bool print_id) {
    auto stub = Broker();
    grpc::ClientContext ctx;
    auto stream = stub->Subscribe(&ctx);
    // Writes come from this thread and, to close on a signal, from the watcher: one at a
    // time, none after WritesDone. A failed write needs no answer: the stream is broken
    // and Read() says so.
    absl::Mutex write_mu;
    bool closed = false;  // guarded by write_mu
    auto write = [&](const v1::SubscribeRequest& r) {
      absl::MutexLock lock(&write_mu);
      if (!closed) stream->Write(r);
    };
    auto close = [&] {
      absl::MutexLock lock(&write_mu);
      if (closed) return;
      closed = true;
      stream->WritesDone();
    };
    auto is_closed = [&] {
      absl::MutexLock lock(&write_mu);
      return closed;
    };
    std::atomic<bool> subscribed{false};
    std::atomic<bool> done{false};
    std::atomic<bool> timed_out{false};
    // Watches for a signal (close, then cancel if the broker does not end the stream
    // within --timeout) and for the --timeout of subscribing.
    std::thread watcher([&] {
      const absl::Time subscribe_deadline = absl::Now() + globals_.timeout;
      std::optional<absl::Time> cancel_at;
      while (!done.load()) {
        if (process::WaitForShutdownSignalFor(absl::Milliseconds(50)).has_value() && !cancel_at) {
          close();
          cancel_at = absl::Now() + globals_.timeout;
        }
        const absl::Time now = absl::Now();
        if ((cancel_at && now > *cancel_at) || (!subscribed.load() && now > subscribe_deadline)) {
          if (!subscribed.load()) timed_out = true;
          ctx.TryCancel();
          return;
        }
      }
    });
    struct Joiner {
      std::thread* t;
      std::atomic<bool>* done;
      ~Joiner() {
        done->store(true);
        t->join();
      }
    } joiner{&watcher, &done};

    v1::SubscribeRequest sub;
    sub.mutable_subscribe()->set_topic(topic);
    sub.mutable_subscribe()->set_channel(channel);
    sub.mutable_subscribe()->set_user_agent("nsq-cpp nsq");
    int64_t remaining = count;  // 0 = no limit
    bool output_failed = false;
    int64_t ready = count > 0 ? std::min(rdy, count) : rdy;
    v1::SubscribeRequest ready_req;
    ready_req.mutable_ready()->set_count(ready);
    write(sub);
    write(ready_req);
    // Read to the end of the stream (gRPC wants that before Finish), after a close too.
    v1::SubscribeResponse resp;
    while (stream->Read(&resp)) {
      if (resp.subscribed()) subscribed = true;
      for (const auto& e : resp.errors()) {
        err_ << "nsq: sub: " << absl::StatusCodeToString(static_cast<absl::StatusCode>(e.code())) << ": "
             << e.message() << "\n";
      }
      // After a close, messages still arriving are left in flight: the broker gives them
      // back to the channel when the stream ends.
      if (resp.messages_size() == 0 || is_closed()) continue;
      v1::SubscribeRequest fin;
      std::vector<v1::SubscribeRequest> requeues;
      for (const v1::Message& m : resp.messages()) {
        if (count > 0 && remaining == 0) {
          // Past --count (RDY shrinks as we go, so only if the broker sent more): give it
          // back without using an attempt.
          v1::SubscribeRequest req;
          req.mutable_requeue()->set_id(m.id());
          req.mutable_requeue()->set_without_attempt(true);
          requeues.push_back(std::move(req));
          continue;
        }
        if (print_id) out_ << IdText(m.id()) << " " << m.attempts() << " ";
        out_.write(m.body().data(), static_cast<std::streamsize>(m.body().size()));
        out_ << "\n";
        fin.mutable_finish()->add_ids(m.id());
        if (count > 0) --remaining;
      }
      out_.flush();
      if (!out_) {
        // stdout is gone (a closed pipe): finish nothing more; what is in flight goes back.
        err_ << "nsq: sub: cannot write to stdout; stopping\n";
        close();
        output_failed = true;
        continue;
      }
      // RDY first (0 once --count is reached), so that the FINs cannot let out more.
      if (count > 0 && std::min(rdy, remaining) != ready) {
        ready = std::min(rdy, remaining);
        ready_req.mutable_ready()->set_count(ready);
        write(ready_req);
      }
      if (fin.finish().ids_size() > 0) write(fin);
      for (const auto& r : requeues) write(r);
      // Half-close: the broker handles every command sent so far, then ends the stream.
      if (count > 0 && remaining == 0) close();
    }
    grpc::Status st = stream->Finish();
    if (timed_out.load()) {
      st = grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                        absl::StrCat("not subscribed within --timeout=", flags::FormatGoDuration(globals_.timeout)));
    }
    if (!st.ok() && !(st.error_code() == grpc::StatusCode::CANCELLED && subscribed.load())) {
      return CallFailed(absl::StrCat("subscribe to ", topic, "/", channel, " at ", globals_.address), st);
    }
    if (output_failed) return kExitFailed;
    if (count > 0 && remaining > 0) {
      err_ << "nsq: sub: stopped after " << (count - remaining) << " of " << count << " messages\n";
      return kExitFailed;
    }
    return kExitOk;
  }

  // ---- stats

  int Stats(const std::vector<std::string>& args) {
    flags::FlagSet fs("nsq stats");
    bool json = false;
    bool clients = false;
    fs.AddBool("json", &json, "print the GetStats response as JSON");
    fs.AddBool("clients", &clients, "include each channel's consumers");
    std::vector<std::string> pos;
    const std::string usage = "nsq stats [--json] [--clients] [TOPIC [CHANNEL]]";
    if (auto exit = Parse(&fs, args, usage,
                          "The broker's topics and channels (or just TOPIC, or CHANNEL of it): depth, disk,\n"
                          "in flight, deferred, requeued, timed out, messages, as nsqd's text /stats.",
                          0, 2, &pos)) {
      return *exit;
    }
    v1::GetStatsRequest req;
    if (!pos.empty()) req.set_topic(pos[0]);
    if (pos.size() > 1) req.set_channel(pos[1]);
    req.set_exclude_clients(!clients);
    v1::GetStatsResponse resp;
    auto ctx = Context();
    grpc::Status st = Broker()->GetStats(ctx.get(), req, &resp);
    if (!st.ok()) return CallFailed(absl::StrCat("stats of ", globals_.address), st);
    if (json) return PrintJson(resp);
    out_ << resp.version() << "\nstart_time " << absl::FormatTime(absl::RFC3339_sec, absl::FromUnixSeconds(resp.start_time_unix()), absl::UTCTimeZone())
         << "\n\nHealth: " << (resp.health().empty() ? "OK" : resp.health()) << "\n";
    if (resp.topics().empty()) {
      out_ << "\nTopics: None\n";
      return kExitOk;
    }
    out_ << "\nTopics:";
    for (const v1::TopicStats& t : resp.topics()) {
      out_ << absl::StrFormat("\n%s[%-15s] depth: %-5d be-depth: %-5d msgs: %d\n", t.paused() ? "*P " : "   ",
                              t.topic_name(), t.depth(), t.backend_depth(), t.message_count());
      for (const v1::ChannelStats& c : t.channels()) {
        out_ << absl::StrFormat(
            "%s[%-25s] depth: %-5d be-depth: %-5d inflt: %-4d def: %-4d re-q: %-5d timeout: %-5d msgs: %-8d "
            "clients: %d\n",
            c.paused() ? "   *P " : "      ", c.channel_name(), c.depth(), c.backend_depth(), c.in_flight_count(),
            c.deferred_count(), c.requeue_count(), c.timeout_count(), c.message_count(), c.client_count());
        for (const v1::ClientStats& cl : c.clients()) {
          out_ << absl::StrFormat("        [%s %s] %s rdy: %d inflt: %d fin: %d re-q: %d msgs: %d\n", cl.protocol(),
                                  cl.client_id(), cl.remote_address(), cl.ready_count(), cl.in_flight_count(),
                                  cl.finish_count(), cl.requeue_count(), cl.message_count());
        }
      }
    }
    return kExitOk;
  }

  int PrintJson(const google::protobuf::Message& m) {
    std::string text;
    google::protobuf::util::JsonPrintOptions options;
    options.add_whitespace = true;
    options.preserve_proto_field_names = true;
    options.always_print_primitive_fields = true;
    if (!google::protobuf::util::MessageToJsonString(m, &text, options).ok()) {
      err_ << "nsq: " << command_ << ": cannot print the response as JSON\n";
      return kExitFailed;
    }
    out_ << text;
    return kExitOk;
  }

  // ---- topic / channel

  int Admin(const std::vector<std::string>& args) {
    const bool is_channel = command_ == "channel";
    flags::FlagSet fs(absl::StrCat("nsq ", command_));
    std::vector<std::string> pos;
    const std::string usage = is_channel ? "nsq channel create|delete|pause|unpause|empty TOPIC CHANNEL"
                                         : "nsq topic create|delete|pause|unpause|empty TOPIC";
    const int n = is_channel ? 3 : 2;
    if (auto exit = Parse(&fs, args, usage,
                          is_channel ? "Creates, deletes, pauses, unpauses or empties a channel on the broker."
                                     : "Creates, deletes, pauses, unpauses or empties a topic on the broker.",
                          n, n, &pos)) {
      return *exit;
    }
    const std::string& action = pos[0];
    using TopicCall = grpc::Status (v1::Broker::Stub::*)(grpc::ClientContext*, const v1::TopicRequest&,
                                                         v1::TopicResponse*);
    using ChannelCall = grpc::Status (v1::Broker::Stub::*)(grpc::ClientContext*, const v1::ChannelRequest&,
                                                           v1::ChannelResponse*);
    static const std::map<std::string, std::pair<TopicCall, ChannelCall>> kActions = {
        {"create", {&v1::Broker::Stub::CreateTopic, &v1::Broker::Stub::CreateChannel}},
        {"delete", {&v1::Broker::Stub::DeleteTopic, &v1::Broker::Stub::DeleteChannel}},
        {"pause", {&v1::Broker::Stub::PauseTopic, &v1::Broker::Stub::PauseChannel}},
        {"unpause", {&v1::Broker::Stub::UnpauseTopic, &v1::Broker::Stub::UnpauseChannel}},
        {"empty", {&v1::Broker::Stub::EmptyTopic, &v1::Broker::Stub::EmptyChannel}},
    };
    auto it = kActions.find(action);
    if (it == kActions.end()) return UsageError(usage, absl::StrCat("unknown action \"", action, "\""));
    auto stub = Broker();
    auto ctx = Context();
    grpc::Status st;
    std::string what;
    if (is_channel) {
      v1::ChannelRequest req;
      req.set_topic(pos[1]);
      req.set_channel(pos[2]);
      v1::ChannelResponse resp;
      st = (stub.get()->*(it->second.second))(ctx.get(), req, &resp);
      what = absl::StrCat("channel ", pos[1], "/", pos[2]);
    } else {
      v1::TopicRequest req;
      req.set_topic(pos[1]);
      v1::TopicResponse resp;
      st = (stub.get()->*(it->second.first))(ctx.get(), req, &resp);
      what = absl::StrCat("topic ", pos[1]);
    }
    if (!st.ok()) return CallFailed(absl::StrCat(action, " ", what), st);
    static const std::map<std::string, std::string> kDone = {
        {"create", "created"}, {"delete", "deleted"}, {"pause", "paused"}, {"unpause", "unpaused"},
        {"empty", "emptied"}};
    out_ << what << ": " << kDone.at(action) << "\n";
    return kExitOk;
  }

  // ---- peek

  int Peek(const std::vector<std::string>& args) {
    flags::FlagSet fs("nsq peek");
    int limit = 10;
    bool json = false;
    fs.AddInt("limit", &limit, "most messages of each state (1-1000)");
    fs.AddBool("json", &json, "print the Peek response as JSON (bodies in base64)");
    std::vector<std::string> pos;
    const std::string usage = "nsq peek [--limit=N] [--json] TOPIC CHANNEL";
    if (auto exit = Parse(&fs, args, usage,
                          "Shows up to --limit messages of each state of a channel (in flight, ready,\n"
                          "deferred), one per line: state, id, attempts, publish time, body. Changes nothing.",
                          2, 2, &pos)) {
      return *exit;
    }
    if (limit < 1 || limit > 1000) return UsageError(usage, "--limit must be between 1 and 1000");
    v1::PeekRequest req;
    req.set_topic(pos[0]);
    req.set_channel(pos[1]);
    req.set_limit(limit);
    v1::PeekResponse resp;
    auto ctx = Context();
    grpc::Status st = Broker()->Peek(ctx.get(), req, &resp);
    if (!st.ok()) return CallFailed(absl::StrCat("peek at ", pos[0], "/", pos[1]), st);
    if (json) return PrintJson(resp);
    for (const v1::PeekedMessage& p : resp.messages()) {
      const char* state = p.state() == v1::PeekedMessage::IN_FLIGHT ? "in_flight"
                          : p.state() == v1::PeekedMessage::DEFERRED ? "deferred"
                                                                       : "ready";
      out_ << state << " " << IdText(p.message().id()) << " attempts=" << p.message().attempts() << " "
           << FormatTimeNs(p.message().timestamp_ns());
      if (p.state() == v1::PeekedMessage::DEFERRED) out_ << " due=" << FormatTimeNs(p.due_ns());
      if (p.state() == v1::PeekedMessage::IN_FLIGHT) {
        out_ << " deadline=" << FormatTimeNs(p.deadline_ns()) << " client=" << p.client_id();
      }
      out_ << " " << p.message().body() << "\n";
    }
    return kExitOk;
  }

  // ---- policy

  int Policy(const std::vector<std::string>& args) {
    flags::FlagSet fs("nsq policy");
    int max_attempts = 0;
    std::string dead_letter_topic;
    absl::Duration ttl = absl::ZeroDuration();
    bool dead_letter_expired = false;
    int64_t max_depth = 0;
    std::string depth_policy = "reject_new";
    fs.AddInt("max-attempts", &max_attempts, "set: deliveries before a message is dead-lettered (0: unlimited)");
    fs.AddString("dead-letter-topic", &dead_letter_topic, "set: where messages past max attempts go");
    fs.AddDuration("message-ttl", &ttl, "set: messages older than this are not delivered (0: never)");
    fs.AddBool("dead-letter-expired", &dead_letter_expired, "set: send expired messages to the dead-letter topic");
    fs.AddInt64("max-depth", &max_depth, "set: most ready messages of a channel (0: unbounded)");
    fs.AddString("depth-policy", &depth_policy, "set: at max depth, reject_new or drop_oldest");
    std::vector<std::string> pos;
    const std::string usage = "nsq policy get|set [--max-attempts=N ...] TOPIC [CHANNEL]";
    if (auto exit = Parse(&fs, args, usage,
                          "get: a channel's policy, or a topic's default for its new channels.\n"
                          "set: replaces it with the flags given (a flag not given is off), creating the\n"
                          "channel and topic if missing.",
                          2, 3, &pos)) {
      return *exit;
    }
    const std::string& action = pos[0];
    const std::string& topic = pos[1];
    const bool channel = pos.size() == 3;
    auto stub = Broker();
    if (action == "get") {
      v1::ChannelPolicy policy;
      auto ctx = Context();
      if (channel) {
        v1::GetStatsRequest req;
        req.set_topic(topic);
        req.set_channel(pos[2]);
        req.set_exclude_clients(true);
        v1::GetStatsResponse resp;
        grpc::Status st = stub->GetStats(ctx.get(), req, &resp);
        if (!st.ok()) return CallFailed(absl::StrCat("policy of ", topic, "/", pos[2]), st);
        for (const auto& t : resp.topics()) {
          for (const auto& c : t.channels()) {
            if (c.channel_name() == pos[2]) policy = c.policy();
          }
        }
      } else {
        v1::TopicRequest req;
        req.set_topic(topic);
        grpc::Status st = stub->GetTopicPolicy(ctx.get(), req, &policy);
        if (!st.ok()) return CallFailed(absl::StrCat("policy of topic ", topic), st);
      }
      PrintPolicy(policy);
      return kExitOk;
    }
    if (action != "set") return UsageError(usage, absl::StrCat("unknown action \"", action, "\""));
    v1::ChannelPolicy policy;
    policy.set_max_attempts(max_attempts);
    policy.set_dead_letter_topic(dead_letter_topic);
    policy.set_message_ttl_ms(absl::ToInt64Milliseconds(ttl));
    policy.set_dead_letter_expired(dead_letter_expired);
    policy.set_max_depth(max_depth);
    if (depth_policy == "drop_oldest") {
      policy.set_depth_policy(v1::ChannelPolicy::DROP_OLDEST);
    } else if (depth_policy != "reject_new") {
      return UsageError(usage, "--depth-policy must be reject_new or drop_oldest");
    }
    auto ctx = Context();
    grpc::Status st;
    if (channel) {
      v1::SetChannelPolicyRequest req;
      req.set_topic(topic);
      req.set_channel(pos[2]);
      *req.mutable_policy() = policy;
      v1::ChannelResponse resp;
      st = stub->SetChannelPolicy(ctx.get(), req, &resp);
    } else {
      v1::SetTopicPolicyRequest req;
      req.set_topic(topic);
      *req.mutable_policy() = policy;
      v1::TopicResponse resp;
      st = stub->SetTopicPolicy(ctx.get(), req, &resp);
    }
    const std::string what = channel ? absl::StrCat("channel ", topic, "/", pos[2]) : absl::StrCat("topic ", topic);
    if (!st.ok()) return CallFailed(absl::StrCat("set the policy of ", what), st);
    PrintPolicy(policy);
    return kExitOk;
  }

  void PrintPolicy(const v1::ChannelPolicy& p) {
    out_ << "max_attempts " << p.max_attempts() << "\ndead_letter_topic " << p.dead_letter_topic()
         << "\nmessage_ttl " << flags::FormatGoDuration(absl::Milliseconds(p.message_ttl_ms())) << "\ndead_letter_expired "
         << (p.dead_letter_expired() ? "true" : "false") << "\nmax_depth " << p.max_depth() << "\ndepth_policy "
         << (p.depth_policy() == v1::ChannelPolicy::DROP_OLDEST ? "drop_oldest" : "reject_new") << "\n";
  }

  // ---- lookup

  int Lookup(const std::vector<std::string>& args) {
    flags::FlagSet fs("nsq lookup");
    bool json = false;
    fs.AddBool("json", &json, "print the Lookup response as JSON");
    std::vector<std::string> pos;
    const std::string usage = "nsq lookup [--lookup-address=HOST:PORT] [--json] TOPIC";
    if (auto exit = Parse(&fs, args, usage,
                          "The brokers discovery lists for TOPIC, one per line (gRPC address, TCP and HTTP\n"
                          "ports, hostname, version), then its channels.",
                          1, 1, &pos)) {
      return *exit;
    }
    auto stub = v1::Discovery::NewStub(Channel(globals_.lookup_address));
    v1::LookupRequest req;
    req.set_topic(pos[0]);
    v1::LookupResponse resp;
    auto ctx = Context();
    grpc::Status st = stub->Lookup(ctx.get(), req, &resp);
    if (!st.ok()) return CallFailed(absl::StrCat("lookup of ", pos[0], " at ", globals_.lookup_address), st);
    if (json) return PrintJson(resp);
    for (const v1::Producer& p : resp.producers()) {
      out_ << absl::StrFormat("%s:%d tcp=%d http=%d hostname=%s version=%s\n", p.broadcast_address(), p.grpc_port(),
                              p.tcp_port(), p.http_port(), p.hostname(), p.version());
    }
    out_ << "channels: " << absl::StrJoin(resp.channels(), " ") << "\n";
    return kExitOk;
  }

  std::istream& in_;
  std::ostream& out_;
  std::ostream& err_;
  Globals globals_;
  std::shared_ptr<grpc::ChannelCredentials> credentials_;
  std::string command_;
};

}  // namespace

int Run(const std::vector<std::string>& args, std::istream& in, std::ostream& out, std::ostream& err) {
  return Cli(in, out, err).Run(args);
}

}  // namespace nsq::tools::cli

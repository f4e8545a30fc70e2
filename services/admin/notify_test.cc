#include "services/admin/notify.h"

#include "gtest/gtest.h"

namespace nsq::admin {
namespace {

TEST(NotifyTest, JsonHasNsqadminsKeysInOrderAndOmitsEmptyOnes) {
  AdminAction a;
  a.action = "pause_topic";
  a.topic = "orders";
  a.timestamp = 1700000000;
  a.remote_ip = "127.0.0.1";
  a.user_agent = "curl/8";
  a.url = "/api/topics/orders";
  a.via = "admin-host";
  EXPECT_EQ(NotificationJson(a),
            R"({"action":"pause_topic","topic":"orders","timestamp":1700000000,)"
            R"("remote_ip":"127.0.0.1","user_agent":"curl/8","url":"/api/topics/orders","via":"admin-host"})");
  a.action = "tombstone_topic_producer";
  a.channel = "c";
  a.node = "10.0.0.1:4151";
  a.user = "alice";
  EXPECT_EQ(NotificationJson(a),
            R"({"action":"tombstone_topic_producer","topic":"orders","channel":"c","node":"10.0.0.1:4151",)"
            R"("timestamp":1700000000,"user":"alice","remote_ip":"127.0.0.1","user_agent":"curl/8",)"
            R"("url":"/api/topics/orders","via":"admin-host"})");
}

TEST(NotifyTest, EscapesLikeGo) {
  AdminAction a;
  a.action = "x";
  a.user_agent = "a<b>\"c\"";
  EXPECT_NE(NotificationJson(a).find(R"("user_agent":"a\u003cb\u003e\"c\"")"), std::string::npos);
}

TEST(NotifyTest, DisabledWithoutEndpointAndCountsUnreachableEndpoints) {
  Notifier off("", absl::Seconds(1));
  EXPECT_FALSE(off.enabled());
  off.Notify(AdminAction{});
  EXPECT_EQ(off.failed(), 0);
  {
    Notifier dead("http://127.0.0.1:1/notify", absl::Seconds(1), 1);
    EXPECT_TRUE(dead.enabled());
    dead.Notify(AdminAction{});
  }  // the destructor sends what is queued first
}

}  // namespace
}  // namespace nsq::admin

#include "services/broker/grpc/status.h"

#include <grpcpp/support/status.h>

#include "gtest/gtest.h"

namespace nsq::broker {
namespace {

TEST(StatusTest, OkMapsToOk) { EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok()); }

TEST(StatusTest, CodesAreKeptAndMessagesMadePrintable) {
  const grpc::Status bad = ToGrpcStatus(absl::InvalidArgumentError("E_BAD_TOPIC bad"));
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(bad.error_message(), "E_BAD_TOPIC bad");
  EXPECT_EQ(ToGrpcStatus(absl::NotFoundError("x")).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(ToGrpcStatus(absl::ResourceExhaustedError("x")).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(ToGrpcStatus(absl::FailedPreconditionError("id \xff")).error_message(),
            "id \\xff");
}

TEST(StatusTest, PrintableEscapesOnlyTextWithControlOrNonAsciiBytes) {
  EXPECT_EQ(Printable("plain text"), "plain text");
  EXPECT_EQ(Printable("a\nb"), "a\\nb");
  EXPECT_EQ(Printable("caf\xc3\xa9"), "caf\\xc3\\xa9");
}

}  // namespace
}  // namespace nsq::broker

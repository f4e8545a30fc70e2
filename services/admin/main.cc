// nsqadmin: the admin service. Runs one AdminServer until SIGINT or SIGTERM.
#include "common/process/service_main.h"
#include "services/admin/admin_options.h"
#include "services/admin/admin_server.h"

int main(int argc, char** argv) {
  return nsq::process::RunService<nsq::admin::AdminServer>(
      argc, argv, "nsqadmin", "nsqadmin v1.3.0 (nsq-cpp 0.1.0)", nsq::admin::AdminOptions{});
}

#include "services/broker/core/storage.h"

#include <utility>

#include "absl/synchronization/notification.h"

namespace nsq::broker {

absl::Status Storage::WaitDurable() {
  absl::Notification done;
  absl::Status result;
  WhenDurable([&](absl::Status st) {
    result = std::move(st);
    done.Notify();
  });
  done.WaitForNotification();
  return result;
}

}  // namespace nsq::broker

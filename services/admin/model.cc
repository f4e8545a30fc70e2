#include "services/admin/model.h"

#include "absl/strings/str_cat.h"
#include "services/admin/upstream.h"

namespace nsq::admin {

std::string Producer::HttpAddress() const { return absl::StrCat(broadcast_address, ":", http_port); }

const char* ActionName(Action action) {
  switch (action) {
    case Action::kCreate: return "create";
    case Action::kDelete: return "delete";
    case Action::kEmpty: return "empty";
    case Action::kPause: return "pause";
    case Action::kUnpause: return "unpause";
  }
  return "?";
}

}  // namespace nsq::admin

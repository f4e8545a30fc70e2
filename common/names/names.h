#pragma once

#include <string_view>

namespace nsq::names {

// NSQ's rule: 1-64 bytes of [.a-zA-Z0-9_-], optionally ending in "#ephemeral" (the
// suffix counts towards the 64).
bool IsValidName(std::string_view name);
bool IsEphemeralName(std::string_view name);

}  // namespace nsq::names

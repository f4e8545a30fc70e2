#pragma once

// The web UI's files (services/admin/web/), compiled into the binary by
// //services/admin:web_assets (embed_assets.cc turns them into arrays at build time).

#include <cstddef>
#include <string_view>

namespace nsq::admin {

struct Asset {
  const char* name;          // "index.html", "app.js", ...
  const char* content_type;
  const unsigned char* data;
  size_t size;
};

// nullptr for an unknown name.
const Asset* FindAsset(std::string_view name);

}  // namespace nsq::admin

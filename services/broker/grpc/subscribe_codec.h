#pragma once

// Hand-written protobuf wire encoding for the two hot messages of the Subscribe stream,
// so that the server neither builds a SubscribeResponse message per delivery nor
// allocates a string per FIN id:
//   - the `messages` field of nsq.v1.SubscribeResponse, written straight from the
//     engine's deliveries into the output buffer (one copy of each body);
//   - a SubscribeRequest that is exactly one `finish` command, read as views of its ids.
// Everything else goes through the generated protobuf code. The output is canonical
// protobuf (fields in number order, defaults left out), so any protobuf parser reads it.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "services/broker/core/engine.h"

namespace nsq::broker::subscribe_codec {

// Bytes EncodeMessages writes for `deliveries`.
size_t EncodedMessagesSize(absl::Span<const Delivery> deliveries);

// Writes each delivery as a SubscribeResponse `messages` (field 1) entry holding an
// nsq.v1.Message {id, timestamp_ns, attempts, body}. `out` has room for
// EncodedMessagesSize(deliveries) bytes; returns the end of what was written.
char* EncodeMessages(absl::Span<const Delivery> deliveries, char* out);

// If `data` is a SubscribeRequest made of exactly one `finish` field whose content is
// only `ids` entries, sets `ids` to views of them (into `data`) and returns true. False
// for anything else (other commands, unknown or repeated fields, malformed input): the
// caller then parses with protobuf, which also decides what is malformed.
bool DecodeFinishOnly(absl::string_view data, std::vector<absl::string_view>* ids);

}  // namespace nsq::broker::subscribe_codec

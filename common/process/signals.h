#pragma once

// Signal handling for the shape every binary's main() shares:
//
//   int main(int argc, char** argv) {
//     nsq::process::BlockShutdownSignals();  // Before any thread exists.
//     nsq::process::IgnoreSigpipe();
//     ... parse flags, build and Start() the server ...
//     int sig = nsq::process::WaitForShutdownSignal();
//     spdlog::info("signal {} received, shutting down", sig);
//     server.Stop();
//   }

#include <optional>

#include "absl/time/time.h"

namespace nsq::process {

// Blocks SIGINT, SIGTERM and SIGHUP in the calling thread. Threads created afterwards
// inherit the mask, so these signals stay pending until WaitForShutdownSignal() takes
// them instead of interrupting or killing an arbitrary thread. Call first in main().
void BlockShutdownSignals();

// Waits until SIGINT, SIGTERM or SIGHUP is pending and takes it; returns its number.
// Requires BlockShutdownSignals() in this thread (and every other thread) first.
int WaitForShutdownSignal();

// As WaitForShutdownSignal(), giving up after `timeout`: nullopt when none arrived.
std::optional<int> WaitForShutdownSignalFor(absl::Duration timeout);

// Makes writes to a closed socket or pipe fail with EPIPE instead of killing the process.
void IgnoreSigpipe();

// What every service's main() does first: BlockShutdownSignals(), IgnoreSigpipe(), and
// turns off absl::Mutex deadlock detection (a graph update on every lock; tests keep it).
void InitServiceProcess();

}  // namespace nsq::process

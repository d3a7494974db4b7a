// Spare memory made ready while the process is idle.
//
// On the test VM the first touch of memory the machine has not used yet
// costs about 2 ms per MiB, far more than computing with it. The relayguard
// binary keeps freed large mappings for reuse (userspace/cli/big_alloc.cpp),
// but what a long-running process holds from one sync to the next (a feed's
// download and prefixes, the merged set) needs a second copy of the same
// size during the next sync, and that copy would be fresh memory. The
// binary registers a function here that maps and touches such copies; the
// daemon runs it on a thread of its own after its syncs, so the next sync
// finds them ready. Without a registered function (the tests' binaries, a
// library user) prepare_memory does nothing.
#pragma once

namespace rg {

using MemoryPreparer = void (*)();

// Registers the function prepare_memory calls (nullptr: none).
void set_memory_preparer(MemoryPreparer f);
// Calls the registered function, if any. May take a while: run it off the
// critical path.
void prepare_memory();

} // namespace rg

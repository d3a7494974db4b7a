// Two pieces of work at once: one on a thread of its own, one on the
// caller's. Used where a sync has two independent passes over large data
// (hashing a download while its changed lines are parsed) and the machine
// has a CPU to spare.
#pragma once

#include <exception>
#include <thread>

namespace rg {

// Runs `other` on a new thread and `here` on this one, and returns when both
// are done. When no thread can be started, runs `here`, then `other`, on
// this thread. An exception of either is rethrown here (that of `here`
// first), after both have finished.
template <class F, class G> void run_alongside(F &&other, G &&here)
{
    std::exception_ptr failed_other;
    auto guarded = [&] {
        try {
            other();
        } catch (...) {
            failed_other = std::current_exception();
        }
    };
    std::thread t;
    try {
        t = std::thread(guarded);
    } catch (const std::exception &) {
        // no thread (system_error, bad_alloc): both run here
    }
    std::exception_ptr failed_here;
    try {
        here();
    } catch (...) {
        failed_here = std::current_exception();
    }
    if (t.joinable())
        t.join();
    else
        guarded();
    if (failed_here)
        std::rethrow_exception(failed_here);
    if (failed_other)
        std::rethrow_exception(failed_other);
}

} // namespace rg

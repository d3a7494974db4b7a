// The BanTarget of a real watch: bans go into the kernel's ban tries
// (reason "watch"; the source's next SYN is dropped in XDP) of the maps
// pinned at the time, under the pin directory's lock like every other
// writer. Exempt: loopback, this host's own addresses (re-read every
// minute), and whatever the allowlist holds. In a dry run nothing is
// written and the allowlist is not read (no privileges needed).
#pragma once

#include "state_dir.hpp"
#include "watcher.hpp"

#include <chrono>
#include <string>
#include <vector>

namespace rg {

class KernelBanTarget : public BanTarget {
public:
    KernelBanTarget(std::string pin_dir, StateDir state, bool dry_run);
    std::string exempt(const Cidr &prefix) override;
    void ban(const Cidr &prefix, Duration bantime) override;

private:
    std::string pin_dir_;
    StateDir state_;
    bool dry_run_;
    std::vector<Cidr> local_;
    std::chrono::steady_clock::time_point local_read_{};
};

// The addresses of this host's interfaces (of the network namespace it
// runs in). Throws rg::Error.
std::vector<Cidr> local_addresses();

} // namespace rg

// The BanTarget of a real watch: bans go into the kernel's ban tries
// (reason "watch"; the source's next SYN is dropped in XDP) of the maps
// pinned at the time, under the pin directory's lock like every other
// writer. Exempt: loopback, this host's own addresses (re-read every
// minute), and whatever the allowlist holds (read again only when the
// lists' generation or the pinned maps changed: reading it maps the list
// tables, which would cost a ban tens of milliseconds). In a dry run
// nothing is written and the allowlist is not read (no privileges needed).
#pragma once

#include "maps.hpp"
#include "state_dir.hpp"
#include "watcher.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace rg {

class KernelBanTarget : public BanTarget {
public:
    KernelBanTarget(std::string pin_dir, StateDir state, bool dry_run);
    std::string exempt(const Cidr &prefix) override;
    void ban(const Cidr &prefix, Duration bantime) override;

private:
    // The pinned maps as last opened, and the allowlist of their lists_gen.
    Maps &maps();
    std::string pin_dir_;
    StateDir state_;
    std::optional<Maps> maps_;
    uint64_t allow_gen_ = 0;
    bool allow_read_ = false;
    std::vector<Cidr> allow_;
    bool dry_run_;
    std::vector<Cidr> local_;
    std::chrono::steady_clock::time_point local_read_{};
};

// The addresses of this host's interfaces (of the network namespace it
// runs in). Throws rg::Error.
std::vector<Cidr> local_addresses();

} // namespace rg

#include "kernel_ban_target.hpp"

#include "bpffs.hpp"
#include "error.hpp"
#include "lists.hpp"
#include "rate.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <ifaddrs.h>
#include <netinet/in.h>

namespace rg {

std::vector<Cidr> local_addresses()
{
    struct ifaddrs *all = nullptr;
    if (getifaddrs(&all) != 0)
        throw_errno("cannot read this host's addresses (getifaddrs)", errno);
    std::vector<Cidr> out;
    for (struct ifaddrs *a = all; a; a = a->ifa_next) {
        if (!a->ifa_addr)
            continue;
        Cidr c;
        if (a->ifa_addr->sa_family == AF_INET) {
            c.family = 4, c.len = 32;
            std::memcpy(c.addr.data(), &reinterpret_cast<sockaddr_in *>(a->ifa_addr)->sin_addr, 4);
        } else if (a->ifa_addr->sa_family == AF_INET6) {
            c.family = 6, c.len = 128;
            std::memcpy(c.addr.data(), &reinterpret_cast<sockaddr_in6 *>(a->ifa_addr)->sin6_addr, 16);
        } else {
            continue;
        }
        out.push_back(c);
    }
    freeifaddrs(all);
    return out;
}

KernelBanTarget::KernelBanTarget(std::string pin_dir, StateDir state, bool dry_run)
    : pin_dir_(std::move(pin_dir)), state_(std::move(state)), dry_run_(dry_run)
{
}

std::string KernelBanTarget::exempt(const Cidr &prefix)
{
    static const Cidr loopback[] = {parse_cidr("127.0.0.0/8").cidr, parse_cidr("::1").cidr};
    for (const Cidr &c : loopback)
        if (c.overlaps(prefix))
            return "loopback";
    auto now = std::chrono::steady_clock::now();
    if (now - local_read_ > std::chrono::minutes(1)) {
        local_ = local_addresses();
        local_read_ = now;
    }
    for (const Cidr &c : local_)
        if (c.overlaps(prefix))
            return "this host's address " + c.str();
    if (dry_run_)
        return "";
    DirLock lock(pin_dir_);
    Maps &m = maps();
    if (!allow_read_ || m.lists_gen() != allow_gen_) {
        Lists lists(m, state_, false);
        allow_ = to_cidrs(lists.listed(ListKind::allow));
        allow_gen_ = m.lists_gen();
        allow_read_ = true;
    }
    for (const Cidr &c : allow_)
        if (c.overlaps(prefix))
            return "allowlisted (" + c.str() + ")";
    return "";
}

Maps &KernelBanTarget::maps()
{
    Maps pinned = Maps::open(pin_dir_);  // a detach and attach since: other maps
    if (!maps_ || !maps_->same_maps(pinned)) {
        maps_.emplace(std::move(pinned));
        allow_read_ = false;
    }
    return *maps_;
}

void KernelBanTarget::ban(const Cidr &prefix, Duration bantime)
{
    DirLock lock(pin_dir_);
    add_ban(maps(), prefix, bantime, RG_BAN_WATCH);
}

} // namespace rg

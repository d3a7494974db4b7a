#include "error.hpp"

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <linux/capability.h>

namespace rg {

namespace {

// Of CAP_BPF, CAP_NET_ADMIN and CAP_SYS_ADMIN, those missing from this
// process's effective set, as "CAP_BPF, CAP_SYS_ADMIN"; empty when it has all.
std::string missing_capabilities()
{
    uint64_t eff = 0;
    std::ifstream in("/proc/self/status");
    for (std::string line; std::getline(in, line);)
        if (line.rfind("CapEff:", 0) == 0)
            eff = std::stoull(line.substr(7), nullptr, 16);
    std::string missing;
    for (auto [bit, name] : {std::pair{CAP_BPF, "CAP_BPF"}, {CAP_NET_ADMIN, "CAP_NET_ADMIN"},
                             {CAP_SYS_ADMIN, "CAP_SYS_ADMIN"}})
        if (!(eff >> bit & 1))
            missing += (missing.empty() ? "" : ", ") + std::string(name);
    return missing;
}

} // namespace

// For EPERM and EACCES, the hint names the capabilities this process lacks.
void throw_errno(const std::string &what, int err)
{
    if (err < 0)
        err = -err;
    std::string msg = what + ": " + std::strerror(err);
    if (err == EPERM || err == EACCES) {
        std::string missing = missing_capabilities();
        msg += missing.empty()
                   ? " (this process has CAP_BPF, CAP_NET_ADMIN and CAP_SYS_ADMIN: file modes, a security module or "
                     "the kernel's lockdown refused it)"
                   : " (relayguard needs root, or CAP_BPF, CAP_NET_ADMIN and CAP_SYS_ADMIN; this process lacks " +
                         missing + ")";
    }
    throw Error(msg, err);
}

} // namespace rg

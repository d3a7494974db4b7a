#include "error.hpp"

#include <cerrno>
#include <cstring>

namespace rg {

void throw_errno(const std::string &what, int err)
{
    if (err < 0)
        err = -err;
    std::string msg = what + ": " + std::strerror(err);
    if (err == EPERM || err == EACCES)
        msg += " (relayguard needs root, or CAP_BPF, CAP_NET_ADMIN and CAP_SYS_ADMIN)";
    throw Error(msg, err);
}

} // namespace rg

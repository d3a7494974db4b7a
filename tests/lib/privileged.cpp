#include "privileged.hpp"

#include "error.hpp"

#include <bpf/bpf.h>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <unistd.h>

namespace rg::test {

std::optional<std::string> missing_privilege()
{
    if (geteuid() != 0)
        return "needs root (BPF, XDP and network namespaces)";
    int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "rg_probe", 4, 4, 1, nullptr);
    if (fd < 0)
        return std::string("the kernel refuses BPF maps: ") + std::strerror(errno);
    close(fd);
    return std::nullopt;
}

bool privileged_required()
{
    const char *v = std::getenv("RELAYGUARD_REQUIRE_PRIVILEGED");
    return v && std::string(v) == "1";
}

} // namespace rg::test

#include "loopback.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <stdexcept>
#include <string>
#include <sys/socket.h>
#include <unistd.h>

namespace rg::test {

int listen_loopback(int family, uint16_t &port)
{
    struct sockaddr_storage ss {};
    socklen_t len;
    if (family == AF_INET6) {
        auto *a = reinterpret_cast<struct sockaddr_in6 *>(&ss);
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_loopback;
        len = sizeof(*a);
    } else {
        auto *a = reinterpret_cast<struct sockaddr_in *>(&ss);
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof(*a);
    }
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, reinterpret_cast<struct sockaddr *>(&ss), len) != 0 || listen(fd, 8) != 0 ||
        getsockname(fd, reinterpret_cast<struct sockaddr *>(&ss), &len) != 0) {
        int err = errno;
        if (fd >= 0)
            close(fd);
        throw std::runtime_error(std::string("cannot listen on the loopback: ") + std::strerror(err));
    }
    port = ntohs(family == AF_INET6 ? reinterpret_cast<struct sockaddr_in6 *>(&ss)->sin6_port
                                    : reinterpret_cast<struct sockaddr_in *>(&ss)->sin_port);
    return fd;
}

} // namespace rg::test

// A TCP listener on the loopback of the calling thread's namespace, on a
// port the kernel picks: the test servers (feeds over HTTP, SMTP) use it.
#pragma once

#include <cstdint>

namespace rg::test {

// Returns the listening fd (SOCK_CLOEXEC) and sets port; family AF_INET
// (127.0.0.1) or AF_INET6 (::1). Throws std::runtime_error on failure.
int listen_loopback(int family, uint16_t &port);

} // namespace rg::test

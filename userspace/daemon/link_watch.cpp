#include "link_watch.hpp"

#include "error.hpp"

#include <cerrno>
#include <cstring>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

namespace rg {

LinkWatch::LinkWatch()
{
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0)
        throw_errno("cannot open an rtnetlink socket to watch interfaces", errno);
    fd_ = Fd(fd);
    struct sockaddr_nl sa {};
    sa.nl_family = AF_NETLINK;
    sa.nl_groups = RTMGRP_LINK;
    if (bind(fd, reinterpret_cast<struct sockaddr *>(&sa), sizeof(sa)) != 0)
        throw_errno("cannot subscribe to interface events (rtnetlink RTMGRP_LINK)", errno);
}

std::vector<LinkEvent> LinkWatch::read(bool &lost)
{
    std::vector<LinkEvent> out;
    lost = false;
    alignas(struct nlmsghdr) char buf[32768];
    for (;;) {
        ssize_t n = recv(fd_.get(), buf, sizeof(buf), 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            lost |= errno == ENOBUFS;  // the socket overflowed: events were dropped
            if (errno == ENOBUFS)
                continue;
            return out;  // EAGAIN: all read
        }
        // NLMSG_OK compares nlmsg_len (unsigned) with its length: give it an
        // unsigned one, after checking that NLMSG_NEXT has not taken it below 0.
        ssize_t len = n;
        for (auto *h = reinterpret_cast<struct nlmsghdr *>(buf); len > 0 && NLMSG_OK(h, size_t(len));
             h = NLMSG_NEXT(h, len)) {
            if (h->nlmsg_type != RTM_NEWLINK && h->nlmsg_type != RTM_DELLINK)
                continue;
            auto *ifi = static_cast<struct ifinfomsg *>(NLMSG_DATA(h));
            int alen = int(IFLA_PAYLOAD(h));
            for (auto *a = IFLA_RTA(ifi); RTA_OK(a, alen); a = RTA_NEXT(a, alen))
                if (a->rta_type == IFLA_IFNAME) {
                    const char *name = static_cast<const char *>(RTA_DATA(a));
                    out.push_back({std::string(name, strnlen(name, RTA_PAYLOAD(a))), h->nlmsg_type == RTM_DELLINK});
                }
        }
    }
}

} // namespace rg

#include "tc_egress.hpp"

#include "error.hpp"
#include "fd.hpp"

#include <bpf/libbpf.h>
#include <cerrno>
#include <cstring>
#include <linux/netlink.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <string>
#include <sys/socket.h>
#include <unistd.h>

namespace rg {

namespace {

struct bpf_tc_hook egress_hook(uint32_t ifindex)
{
    struct bpf_tc_hook hook {};
    hook.sz = sizeof(hook);
    hook.ifindex = int(ifindex);
    hook.attach_point = BPF_TC_EGRESS;
    return hook;
}

// Removes the whole clsact qdisc (both hooks).
void destroy_clsact(uint32_t ifindex)
{
    struct bpf_tc_hook hook = egress_hook(ifindex);
    hook.attach_point = static_cast<enum bpf_tc_attach_point>(BPF_TC_INGRESS | BPF_TC_EGRESS);
    bpf_tc_hook_destroy(&hook);
}

// The filters under one clsact parent (messages of an RTM_GETTFILTER dump).
int count_filters(int fd, uint32_t ifindex, uint32_t parent, uint32_t seq)
{
    struct {
        struct nlmsghdr nh;
        struct tcmsg tc;
    } req {};
    req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct tcmsg));
    req.nh.nlmsg_type = RTM_GETTFILTER;
    req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    req.nh.nlmsg_seq = seq;
    req.tc.tcm_family = AF_UNSPEC;
    req.tc.tcm_ifindex = int(ifindex);
    req.tc.tcm_parent = parent;
    if (send(fd, &req, req.nh.nlmsg_len, 0) < 0)
        throw_errno("cannot list the TC filters", errno);
    int filters = 0;
    alignas(struct nlmsghdr) char buf[16384];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n < 0)
            throw_errno("cannot list the TC filters", errno);
        for (auto *nh = reinterpret_cast<struct nlmsghdr *>(buf); n > 0 && NLMSG_OK(nh, size_t(n));
             nh = NLMSG_NEXT(nh, n)) {
            if (nh->nlmsg_seq != seq)
                continue;
            if (nh->nlmsg_type == NLMSG_DONE)
                return filters;
            if (nh->nlmsg_type == NLMSG_ERROR) {
                int err = reinterpret_cast<struct nlmsgerr *>(NLMSG_DATA(nh))->error;
                if (err == -EINVAL || err == -ENOENT)
                    return 0;  // no clsact qdisc
                throw_errno("cannot list the TC filters", -err);
            }
            if (nh->nlmsg_type == RTM_NEWTFILTER)
                filters++;
        }
    }
}

} // namespace

int tc_clsact_filters(uint32_t ifindex)
{
    Fd fd(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
    if (fd.get() < 0)
        throw_errno("cannot open a netlink socket", errno);
    return count_filters(fd.get(), ifindex, TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS), 1) +
           count_filters(fd.get(), ifindex, TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_EGRESS), 2);
}

TcAttachment tc_attach_egress(uint32_t ifindex, int prog_fd, const char *ifname)
{
    TcAttachment a;
    struct bpf_tc_hook hook = egress_hook(ifindex);
    int err = bpf_tc_hook_create(&hook);
    if (err && err != -EEXIST)
        throw_errno(std::string("cannot add a clsact qdisc to \"") + ifname + "\"", err);
    a.made_clsact = err == 0;
    struct bpf_tc_opts opts {};
    opts.sz = sizeof(opts);
    opts.prog_fd = prog_fd;
    err = bpf_tc_attach(&hook, &opts);
    if (err) {
        if (a.made_clsact)
            destroy_clsact(ifindex);
        throw_errno(std::string("cannot attach the egress program to \"") + ifname + "\"", err);
    }
    a.prog_id = opts.prog_id;
    a.handle = opts.handle;
    a.prio = uint16_t(opts.priority);
    return a;
}

bool tc_egress_attached(uint32_t ifindex, const TcAttachment &a)
{
    struct bpf_tc_hook hook = egress_hook(ifindex);
    struct bpf_tc_opts q {};
    q.sz = sizeof(q);
    q.handle = a.handle;
    q.priority = a.prio;
    return a.prog_id && bpf_tc_query(&hook, &q) == 0 && q.prog_id == a.prog_id;
}

uint32_t tc_replace_egress(uint32_t ifindex, const TcAttachment &a, int prog_fd, const char *ifname)
{
    struct bpf_tc_hook hook = egress_hook(ifindex);
    struct bpf_tc_opts opts {};
    opts.sz = sizeof(opts);
    opts.prog_fd = prog_fd;
    opts.handle = a.handle;
    opts.priority = a.prio;
    opts.flags = BPF_TC_F_REPLACE;
    if (int err = bpf_tc_attach(&hook, &opts); err)
        throw_errno(std::string("cannot replace the egress program on \"") + ifname + "\"", err);
    return opts.prog_id;
}

bool tc_detach_egress(uint32_t ifindex, const TcAttachment &a, const char *ifname)
{
    bool was = tc_egress_attached(ifindex, a);
    if (was) {
        struct bpf_tc_hook hook = egress_hook(ifindex);
        struct bpf_tc_opts opts {};
        opts.sz = sizeof(opts);
        opts.handle = a.handle;
        opts.priority = a.prio;
        if (int err = bpf_tc_detach(&hook, &opts); err)
            throw_errno(std::string("cannot detach the egress program from \"") + ifname + "\"", err);
    }
    if (a.made_clsact && tc_clsact_filters(ifindex) == 0)
        destroy_clsact(ifindex);
    return was;
}

} // namespace rg

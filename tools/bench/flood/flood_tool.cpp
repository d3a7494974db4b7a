// rgf-flood-tool: the parts of the flood benchmark that need C++ (tools/bench/flood/flood
// drives them and does the bookkeeping).
//
//   gen           the live-frames flood generator (BPF_PROG_RUN + BPF_F_TEST_XDP_LIVE_FRAMES)
//   count-attach  attach the counting XDP program (drop or pass) and pin its counter
//   count-read    print a pinned counter (sum over CPUs)
//   detach        remove whatever XDP program an interface has
//   smtp-server   an SMTP-like responder (220, EHLO, MAIL, RCPT, DATA, QUIT)
//   smtp-client   full SMTP-like transactions in a loop for a given time
//
// Each runs in the current network namespace (the driver uses `ip netns exec`).
#include "flood_common.h"
#include "flood_count.skel.h"
#include "flood_gen.skel.h"

#include <CLI/CLI.hpp>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void fail(const std::string &what, int err = 0)
{
    throw std::runtime_error(err ? what + ": " + std::strerror(err) : what);
}

void pin_cpu(int cpu)
{
    if (cpu < 0)
        return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof(set), &set))
        fail("pin to CPU " + std::to_string(cpu), errno);
}

unsigned ifindex_of(const std::string &ifname)
{
    unsigned idx = if_nametoindex(ifname.c_str());
    if (!idx)
        fail("interface " + ifname, errno);
    return idx;
}

std::array<uint8_t, 6> mac_of(const std::string &ifname)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0)
        fail("socket", errno);
    ifreq ifr{};
    std::snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname.c_str());
    int r = ioctl(fd, SIOCGIFHWADDR, &ifr);
    int err = errno;
    close(fd);
    if (r)
        fail("MAC address of " + ifname, err);
    std::array<uint8_t, 6> mac;
    std::memcpy(mac.data(), ifr.ifr_hwaddr.sa_data, 6);
    return mac;
}

std::array<uint8_t, 6> parse_mac(const std::string &s)
{
    std::array<unsigned, 6> v{};
    if (std::sscanf(s.c_str(), "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6)
        fail("not a MAC address: " + s);
    std::array<uint8_t, 6> mac;
    for (size_t i = 0; i < 6; i++)
        mac[i] = static_cast<uint8_t>(v[i]);
    return mac;
}

// The veth's own view of the redirected frames: tx_queue_N_xdp_xmit counts
// frames ndo_xdp_xmit put into the peer's receive queue, _errors those it
// refused (queue full, or the peer has no NAPI). Read on the sending end, the
// counters belong to the peer's queues, so they count what was delivered to
// the receiver whatever program (if any) runs there.
struct XmitCounters {
    uint64_t delivered = 0, refused = 0;
};

XmitCounters veth_xmit_counters(const std::string &ifname)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0)
        fail("socket", errno);
    auto ioc = [&](void *data) {
        ifreq ifr{};
        std::snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname.c_str());
        ifr.ifr_data = static_cast<char *>(data);
        if (ioctl(fd, SIOCETHTOOL, &ifr)) {
            int err = errno;
            close(fd);
            fail("ethtool statistics of " + ifname, err);
        }
    };
    // ethtool_sset_info ends in a flexible array: one __u32 per set asked for.
    std::vector<uint8_t> sbuf(sizeof(ethtool_sset_info) + sizeof(uint32_t));
    auto *sset = reinterpret_cast<ethtool_sset_info *>(sbuf.data());
    sset->cmd = ETHTOOL_GSSET_INFO;
    sset->sset_mask = 1ULL << ETH_SS_STATS;
    ioc(sset);
    const uint32_t n = sset->data[0];
    std::vector<uint8_t> strings(sizeof(ethtool_gstrings) + n * ETH_GSTRING_LEN);
    auto *gs = reinterpret_cast<ethtool_gstrings *>(strings.data());
    gs->cmd = ETHTOOL_GSTRINGS;
    gs->string_set = ETH_SS_STATS;
    gs->len = n;
    ioc(gs);
    std::vector<uint8_t> stats(sizeof(ethtool_stats) + n * sizeof(uint64_t));
    auto *st = reinterpret_cast<ethtool_stats *>(stats.data());
    st->cmd = ETHTOOL_GSTATS;
    st->n_stats = n;
    ioc(st);
    close(fd);
    XmitCounters c;
    for (uint32_t i = 0; i < n; i++) {
        std::string name(reinterpret_cast<const char *>(gs->data) + i * ETH_GSTRING_LEN,
                         strnlen(reinterpret_cast<const char *>(gs->data) + i * ETH_GSTRING_LEN, ETH_GSTRING_LEN));
        unsigned q;
        char rest[ETH_GSTRING_LEN];
        if (std::sscanf(name.c_str(), "tx_queue_%u_%31s", &q, rest) != 2)
            continue;
        if (std::string(rest) == "xdp_xmit")
            c.delivered += st->data[i];
        else if (std::string(rest) == "xdp_xmit_errors")
            c.refused += st->data[i];
    }
    return c;
}

// An address in network byte order; IPv4 in the first 4 bytes.
struct Addr {
    int family = 0;
    std::array<uint8_t, 16> b{};
};

Addr parse_addr(const std::string &s)
{
    Addr a;
    if (inet_pton(AF_INET, s.c_str(), a.b.data()) == 1)
        a.family = 4;
    else if (inet_pton(AF_INET6, s.c_str(), a.b.data()) == 1)
        a.family = 6;
    else
        fail("not an IP address: \"" + s + "\"");
    return a;
}

// ---- checksums ------------------------------------------------------------
// Ones' complement sums over 16-bit words as they sit in memory (native
// loads), the same convention the BPF program uses.
uint32_t sum_words(const uint8_t *p, size_t len, uint32_t sum = 0)
{
    for (size_t i = 0; i + 1 < len; i += 2) {
        uint16_t w;
        std::memcpy(&w, p + i, 2);
        sum += w;
    }
    if (len & 1) {
        uint8_t last[2] = {p[len - 1], 0};
        uint16_t w;
        std::memcpy(&w, last, 2);
        sum += w;
    }
    return sum;
}

uint16_t fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<uint16_t>(sum);
}

// ~HC + sum of ~m over the template's source words (RFC 1624, eqn. 3),
// kept unfolded but small: the BPF side adds the new words and folds.
uint32_t csum_base(uint16_t check, const uint8_t *src, size_t len)
{
    uint32_t k = static_cast<uint16_t>(~check);
    for (size_t i = 0; i < len; i += 2) {
        uint16_t w;
        std::memcpy(&w, src + i, 2);
        k += static_cast<uint16_t>(~w);
    }
    return fold(k);
}

// ---- the template frame ----------------------------------------------------
struct Template {
    std::vector<uint8_t> frame;
    uint32_t csum_tcp = 0;
    uint32_t csum_ip = 0;
};

// The BPF program rewrites `vary_len` bytes of the source address from
// `vary_off` on (a whole address, or one 32-bit word): the precomputed bases
// take exactly those out.
Template build_template(const std::array<uint8_t, 6> &dmac, const std::array<uint8_t, 6> &smac, const Addr &src,
                        const Addr &dst, uint16_t sport, uint16_t dport, size_t vary_off, size_t vary_len,
                        bool vary_port)
{
    const bool v4 = src.family == 4;
    const size_t ip_len = v4 ? RGF_IP4_LEN : RGF_IP6_LEN;
    Template t;
    t.frame.assign(RGF_ETH_LEN + ip_len + RGF_TCP_LEN, 0);
    uint8_t *f = t.frame.data();
    std::memcpy(f, dmac.data(), 6);
    std::memcpy(f + 6, smac.data(), 6);
    f[12] = v4 ? 0x08 : 0x86;
    f[13] = v4 ? 0x00 : 0xdd;

    uint8_t *ip = f + RGF_ETH_LEN;
    uint8_t *tcp = ip + ip_len;
    const size_t src_off = v4 ? 12 : 8;
    const size_t alen = v4 ? 4 : 16;
    if (v4) {
        ip[0] = 0x45;
        uint16_t tot = htons(RGF_IP4_LEN + RGF_TCP_LEN);
        std::memcpy(ip + 2, &tot, 2);
        ip[6] = 0x40;  // DF
        ip[8] = 64;    // TTL
        ip[9] = IPPROTO_TCP;
    } else {
        ip[0] = 0x60;
        uint16_t plen = htons(RGF_TCP_LEN);
        std::memcpy(ip + 4, &plen, 2);
        ip[6] = IPPROTO_TCP;
        ip[7] = 64;  // hop limit
    }
    std::memcpy(ip + src_off, src.b.data(), alen);
    std::memcpy(ip + src_off + alen, dst.b.data(), alen);

    uint16_t sp = htons(sport), dp = htons(dport), win = htons(64240);
    uint32_t seq = htonl(0x5eed0001);
    std::memcpy(tcp, &sp, 2);
    std::memcpy(tcp + 2, &dp, 2);
    std::memcpy(tcp + 4, &seq, 4);
    tcp[12] = (RGF_TCP_LEN / 4) << 4;
    tcp[13] = 0x02;  // SYN
    std::memcpy(tcp + 14, &win, 2);
    const uint8_t mss[4] = {2, 4, 0x05, 0xb4};  // MSS 1460
    std::memcpy(tcp + 20, mss, 4);

    // TCP checksum: pseudo-header (addresses, protocol, length) + segment.
    uint32_t sum = sum_words(ip + src_off, 2 * alen);
    uint8_t pseudo[4] = {0, IPPROTO_TCP, 0, RGF_TCP_LEN};  // proto and length as 16-bit BE words
    sum = sum_words(pseudo, 4, sum);
    sum = sum_words(tcp, RGF_TCP_LEN, sum);
    uint16_t tcheck = static_cast<uint16_t>(~fold(sum));
    std::memcpy(tcp + 16, &tcheck, 2);
    t.csum_tcp = csum_base(tcheck, ip + src_off + vary_off, vary_len);
    if (vary_port)
        t.csum_tcp = fold(t.csum_tcp + static_cast<uint16_t>(~static_cast<uint16_t>(sp)));

    if (v4) {
        uint16_t icheck = static_cast<uint16_t>(~fold(sum_words(ip, RGF_IP4_LEN)));
        std::memcpy(ip + 10, &icheck, 2);
        t.csum_ip = csum_base(icheck, ip + src_off, alen);
    }
    return t;
}

std::vector<Addr> read_sources(const std::string &path, int family)
{
    std::ifstream in(path);
    if (!in)
        fail("cannot read " + path, errno);
    std::vector<Addr> out;
    std::string line;
    size_t lineno = 0;
    while (std::getline(in, line)) {
        lineno++;
        line.erase(0, line.find_first_not_of(" \t"));
        line.erase(line.find_last_not_of(" \t\r") + 1);
        if (line.empty() || line[0] == '#')
            continue;
        Addr a;
        try {
            a = parse_addr(line);
        } catch (const std::exception &e) {
            fail(path + ": line " + std::to_string(lineno) + ": " + e.what());
        }
        if (a.family == family)
            out.push_back(a);
    }
    if (out.empty())
        fail(path + ": no IPv" + std::to_string(family) + " addresses");
    if (out.size() > RGF_MAX_SOURCES)
        fail(path + ": more than " + std::to_string(RGF_MAX_SOURCES) + " sources");
    return out;
}

volatile sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

void install_stop_handlers()
{
    struct sigaction sa{};
    sa.sa_handler = on_signal;  // no SA_RESTART: blocking calls return EINTR
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    signal(SIGPIPE, SIG_IGN);
}

// ---- gen ---------------------------------------------------------------------
struct GenOptions {
    std::string ifname, dst_mac, dst, sources, range;
    uint32_t range_count = 0, vary_word = 3;
    uint16_t sport = 1024, dport = 25;
    uint32_t sports = 64511;
    uint32_t packets = 1000000, batch = 64;
    double seconds = 0;
    int cpu = -1;
};

int cmd_gen(const GenOptions &o)
{
    pin_cpu(o.cpu);
    const Addr dst = parse_addr(o.dst);
    const unsigned ifindex = ifindex_of(o.ifname);
    const auto smac = mac_of(o.ifname);
    const auto dmac = parse_mac(o.dst_mac);

    std::vector<Addr> list;
    Addr first;
    uint32_t count = 0, range_base = 0;
    if (!o.sources.empty()) {
        list = read_sources(o.sources, dst.family);
        first = list[0];
        count = static_cast<uint32_t>(list.size());
    } else {
        first = parse_addr(o.range);
        if (first.family != dst.family)
            fail("--range and --dst are of different families");
        if (o.range_count == 0)
            fail("--count must be at least 1");
        const size_t off = first.family == 4 ? 0 : 4 * o.vary_word;
        uint32_t word;
        std::memcpy(&word, first.b.data() + off, 4);
        range_base = ntohl(word);
        if (uint64_t(range_base) + o.range_count - 1 > UINT32_MAX)
            fail("--range START + --count overflows the varied 32-bit word of the address");
        count = o.range_count;
    }
    // Every address of a list is written whole; a range varies one 32-bit word.
    const bool whole6 = dst.family == 6 && !list.empty();
    const size_t vary_off = dst.family == 4 || whole6 ? 0 : 4 * o.vary_word;
    const Template t =
        build_template(dmac, smac, first, dst, o.sport, o.dport, vary_off, whole6 ? 16 : 4, o.sports > 1);

    flood_gen *skel = flood_gen__open();
    if (!skel)
        fail("open the generator", errno);
    auto *cfg = const_cast<rgf_gen_config *>(&skel->rodata->cfg);
    cfg->ifindex = ifindex;
    cfg->family = static_cast<uint32_t>(dst.family);
    cfg->count = count;
    cfg->list = list.empty() ? 0 : 1;
    cfg->range_base = range_base;
    cfg->vary_word = o.vary_word;
    cfg->sport_base = o.sport;
    cfg->sport_count = o.sports;
    if (uint64_t(o.sport) + o.sports - 1 > 65535)
        fail("--sport + --sports goes past port 65535");
    cfg->csum_tcp = t.csum_tcp;
    cfg->csum_ip = t.csum_ip;
    bpf_map__set_max_entries(skel->maps.rgf_sources, list.empty() ? 1 : count);
    if (int err = flood_gen__load(skel)) {
        flood_gen__destroy(skel);
        fail("load the generator", -err);
    }
    const int map_fd = bpf_map__fd(skel->maps.rgf_sources);
    for (uint32_t i = 0; i < list.size(); i++) {
        rgf_source s{};
        std::memcpy(s.addr, list[i].b.data(), 16);
        if (bpf_map_update_elem(map_fd, &i, &s, BPF_ANY))
            fail("fill the source table", errno);
    }
    const int prog_fd = bpf_program__fd(skel->progs.rgf_gen);

    install_stop_handlers();
    const XmitCounters before = veth_xmit_counters(o.ifname);
    std::printf("{\"event\":\"running\"}\n");
    std::fflush(stdout);

    // One call runs `packets` frames; with --seconds, calls repeat until the
    // time is up (each call sets up its own page pool, a small fixed cost).
    const auto start = Clock::now();
    const auto deadline = start + std::chrono::duration<double>(o.seconds);
    uint64_t requested = 0, calls = 0;
    int err = 0;
    do {
        std::vector<uint8_t> data = t.frame;
        LIBBPF_OPTS(bpf_test_run_opts, opts);
        opts.data_in = data.data();
        opts.data_size_in = static_cast<uint32_t>(data.size());
        opts.repeat = o.packets;
        opts.flags = BPF_F_TEST_XDP_LIVE_FRAMES;
        opts.batch_size = o.batch;
        if (bpf_prog_test_run_opts(prog_fd, &opts)) {
            err = errno;
            break;
        }
        requested += o.packets;
        calls++;
    } while (o.seconds > 0 && Clock::now() < deadline && !g_stop);
    const double secs = std::chrono::duration<double>(Clock::now() - start).count();
    const uint64_t frames = skel->bss->rgf_frames;
    flood_gen__destroy(skel);
    if (err && !(err == EINTR && g_stop))
        fail("BPF_PROG_RUN (live frames)", err);
    const XmitCounters after = veth_xmit_counters(o.ifname);
    // "frames": invocations that ended in bpf_redirect(); an interrupted call
    // stops early, so this, not packets x calls, is what was sent.
    // "delivered"/"refused": the veth's counters over the run (other senders
    // into the same interface would show up here too).
    std::printf("{\"event\":\"done\",\"frames\":%llu,\"delivered\":%llu,\"refused\":%llu,\"requested\":%llu,"
                "\"calls\":%llu,\"batch\":%u,\"seconds\":%.6f,\"mpps\":%.3f,\"cpu\":%d,\"interrupted\":%s}\n",
                static_cast<unsigned long long>(frames),
                static_cast<unsigned long long>(after.delivered - before.delivered),
                static_cast<unsigned long long>(after.refused - before.refused),
                static_cast<unsigned long long>(requested),
                static_cast<unsigned long long>(calls), o.batch, secs, secs > 0 ? frames / secs / 1e6 : 0.0, o.cpu,
                g_stop ? "true" : "false");
    return 0;
}

// ---- the counting program ----------------------------------------------------
int cmd_count_attach(const std::string &ifname, const std::string &verdict, const std::string &pin)
{
    const unsigned ifindex = ifindex_of(ifname);
    flood_count *skel = flood_count__open();
    if (!skel)
        fail("open the counting program", errno);
    *const_cast<uint32_t *>(&skel->rodata->verdict) = verdict == "pass" ? XDP_PASS : XDP_DROP;
    int err = flood_count__load(skel);
    if (!err)
        err = bpf_map__pin(skel->maps.rgf_count, pin.c_str());
    if (!err) {
        err = bpf_xdp_attach(static_cast<int>(ifindex), bpf_program__fd(skel->progs.rgf_count_prog),
                             XDP_FLAGS_DRV_MODE | XDP_FLAGS_UPDATE_IF_NOEXIST, nullptr);
        if (err)
            bpf_map__unpin(skel->maps.rgf_count, pin.c_str());
    }
    flood_count__destroy(skel);  // the attachment keeps the program; the pin keeps the map
    if (err)
        fail("attach the counting program to " + ifname + " (native XDP)", -err);
    return 0;
}

int cmd_count_read(const std::string &pin)
{
    int fd = bpf_obj_get(pin.c_str());
    if (fd < 0)
        fail("open " + pin, errno);
    const int ncpu = libbpf_num_possible_cpus();
    std::vector<uint64_t> v(static_cast<size_t>(ncpu));
    uint32_t zero = 0;
    if (bpf_map_lookup_elem(fd, &zero, v.data()))
        fail("read " + pin, errno);
    close(fd);
    uint64_t total = 0;
    for (uint64_t n : v)
        total += n;
    std::printf("%llu\n", static_cast<unsigned long long>(total));
    return 0;
}

int cmd_detach(const std::string &ifname)
{
    const unsigned ifindex = ifindex_of(ifname);
    for (uint32_t mode : {XDP_FLAGS_DRV_MODE, XDP_FLAGS_SKB_MODE})
        bpf_xdp_detach(static_cast<int>(ifindex), mode, nullptr);
    return 0;
}

// ---- nftables named counter --------------------------------------------------
// `nft list counter` fills nft's whole cache first, set elements included:
// with a million-prefix interval set that takes about a minute per read. A
// single NFT_MSG_GETOBJ over netlink answers at once.
void put_attr(std::vector<uint8_t> &msg, uint16_t type, const void *data, size_t len)
{
    nlattr a{static_cast<uint16_t>(NLA_HDRLEN + len), type};
    size_t off = msg.size();
    msg.resize(off + NLA_ALIGN(NLA_HDRLEN + len), 0);
    std::memcpy(msg.data() + off, &a, sizeof(a));
    std::memcpy(msg.data() + off + NLA_HDRLEN, data, len);
}

uint64_t be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

int cmd_nft_counter(const std::string &family, const std::string &table, const std::string &name)
{
    static const std::pair<const char *, uint8_t> families[] = {
        {"ip", NFPROTO_IPV4}, {"ip6", NFPROTO_IPV6}, {"inet", NFPROTO_INET}, {"netdev", NFPROTO_NETDEV}};
    uint8_t fam = 0;
    for (const auto &[n, v] : families)
        if (family == n)
            fam = v;
    if (!fam)
        fail("unknown nftables family " + family);

    std::vector<uint8_t> msg(NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(nfgenmsg)), 0);
    put_attr(msg, NFTA_OBJ_TABLE, table.c_str(), table.size() + 1);
    put_attr(msg, NFTA_OBJ_NAME, name.c_str(), name.size() + 1);
    uint32_t type = htonl(NFT_OBJECT_COUNTER);
    put_attr(msg, NFTA_OBJ_TYPE, &type, sizeof(type));
    auto *nlh = reinterpret_cast<nlmsghdr *>(msg.data());
    nlh->nlmsg_len = static_cast<uint32_t>(msg.size());
    nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETOBJ;
    nlh->nlmsg_flags = NLM_F_REQUEST;
    nlh->nlmsg_seq = 1;
    auto *nfg = reinterpret_cast<nfgenmsg *>(msg.data() + NLMSG_HDRLEN);
    nfg->nfgen_family = fam;
    nfg->version = NFNETLINK_V0;

    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
    if (fd < 0)
        fail("netlink socket", errno);
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    if (sendto(fd, msg.data(), msg.size(), 0, reinterpret_cast<sockaddr *>(&kernel), sizeof(kernel)) < 0) {
        int err = errno;
        close(fd);
        fail("netlink send", err);
    }
    std::vector<uint8_t> buf(65536);
    ssize_t n = recv(fd, buf.data(), buf.size(), 0);
    int err = errno;
    close(fd);
    if (n < 0)
        fail("netlink receive", err);
    for (auto *h = reinterpret_cast<nlmsghdr *>(buf.data()); NLMSG_OK(h, static_cast<unsigned>(n));
         h = NLMSG_NEXT(h, n)) {
        if (h->nlmsg_type == NLMSG_ERROR) {
            const auto *e = static_cast<const nlmsgerr *>(NLMSG_DATA(h));
            fail("counter " + family + " " + table + " " + name, -e->error);
        }
        // Attributes after the nfgenmsg; NFTA_OBJ_DATA nests NFTA_COUNTER_PACKETS.
        const uint8_t *p = static_cast<const uint8_t *>(NLMSG_DATA(h)) + NLMSG_ALIGN(sizeof(nfgenmsg));
        const uint8_t *end = reinterpret_cast<const uint8_t *>(h) + h->nlmsg_len;
        while (p + NLA_HDRLEN <= end) {
            const auto *a = reinterpret_cast<const nlattr *>(p);
            if (a->nla_len < NLA_HDRLEN || p + a->nla_len > end)
                break;
            if ((a->nla_type & NLA_TYPE_MASK) == NFTA_OBJ_DATA) {
                const uint8_t *q = p + NLA_HDRLEN, *qend = p + a->nla_len;
                while (q + NLA_HDRLEN <= qend) {
                    const auto *b = reinterpret_cast<const nlattr *>(q);
                    if (b->nla_len < NLA_HDRLEN || q + b->nla_len > qend)
                        break;
                    if ((b->nla_type & NLA_TYPE_MASK) == NFTA_COUNTER_PACKETS && b->nla_len >= NLA_HDRLEN + 8) {
                        std::printf("%llu\n", static_cast<unsigned long long>(be64(q + NLA_HDRLEN)));
                        return 0;
                    }
                    q += NLA_ALIGN(b->nla_len);
                }
            }
            p += NLA_ALIGN(a->nla_len);
        }
    }
    fail("counter " + family + " " + table + " " + name + ": no packet count in the answer");
}

// ---- SMTP-like server and client -------------------------------------------------
bool send_all(int fd, const std::string &s)
{
    size_t off = 0;
    while (off < s.size()) {
        ssize_t n = send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
        if (n <= 0)
            return false;
        off += static_cast<size_t>(n);
    }
    return true;
}

// Reads one CRLF-terminated line (buffered in buf). False on EOF, error, timeout.
bool read_line(int fd, std::string &buf, std::string &line)
{
    for (;;) {
        size_t eol = buf.find("\r\n");
        if (eol != std::string::npos) {
            line = buf.substr(0, eol);
            buf.erase(0, eol + 2);
            return true;
        }
        char tmp[1024];
        ssize_t n = recv(fd, tmp, sizeof(tmp), 0);
        if (n <= 0)
            return false;
        buf.append(tmp, static_cast<size_t>(n));
    }
}

void set_timeouts(int fd, int ms)
{
    timeval tv{ms / 1000, (ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

sockaddr_storage sockaddr_of(const Addr &a, uint16_t port, socklen_t &len)
{
    sockaddr_storage ss{};
    if (a.family == 4) {
        auto *s = reinterpret_cast<sockaddr_in *>(&ss);
        s->sin_family = AF_INET;
        s->sin_port = htons(port);
        std::memcpy(&s->sin_addr, a.b.data(), 4);
        len = sizeof(sockaddr_in);
    } else {
        auto *s = reinterpret_cast<sockaddr_in6 *>(&ss);
        s->sin6_family = AF_INET6;
        s->sin6_port = htons(port);
        std::memcpy(&s->sin6_addr, a.b.data(), 16);
        len = sizeof(sockaddr_in6);
    }
    return ss;
}

// One session: greeting, then a reply per command until QUIT.
void serve(int fd)
{
    set_timeouts(fd, 3000);
    std::string buf, line;
    if (!send_all(fd, "220 rgf.example ESMTP\r\n"))
        return;
    while (read_line(fd, buf, line)) {
        std::string verb = line.substr(0, 4);
        std::transform(verb.begin(), verb.end(), verb.begin(), ::toupper);
        std::string reply;
        if (verb == "EHLO" || verb == "HELO")
            reply = "250-rgf.example\r\n250-PIPELINING\r\n250 8BITMIME\r\n";
        else if (verb == "MAIL" || verb == "RCPT")
            reply = "250 2.1.0 OK\r\n";
        else if (verb == "DATA") {
            if (!send_all(fd, "354 End data with <CR><LF>.<CR><LF>\r\n"))
                return;
            while (read_line(fd, buf, line) && line != ".") {
            }
            reply = "250 2.0.0 queued\r\n";
        } else if (verb == "QUIT") {
            send_all(fd, "221 2.0.0 bye\r\n");
            return;
        } else
            reply = "502 5.5.2 not implemented\r\n";
        if (!send_all(fd, reply))
            return;
    }
}

int cmd_smtp_server(const std::string &listen_addr, uint16_t port, int cpu)
{
    pin_cpu(cpu);
    install_stop_handlers();
    const Addr a = parse_addr(listen_addr);
    int fd = socket(a.family == 4 ? AF_INET : AF_INET6, SOCK_STREAM, 0);
    if (fd < 0)
        fail("socket", errno);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    socklen_t len;
    sockaddr_storage ss = sockaddr_of(a, port, len);
    if (bind(fd, reinterpret_cast<sockaddr *>(&ss), len))
        fail("bind " + listen_addr + " port " + std::to_string(port), errno);
    if (listen(fd, 4096))
        fail("listen", errno);
    std::printf("{\"event\":\"ready\"}\n");
    std::fflush(stdout);
    uint64_t sessions = 0;
    while (!g_stop) {
        int c = accept(fd, nullptr, nullptr);
        if (c < 0)
            continue;  // EINTR on stop, or a connection reset before accept
        serve(c);
        close(c);
        sessions++;
    }
    close(fd);
    std::printf("{\"event\":\"done\",\"sessions\":%llu}\n", static_cast<unsigned long long>(sessions));
    return 0;
}

// One full transaction; false if any step fails or times out.
bool transaction(const Addr &src, const Addr &dst, uint16_t port, int timeout_ms)
{
    int fd = socket(dst.family == 4 ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return false;
    bool ok = false;
    do {
        socklen_t len;
        sockaddr_storage s = sockaddr_of(src, 0, len);
        if (bind(fd, reinterpret_cast<sockaddr *>(&s), len))
            break;
        sockaddr_storage d = sockaddr_of(dst, port, len);
        if (connect(fd, reinterpret_cast<sockaddr *>(&d), len) && errno != EINPROGRESS)
            break;
        pollfd p{fd, POLLOUT, 0};
        if (poll(&p, 1, timeout_ms) != 1)
            break;
        int soerr = 0;
        socklen_t sl = sizeof(soerr);
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
        if (soerr)
            break;
        int flags = 0;
        ioctl(fd, FIONBIO, &flags);
        set_timeouts(fd, timeout_ms);
        std::string buf, line;
        auto expect = [&](const char *code) {
            // Multi-line replies ("250-...") end with the line "250 ...".
            while (read_line(fd, buf, line)) {
                if (line.size() >= 4 && line.compare(0, 3, code) == 0 && line[3] == ' ')
                    return true;
                if (line.size() < 4 || line.compare(0, 3, code) != 0 || line[3] != '-')
                    return false;
            }
            return false;
        };
        ok = expect("220") && send_all(fd, "EHLO client.example\r\n") && expect("250") &&
             send_all(fd, "MAIL FROM:<a@client.example>\r\n") && expect("250") &&
             send_all(fd, "RCPT TO:<b@rgf.example>\r\n") && expect("250") && send_all(fd, "DATA\r\n") &&
             expect("354") &&
             send_all(fd, "Subject: flood bench\r\n\r\nA short message.\r\n.\r\n") && expect("250") &&
             send_all(fd, "QUIT\r\n") && expect("221");
    } while (false);
    // An abortive close (RST): no TIME_WAIT on either side, so a long loop
    // never runs out of ports or fills the server's TIME_WAIT table.
    linger lg{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    close(fd);
    return ok;
}

int cmd_smtp_client(const std::string &src, const std::string &dst, uint16_t port, double seconds, int cpu,
                    int timeout_ms)
{
    pin_cpu(cpu);
    install_stop_handlers();
    const Addr s = parse_addr(src), d = parse_addr(dst);
    std::vector<double> lat_us;
    uint64_t ok = 0, failed = 0;
    const auto start = Clock::now();
    const auto deadline = start + std::chrono::duration<double>(seconds);
    while (Clock::now() < deadline && !g_stop) {
        const auto t0 = Clock::now();
        if (transaction(s, d, port, timeout_ms)) {
            ok++;
            lat_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
        } else
            failed++;
    }
    const double secs = std::chrono::duration<double>(Clock::now() - start).count();
    std::sort(lat_us.begin(), lat_us.end());
    auto pct = [&](double q) { return lat_us.empty() ? 0.0 : lat_us[static_cast<size_t>(q * (lat_us.size() - 1))]; };
    std::printf("{\"transactions\":%llu,\"failed\":%llu,\"seconds\":%.6f,\"tps\":%.1f,\"p50_us\":%.1f,"
                "\"p99_us\":%.1f,\"max_us\":%.1f,\"cpu\":%d}\n",
                static_cast<unsigned long long>(ok), static_cast<unsigned long long>(failed), secs,
                secs > 0 ? ok / secs : 0.0, pct(0.5), pct(0.99), lat_us.empty() ? 0.0 : lat_us.back(), cpu);
    return 0;
}

} // namespace

int main(int argc, char **argv)
{
    CLI::App app{"relayguard flood benchmark helper (driven by tools/bench/flood/flood)"};
    app.require_subcommand(1);
    int nice_value = 0;
    app.add_option("--nice", nice_value, "scheduling priority (-20..19); on a shared machine -20 keeps other "
                                         "jobs to ~1% of the pinned CPU")
        ->check(CLI::Range(-20, 19));

    GenOptions g;
    CLI::App *gen = app.add_subcommand("gen", "send a live-frames SYN flood out of a veth end");
    gen->add_option("--ifname", g.ifname, "sending end of the veth pair (redirect target)")->required();
    gen->add_option("--dst-mac", g.dst_mac, "MAC of the receiving end")->required();
    gen->add_option("--dst", g.dst, "destination address (its family picks IPv4/IPv6)")->required();
    auto *src_list = gen->add_option("--sources", g.sources, "file of source addresses, one a line");
    auto *src_range = gen->add_option("--range", g.range, "first source address of a range");
    src_list->excludes(src_range);
    gen->add_option("--count", g.range_count, "addresses in the range");
    gen->add_option("--vary-word", g.vary_word,
                    "IPv6 range: the 32-bit word of the address that varies (3: the last; 1: one source per /64)")
        ->capture_default_str()
        ->check(CLI::Range(0, 3));
    gen->add_option("--sport", g.sport, "first TCP source port")->capture_default_str();
    gen->add_option("--sports", g.sports, "source ports cycled through, from --sport (1: fixed)")
        ->capture_default_str()
        ->check(CLI::Range(1u, 65535u));
    gen->add_option("--dport", g.dport, "TCP destination port")->capture_default_str();
    gen->add_option("--packets", g.packets, "frames per BPF_PROG_RUN call (its repeat count)")
        ->capture_default_str()
        ->check(CLI::Range(1u, 0xffffffffu));
    gen->add_option("--batch", g.batch, "live-frames batch size (1-256)")->capture_default_str()->check(CLI::Range(1, 256));
    gen->add_option("--seconds", g.seconds, "repeat calls until this much time has passed (0: one call)");
    gen->add_option("--cpu", g.cpu, "pin to this CPU");

    std::string ifname, verdict = "drop", pin, addr, src, dst;
    uint16_t port = 25;
    int cpu = -1, timeout_ms = 3000;
    double seconds = 5;
    CLI::App *ca = app.add_subcommand("count-attach", "attach the counting XDP program (native mode)");
    ca->add_option("--ifname", ifname)->required();
    ca->add_option("--verdict", verdict)->check(CLI::IsMember({"drop", "pass"}))->capture_default_str();
    ca->add_option("--pin", pin, "where to pin the counter (in a bpffs)")->required();
    CLI::App *cr = app.add_subcommand("count-read", "print a pinned counter, summed over CPUs");
    cr->add_option("--pin", pin)->required();
    CLI::App *dt = app.add_subcommand("detach", "remove the XDP program of an interface");
    dt->add_option("--ifname", ifname)->required();

    std::string nft_family = "netdev", nft_table, nft_name;
    CLI::App *nc = app.add_subcommand("nft-counter", "print the packets of an nftables named counter");
    nc->add_option("--family", nft_family)->capture_default_str();
    nc->add_option("--table", nft_table)->required();
    nc->add_option("--name", nft_name)->required();

    CLI::App *srv = app.add_subcommand("smtp-server", "SMTP-like responder, one session at a time");
    srv->add_option("--listen", addr)->required();
    srv->add_option("--port", port)->capture_default_str();
    srv->add_option("--cpu", cpu);
    CLI::App *cli = app.add_subcommand("smtp-client", "full SMTP-like transactions in a loop");
    cli->add_option("--src", src)->required();
    cli->add_option("--dst", dst)->required();
    cli->add_option("--port", port)->capture_default_str();
    cli->add_option("--seconds", seconds)->capture_default_str();
    cli->add_option("--timeout-ms", timeout_ms, "per step")->capture_default_str();
    cli->add_option("--cpu", cpu);

    CLI11_PARSE(app, argc, argv);
    try {
        if (nice_value && setpriority(PRIO_PROCESS, 0, nice_value))
            fail("setpriority " + std::to_string(nice_value), errno);
        if (gen->parsed()) {
            if (g.sources.empty() && g.range.empty())
                throw std::runtime_error("gen: give --sources FILE or --range START --count N");
            return cmd_gen(g);
        }
        if (ca->parsed())
            return cmd_count_attach(ifname, verdict, pin);
        if (cr->parsed())
            return cmd_count_read(pin);
        if (dt->parsed())
            return cmd_detach(ifname);
        if (nc->parsed())
            return cmd_nft_counter(nft_family, nft_table, nft_name);
        if (srv->parsed())
            return cmd_smtp_server(addr, port, cpu);
        if (cli->parsed())
            return cmd_smtp_client(src, dst, port, seconds, cpu, timeout_ms);
    } catch (const std::exception &e) {
        std::fprintf(stderr, "rgf-flood-tool %s: %s\n", app.get_subcommands().front()->get_name().c_str(), e.what());
        return 1;
    }
    return 0;
}

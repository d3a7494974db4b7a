#include "attach.hpp"

#include "bpffs.hpp"
#include "egress.hpp"
#include "error.hpp"
#include "fd.hpp"
#include "log.hpp"
#include "program.hpp"
#include "tc_egress.hpp"

#include <algorithm>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <linux/if_link.h>
#include <net/if.h>
#include <optional>
#include <xdp/libxdp.h>

namespace rg {

namespace {

int g_verbosity = 0;

// Library messages go through rg::log, and only with -v: at the default
// level relayguard reports outcomes itself, and libxdp's probes (e.g. a
// kernel refusing its dispatcher) print alarming errors for conditions that
// are handled. Level 1 (warnings and info) shows as info, 2 as debug.
template <class Level> int library_print(Level level, const char *fmt, va_list ap)
{
    if (g_verbosity == 0 || int(level) > g_verbosity)
        return 0;
    char buf[1024];
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    std::string msg(buf, n < 0 ? 0 : std::min(size_t(n), sizeof(buf) - 1));
    while (!msg.empty() && msg.back() == '\n')
        msg.pop_back();
    log(int(level) >= 2 ? LogLevel::debug : LogLevel::info, msg);
    return n;
}

using MultiprogPtr = std::unique_ptr<struct xdp_multiprog, void (*)(struct xdp_multiprog *)>;

MultiprogPtr get_multiprog(uint32_t ifindex)
{
    struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(int(ifindex));
    return MultiprogPtr(libxdp_get_error(mp) ? nullptr : mp, xdp_multiprog__close);
}

// Finds our program in the interface's chain, as a dispatcher component or
// as the legacy main program.
struct xdp_program *find_prog(struct xdp_multiprog *mp, uint32_t prog_id)
{
    if (xdp_multiprog__is_legacy(mp)) {
        struct xdp_program *main = xdp_multiprog__main_prog(mp);
        return main && xdp_program__id(main) == prog_id ? main : nullptr;
    }
    for (struct xdp_program *p = xdp_multiprog__next_prog(nullptr, mp); p;
         p = xdp_multiprog__next_prog(p, mp))
        if (xdp_program__id(p) == prog_id)
            return p;
    return nullptr;
}

TcAttachment tc_attachment(const struct rg_iface &e)
{
    return {e.egress_prog_id, e.egress_handle, e.egress_prio, (e.egress_flags & RG_EGRESS_MADE_CLSACT) != 0};
}

uint32_t resolve_ifindex(const std::string &ifname)
{
    if (ifname.empty() || ifname.size() >= IF_NAMESIZE)
        throw Error("interface \"" + ifname + "\": not a valid interface name");
    uint32_t ifindex = if_nametoindex(ifname.c_str());
    if (ifindex == 0)
        throw Error("interface \"" + ifname + "\": no such interface in this network namespace");
    return ifindex;
}

} // namespace

const char *xdp_mode_name(uint32_t libxdp_mode)
{
    switch (libxdp_mode) {
    case XDP_MODE_NATIVE:
        return "native";
    case XDP_MODE_SKB:
        return "skb";
    case XDP_MODE_HW:
        return "hw";
    default:
        return "unknown";
    }
}

std::string legacy_attach_note(const std::string &ifname)
{
    return "interface \"" + ifname + "\": attached without libxdp's multi-program dispatcher: this kernel " +
           "refuses the dispatcher's freplace (BPF_PROG_TYPE_EXT) programs, or another program holds the " +
           "interface. relayguard filters as its only XDP program; another XDP loader fails rather than " +
           "share it (docs/kernels.md)";
}

void set_library_verbosity(int level)
{
    g_verbosity = level;
    if (level > 0)
        set_log_level(level >= 2 ? LogLevel::debug : LogLevel::info);
    libxdp_set_print(library_print<enum libxdp_print_level>);
    libbpf_set_print(library_print<enum libbpf_print_level>);
}

namespace {

// Whether the program with this id is libxdp's dispatcher (by its name).
bool is_dispatcher(uint32_t prog_id)
{
    Fd fd(bpf_prog_get_fd_by_id(prog_id));
    struct bpf_prog_info info {};
    uint32_t len = sizeof(info);
    return fd.get() >= 0 && bpf_obj_get_info_by_fd(fd.get(), &info, &len) == 0 &&
           std::strcmp(info.name, "xdp_dispatcher") == 0;
}

} // namespace

LiveState query_live(const IfaceEntry &entry)
{
    LiveState st;
    char name[IF_NAMESIZE] = {};
    if (!if_indextoname(entry.raw.ifindex, name) || entry.name() != name)
        return st;
    st.present = true;
    st.egress_attached = tc_egress_attached(entry.raw.ifindex, tc_attachment(entry.raw));
    // Asked of the kernel first: libxdp 1.3.1 leaks the program's fd on
    // every look at an interface without its dispatcher (one fd per call,
    // found by tools/bench/soak), and this runs every stats interval.
    LIBBPF_OPTS(bpf_xdp_query_opts, q);
    if (bpf_xdp_query(int(entry.raw.ifindex), 0, &q) != 0)
        return st;
    uint32_t id = entry.raw.attach_mode == XDP_MODE_SKB ? q.skb_prog_id : q.drv_prog_id;
    if (id == 0)
        return st;
    if (!is_dispatcher(id)) {
        st.legacy = true;
        st.programs = 1;
        st.attached = id == entry.raw.prog_id;
        return st;
    }
    MultiprogPtr mp = get_multiprog(entry.raw.ifindex);
    if (!mp)
        return st;
    st.legacy = xdp_multiprog__is_legacy(mp.get());
    st.programs = st.legacy ? 1 : xdp_multiprog__program_count(mp.get());
    st.attached = find_prog(mp.get(), entry.raw.prog_id) != nullptr;
    return st;
}

AttachResult attach(const std::string &pin_dir, const AttachOptions &opts)
{
    AttachResult res;
    res.ifindex = resolve_ifindex(opts.ifname);
    ensure_bpffs_dir(pin_dir);
    ensure_libxdp_bpffs();
    DirLock lock(pin_dir);

    Maps maps = Maps::open_or_create(pin_dir, &res.maps_created);
    // Undo the pins we made if anything below fails.
    struct PinGuard {
        Maps &maps;
        bool armed;
        ~PinGuard()
        {
            if (armed)
                try {
                    maps.remove_pins();
                } catch (...) {
                }
        }
    } guard{maps, res.maps_created};

    if (auto existing = maps.find_iface(opts.ifname)) {
        LiveState live = query_live(*existing);
        if (live.attached)
            throw Error("interface \"" + opts.ifname + "\": relayguard is already attached (program id " +
                        std::to_string(existing->raw.prog_id) +
                        "); `relayguard upgrade` replaces its program with this build's without a gap");
        maps.release_iface(existing->slot);  // stale: the interface or program went away
    }
    res.slot = maps.free_slot();

    // The egress program is loaded first and attached last: if XDP fails,
    // nothing of it is left; if TC fails, the XDP program is taken off again.
    std::optional<Program> egress_prog;
    if (opts.egress != RG_EGRESS_OFF) {
        egress_prog.emplace(maps, res.slot, false, ProgramKind::egress);
        egress_prog->set_egress_cap(opts.egress == RG_EGRESS_CAP);
        egress_prog->load();
    }

    Program prog(maps, res.slot);
    DECLARE_LIBXDP_OPTS(xdp_program_opts, xopts, .obj = prog.object(), .prog_name = Program::kProgName);
    struct xdp_program *xp = xdp_program__create(&xopts);
    if (long err = libxdp_get_error(xp))
        throw_errno("cannot prepare the XDP program", int(err));
    auto mode = opts.mode == XdpMode::native ? XDP_MODE_NATIVE : XDP_MODE_SKB;
    int err = xdp_program__attach(xp, int(res.ifindex), mode, 0);
    if (err) {
        xdp_program__close(xp);
        std::string what = "cannot attach to \"" + opts.ifname + "\" in " + xdp_mode_name(mode) + " mode";
        if (err == -EOPNOTSUPP && mode == XDP_MODE_NATIVE)
            what += " (the driver has no native XDP support; try --mode skb)";
        if (err == -EEXIST || err == -EBUSY)
            what += " (another XDP program is attached in a way libxdp cannot share, or in the other mode)";
        throw_errno(what, err);
    }
    res.prog_id = xdp_program__id(xp);
    TcAttachment tc;
    if (egress_prog) {
        try {
            tc = tc_attach_egress(res.ifindex, egress_prog->prog_fd(), opts.ifname.c_str());
        } catch (...) {
            xdp_program__detach(xp, int(res.ifindex), mode, 0);
            xdp_program__close(xp);
            throw;
        }
        res.egress_prog_id = tc.prog_id;
    }
    xdp_program__close(xp);

    MultiprogPtr mp = get_multiprog(res.ifindex);
    res.legacy = !mp || xdp_multiprog__is_legacy(mp.get());

    struct rg_iface entry {};
    entry.flags = RG_IFACE_USED | (res.legacy ? RG_IFACE_LEGACY : 0);
    entry.ifindex = res.ifindex;
    entry.prog_id = res.prog_id;
    entry.attach_mode = mode;
    entry.attached_at = uint64_t(time(nullptr));
    std::strncpy(entry.name, opts.ifname.c_str(), sizeof(entry.name) - 1);
    entry.egress_prog_id = tc.prog_id;
    entry.egress_mode = tc.prog_id ? opts.egress : uint32_t(RG_EGRESS_OFF);
    entry.egress_handle = tc.handle;
    entry.egress_prio = tc.prio;
    entry.egress_flags = tc.made_clsact ? RG_EGRESS_MADE_CLSACT : 0;
    maps.reset_slot_stats(res.slot);
    maps.put_iface(res.slot, entry);
    guard.armed = false;

    if (opts.ports)
        maps.set_ports(*opts.ports);
    if (opts.monitor)
        maps.set_monitor(*opts.monitor);
    return res;
}

namespace {

uint32_t prog_id_of(int fd)
{
    struct bpf_prog_info info {};
    uint32_t len = sizeof(info);
    if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0)
        throw_errno("cannot read the new program's id", errno);
    return info.id;
}

// Without the dispatcher: the kernel swaps the programs in one step, and
// only if the old one is still the one attached.
uint32_t swap_legacy(const IfaceEntry &e, struct bpf_object *obj, const char *prog_name)
{
    if (int err = bpf_object__load(obj); err)
        throw_errno("cannot load the new XDP program into the kernel", err);
    struct bpf_program *p = bpf_object__find_program_by_name(obj, prog_name);
    if (!p)
        throw Error(std::string("the BPF object has no program ") + prog_name);
    Fd old_fd(bpf_prog_get_fd_by_id(e.raw.prog_id));
    if (old_fd.get() < 0)
        throw_errno("cannot open the running program (id " + std::to_string(e.raw.prog_id) + ")", errno);
    LIBBPF_OPTS(bpf_xdp_attach_opts, xo, .old_prog_fd = old_fd.get());
    uint32_t flags = XDP_FLAGS_REPLACE | (e.raw.attach_mode == XDP_MODE_SKB ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE);
    if (int err = bpf_xdp_attach(int(e.raw.ifindex), bpf_program__fd(p), flags, &xo); err)
        throw_errno("cannot replace the program on \"" + e.name() + "\"", err);
    return prog_id_of(bpf_program__fd(p));
}

// With the dispatcher: attaching the new program replaces the dispatcher by
// one running both, detaching the old one replaces it by one running the new
// one only; each replacement is atomic. While both run, a packet both pass
// is counted twice.
uint32_t swap_dispatched(const IfaceEntry &e, struct bpf_object *obj, const char *prog_name)
{
    auto mode = static_cast<enum xdp_attach_mode>(e.raw.attach_mode);
    DECLARE_LIBXDP_OPTS(xdp_program_opts, xopts, .obj = obj, .prog_name = prog_name);
    struct xdp_program *xp = xdp_program__create(&xopts);
    if (long err = libxdp_get_error(xp))
        throw_errno("cannot prepare the new XDP program", int(err));
    int err = xdp_program__attach(xp, int(e.raw.ifindex), mode, 0);
    uint32_t id = err ? 0 : xdp_program__id(xp);
    xdp_program__close(xp);
    if (err)
        throw_errno("cannot attach the new program next to the old one on \"" + e.name() + "\"", err);
    MultiprogPtr mp = get_multiprog(e.raw.ifindex);
    struct xdp_program *old = mp ? find_prog(mp.get(), e.raw.prog_id) : nullptr;
    if (old && (err = xdp_program__detach(old, int(e.raw.ifindex), mode, 0)) != 0)
        log(LogLevel::warning, "interface " + e.name() + ": the old program (id " + std::to_string(e.raw.prog_id) +
                                   ") still runs before the new one (" + std::strerror(-err) +
                                   "); it drops nothing the new one would not: remove it with "
                                   "`xdp-loader unload " + e.name() + " --id " + std::to_string(e.raw.prog_id) + "`");
    return id;
}

} // namespace

ReplaceResult replace(const std::string &pin_dir, const std::string &ifname, struct bpf_object *obj,
                      const char *prog_name)
{
    if (!is_bpffs(pin_dir))
        throw NotAttached("relayguard is not attached: no maps pinned in " + pin_dir);
    DirLock lock(pin_dir);
    Maps maps = Maps::open(pin_dir);  // the ABI stamp and every map's layout against this build
    auto entry = maps.find_iface(ifname);
    if (!entry)
        throw Error("interface \"" + ifname + "\": relayguard is not attached to it (run: relayguard attach " +
                    ifname + ")");
    LiveState live = query_live(*entry);
    if (!live.attached)
        throw Error("interface \"" + ifname + "\": relayguard's program (id " + std::to_string(entry->raw.prog_id) +
                    ") no longer runs there; nothing to replace (detach and attach it again)");

    ReplaceResult res{.ifindex = entry->raw.ifindex, .slot = entry->slot, .old_prog_id = entry->raw.prog_id,
                      .legacy = live.legacy};
    std::optional<Program> own;
    if (!obj) {
        own.emplace(maps, entry->slot);
        obj = own->object();
        prog_name = Program::kProgName;
    } else {
        maps.bind(obj);
    }
    // Loaded before anything changes: a program the verifier refuses stops
    // the upgrade while the old ones still run.
    std::optional<Program> egress_prog;
    if (live.egress_attached) {
        egress_prog.emplace(maps, entry->slot, false, ProgramKind::egress);
        egress_prog->set_egress_cap(entry->raw.egress_mode == RG_EGRESS_CAP);
        egress_prog->load();
    }
    res.new_prog_id = live.legacy ? swap_legacy(*entry, obj, prog_name) : swap_dispatched(*entry, obj, prog_name);
    struct rg_iface raw = entry->raw;
    raw.prog_id = res.new_prog_id;
    maps.put_iface(entry->slot, raw);
    if (egress_prog) {
        res.old_egress_prog_id = raw.egress_prog_id;
        res.new_egress_prog_id =
            tc_replace_egress(raw.ifindex, tc_attachment(raw), egress_prog->prog_fd(), ifname.c_str());
        raw.egress_prog_id = res.new_egress_prog_id;
        maps.put_iface(entry->slot, raw);
    }
    return res;
}

DetachResult detach(const std::string &pin_dir, const std::string &ifname, bool keep_maps)
{
    DetachResult res;
    if (!is_bpffs(pin_dir))
        throw NotAttached("relayguard is not attached: no maps pinned in " + pin_dir);
    DirLock lock(pin_dir);
    Maps maps = Maps::open(pin_dir);
    auto entry = maps.find_iface(ifname);
    if (!entry)
        throw Error("interface \"" + ifname + "\": relayguard is not attached to it");

    if (entry->raw.egress_prog_id)
        res.egress_was_live =
            tc_detach_egress(entry->raw.ifindex, tc_attachment(entry->raw), ifname.c_str());
    MultiprogPtr mp = get_multiprog(entry->raw.ifindex);
    LiveState live = query_live(*entry);
    if (live.attached && mp) {
        struct xdp_program *p = find_prog(mp.get(), entry->raw.prog_id);
        int err = xdp_program__detach(p, int(entry->raw.ifindex),
                                      static_cast<enum xdp_attach_mode>(entry->raw.attach_mode), 0);
        if (err)
            throw_errno("cannot detach from \"" + ifname + "\"", err);
        res.was_live = true;
    }
    maps.release_iface(entry->slot);
    if (maps.ifaces().empty() && !keep_maps) {
        maps.remove_pins();
        res.pins_removed = true;
    }
    return res;
}

bool detach_program(const std::string &ifname, uint32_t prog_id)
{
    uint32_t ifindex = resolve_ifindex(ifname);
    MultiprogPtr mp = get_multiprog(ifindex);
    struct xdp_program *p = mp ? find_prog(mp.get(), prog_id) : nullptr;
    if (!p)
        return false;
    int err = xdp_program__detach(p, int(ifindex), xdp_multiprog__attach_mode(mp.get()), 0);
    if (err)
        throw_errno("cannot detach program " + std::to_string(prog_id) + " from \"" + ifname + "\"", err);
    return true;
}

} // namespace rg

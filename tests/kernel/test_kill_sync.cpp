// kill -9 of a feed sync at random moments, with nothing lost (issue 21,
// part 3): a `relayguard feed sync` and a daemon (`relayguard run`) are
// killed again and again while they replace a large feed's list A by B (or
// B by A), and a prober keeps running listed and clean packets through the
// filter. At every moment:
//   - every address in A∩B is dropped, every address in neither passes
//     (the prober), and
//   - after each kill, what the tables list is between A∩B and A∪B (read
//     back whole);
// and the next sync (or daemon start) repairs and finishes: the tables list
// exactly the new list.
//
// The prober is BPF_PROG_RUN of the real program, loaded in this process on
// the pinned maps the sync writes (the attached program's maps): about a
// million verdicts a second from a thread of its own, where real SYNs
// through the veth would sample far less often and add TCP's retries and
// timeouts to what is measured. The lookup code and the tables are the
// attached program's; only the packets do not cross the veth.
//
// The CI run is small and seeded (kDefaultPrefixes, kDefaultKills);
// RELAYGUARD_KILL_PREFIXES, RELAYGUARD_KILL_REPEATS and RELAYGUARD_KILL_SEED
// make it the long one (tools/faults/kill-sync runs 50 kills of a
// 1M-prefix sync, docs/reliability.md).
#include "lists.hpp"
#include "maps.hpp"
#include "netns_fixture.hpp"
#include "packet_builder.hpp"
#include "prefix_set.hpp"
#include "process.hpp"
#include "program.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <atomic>
#include <bpf/bpf.h>
#include <chrono>
#include <csignal>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>
#include <sys/resource.h>
#include <thread>
#include <unistd.h>

using namespace std::chrono_literals;
using rg::test::NetnsTest;
using rg::test::PacketBuilder;
using rg::test::Process;

namespace {

// The CI size: a sync of this many prefixes takes about a second on a
// loaded 2-core machine, so each test stays within about 30 s.
constexpr size_t kDefaultPrefixes = 20000;
constexpr size_t kDefaultKills = 6;

size_t env_size(const char *name, size_t fallback)
{
    const char *v = getenv(name);
    return v && *v ? size_t(std::stoull(v)) : fallback;
}

std::string addr4(uint32_t a)
{
    char buf[INET_ADDRSTRLEN];
    uint32_t n = htonl(a);
    inet_ntop(AF_INET, &n, buf, sizeof(buf));
    return buf;
}

std::string addr6(rg::U128 a)
{
    char buf[INET6_ADDRSTRLEN];
    std::array<uint8_t, 16> b = rg::u128_to_bytes(a);
    inet_ntop(AF_INET6, b.data(), buf, sizeof(buf));
    return buf;
}

rg::PrefixSet union_of(std::initializer_list<const rg::PrefixSet *> sets)
{
    rg::PrefixSet u;
    for (const rg::PrefixSet *s : sets) {
        u.v4.insert(u.v4.end(), s->v4.begin(), s->v4.end());
        u.v6.insert(u.v6.end(), s->v6.begin(), s->v6.end());
    }
    rg::sort_prefixes(u);
    return rg::collapse(u);
}

// Whether a collapsed (disjoint, sorted) set covers the address.
template <class A> bool covered(const std::vector<rg::Prefix<A>> &set, A addr)
{
    rg::Prefix<A> key{addr, rg::Prefix<A>::width};
    auto it = std::upper_bound(set.begin(), set.end(), key, rg::prefix_less<A>);
    return it != set.begin() && rg::contains(*std::prev(it), key);
}

// The two lists a sync moves between: common (C) in both, A and B each
// with as many again of their own; random prefixes of the lengths a real
// feed has (mostly /32 and /24, a few /16../31; a tenth IPv6 in
// 2001:db8::/32), from a fixed seed.
struct Lists2 {
    rg::PrefixSet common, a, b;  // a and b: the whole lists, collapsed
    rg::PrefixSet either;        // a ∪ b
};

Lists2 make_lists(size_t n, uint64_t seed)
{
    std::mt19937_64 rnd(seed);
    auto one = [&](rg::PrefixSet &s, size_t count) {
        for (size_t i = 0; i < count; i++) {
            if (rnd() % 10 == 0) {
                unsigned len = 48 + unsigned(rnd() % 81);  // 48..128
                rg::U128 addr = (rg::U128(0x20010db8) << 96) | (rg::U128(rnd()) << 32 | rnd());
                s.v6.push_back({addr & rg::prefix_mask<rg::U128>(len), uint8_t(len)});
            } else {
                unsigned r = unsigned(rnd() % 10), len = r < 6 ? 32 : r < 9 ? 24 : 16 + unsigned(rnd() % 16);
                uint32_t addr = uint32_t(rnd());
                if ((addr >> 24) == 0 || (addr >> 24) >= 224)  // keep clear of 0/8 and multicast
                    addr ^= 0x40000000;
                s.v4.push_back({addr & rg::prefix_mask<uint32_t>(len), uint8_t(len)});
            }
        }
        rg::sort_prefixes(s);
    };
    Lists2 l;
    rg::PrefixSet only_a, only_b;
    one(l.common, n / 2);
    one(only_a, n - n / 2);
    one(only_b, n - n / 2);
    l.a = union_of({&l.common, &only_a});
    l.b = union_of({&l.common, &only_b});
    l.common = rg::collapse(l.common);
    l.either = union_of({&l.a, &l.b});
    return l;
}

std::string feed_text(const rg::PrefixSet &s)
{
    std::string out = "; generated by test_kill_sync\n";
    for (const rg::Cidr &c : rg::to_cidrs(s))
        out += c.str() + "\n";
    return out;
}

// Runs listed and clean SYNs to port 25 through the program, from its own
// thread, until stopped; counts every verdict that breaks the rule.
class Prober {
public:
    Prober(const rg::Maps &maps, const Lists2 &l, uint64_t seed) : prog_(maps, RG_MAX_IFACES - 1)
    {
        prog_.load();
        std::mt19937_64 rnd(seed ^ 0x9e3779b97f4a7c15ull);
        auto add = [&](const std::string &src, bool v6, bool listed) {
            PacketBuilder b;
            b.eth();
            if (v6)
                b.ipv6(src, "2001:db8:25::1");
            else
                b.ipv4(src, "192.0.2.1");
            packets_.push_back({b.tcp(40000, 25).build(), listed, src});
        };
        // Listed: an address inside a prefix of A∩B.
        for (int i = 0; i < 200; i++) {
            const auto &p = l.common.v4[rnd() % l.common.v4.size()];
            add(addr4(p.addr | uint32_t(rnd() & ~rg::prefix_mask<uint32_t>(p.len))), false, true);
        }
        for (int i = 0; i < 40 && !l.common.v6.empty(); i++) {
            const auto &p = l.common.v6[rnd() % l.common.v6.size()];
            add(addr6(p.addr | ((rg::U128(rnd()) << 64 | rnd()) & ~rg::prefix_mask<rg::U128>(p.len))), true, true);
        }
        // Clean: in neither list.
        for (int n = 0; n < 200;) {
            uint32_t a = uint32_t(rnd());
            if ((a >> 24) != 0 && (a >> 24) < 224 && !covered(l.either.v4, a))
                add(addr4(a), false, false), n++;
        }
        for (int n = 0; n < 40;) {
            rg::U128 a = (rg::U128(0x20010db8) << 96) | (rg::U128(rnd()) << 32 | rnd());
            if (!covered(l.either.v6, a))
                add(addr6(a), true, false), n++;
        }
        thread_ = std::thread([this] {
            // Below the sync under test: the prober samples, it must not
            // take the CPU the sync needs (a 2-core CI machine).
            setpriority(PRIO_PROCESS, uint32_t(gettid()), 10);
            run();
        });
    }
    ~Prober() { stop(); }

    void stop()
    {
        stop_ = true;
        if (thread_.joinable())
            thread_.join();
    }
    uint64_t runs() const { return runs_; }
    uint64_t wrong() const { return wrong_; }
    std::string examples()
    {
        std::lock_guard<std::mutex> g(mu_);
        return examples_;
    }

private:
    struct Probe {
        std::vector<uint8_t> frame;
        bool listed;
        std::string src;
    };

    void run()
    {
        while (!stop_) {
            for (Probe &p : packets_) {
                std::vector<uint8_t> in = p.frame;
                LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in.data(), .data_size_in = uint32_t(in.size()),
                            .repeat = 1);
                if (bpf_prog_test_run_opts(prog_.prog_fd(), &o) != 0) {
                    note("BPF_PROG_RUN failed: " + std::string(strerror(errno)));
                    continue;
                }
                runs_++;
                int want = p.listed ? XDP_DROP : XDP_PASS;
                if (int(o.retval) != want)
                    note(std::string(p.listed ? "listed " : "clean ") + p.src + ": verdict " +
                         std::to_string(o.retval));
            }
        }
    }
    void note(const std::string &what)
    {
        std::lock_guard<std::mutex> g(mu_);
        if (wrong_++ < 10)
            examples_ += what + "\n";
    }

    rg::Program prog_;
    std::vector<Probe> packets_;
    std::atomic<bool> stop_{false};
    std::atomic<uint64_t> runs_{0}, wrong_{0};
    std::mutex mu_;
    std::string examples_;
    std::thread thread_;
};

class KillSyncTest : public NetnsTest {
protected:
    KillSyncTest() { ns_prefix_ = "rgft-k"; }

    void SetUp() override
    {
        NetnsTest::SetUp();
        if (IsSkipped() || HasFatalFailure())
            return;
        char tmpl[] = "/tmp/rgft-kill.XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        feed_ = dir_ + "/feed.txt";
        global_args_ = {"--state-dir", dir_ + "/state"};
        prefixes_ = env_size("RELAYGUARD_KILL_PREFIXES", kDefaultPrefixes);
        repeats_ = env_size("RELAYGUARD_KILL_REPEATS", kDefaultKills);
        seed_ = env_size("RELAYGUARD_KILL_SEED", 21);
        auto t0 = std::chrono::steady_clock::now();
        lists_ = make_lists(prefixes_, seed_);
        text_a_ = feed_text(lists_.a);
        text_b_ = feed_text(lists_.b);
        std::cout << "lists of " << lists_.a.size() << " and " << lists_.b.size() << " prefixes (" << lists_.common.size()
                  << " in both), seed " << seed_ << ", made in "
                  << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() << " s\n";
    }

    void TearDown() override
    {
        prober_.reset();
        maps_.reset();
        NetnsTest::TearDown();
        if (!dir_.empty())
            std::filesystem::remove_all(dir_);
    }

    void put_feed(const std::string &text)
    {
        std::ofstream(feed_ + ".tmp") << text;
        std::filesystem::rename(feed_ + ".tmp", feed_);
    }

    // What the tables list now (all sources of the blocklist), read whole.
    rg::PrefixSet listed()
    {
        rg::Lists l(*maps_, rg::StateDir(dir_ + "/reader"), false);
        return l.listed(rg::ListKind::block);
    }

    // A∩B ⊆ listed ⊆ A∪B, each as what the sets cover.
    void expect_between(const std::string &when)
    {
        rg::PrefixSet now = listed();
        EXPECT_TRUE(union_of({&now, &lists_.common}) == now) << when << ": a prefix of both lists is not enforced";
        EXPECT_TRUE(union_of({&now, &lists_.either}) == lists_.either)
            << when << ": the tables list what neither list has";
    }

    void start_prober()
    {
        maps_.emplace(rg::Maps::open(fs_->pin_dir()));
        prober_ = std::make_unique<Prober>(*maps_, lists_, seed_);
    }

    // Waits until the process exits (it was killed).
    void reap(Process &p)
    {
        auto code = p.wait_exit(10s);
        ASSERT_TRUE(code) << "not gone 10 s after SIGKILL";
    }

    // Waits for the process to exit, watching rg_config.lists_gen meanwhile:
    // how long it ran, and how long the list write took (gen odd).
    struct Timing {
        double whole = 0, write = 0;
    };
    Timing watch(Process &p)
    {
        auto t0 = std::chrono::steady_clock::now(), odd_from = t0;
        Timing t;
        bool odd = false;
        while (!p.wait_exit(1ms)) {  // the exit, or 1 ms: a sample of lists_gen
            bool now_odd = maps_->lists_gen() & 1;
            auto now = std::chrono::steady_clock::now();
            if (now_odd && !odd)
                odd_from = now;
            if (!now_odd && odd)
                t.write += std::chrono::duration<double>(now - odd_from).count();
            odd = now_odd;
        }
        t.whole = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        return t;
    }

    // A random moment to kill at: every other pair of kills from the start,
    // within 1.3 × how long a whole run takes; the others after the list
    // write began (rg_config.lists_gen odd), within how long a write takes.
    void kill_at_random(Process &p, std::mt19937_64 &rnd, const Timing &t, unsigned i)
    {
        bool in_write = (i / 2) % 2;
        auto start = std::chrono::steady_clock::now();
        double within = t.whole * 1.3;
        if (in_write) {
            auto deadline = start + std::chrono::duration<double>(t.whole * 3 + 5);
            uint64_t gen0 = maps_->lists_gen();
            // lists_gen has no event to wait for: sampled every 100 µs
            // (a write takes hundreds of ms), or the exit.
            while (!(maps_->lists_gen() & 1) && maps_->lists_gen() == gen0 &&
                   std::chrono::steady_clock::now() < deadline && !p.wait_exit(0ms))
                std::this_thread::sleep_for(100us);
            start = std::chrono::steady_clock::now();
            within = t.write;
        }
        std::uniform_real_distribution<double> d(0, within);
        auto at = start + std::chrono::duration<double>(d(rnd));
        // Until that moment, unless the process ends first.
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(at - std::chrono::steady_clock::now());
        if (!p.wait_exit(std::max(left, 0ms)))
            p.signal(SIGKILL);
    }

    // Starts a run (start), kills it at a random moment, checks what the
    // tables list; counts the kills that landed in a list write.
    template <class Start> void kill_one(Start start, std::mt19937_64 &rnd, const Timing &t, unsigned i)
    {
        {
            auto p = start();
            kill_at_random(*p, rnd, t, i);
            reap(*p);
        }
        mid_write_ += maps_->lists_gen() & 1;
        expect_between("kill " + std::to_string(i));
    }

    void finish(double seconds)
    {
        prober_->stop();
        std::cout << repeats_ << " kills, " << mid_write_ << " during a list write; " << prober_->runs()
                  << " probes in " << seconds << " s, " << prober_->wrong() << " wrong\n";
        EXPECT_EQ(prober_->wrong(), 0u) << prober_->examples();
        EXPECT_GT(prober_->runs(), 1000u);
        EXPECT_GE(mid_write_, repeats_ / 4) << "too few kills landed while the list was written to test anything";
    }

    std::string dir_, feed_;
    size_t prefixes_ = 0, repeats_ = 0;
    unsigned mid_write_ = 0;
    uint64_t seed_ = 0;
    Lists2 lists_;
    std::string text_a_, text_b_;
    std::optional<rg::Maps> maps_;
    std::unique_ptr<Prober> prober_;
};

TEST_F(KillSyncTest, KilledCliSyncNeverLetsAListedSourceThroughAndTheNextSyncRepairs)
{
    attach();
    put_feed(text_a_);
    rg_ok({"feed", "add", "big", feed_, "--max-shrink", "100"});
    start_prober();
    ASSERT_TRUE(listed() == lists_.a);

    auto cli_sync = [&] {
        return std::make_unique<Process>(
            std::vector<std::string>{"ip", "netns", "exec", server_->name(), RELAYGUARD_BIN, "--pin-dir",
                                     fs_->pin_dir(), "--state-dir", dir_ + "/state", "feed", "sync", "big"},
            std::vector<std::string>{"LIBXDP_BPFFS=" + fs_->root()});
    };
    // One whole sync each way, to know how long a run and its write take.
    Timing t;
    for (const std::string *text : {&text_b_, &text_a_}) {
        put_feed(*text);
        auto p = cli_sync();
        Timing one = watch(*p);
        EXPECT_EQ(p->wait_exit(0ms).value_or(-1), 0) << p->output();
        t.whole = std::max(t.whole, one.whole);
        t.write = std::max(t.write, one.write);
    }
    ASSERT_TRUE(listed() == lists_.a);
    std::cout << "a whole sync: " << t.whole << " s, its list write " << t.write << " s\n";
    std::mt19937_64 rnd(seed_);
    auto t0 = std::chrono::steady_clock::now();
    for (unsigned i = 0; i < repeats_ && !HasFailure(); i++) {
        const rg::PrefixSet &next = i % 2 ? lists_.a : lists_.b;
        put_feed(&next == &lists_.b ? text_b_ : text_a_);
        kill_one(cli_sync, rnd, t, i);
        // The next sync repairs and finishes.
        auto r = rg({"feed", "sync", "big"});
        ASSERT_EQ(r.status, 0) << r.output;
        EXPECT_FALSE(maps_->lists_gen() & 1);
        EXPECT_TRUE(listed() == next) << "kill " << i << ": the next sync did not finish the list\n" << r.output;
    }
    finish(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
}

TEST_F(KillSyncTest, KilledDaemonNeverLetsAListedSourceThroughAndItsNextStartRepairs)
{
    const std::string conf = dir_ + "/relayguard.conf", stats = dir_ + "/stats.jsonl";
    std::ofstream(conf) << "[filter]\ninterfaces = " << iface_ << "\n[daemon]\npin_dir = " << fs_->pin_dir()
                        << "\nstate_dir = " << dir_ << "/state\non_exit = keep\nstats_interval = 1h\nstats_output = "
                        << stats << "\n[feed big]\nsource = " << feed_ << "\ninterval = 1h\nmax_shrink = 100\n";
    std::filesystem::permissions(conf, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    auto start = [&] {
        std::ofstream(stats, std::ios::trunc).close();
        return std::make_unique<Process>(
            std::vector<std::string>{"ip", "netns", "exec", server_->name(), RELAYGUARD_BIN, "run", "--config", conf},
            std::vector<std::string>{"LIBXDP_BPFFS=" + fs_->root()});
    };
    // The stats line of the daemon's feed sync; nullopt if the daemon
    // exits first or none comes within 120 s.
    auto synced = [&](Process &d) {
        auto deadline = std::chrono::steady_clock::now() + 120s;
        std::optional<std::string> line;
        while (!(line = rg::test::wait_for_text(stats, "\"event\":\"feed_sync\"", 1s)) && !d.wait_exit(0ms) &&
               std::chrono::steady_clock::now() < deadline) {
        }
        return line;
    };
    // Runs the daemon until its sync of the feed is done, then stops it.
    auto whole_run = [&](const std::string &why) {
        Timing t;
        auto t0 = std::chrono::steady_clock::now();
        auto d = start();
        auto line = synced(*d);
        EXPECT_TRUE(line) << why << ": no sync within 120 s\n" << d->output();
        t.whole = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        // Applied, or already current (a kill after the sync had finished).
        std::string result;
        if (line) {
            std::string text = *line;
            for (std::istringstream in(text); std::getline(in, text);)
                if (text.find("\"event\":\"feed_sync\"") != std::string::npos) {
                    auto j = nlohmann::json::parse(text, nullptr, false);
                    result = j.is_discarded() ? text : j.value("result", "");
                }
        }
        EXPECT_TRUE(result == "applied" || result == "same_content" || result == "unchanged")
            << why << ": " << line.value_or("") << "\n" << d->output();
        d->signal(SIGTERM);
        auto code = d->wait_exit(30s);
        EXPECT_TRUE(code && *code == 0) << d->output();
        return t;
    };
    put_feed(text_a_);
    whole_run("first start");
    attached_ = true;  // on_exit = keep: detached by TearDown
    start_prober();
    ASSERT_TRUE(listed() == lists_.a);
    // A start that syncs to B, watched: how long a run and its write take.
    put_feed(text_b_);
    Timing t;
    {
        auto d = start();
        std::atomic<bool> ended{false};
        std::thread stopper([&] {
            while (!ended)
                if (rg::test::wait_for_text(stats, "\"event\":\"feed_sync\"", 1s)) {
                    d->signal(SIGTERM);
                    return;
                }
        });
        t = watch(*d);
        ended = true;
        stopper.join();
        EXPECT_EQ(d->wait_exit(0ms).value_or(-1), 0) << d->output();
    }
    std::cout << "a daemon start and whole sync: " << t.whole << " s, its list write " << t.write << " s\n";
    ASSERT_TRUE(listed() == lists_.b);

    std::mt19937_64 rnd(seed_ + 1);
    auto t0 = std::chrono::steady_clock::now();
    for (unsigned i = 0; i < repeats_ && !HasFailure(); i++) {
        const rg::PrefixSet &next = i % 2 ? lists_.b : lists_.a;
        put_feed(&next == &lists_.b ? text_b_ : text_a_);
        kill_one(start, rnd, t, i);
        EXPECT_TRUE(rg_json({"status", "--json"})["interfaces"][0]["attached"].get<bool>())
            << "the killed daemon's filter must stay attached";
        whole_run("start after kill " + std::to_string(i));
        EXPECT_FALSE(maps_->lists_gen() & 1);
        EXPECT_TRUE(listed() == next) << "kill " << i << ": the next start did not finish the list";
    }
    finish(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
}

} // namespace

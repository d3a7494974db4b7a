// Postfix log lines (watch/): split (log_line), matched by the built-in
// rules (log_rules), counted into bans (offenders) by the Watcher, whose
// state is then written to and read back from its state file
// (watch_state). Properties: a ban names a host address or an escalation
// prefix; every decision reads as JSON text; the state file written reads
// back as the same state, and a Watcher restored from it holds the same
// bans and offenders.
#include "fuzz_check.hpp"
#include "log_line.hpp"
#include "state_dir.hpp"
#include "text.hpp"
#include "watch_state.hpp"
#include "watcher.hpp"

#include <filesystem>
#include <cstdint>
#include <cstdlib>

namespace {

class Target : public rg::BanTarget {
public:
    std::string exempt(const rg::Cidr &prefix) override
    {
        // Exempt as a loopback address would be, to reach that path.
        return prefix.family == 4 && prefix.addr[0] == 127 ? "loopback" : "";
    }
    void ban(const rg::Cidr &prefix, rg::Duration bantime) override
    {
        FUZZ_CHECK(bantime.count() > 0, "a ban of no time for " + prefix.str());
    }
};

std::string state_dir;

std::string state_text(const rg::WatchState &s)
{
    return rg::json_text(rg::to_json(s));
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***)
{
    rg_fuzz::quiet();
    char tmpl[] = "/tmp/relayguard-fuzz-watch.XXXXXX";
    FUZZ_CHECK(mkdtemp(tmpl) != nullptr, "mkdtemp");
    state_dir = tmpl;
    // libFuzzer ends with exit(): the directory goes with it (a crash keeps it).
    std::atexit([] { std::filesystem::remove_all(state_dir); });
    return 0;
}

// Byte 0: each rule's maxretry (1..4) and whether bans escalate to
// prefixes; the rest: log lines.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    rg::WatchConfig cfg;
    for (rg::LogRule &r : cfg.rules)
        r.maxretry = 1 + (data[0] & 3);
    if (data[0] & 4) {
        cfg.policy.escalate_after = 2;
        cfg.policy.escalate_window = std::chrono::hours(1);
    }
    Target target;
    auto report = [](const nlohmann::json &e) {
        FUZZ_CHECK(!rg::describe_decision(e).empty(), "a decision without words");
        rg::json_text(e);
        rg::Cidr c = rg::parse_cidr(e.at("prefix").get<std::string>()).cidr;
        if (!e.at("escalation").get<bool>())
            FUZZ_CHECK(c.len == c.max_len(), "a source that is not one address: " + c.str());
    };
    const int64_t now = 1'796'000'000;  // 2026-11-30
    rg::Watcher w(cfg, target, report, "fuzz");
    std::string_view text = rg_fuzz::text_of(data + 1, size - 1);
    while (!text.empty()) {
        size_t nl = text.find('\n');
        w.line(text.substr(0, nl), now);
        text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    }

    // The state file's round trip, through the real files.
    rg::StateDir dir(state_dir);
    rg::WatchState s = w.state(now);
    rg::save_watch_state(dir, s);
    std::optional<rg::WatchState> back = rg::load_watch_state(dir);
    FUZZ_CHECK(back.has_value(), "the state file written does not read back");
    FUZZ_CHECK(state_text(*back) == state_text(s), "the state file reads back differently");

    rg::Watcher again(cfg, target, report, "fuzz");
    again.restore(*back);
    rg::WatchState r = again.state(now);
    FUZZ_CHECK(r.bans.size() == s.bans.size() && r.offenders.size() == s.offenders.size(),
               "a restored watch lost bans or offenders");
    return 0;
}

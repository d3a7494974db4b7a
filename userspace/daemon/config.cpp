#include "config.hpp"

#include "error.hpp"
#include "feed_registry.hpp"
#include "maps.hpp"
#include "ports.hpp"
#include "state_dir.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <initializer_list>
#include <map>
#include <span>
#include <sys/stat.h>
#include <unistd.h>

namespace rg {

namespace {

namespace fs = std::filesystem;

// An error whose message already says where (a line of an allow_file): it
// passes the config-line prefix untouched.
class LocatedError : public Error {
public:
    using Error::Error;
};

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

std::string_view trim(std::string_view s)
{
    while (!s.empty() && is_space(s.front()))
        s.remove_prefix(1);
    while (!s.empty() && is_space(s.back()))
        s.remove_suffix(1);
    return s;
}

std::string quote(std::string_view s) { return '"' + std::string(s) + '"'; }

std::string join(std::span<const std::string_view> items, const char *sep)
{
    std::string out;
    for (std::string_view s : items)
        out += (out.empty() ? "" : sep) + std::string(s);
    return out;
}

// Calls fn(line_number, line) for each line of text, without the newline.
template <typename Fn>
void for_each_line(std::string_view text, Fn fn)
{
    int n = 0;
    while (!text.empty()) {
        size_t nl = text.find('\n');
        fn(++n, text.substr(0, nl));
        text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    }
}

// Whole file as text; "PATH: cannot read: reason" if it cannot be read
// (including a directory: read() fails with EISDIR).
std::string read_file(const std::string &path)
{
    auto fail = [&path](int err) { throw Error(path + ": cannot read: " + std::strerror(err), err); };
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0)
        fail(errno);
    std::string text;
    char buf[65536];
    for (;;) {
        ssize_t got = ::read(fd.get(), buf, sizeof(buf));
        if (got == 0)
            return text;
        if (got > 0)
            text.append(buf, size_t(got));
        else if (errno != EINTR)
            fail(errno);
    }
}

// Items of a list value, separated by whitespace and/or commas.
std::vector<std::string_view> split_list(std::string_view v)
{
    std::vector<std::string_view> items;
    size_t i = 0;
    while (i < v.size()) {
        while (i < v.size() && (is_space(v[i]) || v[i] == ','))
            i++;
        size_t start = i;
        while (i < v.size() && !is_space(v[i]) && v[i] != ',')
            i++;
        if (i > start)
            items.push_back(v.substr(start, i - start));
    }
    return items;
}

uint64_t parse_uint(std::string_view v, uint64_t lo, uint64_t hi)
{
    uint64_t n = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec == std::errc::invalid_argument || end != v.data() + v.size())
        throw Error(quote(v) + ": not a whole number");
    if (ec == std::errc::result_out_of_range || n < lo || n > hi)
        throw Error(quote(v) + ": out of range " + std::to_string(lo) + ".." + std::to_string(hi));
    return n;
}

// Index of v among options.
size_t choose(std::string_view v, std::initializer_list<std::string_view> options)
{
    auto it = std::ranges::find(options, v);
    if (it == options.end())
        throw Error(quote(v) + ": not one of " + join(options, ", "));
    return size_t(it - options.begin());
}

// [crowdsec] push: off, or which of relayguard's own bans go to the LAPI
// (watch, ratelimit, or both as a list).
void parse_push(std::string_view v, CrowdsecConfig &cfg)
{
    cfg.push_watch = cfg.push_ratelimit = false;
    std::vector<std::string_view> items = split_list(v);
    if (items.size() == 1 && items[0] == "off")
        return;
    if (items.empty())
        throw Error("empty: off, or watch and/or ratelimit");
    for (std::string_view item : items) {
        if (choose(item, {"watch", "ratelimit"}) == 0)
            cfg.push_watch = true;
        else
            cfg.push_ratelimit = true;
    }
}

// Interface names as the kernel's dev_valid_name() accepts them; whether
// they exist is checked when attaching, not here.
std::vector<std::string> parse_interfaces(std::string_view v)
{
    std::vector<std::string> names;
    for (std::string_view name : split_list(v)) {
        std::string what = "interface " + quote(name);
        if (name.size() > 15)
            throw Error(what + ": longer than 15 characters");
        if (name.find_first_of("/:") != std::string_view::npos || name == "." || name == "..")
            throw Error(what + ": not a valid interface name");
        if (std::find(names.begin(), names.end(), name) != names.end())
            throw Error(what + ": listed twice");
        names.emplace_back(name);
    }
    if (names.empty())
        throw Error("no interface named");
    return names;
}

// A /0 covers a whole address family: blocklisted, it drops all of it;
// allowlisted, it turns filtering off. The file has no --force: refused.
Cidr list_entry(std::string_view text, bool allow)
{
    Cidr c = parse_cidr(text).cidr;
    if (c.len == 0) {
        std::string family = c.family == 4 ? "IPv4" : "IPv6";
        throw Error(quote(text) + ": covers every " + family + " address (" +
                    (allow ? "allowlisted, it would turn filtering off for " + family
                           : "blocklisted, it would drop all " + family + " traffic to the protected ports") +
                    "); not accepted in the config file");
    }
    return c;
}

void append_cidrs(std::vector<Cidr> &to, std::string_view v, bool allow)
{
    std::vector<std::string_view> items = split_list(v);
    if (items.empty())
        throw Error("no prefix given");
    for (std::string_view item : items)
        to.push_back(list_entry(item, allow));
}

void sort_unique(std::vector<Cidr> &v)
{
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
}

enum class Kind { filter, rate, daemon, feed, watch, watch_rule, metrics, alerts, events, crowdsec, egress };

constexpr std::string_view kFeedNameChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-";

struct Section {
    Kind kind;
    std::string label;                             // as in messages: "filter", "feed spamhaus-drop"
    int line;                                      // of the header
    std::map<std::string, int, std::less<>> keys;  // key -> line of its first occurrence

    int line_of(std::string_view key) const
    {
        auto it = keys.find(key);
        return it == keys.end() ? 0 : it->second;
    }
};

class Parser;

struct KeySpec {
    std::string_view name;
    bool repeatable;
    void (*set)(Parser &, std::string_view value);
};

std::span<const KeySpec> keys_of(Kind kind);

class Parser {
public:
    explicit Parser(const std::string &path) : path_(path), dir_(fs::path(path).parent_path())
    {
        cfg.path = path;
    }

    Config cfg;
    bool state_dir_set_ = false;  // else it follows pin_dir
    FeedConfig &feed() { return cfg.feeds.back(); }  // of the [feed NAME] section being parsed
    LogRule &rule() { return cfg.watch.rules[rule_]; }  // of the [watch-rule NAME] section being parsed
    std::vector<std::string> disabled_rules_;
    SurgeSettings surge_;  // [egress] surge_* keys

    Config run(std::string_view text)
    {
        for_each_line(text, [this](int n, std::string_view line) { this->line(n, line); });
        if (!sections_.empty())
            finish(sections_.back());
        if (cfg.interfaces.empty())
            throw Error(path_ + ": [filter] interfaces: missing; name the interfaces to protect, "
                                "e.g. interfaces = eth0");
        sort_unique(cfg.allow);
        sort_unique(cfg.block);
        std::erase_if(cfg.watch.rules, [this](const LogRule &r) {
            return std::ranges::find(disabled_rules_, r.name) != disabled_rules_.end();
        });
        const RateSettings &r = cfg.rate;
        cfg.watch.policy.escalate_after = r.escalate_after;
        cfg.watch.policy.escalate_window = r.escalate_window;
        cfg.watch.policy.escalate_prefix4 = r.escalate_prefix4;
        cfg.watch.policy.escalate_prefix6 = r.escalate_prefix6;
        if (!state_dir_set_)
            cfg.state_dir = default_state_dir(cfg.pin_dir);
        check_egress_cap();
        if (cfg.egress_mode != RG_EGRESS_OFF)  // outbound_surge needs the egress program's counts
            cfg.alerts.outbound_surge = surge_;
        return std::move(cfg);
    }

    // A path from the config file, relative to the file's directory, made
    // absolute: the daemon may change directory, the file stays put.
    std::string resolve(std::string_view p) const
    {
        fs::path r(p);
        if (r.is_relative())
            r = dir_ / r;
        return fs::absolute(r).lexically_normal().string();
    }

    // Appends the CIDRs of an allow_file/block_file: one per line, '#' and
    // ';' comments.
    void append_cidr_file(std::vector<Cidr> &to, std::string_view value, bool allow) const
    {
        std::string file = resolve(value);
        std::string text = read_file(file);
        for_each_line(text, [&](int n, std::string_view line) {
            line = trim(line.substr(0, line.find_first_of("#;")));
            if (line.empty())
                return;
            try {
                to.push_back(list_entry(line, allow));
            } catch (const Error &e) {
                throw LocatedError(file + ":" + std::to_string(n) + ": " + e.what() + " (from " +
                                   where(line_, sections_.back().label, key_) + ")");
            }
        });
    }

private:
    const std::string &path_;
    fs::path dir_;
    std::vector<Section> sections_;
    size_t rule_ = 0;       // index in cfg.watch.rules of the [watch-rule NAME] being parsed
    int line_ = 0;          // being parsed
    std::string_view key_;  // being parsed

    // "FILE:LINE: [label] key", leaving out what is empty.
    std::string where(int line, std::string_view label, std::string_view key) const
    {
        std::string s = path_ + ":" + std::to_string(line);
        if (!label.empty())
            s += ": [" + std::string(label) + "]";
        if (!key.empty())
            s += (label.empty() ? ": " : " ") + std::string(key);
        return s;
    }

    [[noreturn]] void fail(int line, std::string_view label, std::string_view key, const std::string &why) const
    {
        throw Error(where(line, label, key) + ": " + why);
    }

    void line(int n, std::string_view text)
    {
        // '#' starts a comment only at the start or after whitespace, so
        // "http://host/list#v4" keeps its fragment.
        for (size_t i = 0; i < text.size(); i++)
            if (text[i] == '#' && (i == 0 || is_space(text[i - 1])))
                text = text.substr(0, i);
        text = trim(text);
        if (text.empty())
            return;
        if (text.front() == '[')
            header(n, text);
        else
            entry(n, text);
    }

    void header(int n, std::string_view text)
    {
        if (text.back() != ']')
            fail(n, "", "", "malformed section header " + quote(text) + " (expected [name])");
        std::string_view inner = trim(text.substr(1, text.size() - 2));
        if (inner.empty())
            fail(n, "", "", "empty section header \"[]\"");
        if (!sections_.empty())
            finish(sections_.back());
        Section s{Kind::filter, std::string(inner), n, {}};
        if (inner == "filter") {
            s.kind = Kind::filter;
        } else if (inner == "rate") {
            s.kind = Kind::rate;
        } else if (inner == "daemon") {
            s.kind = Kind::daemon;
        } else if (inner.starts_with("feed") && (inner.size() == 4 || is_space(inner[4]))) {
            std::string_view name = trim(inner.substr(4));
            s.kind = Kind::feed;
            s.label = "feed " + std::string(name);
            if (name.empty())
                fail(n, "feed", "", "a feed section needs a name, e.g. [feed spamhaus-drop]");
            if (name.size() > 32 || name.find_first_not_of(kFeedNameChars) != std::string_view::npos)
                fail(n, s.label, "", "feed name must be 1 to 32 of the characters A-Z a-z 0-9 _ . -");
            if (reserved_feed_name(name))
                fail(n, s.label, "", "feed name \"" + std::string(name) +
                                         "\" is reserved: manual and config name the built-in sources");
        } else if (inner == "watch") {
            s.kind = Kind::watch;
        } else if (inner == "metrics") {
            s.kind = Kind::metrics;
        } else if (inner == "alerts") {
            s.kind = Kind::alerts;
        } else if (inner == "events") {
            s.kind = Kind::events;
        } else if (inner.starts_with("watch-rule") && (inner.size() == 10 || is_space(inner[10]))) {
            std::string_view name = trim(inner.substr(10));
            s.kind = Kind::watch_rule;
            s.label = "watch-rule " + std::string(name);
            if (name.empty() || name.size() > 32 || name.find_first_not_of(kFeedNameChars) != std::string_view::npos)
                fail(n, s.label, "", "a rule needs a name of 1 to 32 of the characters A-Z a-z 0-9 _ . -, "
                                     "e.g. [watch-rule dovecot-auth]");
        } else if (inner == "crowdsec") {
            s.kind = Kind::crowdsec;
        } else if (inner == "egress") {
            s.kind = Kind::egress;
        } else {
            fail(n, inner, "",
                 "unknown section (valid: [filter], [rate], [daemon], [feed NAME], [watch], [watch-rule NAME], "
                 "[metrics], [alerts], [events], [crowdsec], [egress])");
        }
        for (const Section &prev : sections_)
            if (prev.label == s.label)
                fail(n, s.label, "", "section already given at line " + std::to_string(prev.line) +
                                         " (each section may appear only once)");
        if (s.kind == Kind::watch_rule)
            start_rule(s.label.substr(11));
        if (s.kind == Kind::feed) {
            FeedConfig f;
            f.name = s.label.substr(5);
            f.line = n;
            cfg.feeds.push_back(std::move(f));
        }
        sections_.push_back(std::move(s));
    }

    void entry(int n, std::string_view text)
    {
        size_t eq = text.find('=');
        std::string_view label = sections_.empty() ? std::string_view() : std::string_view(sections_.back().label);
        if (eq == std::string_view::npos)
            fail(n, label, "", "expected \"key = value\", got " + quote(text));
        std::string_view key = trim(text.substr(0, eq));
        std::string_view value = trim(text.substr(eq + 1));
        if (key.empty())
            fail(n, label, "", "no key before '=' in " + quote(text));
        if (sections_.empty())
            fail(n, "", key,
                 "key outside a section (put it under [filter], [rate], [daemon] or [feed NAME])");
        Section &sec = sections_.back();

        const KeySpec *spec = nullptr;
        std::vector<std::string_view> valid;
        for (const KeySpec &k : keys_of(sec.kind)) {
            valid.push_back(k.name);
            if (k.name == key)
                spec = &k;
        }
        if (!spec)
            fail(n, label, key, "unknown key (valid keys: " + join(valid, ", ") + ")");
        if (int first = sec.line_of(key); first && !spec->repeatable)
            fail(n, label, key,
                 "already set at line " + std::to_string(first) + " (this key may be given only once)");
        sec.keys.emplace(std::string(key), n);
        if (value.empty())
            fail(n, label, key, "no value");

        line_ = n;
        key_ = key;
        try {
            spec->set(*this, value);
        } catch (const LocatedError &) {
            throw;
        } catch (const Error &e) {
            throw Error(where(n, label, key) + ": " + e.what(), e.err());
        }
    }

    // A [watch-rule NAME] changes the built-in rule of that name or adds one.
    void start_rule(const std::string &name)
    {
        auto &rules = cfg.watch.rules;
        auto it = std::ranges::find(rules, name, &LogRule::name);
        if (it == rules.end()) {
            LogRule r;
            r.name = name;
            it = rules.insert(rules.end(), r);
        }
        rule_ = size_t(it - rules.begin());
    }

    // Checks that need the whole section: required keys, keys that only
    // make sense together.
    void finish(const Section &s) const
    {
        if (s.kind == Kind::watch && s.line_of("log") && cfg.watch.journal)
            fail(s.line_of("journal"), s.label, "journal", "give log or journal, not both");
        if (s.kind == Kind::watch_rule && !s.line_of("regex") && !builtin_log_rule(s.label.substr(11))) {
            std::string names;
            for (const LogRule &r : builtin_log_rules())
                names += (names.empty() ? "" : ", ") + r.name;
            fail(s.line, s.label, "", "regex is required for a rule that is not built in (built-in rules: " +
                                          names + ")");
        }
        if (s.kind == Kind::crowdsec && !s.line_of("lapi_url"))
            fail(s.line, s.label, "", "lapi_url is required (the Local API, e.g. http://127.0.0.1:8080)");
        if (s.kind == Kind::crowdsec && !s.line_of("api_key_file"))
            fail(s.line, s.label, "", "api_key_file is required (a file holding the key of `cscli bouncers add NAME`)");
        if (s.kind == Kind::crowdsec && cfg.crowdsec.pushes() && !s.line_of("machine_credentials"))
            fail(s.line_of("push"), s.label, "push",
                 "needs machine_credentials (the file of `cscli machines add NAME --auto -f FILE`)");
        if (s.kind == Kind::egress && surge_.half_life < surge_.window)
            fail(s.line_of("baseline_half_life") ? s.line_of("baseline_half_life") : s.line_of("surge_window"),
                 s.label, s.line_of("baseline_half_life") ? "baseline_half_life" : "surge_window",
                 "baseline_half_life " + format_duration(surge_.half_life) + " is shorter than surge_window " +
                     format_duration(surge_.window) + ": the baseline would forget each window before the next");
        if (s.kind == Kind::feed && !s.line_of("source"))
            fail(s.line, s.label, "", "source is required (a file path or an http(s):// URL)");
        if (s.kind == Kind::egress && cfg.egress.interval_ns && !s.line_of("burst"))
            fail(s.line_of("budget"), s.label, "budget", "needs burst (connections allowed back to back, e.g. 30)");
        if (s.kind == Kind::egress && s.line_of("burst") && !cfg.egress.interval_ns)
            fail(s.line_of("burst"), s.label, "burst", "has no effect without budget; set budget (e.g. 120/m) or remove burst");
        if (s.kind != Kind::rate)
            return;
        const RateSettings &r = cfg.rate;
        if (!s.line_of("rate"))
            fail(s.line, s.label, "", "rate is required: a rate such as 30/m, or off");
        if (r.enabled && !s.line_of("burst"))
            fail(s.line, s.label, "", "burst is required when rate is not off");
        if (int at = s.line_of("ban_after"); at && r.ban_ttl.count() == 0)
            fail(at, s.label, "ban_after", "has no effect without ban_ttl; set ban_ttl (e.g. 1h) or remove ban_after");
        if (r.escalate_after > 0) {
            int at = s.line_of("escalate_after");
            if (r.escalate_window.count() == 0)
                fail(at, s.label, "escalate_after", "needs escalate_window above 0s (e.g. 10m)");
            if (r.ban_ttl.count() == 0)
                fail(at, s.label, "escalate_after", "needs ban_ttl above 0s: escalation counts banned sources");
            check_escalation_prefix(s, "4", r.escalate_prefix4, r.prefix4);
            check_escalation_prefix(s, "6", r.escalate_prefix6, r.prefix6);
        }
    }

    // egress = cap drops over the [egress] budget: without one it would
    // silently drop nothing.
    void check_egress_cap() const
    {
        if (cfg.egress_mode != RG_EGRESS_CAP || cfg.egress.interval_ns)
            return;
        for (const Section &s : sections_)
            if (s.kind == Kind::filter && s.line_of("egress"))
                fail(s.line_of("egress"), s.label, "egress",
                     "cap needs a budget: set budget and burst in [egress] (e.g. budget = 120/m, burst = 30)");
    }

    // The escalation prefix ("escalate_prefix4") must be broader than the
    // aggregation prefix ("prefix4"); blames whichever of the two was set.
    void check_escalation_prefix(const Section &s, const std::string &family, unsigned escalate,
                                 unsigned aggregate) const
    {
        if (escalate < aggregate)
            return;
        std::string key = "escalate_prefix" + family;
        int at = s.line_of(key);
        if (!at) {
            key = "prefix" + family;
            at = s.line_of(key);
        }
        fail(at, s.label, key,
             "escalate_prefix" + family + " /" + std::to_string(escalate) + " must be shorter than prefix" +
                 family + " /" + std::to_string(aggregate) +
                 ": escalating to a prefix no broader than the aggregation means nothing");
    }
};

// ---- the keys of each section ---------------------------------------------

std::string feed_source(const Parser &p, std::string_view v)
{
    if (v == "-")
        throw Error("\"-\" (standard input) cannot be used here: the daemon has no stdin; "
                    "give a file path or an http(s):// URL");
    if (v.starts_with("http://") || v.starts_with("https://"))
        return std::string(v);
    if (v.find("://") != std::string_view::npos)
        throw Error(quote(v) + ": unsupported URL scheme (use http:// or https://)");
    return p.resolve(v);
}

uint8_t prefix_len(std::string_view v, unsigned max) { return uint8_t(parse_uint(v, 1, max)); }

bool yes_no(std::string_view v) { return choose(v, {"no", "yes", "false", "true"}) % 2 == 1; }

Duration positive_duration(std::string_view v)
{
    Duration d = parse_duration(v);
    if (d < std::chrono::seconds(1))
        throw Error(quote(v) + ": shorter than 1s");
    return d;
}

const KeySpec kFilterKeys[] = {
    {"interfaces", false, [](Parser &p, std::string_view v) { p.cfg.interfaces = parse_interfaces(v); }},
    {"xdp_mode", false,
     [](Parser &p, std::string_view v) {
         p.cfg.xdp_mode = choose(v, {"native", "skb"}) == 0 ? XdpMode::native : XdpMode::skb;
     }},
    {"ports", false,
     [](Parser &p, std::string_view v) {
         std::vector<std::string_view> items = split_list(v);
         p.cfg.ports = parse_ports(std::vector<std::string>(items.begin(), items.end()));
     }},
    {"mode", false, [](Parser &p, std::string_view v) { p.cfg.monitor = choose(v, {"enforce", "monitor"}) == 1; }},
    {"egress", false,
     [](Parser &p, std::string_view v) { p.cfg.egress_mode = parse_egress_mode(std::string(v), true); }},
    {"allow", true, [](Parser &p, std::string_view v) { append_cidrs(p.cfg.allow, v, true); }},
    {"block", true, [](Parser &p, std::string_view v) { append_cidrs(p.cfg.block, v, false); }},
    {"allow_file", true, [](Parser &p, std::string_view v) { p.append_cidr_file(p.cfg.allow, v, true); }},
    {"block_file", true, [](Parser &p, std::string_view v) { p.append_cidr_file(p.cfg.block, v, false); }},
};

const KeySpec kRateKeys[] = {
    {"rate", false,
     [](Parser &p, std::string_view v) {
         p.cfg.rate.enabled = v != "off";
         p.cfg.rate.interval_ns = p.cfg.rate.enabled ? parse_rate(v) : 0;
     }},
    {"burst", false, [](Parser &p, std::string_view v) { p.cfg.rate.burst = uint32_t(parse_uint(v, 1, 1'000'000)); }},
    {"prefix4", false, [](Parser &p, std::string_view v) { p.cfg.rate.prefix4 = prefix_len(v, 32); }},
    {"prefix6", false, [](Parser &p, std::string_view v) { p.cfg.rate.prefix6 = prefix_len(v, 128); }},
    {"ban_after", false,
     [](Parser &p, std::string_view v) { p.cfg.rate.ban_after = uint32_t(parse_uint(v, 0, 1'000'000)); }},
    {"ban_ttl", false, [](Parser &p, std::string_view v) { p.cfg.rate.ban_ttl = parse_duration(v); }},
    {"escalate_after", false,
     [](Parser &p, std::string_view v) { p.cfg.rate.escalate_after = uint32_t(parse_uint(v, 0, 65535)); }},
    {"escalate_window", false, [](Parser &p, std::string_view v) { p.cfg.rate.escalate_window = parse_duration(v); }},
    {"escalate_prefix4", false,
     [](Parser &p, std::string_view v) { p.cfg.rate.escalate_prefix4 = prefix_len(v, 32); }},
    {"escalate_prefix6", false,
     [](Parser &p, std::string_view v) { p.cfg.rate.escalate_prefix6 = prefix_len(v, 128); }},
};

const KeySpec kDaemonKeys[] = {
    {"pin_dir", false,
     [](Parser &p, std::string_view v) {
         if (v.front() != '/')
             throw Error(quote(v) + ": not an absolute path");
         p.cfg.pin_dir = std::string(v);
     }},
    {"state_dir", false,
     [](Parser &p, std::string_view v) {
         p.cfg.state_dir = p.resolve(v);
         p.state_dir_set_ = true;
     }},
    {"stats_interval", false, [](Parser &p, std::string_view v) { p.cfg.stats_interval = parse_duration(v); }},
    {"stats_output", false,
     [](Parser &p, std::string_view v) { p.cfg.stats_output = v == "-" ? std::string(v) : p.resolve(v); }},
    {"on_exit", false, [](Parser &p, std::string_view v) { p.cfg.keep_on_exit = choose(v, {"detach", "keep"}) == 1; }},
};

const KeySpec kFeedKeys[] = {
    {"source", false, [](Parser &p, std::string_view v) { p.feed().source = feed_source(p, v); }},
    {"format", false,
     [](Parser &p, std::string_view v) {
         choose(v, {"auto", "plain", "spamhaus", "netset", "ipset", "json", "range"});
         p.feed().format = std::string(v);
     }},
    {"interval", false, [](Parser &p, std::string_view v) { p.feed().interval = positive_duration(v); }},
    {"shadow", false, [](Parser &p, std::string_view v) { p.feed().shadow = yes_no(v); }},
    {"max_shrink", false, [](Parser &p, std::string_view v) { p.feed().max_shrink = unsigned(parse_uint(v, 0, 100)); }},
    {"min_prefix4", false, [](Parser &p, std::string_view v) { p.feed().min_prefix4 = uint8_t(parse_uint(v, 0, 32)); }},
    {"min_prefix6", false,
     [](Parser &p, std::string_view v) { p.feed().min_prefix6 = uint8_t(parse_uint(v, 0, 128)); }},
};

const KeySpec kWatchKeys[] = {
    {"log", false, [](Parser &p, std::string_view v) { p.cfg.watch.log = p.resolve(v); }},
    {"journal", false, [](Parser &p, std::string_view v) { p.cfg.watch.journal = yes_no(v); }},
    {"ignore", true,
     [](Parser &p, std::string_view v) {
         for (std::string_view item : split_list(v)) {
             Cidr c = parse_cidr(item).cidr;
             if (c.len == 0)  // as allow and block: a typo must not turn watch off for a family
                 throw Error(quote(item) + ": covers every " + std::string(c.family == 4 ? "IPv4" : "IPv6") +
                             " address, so watch would ban no such source; not accepted");
             p.cfg.watch.ignore.push_back(c);
         }
     }},
    {"bantime_factor", false,
     [](Parser &p, std::string_view v) {
         double f = 0;
         auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), f);
         if (ec != std::errc() || end != v.data() + v.size() || f < 1 || f > 100)
             throw Error(quote(v) + ": not a number from 1 to 100");
         p.cfg.watch.policy.bantime_factor = f;
     }},
    {"bantime_max", false, [](Parser &p, std::string_view v) { p.cfg.watch.policy.bantime_max = positive_duration(v); }},
    {"dry_run", false, [](Parser &p, std::string_view v) { p.cfg.watch.dry_run = yes_no(v); }},
};

const KeySpec kWatchRuleKeys[] = {
    {"regex", false,
     [](Parser &p, std::string_view v) {
         std::string problem = regex_problem(std::string(v));
         if (!problem.empty())
             throw Error("the regex " + problem);
         p.rule().regex = std::string(v);
         if (builtin_log_rule(p.rule().name))  // a new pattern: the built-in first test no longer applies
             p.rule().literal.clear();
     }},
    {"daemon", false, [](Parser &p, std::string_view v) { p.rule().daemon = v == "any" ? "" : std::string(v); }},
    {"contains", false, [](Parser &p, std::string_view v) { p.rule().literal = std::string(v); }},
    {"maxretry", false, [](Parser &p, std::string_view v) { p.rule().maxretry = unsigned(parse_uint(v, 1, 1000000)); }},
    {"findtime", false, [](Parser &p, std::string_view v) { p.rule().findtime = positive_duration(v); }},
    {"bantime", false, [](Parser &p, std::string_view v) { p.rule().bantime = positive_duration(v); }},
    {"enabled", false,
     [](Parser &p, std::string_view v) {
         if (!yes_no(v))
             p.disabled_rules_.push_back(p.rule().name);
     }},
};

// ADDRESS:PORT with a numeric IPv4 address or a bracketed IPv6 one: a name
// would make the daemon's start depend on a resolver.
std::string listen_address(std::string_view v)
{
    size_t colon = v.rfind(':');
    if (colon == std::string_view::npos)
        throw Error(quote(v) + ": expected ADDRESS:PORT, e.g. 127.0.0.1:9468 or [::1]:9468");
    std::string host(v.substr(0, colon));
    parse_uint(v.substr(colon + 1), 1, 65535);
    unsigned char buf[sizeof(struct in6_addr)];
    bool ok = host.size() > 2 && host.front() == '[' && host.back() == ']'
                  ? inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), buf) == 1
                  : inet_pton(AF_INET, host.c_str(), buf) == 1;
    if (!ok)
        throw Error(quote(v) + ": the address must be numeric IPv4 (127.0.0.1) or bracketed IPv6 ([::1])");
    return std::string(v);
}

// [alerts]: "off" or a value.
template <typename T, typename Parse> std::optional<T> off_or(std::string_view v, Parse parse)
{
    return v == "off" ? std::nullopt : std::optional<T>(parse(v));
}

const KeySpec kAlertsKeys[] = {
    {"drop_rate", true,
     [](Parser &p, std::string_view v) {
         for (std::string_view item : split_list(v)) {
             DropRateRule rule = parse_drop_rate_rule(item);
             if (std::ranges::count(p.cfg.alerts.drop_rate, rule.reason, &DropRateRule::reason))
                 throw Error(quote(rule.reason) + ": given twice");
             p.cfg.alerts.drop_rate.push_back(rule);
         }
     }},
    {"rate_window", false, [](Parser &p, std::string_view v) { p.cfg.alerts.rate_window = positive_duration(v); }},
    {"feed_stale", false,
     [](Parser &p, std::string_view v) { p.cfg.alerts.feed_stale = off_or<Duration>(v, positive_duration); }},
    {"feed_rejected", false, [](Parser &p, std::string_view v) { p.cfg.alerts.feed_rejected = yes_no(v); }},
    {"ban_storm", false,
     [](Parser &p, std::string_view v) {
         p.cfg.alerts.ban_storm = off_or<uint64_t>(v, [](std::string_view n) { return parse_uint(n, 0, 1'000'000'000); });
     }},
    {"detached", false, [](Parser &p, std::string_view v) { p.cfg.alerts.detached = yes_no(v); }},
    {"command", false, [](Parser &p, std::string_view v) { p.cfg.alerts.command = parse_alert_command(v); }},
    {"command_timeout", false,
     [](Parser &p, std::string_view v) { p.cfg.alerts.command_timeout = positive_duration(v); }},
    {"repeat", false,
     [](Parser &p, std::string_view v) { p.cfg.alerts.repeat = off_or<Duration>(v, positive_duration).value_or(Duration(0)); }},
};

const KeySpec kMetricsKeys[] = {
    {"listen", false, [](Parser &p, std::string_view v) { p.cfg.metrics_listen = listen_address(v); }},
};

const KeySpec kEventsKeys[] = {
    {"interval", false,
     [](Parser &p, std::string_view v) {
         p.cfg.events.interval = positive_duration(v);
         validate_events(p.cfg.events);
     }},
    {"per_second", false,
     [](Parser &p, std::string_view v) {
         p.cfg.events.enabled = v != "off";
         if (p.cfg.events.enabled)
             p.cfg.events.per_second = uint32_t(parse_uint(v, 1, 1'000'000));
     }},
};

// [crowdsec]: relayguard as a bouncer of a CrowdSec Local API (bouncer.hpp).
const KeySpec kCrowdsecKeys[] = {
    {"lapi_url", false,
     [](Parser &p, std::string_view v) {
         if (!v.starts_with("http://") && !v.starts_with("https://"))
             throw Error(quote(v) + ": not an http:// or https:// URL");
         p.cfg.crowdsec.lapi_url = std::string(v);
     }},
    {"api_key_file", false,
     [](Parser &p, std::string_view v) {
         p.cfg.crowdsec.api_key_file = p.resolve(v);
         p.cfg.crowdsec.api_key = read_api_key_file(p.cfg.crowdsec.api_key_file);
     }},
    {"poll_interval", false,
     [](Parser &p, std::string_view v) {
         Duration d = parse_duration(v);
         if (d < std::chrono::milliseconds(100) || d > std::chrono::hours(1))
             throw Error(quote(v) + ": out of range 100ms..1h");
         p.cfg.crowdsec.poll_interval = d;
     }},
    {"scopes", false,
     [](Parser &p, std::string_view v) {
         DecisionFilter &f = p.cfg.crowdsec.filter;
         f.ip = f.range = false;
         for (std::string_view item : split_list(v))
             (choose(item, {"ip", "range"}) == 0 ? f.ip : f.range) = true;
         if (!f.ip && !f.range)
             throw Error("no scope given (ip, range)");
     }},
    {"types", false,
     [](Parser &p, std::string_view v) {
         std::vector<std::string> &types = p.cfg.crowdsec.filter.types;
         types.clear();
         for (std::string_view item : split_list(v)) {
             if (item.find_first_not_of("abcdefghijklmnopqrstuvwxyz_-") != std::string_view::npos)
                 throw Error(quote(item) + ": a decision type is lower-case letters, _ and - (e.g. ban)");
             types.emplace_back(item);
         }
         if (types.empty())
             throw Error("no decision type given (e.g. ban)");
     }},
    {"min_prefix4", false,
     [](Parser &p, std::string_view v) { p.cfg.crowdsec.filter.min_prefix4 = uint8_t(parse_uint(v, 0, 32)); }},
    {"min_prefix6", false,
     [](Parser &p, std::string_view v) { p.cfg.crowdsec.filter.min_prefix6 = uint8_t(parse_uint(v, 0, 128)); }},
    {"push", false, [](Parser &p, std::string_view v) { parse_push(v, p.cfg.crowdsec); }},
    {"machine_credentials", false,
     [](Parser &p, std::string_view v) { read_machine_credentials(p.resolve(v), p.cfg.crowdsec); }},
};

// [egress]: the data path's keys (egress.hpp; burst and budget are checked
// together when the section ends), then the outbound_surge alert's
// thresholds (egress_baseline.hpp).
const KeySpec kEgressKeys[] = {
    {"ports", false,
     [](Parser &p, std::string_view v) {
         std::vector<std::string_view> items = split_list(v);
         p.cfg.egress.ports = parse_ports(std::vector<std::string>(items.begin(), items.end()));
     }},
    {"budget", false,
     [](Parser &p, std::string_view v) {
         EgressSettings check{.ports = {25}, .interval_ns = v == "off" ? 0 : parse_rate(v), .burst = 1};
         validate_egress(check);  // the range
         p.cfg.egress.interval_ns = check.interval_ns;
     }},
    {"burst", false, [](Parser &p, std::string_view v) { p.cfg.egress.burst = uint32_t(parse_uint(v, 1, 1'000'000)); }},
    {"surge_window", false, [](Parser &p, std::string_view v) { p.surge_.window = positive_duration(v); }},
    {"surge_floor_connections", false,
     [](Parser &p, std::string_view v) { p.surge_.floor_connections = parse_uint(v, 0, 1'000'000'000); }},
    {"surge_floor_destinations", false,
     [](Parser &p, std::string_view v) { p.surge_.floor_destinations = parse_uint(v, 0, 1'000'000'000); }},
    {"surge_multiple", false,
     [](Parser &p, std::string_view v) {
         double m = 0;
         auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), m);
         if (ec != std::errc() || end != v.data() + v.size() || !(m >= 1 && m <= 1000))
             throw Error(quote(v) + ": not a number from 1 to 1000 (times the baseline)");
         p.surge_.multiple = m;
     }},
    {"baseline_half_life", false, [](Parser &p, std::string_view v) { p.surge_.half_life = positive_duration(v); }},
};

std::span<const KeySpec> keys_of(Kind kind)
{
    switch (kind) {
    case Kind::filter:
        return kFilterKeys;
    case Kind::rate:
        return kRateKeys;
    case Kind::daemon:
        return kDaemonKeys;
    case Kind::feed:
        return kFeedKeys;
    case Kind::watch:
        return kWatchKeys;
    case Kind::watch_rule:
        return kWatchRuleKeys;
    case Kind::metrics:
        return kMetricsKeys;
    case Kind::alerts:
        return kAlertsKeys;
    case Kind::events:
        return kEventsKeys;
    case Kind::crowdsec:
        return kCrowdsecKeys;
    case Kind::egress:
        return kEgressKeys;
    }
    return {};
}

} // namespace

Config parse_config(std::string_view text, const std::string &path) { return Parser(path).run(text); }

Config load_config(const std::string &path) { return parse_config(read_file(path), path); }

void check_config_mode(const std::string &path)
{
    struct stat st {};
    if (stat(path.c_str(), &st) != 0)
        return;  // load_config says why it cannot be read
    if (st.st_mode & (S_IWGRP | S_IRWXO)) {
        char mode[8];
        std::snprintf(mode, sizeof(mode), "%04o", unsigned(st.st_mode & 07777));
        throw Error(path + ": mode " + mode +
                    ": the config must not be readable or writable by others, nor writable by its group (it decides "
                    "what is dropped and may hold feed URLs with credentials); chmod 600 " + path);
    }
}

} // namespace rg

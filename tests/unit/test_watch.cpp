// relayguard watch without a kernel: log lines split (log_line), matched by
// the built-in Postfix rules (log_rules), counted into ban decisions
// (offenders), and the whole Watcher with a recording BanTarget: thresholds,
// windows, repeat offenders, escalation, exemptions, dry runs, the state
// file's round trip, and the [watch] sections of the config.
#include "config.hpp"
#include "error.hpp"
#include "log_line.hpp"
#include "log_rules.hpp"
#include "offenders.hpp"
#include "watch_state.hpp"
#include "watcher.hpp"

#include <gtest/gtest.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

using namespace std::chrono_literals;

namespace {

rg::Cidr cidr(const char *s) { return rg::parse_cidr(s).cidr; }

// The rule a line matches and the source it names, or "" / "".
std::pair<std::string, std::string> classify(const rg::RuleSet &rules, const std::string &line)
{
    rg::LogLine l;
    if (!rg::split_log_line(line, l))
        return {"", ""};
    std::optional<rg::RuleMatch> m = rules.match(l);
    if (!m)
        return {"", ""};
    return {rules.rules()[m->rule].name, m->source.str()};
}

struct Case {
    const char *rule, *source, *line;
};

// Postfix 3.7's messages as its sources write them (smtpd_check.c,
// smtpd_sasl_proto.c, smtpd.c, postscreen_*.c), with documentation addresses.
const Case kCases[] = {
    {"relay-denied", "192.0.2.7/32",
     "Dec  3 13:54:52 mx postfix/smtpd[4242]: NOQUEUE: reject: RCPT from unknown[192.0.2.7]: 554 5.7.1 "
     "<victim@example.net>: Relay access denied; from=<spam@example.org> to=<victim@example.net> proto=ESMTP "
     "helo=<bot>"},
    {"relay-denied", "2001:db8:1::7/128",
     "2026-12-03T13:54:52.123456+00:00 mx postfix/smtpd[4242]: NOQUEUE: reject: RCPT from "
     "bot.example.org[2001:db8:1::7]: 554 5.7.1 <victim@example.net>: Relay access denied; from=<> "
     "to=<victim@example.net> proto=ESMTP helo=<bot>"},
    {"noqueue-reject", "198.51.100.9/32",
     "Dec 3 13:54:52 mx postfix/smtpd[7]: NOQUEUE: reject: EHLO from unknown[198.51.100.9]: 504 5.5.2 <bot>: "
     "Helo command rejected: need fully-qualified hostname; proto=SMTP helo=<bot>"},
    {"noqueue-reject", "198.51.100.9/32",
     "Dec 03 13:54:52 mx postfix-in/smtpd[7]: NOQUEUE: reject: RCPT from x.example[198.51.100.9]: 450 4.1.8 "
     "<a@nx.example>: Sender address rejected: Domain not found; from=<a@nx.example> to=<b@lab.example>"},
    {"noqueue-reject", "2001:db8::9/128",
     "Dec  3 13:54:52 mx postfix/smtpd[7]: 4Fxyz1: reject: RCPT from unknown[2001:db8::9]: 550 5.1.1 "
     "<nobody@lab.example>: Recipient address rejected: User unknown in local recipient table; from=<a@b.example>"},
    {"noqueue-reject", "203.0.113.5/32",
     "Dec  3 13:54:52 mx postfix/smtpd[7]: NOQUEUE: reject: CONNECT from unknown[203.0.113.5]: 554 5.7.1 "
     "<unknown[203.0.113.5]>: Client host rejected: Access denied; proto=SMTP"},
    {"sasl-failed", "192.0.2.44/32",
     "Dec  3 13:54:52 mx postfix/submission/smtpd[99]: warning: unknown[192.0.2.44]: SASL LOGIN authentication "
     "failed: authentication failure"},
    {"sasl-failed", "2001:db8::44/128",
     "Dec  3 13:54:52 mx postfix/smtpd[99]: warning: host.example[2001:db8::44]: SASL PLAIN authentication failed: "},
    {"lost-connection", "192.0.2.45/32",
     "Dec  3 13:54:52 mx postfix/smtpd[99]: lost connection after AUTH from unknown[192.0.2.45]"},
    {"lost-connection", "2001:db8::45/128",
     "Dec  3 13:54:52 mx postfix/smtpd[99]: lost connection after CONNECT from unknown[2001:db8::45]"},
    {"lost-connection", "192.0.2.45/32",
     "Dec  3 13:54:52 mx postfix/smtpd[99]: lost connection after EHLO from bot.example[192.0.2.45]"},
    {"too-many-errors", "192.0.2.46/32",
     "Dec  3 13:54:52 mx postfix/smtpd[99]: too many errors after RCPT from unknown[192.0.2.46]"},
    {"improper-pipelining", "192.0.2.47/32",
     "Dec  3 13:54:52 mx postfix/smtpd[99]: improper command pipelining after EHLO from unknown[192.0.2.47]: "
     "MAIL FROM:<a@b.example>\\r\\n"},
    {"postscreen-pregreet", "192.0.2.48/32",
     "Dec  3 13:54:52 mx postfix/postscreen[12]: PREGREET 11 after 0.06 from [192.0.2.48]:40222: EHLO bot\\r\\n"},
    {"postscreen-pregreet", "2001:db8::48/128",
     "Dec  3 13:54:52 mx postfix/postscreen[12]: PREGREET 11 after 0.06 from [2001:db8::48]:40222: EHLO bot\\r\\n"},
    {"postscreen-hangup", "192.0.2.49/32",
     "Dec  3 13:54:52 mx postfix/postscreen[12]: HANGUP after 1.2 from [192.0.2.49]:40223 in tests after SMTP "
     "handshake"},
    {"postscreen-dnsbl", "192.0.2.50/32",
     "Dec  3 13:54:52 mx postfix/postscreen[12]: DNSBL rank 3 for [192.0.2.50]:40224"},
    {"postscreen-pipelining", "192.0.2.51/32",
     "Dec  3 13:54:52 mx postfix/postscreen[12]: COMMAND PIPELINING from [192.0.2.51]:40225 after EHLO: MAIL"},
    {"postscreen-bare-newline", "2001:db8::52/128",
     "Dec  3 13:54:52 mx postfix/postscreen[12]: BARE NEWLINE from [2001:db8::52]:40226 after DATA"},
    {"postscreen-non-smtp-command", "192.0.2.53/32",
     "Dec  3 13:54:52 mx postfix/postscreen[12]: NON-SMTP COMMAND from [192.0.2.53]:40227 after CONNECT: GET / "
     "HTTP/1.1"},
    // journal lines come as "IDENT[PID]: MESSAGE"
    {"relay-denied", "192.0.2.54/32",
     "postfix/smtpd[4242]: NOQUEUE: reject: RCPT from unknown[192.0.2.54]: 554 5.7.1 <v@example.net>: Relay "
     "access denied; from=<> to=<v@example.net>"},
    // lines that must not match
    {"", "", "Dec  3 13:54:52 mx postfix/smtpd[99]: connect from unknown[192.0.2.60]"},
    {"", "", "Dec  3 13:54:52 mx postfix/smtpd[99]: disconnect from unknown[192.0.2.60] ehlo=1 mail=1 rcpt=1 quit=1"},
    {"", "", "Dec  3 13:54:52 mx postfix/qmgr[9]: 4Fxyz1: from=<a@b.example>, size=312, nrcpt=1 (queue active)"},
    {"", "", "Dec  3 13:54:52 mx postfix/smtpd[99]: lost connection after DATA (0 bytes) from unknown[192.0.2.61]"},
    {"", "", "Dec  3 13:54:52 mx postfix/postscreen[12]: HANGUP after 0.5 from [192.0.2.66]:40223 in tests before SMTP "
             "handshake"},
    {"", "", "Dec  3 13:54:52 mx postfix/smtpd[99]: warning: unknown[192.0.2.62]: SASL LOGIN authentication failed: "
             "Connection lost to authentication server"},
    {"", "", "Dec  3 13:54:52 mx postfix/smtp[99]: lost connection after CONNECT from unknown[192.0.2.63]"},
    {"", "", "Dec  3 13:54:52 mx dovecot[1]: NOQUEUE: reject: RCPT from unknown[192.0.2.64]: 554 5.7.1 Relay access "
             "denied"},
    {"", "", "Dec  3 13:54:52 mx postfix/smtpd[99]: NOQUEUE: reject: RCPT from unknown[unknown]: 554 5.7.1 <v@x>: "
             "Relay access denied"},
    {"", "", "no tag at all: Relay access denied [192.0.2.65]"},
    {"", "", ""},
};

TEST(WatchRules, EveryBuiltinRuleMatchesPostfixLinesAndOnlyThose)
{
    rg::RuleSet rules(rg::builtin_log_rules());
    std::set<std::string> covered;
    for (const Case &c : kCases) {
        auto [rule, source] = classify(rules, c.line);
        EXPECT_EQ(rule, c.rule) << c.line;
        EXPECT_EQ(source, c.source) << c.line;
        covered.insert(rule);
    }
    for (const rg::LogRule &r : rg::builtin_log_rules())
        EXPECT_TRUE(covered.count(r.name)) << "no case for rule " << r.name;
}

// Every line Postfix wrote in the lab (tests/data/postfix, made by
// tools/lab/postfix-fixtures.sh) yields the rule and address it is
// annotated with, or none.
TEST(WatchRules, RealPostfixLinesOfTheLab)
{
    std::ifstream in(RG_POSTFIX_FIXTURES);
    ASSERT_TRUE(in.good()) << "cannot read " RG_POSTFIX_FIXTURES;
    rg::RuleSet rules(rg::builtin_log_rules());
    std::map<std::string, int> per_rule;
    std::string row;
    int n = 0;
    while (std::getline(in, row)) {
        if (row.empty() || row[0] == '#')
            continue;
        size_t t1 = row.find('\t'), t2 = row.find('\t', t1 + 1);
        ASSERT_NE(t2, std::string::npos) << row;
        std::string rule = row.substr(0, t1), addr = row.substr(t1 + 1, t2 - t1 - 1), line = row.substr(t2 + 1);
        auto [got_rule, got_source] = classify(rules, line);
        if (rule == "-") {
            EXPECT_EQ(got_rule, "") << line;
            continue;
        }
        EXPECT_EQ(got_rule, rule) << line;
        EXPECT_EQ(got_source, rg::parse_cidr(addr).cidr.str()) << line;
        per_rule[rule]++;
        n++;
    }
    EXPECT_GT(n, 90);
    for (const rg::LogRule &r : rg::builtin_log_rules())
        EXPECT_GE(per_rule[r.name], 2) << "no real IPv4 and IPv6 lines for " << r.name;
}

TEST(WatchRules, LineParts)
{
    rg::LogLine l;
    ASSERT_TRUE(rg::split_log_line("Dec  3 13:54:52 mx postfix-out/submission/smtpd[12]: hello: world", l));
    EXPECT_EQ(l.program, "postfix-out/submission/smtpd");
    EXPECT_EQ(l.daemon, "smtpd");
    EXPECT_EQ(l.message, "hello: world");
    EXPECT_EQ(rg::log_timestamp("2026-12-03T13:54:52Z"), 1796306092);
    EXPECT_EQ(rg::log_timestamp("2026-12-03T14:54:52.5+01:00"), 1796306092);
    EXPECT_EQ(rg::log_timestamp("Dec  3 13:54:52") - rg::log_timestamp("Dec  3 13:54:50"), 2);
    // Across midnight, in a month half a year from now (both days then fall
    // in the same year, whatever the date of the run).
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t now = time(nullptr);
    struct tm tm {};
    localtime_r(&now, &tm);
    std::string m = months[(tm.tm_mon + 6) % 12];
    EXPECT_EQ(rg::log_timestamp(m + " 4 00:00:00") - rg::log_timestamp(m + "  3 23:59:59"), 1);
    EXPECT_EQ(rg::log_timestamp("Foo  3 13:54:52"), 0);
    EXPECT_EQ(rg::log_timestamp("2026-13-03T13:54:52Z"), 0);
    EXPECT_FALSE(rg::split_log_line("postfix/smtpd[]: no pid", l));
    EXPECT_FALSE(rg::split_log_line("[12]: no program", l));
}

TEST(WatchRules, RegexProblemsAreNamed)
{
    EXPECT_EQ(rg::regex_problem("from \\[(?<addr>[^\\]]+)\\]"), "");
    EXPECT_NE(rg::regex_problem("from \\[(?<addr>[^\\]]+"), "");
    EXPECT_NE(rg::regex_problem("from \\[([^\\]]+)\\]").find("addr"), std::string::npos);
    rg::LogRule bad{"mine", "", "", "(", 1, 1min, 1min};
    EXPECT_THROW(rg::RuleSet({bad}), rg::Error);
}

// Records what the Watcher asks for.
struct Recorder : rg::BanTarget {
    std::vector<std::pair<rg::Cidr, rg::Duration>> bans;
    std::vector<rg::Cidr> exempt_prefixes;  // overlapping these is exempt
    std::string exempt(const rg::Cidr &p) override
    {
        for (const rg::Cidr &c : exempt_prefixes)
            if (c.contains(p) || p.contains(c))
                return "allowlisted (" + c.str() + ")";
        return "";
    }
    void ban(const rg::Cidr &p, rg::Duration t) override { bans.emplace_back(p, t); }
};

std::string relay_line(const std::string &when, const std::string &addr)
{
    return when + " mx postfix/smtpd[1]: NOQUEUE: reject: RCPT from unknown[" + addr +
           "]: 554 5.7.1 <v@example.net>: Relay access denied; from=<> to=<v@example.net>";
}

struct WatchFixture : ::testing::Test {
    rg::WatchConfig cfg;
    Recorder target;
    std::vector<nlohmann::json> events;
    std::unique_ptr<rg::Watcher> w;
    void start()
    {
        w = std::make_unique<rg::Watcher>(cfg, target, [this](const nlohmann::json &e) { events.push_back(e); },
                                          "test");
    }
    void feed(const std::string &line) { w->line(line, 1'800'000'000); }
};

TEST_F(WatchFixture, BansAtMaxretryWithinFindtimeAndNotBefore)
{
    start();  // relay-denied: 3 within 10 min
    feed(relay_line("Dec  3 10:00:00", "192.0.2.7"));
    feed(relay_line("Dec  3 10:04:00", "192.0.2.7"));
    feed(relay_line("Dec  3 10:11:00", "192.0.2.7"));  // the first fell out of the window
    EXPECT_TRUE(target.bans.empty());
    feed(relay_line("Dec  3 10:05:00", "192.0.2.8"));  // another source counts apart
    feed(relay_line("Dec  3 10:12:00", "192.0.2.7"));
    ASSERT_EQ(target.bans.size(), 1u);
    EXPECT_EQ(target.bans[0].first, cidr("192.0.2.7"));
    EXPECT_EQ(target.bans[0].second, rg::Duration(1h));
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0]["event"], "ban");
    EXPECT_EQ(events[0]["rule"], "relay-denied");
    EXPECT_EQ(events[0]["matches"], 3);
    EXPECT_EQ(events[0]["lines"].size(), 3u);  // the lines that caused it
    EXPECT_EQ(events[0]["lines"][2], relay_line("Dec  3 10:12:00", "192.0.2.7"));
    rg::WatchState s = w->state(1'800'000'000);
    EXPECT_EQ(s.rules["relay-denied"].matches, 5u);
    EXPECT_EQ(s.rules["relay-denied"].bans, 1u);
    ASSERT_TRUE(s.bans.count(cidr("192.0.2.7")));
    EXPECT_EQ(s.bans[cidr("192.0.2.7")].rule, "relay-denied");
    EXPECT_EQ(s.bans[cidr("192.0.2.7")].expires_at, 1'800'000'000 + 3600);
}

TEST_F(WatchFixture, RepeatOffendersAreBannedLongerUpToTheMaximum)
{
    cfg.policy.bantime_factor = 4;
    cfg.policy.bantime_max = 8h;
    start();
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < 3; i++)
            feed(relay_line("Dec  3 1" + std::to_string(round) + ":00:0" + std::to_string(i), "2001:db8::7"));
    ASSERT_EQ(target.bans.size(), 3u);
    EXPECT_EQ(target.bans[0].second, rg::Duration(1h));
    EXPECT_EQ(target.bans[1].second, rg::Duration(4h));
    EXPECT_EQ(target.bans[2].second, rg::Duration(8h));  // 16h, capped
    EXPECT_EQ(events[2]["offence"], 3);
}

TEST_F(WatchFixture, EscalatesToThePrefixAfterKSourcesWithinTheWindow)
{
    cfg.policy.escalate_after = 2;
    cfg.policy.escalate_window = 10min;
    start();
    for (const char *a : {"198.51.100.1", "198.51.100.2"})
        for (int i = 0; i < 3; i++)
            feed(relay_line("Dec  3 10:00:0" + std::to_string(i), a));
    ASSERT_EQ(target.bans.size(), 3u);
    EXPECT_EQ(target.bans[2].first, cidr("198.51.100.0/24"));
    EXPECT_EQ(events[2]["escalation"], true);
}

TEST_F(WatchFixture, ExemptAndIgnoredSourcesAreNeverBanned)
{
    cfg.ignore = {cidr("192.0.2.0/28")};
    target.exempt_prefixes = {cidr("2001:db8::/64")};
    start();
    for (int i = 0; i < 3; i++) {
        feed(relay_line("Dec  3 10:00:0" + std::to_string(i), "192.0.2.5"));
        feed(relay_line("Dec  3 10:00:0" + std::to_string(i), "2001:db8::5"));
    }
    EXPECT_TRUE(target.bans.empty());
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[0]["event"], "exempt");
    EXPECT_EQ(events[0]["why"], "ignored (192.0.2.0/28)");
    EXPECT_EQ(events[1]["why"], "allowlisted (2001:db8::/64)");
    EXPECT_EQ(w->state(0).rules["relay-denied"].exempt, 2u);
}

TEST_F(WatchFixture, DryRunDecidesButBansNothing)
{
    cfg.dry_run = true;
    start();
    for (int i = 0; i < 3; i++)
        feed(relay_line("Dec  3 10:00:0" + std::to_string(i), "192.0.2.9"));
    EXPECT_TRUE(target.bans.empty());
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0]["dry_run"], true);
}

TEST_F(WatchFixture, LinesWithoutTimestampsCountAtNow)
{
    start();
    for (int i = 0; i < 3; i++)
        feed("postfix/smtpd[1]: warning: unknown[192.0.2.30]: SASL LOGIN authentication failed: x");
    EXPECT_TRUE(target.bans.empty());  // sasl-failed needs 5
    feed("postfix/smtpd[1]: warning: unknown[192.0.2.30]: SASL LOGIN authentication failed: x");
    feed("postfix/smtpd[1]: warning: unknown[192.0.2.30]: SASL LOGIN authentication failed: x");
    EXPECT_EQ(target.bans.size(), 1u);
}

// A line longer than the evidence kept (Offenders::kEvidenceChars) is cut
// at a character, not inside one, and a line that is not UTF-8 (a log may
// hold any byte) cannot stop the state file from being written: found by
// tests/fuzz/fuzz_watch.cpp, where the JSON writer threw type_error 316.
TEST_F(WatchFixture, LinesThatAreNotUtf8OrCutInACharacterKeepTheStateFile)
{
    cfg.rules[0].maxretry = 2;  // relay-denied
    start();
    std::string line = relay_line("Dec  3 10:00:00", "192.0.2.7") + " helo=<";
    line += std::string(rg::Offenders::kEvidenceChars - 1 - line.size(), 'x') + "\xc3\xa9>";  // é across the cut
    feed(line);
    feed(relay_line("Dec  3 10:00:01", "192.0.2.7") + " helo=<\xff\xfe>");
    ASSERT_EQ(target.bans.size(), 1u);
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0]["lines"][0].get<std::string>(), line.substr(0, rg::Offenders::kEvidenceChars - 1))
        << "cut before the character that does not fit";

    char tmpl[] = "/tmp/relayguard-watch-state.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    rg::StateDir dir(tmpl);
    ASSERT_NO_THROW(rg::save_watch_state(dir, w->state(1'800'000'000)));
    std::optional<rg::WatchState> back = rg::load_watch_state(dir);
    ASSERT_TRUE(back);
    ASSERT_EQ(back->bans.count(cidr("192.0.2.7")), 1u);
    const std::vector<std::string> &lines = back->bans[cidr("192.0.2.7")].lines;
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(lines[1], relay_line("Dec  3 10:00:01", "192.0.2.7") + " helo=<\xef\xbf\xbd\xef\xbf\xbd>")
        << "bytes that are not UTF-8 are written as U+FFFD";
    std::filesystem::remove_all(tmpl);
}

TEST_F(WatchFixture, StateSurvivesARestartThroughItsJson)
{
    start();
    for (int i = 0; i < 3; i++)
        feed(relay_line("Dec  3 10:00:0" + std::to_string(i), "192.0.2.7"));
    rg::WatchState saved = rg::watch_state_from_json(rg::to_json(w->state(1'800'000'000)));
    EXPECT_EQ(rg::to_json(saved), rg::to_json(w->state(1'800'000'000)));
    start();
    w->restore(saved);
    for (int i = 0; i < 3; i++)  // the same source again: its second offence
        feed(relay_line("Dec  3 10:10:0" + std::to_string(i), "192.0.2.7"));
    ASSERT_EQ(target.bans.size(), 2u);
    EXPECT_EQ(target.bans[1].second, rg::Duration(2h));
    rg::WatchState after = w->state(1'800'000'000);
    EXPECT_EQ(after.rules["relay-denied"].bans, 1u);  // counters are this run's
    EXPECT_EQ(after.bans.size(), 1u);                 // the same source, banned again
    EXPECT_THROW(rg::watch_state_from_json(nlohmann::json::parse(R"({"source":"x"})")), std::exception);
}

// A count or time that is no whole number in its field's range (found by
// fuzz_state_files: 3e52 as "matches" was undefined behaviour) makes the
// file not a watch state, like any other damage.
TEST_F(WatchFixture, StateWithNumbersOutOfRangeIsRefused)
{
    start();
    for (int i = 0; i < 3; i++)
        feed(relay_line("Dec  3 10:00:0" + std::to_string(i), "192.0.2.7"));
    const nlohmann::json good = rg::to_json(w->state(1'800'000'000));
    ASSERT_NO_THROW(rg::watch_state_from_json(good));
    ASSERT_EQ(good["bans"].size(), 1u);
    struct Damage {
        nlohmann::json::json_pointer where;
        nlohmann::json value;
    };
    for (const Damage &d : {
             Damage{"/lines"_json_pointer, 3.11e52},
             Damage{"/lines"_json_pointer, -1},
             Damage{"/lines"_json_pointer, 1.5},
             Damage{"/rules/relay-denied/matches"_json_pointer, -3},
             Damage{"/bans/0/matches"_json_pointer, 4294967296ULL},
             Damage{"/bans/0/offence"_json_pointer, -1},
             Damage{"/bans/0/banned_at"_json_pointer, 18446744073709551615ULL},
             Damage{"/bans/0/expires_at"_json_pointer, 1e300},
         }) {
        nlohmann::json bad = good;
        bad[d.where] = d.value;
        EXPECT_THROW(rg::watch_state_from_json(bad), rg::Error) << d.where.to_string() << " = " << d.value;
    }
    nlohmann::json negative_time = good;
    negative_time["/bans/0/banned_at"_json_pointer] = -5;  // before 1970, but a valid int64_t
    EXPECT_EQ(rg::watch_state_from_json(negative_time).bans.begin()->second.banned_at, -5);
}

TEST(WatchConfig, SectionsChangeAddAndDisableRules)
{
    rg::Config c = rg::parse_config("[filter]\ninterfaces = eth0\n"
                                    "[rate]\nrate = 10/s\nburst = 5\nban_ttl = 1h\nescalate_after = 3\n"
                                    "escalate_window = 5m\n"
                                    "[watch]\nlog = mail.log\nignore = 192.0.2.0/24, 2001:db8::/32\n"
                                    "bantime_factor = 1.5\nbantime_max = 2d\n"
                                    "[watch-rule relay-denied]\nmaxretry = 1\nbantime = 1d\n"
                                    "[watch-rule postscreen-hangup]\nenabled = no\n"
                                    "[watch-rule dovecot-auth]\ndaemon = any\ncontains = auth failed\n"
                                    "regex = auth failed.*rip=(?<addr>[0-9a-f.:]+)\nmaxretry = 4\n",
                                    "/etc/relayguard/r.conf");
    EXPECT_EQ(c.watch.log, "/etc/relayguard/mail.log");
    EXPECT_TRUE(c.watch.enabled());
    EXPECT_EQ(c.watch.ignore.size(), 2u);
    EXPECT_EQ(c.watch.policy.bantime_factor, 1.5);
    EXPECT_EQ(c.watch.policy.bantime_max, rg::Duration(48h));
    EXPECT_EQ(c.watch.policy.escalate_after, 3u);
    const auto &rules = c.watch.rules;
    EXPECT_EQ(rules.size(), rg::builtin_log_rules().size());  // one off, one added
    EXPECT_EQ(rules[0].name, "relay-denied");
    EXPECT_EQ(rules[0].maxretry, 1u);
    EXPECT_EQ(rules[0].bantime, rg::Duration(24h));
    EXPECT_EQ(rules[0].regex, rg::builtin_log_rules()[0].regex);
    EXPECT_EQ(rules.back().name, "dovecot-auth");
    EXPECT_EQ(rules.back().daemon, "");
    EXPECT_EQ(rules.back().maxretry, 4u);
    for (const rg::LogRule &r : rules)
        EXPECT_NE(r.name, "postscreen-hangup");
    EXPECT_FALSE(rg::parse_config("[filter]\ninterfaces = eth0\n", "x").watch.enabled());
}

TEST(WatchConfig, ErrorsSayFileLineSectionAndKey)
{
    auto error = [](const std::string &text) {
        try {
            rg::parse_config("[filter]\ninterfaces = eth0\n" + text, "/etc/r.conf");
        } catch (const rg::Error &e) {
            return std::string(e.what());
        }
        return std::string();
    };
    EXPECT_EQ(error("[watch-rule mine]\nregex = from (?<addr>\\S+\n"),
              "/etc/r.conf:4: [watch-rule mine] regex: the regex does not compile at offset 16: missing closing "
              "parenthesis");
    EXPECT_NE(error("[watch-rule mine]\nregex = from (\\S+)\n").find("/etc/r.conf:4: [watch-rule mine] regex: "
                                                                    "the regex has no named group"),
              std::string::npos);
    EXPECT_NE(error("[watch-rule mine]\nmaxretry = 3\n").find("/etc/r.conf:3: [watch-rule mine]: regex is required"),
              std::string::npos);
    EXPECT_NE(error("[watch]\nlog = /var/log/mail.log\njournal = yes\n").find("/etc/r.conf:5: [watch] journal: give "
                                                                            "log or journal, not both"),
              std::string::npos);
    EXPECT_NE(error("[watch]\nignore = 192.0.2.300\n").find("/etc/r.conf:4: [watch] ignore:"), std::string::npos);
    EXPECT_NE(error("[watch]\nignore = ::/0\n").find("/etc/r.conf:4: [watch] ignore: \"::/0\": covers every IPv6"),
              std::string::npos);
    EXPECT_NE(error("[watch-rule relay-denied]\nfindtime = 0s\n").find("/etc/r.conf:4: [watch-rule relay-denied] "
                                                                      "findtime:"),
              std::string::npos);
    EXPECT_NE(error("[watch]\nbantime_factor = 0.5\n").find("not a number from 1 to 100"), std::string::npos);
}

} // namespace

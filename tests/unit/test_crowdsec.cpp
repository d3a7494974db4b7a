// The CrowdSec bouncer's parts that need no LAPI and no kernel: Go
// durations, the decision stream's parse (with answers as the real LAPI
// 1.4.6 sends them), the decisions in force, and the API key file.
#include "bouncer.hpp"
#include "decision.hpp"
#include "decision_set.hpp"
#include "error.hpp"
#include "kernel_bans.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sys/stat.h>

using namespace std::chrono_literals;
using rg::Decision;
using rg::DecisionSet;

namespace {

std::string error_of(const std::function<void()> &fn)
{
    try {
        fn();
    } catch (const rg::Error &e) {
        return e.what();
    }
    return "(no error)";
}

bool contains(const std::string &s, const std::string &needle) { return s.find(needle) != std::string::npos; }

Decision decision(uint64_t id, const std::string &value, std::chrono::nanoseconds left)
{
    Decision d;
    d.id = id;
    d.value = value;
    d.scope = value.find('/') == std::string::npos ? "Ip" : "Range";
    d.type = "ban";
    d.target = rg::parse_cidr(value).cidr;
    d.duration = left;
    return d;
}

std::vector<std::string> strings(const rg::PrefixSet &s)
{
    std::vector<std::string> out;
    for (const rg::Cidr &c : rg::to_cidrs(s))
        out.push_back(c.str());
    return out;
}

using V = std::vector<std::string>;

} // namespace

TEST(GoDuration, ParsesWhatTheLapiSends)
{
    EXPECT_EQ(rg::parse_go_duration("3h59m58.6s"), 3h + 59min + 58s + 600ms);
    EXPECT_EQ(rg::parse_go_duration("29m59.066953549s"), 29min + 59s + 66953549ns);
    EXPECT_EQ(rg::parse_go_duration("1.572950353s"), 1572950353ns);
    EXPECT_EQ(rg::parse_go_duration("-126.631409ms"), -126631409ns);
    EXPECT_EQ(rg::parse_go_duration("-2.838066859s"), -2838066859ns);
    EXPECT_EQ(rg::parse_go_duration("0s"), 0ns);
    EXPECT_EQ(rg::parse_go_duration("0"), 0ns);
    EXPECT_EQ(rg::parse_go_duration("500\xc2\xb5s"), 500us);  // µs, as Go writes it
    EXPECT_EQ(rg::parse_go_duration("750ns"), 750ns);
    EXPECT_EQ(rg::parse_go_duration("168h"), 168h);
}

TEST(GoDuration, RefusesWhatIsNotOne)
{
    for (const char *bad : {"", "-", "5", "1x", "h", "1..2s", "1h 2m", "s1"})
        EXPECT_TRUE(contains(error_of([&] { rg::parse_go_duration(bad); }), "duration \"")) << bad;
    EXPECT_TRUE(contains(error_of([] { rg::parse_go_duration("5"); }), "without a unit"));
}

// The answers below are the ones crowdsec 1.4.6's LAPI gave in a namespace
// of this machine (cscli decisions add/delete), ids and all.
TEST(StreamAnswer, StartupAnswerOfTheRealLapi)
{
    const std::string body =
        R"({"deleted":null,"new":[{"duration":"1.572950353s","id":3,"origin":"cscli","scenario":"manual 'ban' from 'rg-test'","scope":"Range","type":"ban","value":"2001:db8:1::/48"},)"
        R"({"duration":"1h59m58.572948279s","id":2,"origin":"cscli","scenario":"manual 'ban' from 'rg-test'","scope":"Ip","type":"ban","value":"192.0.2.7"}]})";
    rg::StreamAnswer a = rg::parse_stream_answer(body, {});
    ASSERT_EQ(a.added.size(), 2u);
    EXPECT_TRUE(a.deleted.empty());
    EXPECT_EQ(a.added[0].id, 3u);
    EXPECT_EQ(a.added[0].target.str(), "2001:db8:1::/48");
    EXPECT_EQ(a.added[1].target.str(), "192.0.2.7/32");
    EXPECT_EQ(a.added[1].duration, 1h + 59min + 58572948279ns);
    EXPECT_EQ(a.added[1].origin, "cscli");
    EXPECT_EQ(a.refused_count, 0u);
}

TEST(StreamAnswer, NullListsAndDeletions)
{
    rg::StreamAnswer none = rg::parse_stream_answer(R"({"deleted":null,"new":null})", {});
    EXPECT_TRUE(none.added.empty() && none.deleted.empty());
    rg::StreamAnswer del = rg::parse_stream_answer(
        R"({"deleted":[{"duration":"-101.345145ms","id":1,"origin":"cscli","scenario":"x","scope":"Ip","type":"ban","value":"192.0.2.7"}],"new":null})",
        {});
    ASSERT_EQ(del.deleted.size(), 1u);
    EXPECT_EQ(del.deleted[0].duration, -101345145ns);
    EXPECT_EQ(del.deleted[0].target.str(), "192.0.2.7/32");
}

TEST(StreamAnswer, OtherScopesAndTypesAreIgnoredAsConfigured)
{
    const std::string body =
        R"({"deleted":[],"new":[{"duration":"1h","id":1,"scope":"Country","type":"ban","value":"XX"},)"
        R"({"duration":"1h","id":2,"scope":"Ip","type":"captcha","value":"192.0.2.1"},)"
        R"({"duration":"1h","id":3,"scope":"ip","type":"BAN","value":"192.0.2.2"},)"
        R"({"duration":"1h","id":4,"scope":"Range","type":"ban","value":"198.51.100.0/24"}]})";
    rg::StreamAnswer all = rg::parse_stream_answer(body, {});
    EXPECT_EQ(all.added.size(), 2u);  // scope and type compared without case
    EXPECT_EQ(all.ignored, 2u);
    rg::DecisionFilter only_ip;
    only_ip.range = false;
    rg::StreamAnswer ip = rg::parse_stream_answer(body, only_ip);
    ASSERT_EQ(ip.added.size(), 1u);
    EXPECT_EQ(ip.added[0].id, 3u);
    rg::DecisionFilter captcha_too;
    captcha_too.types = {"ban", "captcha"};
    EXPECT_EQ(rg::parse_stream_answer(body, captcha_too).added.size(), 3u);
}

TEST(StreamAnswer, MalformedDecisionsAreRefusedAloneWithWhy)
{
    const std::string body =
        R"({"deleted":null,"new":[{"id":1,"scope":"Ip","type":"ban","value":"192.0.2.1"},)"
        R"({"duration":"1y","id":2,"scope":"Ip","type":"ban","value":"192.0.2.2"},)"
        R"({"duration":"1h","id":3,"scope":"Ip","type":"ban","value":"192.0.2.300"},)"
        R"({"duration":"1h","id":4,"scope":"Ip","type":"ban","value":"192.0.2.0/24"},)"
        R"({"duration":"1h","id":5,"scope":"Range","type":"ban","value":"0.0.0.0/1"},)"
        R"({"duration":"1h","id":6,"scope":"Range","type":"ban","value":"2001:db8::/16"},)"
        R"({"duration":"1h","id":"7","scope":"Ip","type":"ban","value":"192.0.2.7"},)"
        R"({"duration":"1h","id":8,"scope":"Ip","type":"ban","value":"::ffff:192.0.2.8"}]})";
    rg::StreamAnswer a = rg::parse_stream_answer(body, {});
    ASSERT_EQ(a.added.size(), 1u);
    EXPECT_EQ(a.added[0].target.str(), "192.0.2.8/32");  // IPv4-mapped is IPv4
    EXPECT_EQ(a.refused_count, 7u);
    ASSERT_EQ(a.refused.size(), 7u);
    EXPECT_TRUE(contains(a.refused[0], "new[0]: \"duration\": missing")) << a.refused[0];
    EXPECT_TRUE(contains(a.refused[1], "new[1]: \"duration\": duration \"1y\"")) << a.refused[1];
    EXPECT_TRUE(contains(a.refused[2], "new[2]: \"192.0.2.300\"")) << a.refused[2];
    EXPECT_TRUE(contains(a.refused[3], "scope Ip but not a single address")) << a.refused[3];
    EXPECT_TRUE(contains(a.refused[4], "broader than /8")) << a.refused[4];
    EXPECT_TRUE(contains(a.refused[5], "broader than /19")) << a.refused[5];
    EXPECT_TRUE(contains(a.refused[6], "new[6]: \"id\"")) << a.refused[6];
}

TEST(StreamAnswer, AnswersThatAreNoStreamAreErrors)
{
    EXPECT_TRUE(contains(error_of([] { rg::parse_stream_answer("<html>502 Bad Gateway</html>", {}); }),
                         "the LAPI's answer is not JSON (28 bytes, starting \"<html>502"));
    EXPECT_TRUE(contains(error_of([] { rg::parse_stream_answer(R"({"new":[)", {}); }), "not JSON"));
    EXPECT_TRUE(contains(error_of([] { rg::parse_stream_answer(R"({"message":"access forbidden"})", {}); }),
                         "not a decision stream"));
    EXPECT_TRUE(contains(error_of([] { rg::parse_stream_answer(R"({"new":{},"deleted":null})", {}); }),
                         "\"new\": neither a list nor null"));
}

TEST(DecisionSetTest, ATargetStaysWhileAnyOfItsDecisionsIsInForce)
{
    DecisionSet s;
    auto t0 = DecisionSet::Clock::now();
    EXPECT_TRUE(s.add(decision(1, "192.0.2.7", 1h), t0));
    EXPECT_TRUE(s.add(decision(2, "192.0.2.7", 4h), t0));
    EXPECT_EQ(s.decisions(), 2u);
    EXPECT_EQ(s.targets(), 1u);
    // The shorter one ends: the longer one keeps the target.
    EXPECT_EQ(s.expire(t0 + 1h), 1u);
    EXPECT_EQ(strings(s.prefixes()), V{"192.0.2.7/32"});
    EXPECT_EQ(s.expire(t0 + 4h - 1ns), 0u);
    EXPECT_EQ(s.expire(t0 + 4h), 1u);
    EXPECT_TRUE(s.prefixes().empty());
    // Added in the other order, the same.
    s.add(decision(3, "192.0.2.8", 4h), t0);
    s.add(decision(4, "192.0.2.8", 1h), t0);
    s.expire(t0 + 2h);
    EXPECT_EQ(strings(s.prefixes()), V{"192.0.2.8/32"});
}

TEST(DecisionSetTest, DeletingAnAddressNeverLiftsTheRangeAroundIt)
{
    DecisionSet s;
    auto t0 = DecisionSet::Clock::now();
    s.add(decision(1, "198.51.100.0/24", 1h), t0);
    s.add(decision(2, "198.51.100.9", 2h), t0);
    s.add(decision(3, "2001:db8:bad::/48", 1h), t0);
    EXPECT_EQ(strings(s.prefixes()), (V{"198.51.100.0/24", "2001:db8:bad::/48"}));  // collapsed
    s.remove(decision(2, "198.51.100.9", -1ms), t0);
    EXPECT_EQ(strings(s.prefixes()), (V{"198.51.100.0/24", "2001:db8:bad::/48"}));
    // The range ends first: the address inside it is still listed.
    s.add(decision(4, "198.51.100.9", 2h), t0);
    s.expire(t0 + 1h);
    EXPECT_EQ(strings(s.prefixes()), V{"198.51.100.9/32"});
}

TEST(DecisionSetTest, ADeletionClearsItsTarget)
{
    // The LAPI reports a deletion only once nothing is left on the target:
    // whatever is held for it goes, also a decision it deleted before
    // without a word, or one it never named (its startup answer names one
    // decision per target).
    DecisionSet s;
    auto t0 = DecisionSet::Clock::now();
    s.add(decision(1, "192.0.2.7", 1h), t0);
    s.add(decision(2, "192.0.2.7", 2h), t0);
    s.add(decision(5, "192.0.2.9", 2h), t0);
    EXPECT_TRUE(s.remove(decision(1, "192.0.2.7", -1ms), t0));
    EXPECT_EQ(strings(s.prefixes()), V{"192.0.2.9/32"});
    EXPECT_FALSE(s.remove(decision(99, "192.0.2.8", -1ms), t0));  // nothing held there
    EXPECT_TRUE(s.remove(decision(77, "192.0.2.9", -1ms), t0));   // never seen, its target held
    EXPECT_EQ(s.decisions(), 0u);
}

TEST(DecisionSetTest, ARepeatedDeletionTakesNothingMadeSince)
{
    // The LAPI repeats a deletion in the answers of the next seconds; a
    // decision made on the target in between must stay.
    DecisionSet s;
    auto t0 = DecisionSet::Clock::now();
    s.add(decision(3, "192.0.2.7", 1h), t0);
    EXPECT_TRUE(s.remove(decision(3, "192.0.2.7", -1s), t0));
    s.add(decision(9, "192.0.2.7", 1h), t0 + 1s);
    EXPECT_FALSE(s.remove(decision(3, "192.0.2.7", -2s), t0 + 1s));
    EXPECT_FALSE(s.add(decision(3, "192.0.2.7", 1h), t0 + 1s));  // nor does a late copy come back
    EXPECT_EQ(strings(s.prefixes()), V{"192.0.2.7/32"});
    // The same for the deletion of a decision never held.
    EXPECT_TRUE(s.remove(decision(1, "192.0.2.7", -1s), t0 + 2s));  // clears the target
    s.add(decision(10, "192.0.2.7", 1h), t0 + 3s);
    EXPECT_FALSE(s.remove(decision(1, "192.0.2.7", -3s), t0 + 3s));
    EXPECT_EQ(s.decisions(), 1u);
    // Deletions are remembered for kDeletedKept, then forgotten.
    s.expire(t0 + 2s + DecisionSet::kDeletedKept + 1s);
    EXPECT_TRUE(s.remove(decision(1, "192.0.2.7", -1s), t0 + 2s + DecisionSet::kDeletedKept + 1s));
}

TEST(DecisionSetTest, EndsDuplicatesAndReplace)
{
    DecisionSet s;
    auto t0 = DecisionSet::Clock::now();
    EXPECT_FALSE(s.add(decision(1, "192.0.2.1", -5s), t0));  // over already
    EXPECT_FALSE(s.add(decision(1, "192.0.2.1", 0ns), t0));
    EXPECT_EQ(s.decisions(), 0u);
    s.add(decision(1, "192.0.2.1", 10s), t0);
    s.add(decision(1, "192.0.2.1", 20s), t0);  // the same id again: its new end
    EXPECT_EQ(s.decisions(), 1u);
    EXPECT_EQ(s.next_end(), t0 + 20s);
    EXPECT_EQ(s.expire(t0 + 10s), 0u);
    s.add(decision(2, "192.0.2.2", 5s), t0);
    EXPECT_EQ(s.next_end(), t0 + 5s);
    s.replace({decision(7, "203.0.113.0/25", 1h), decision(8, "203.0.113.128/25", 1h)}, t0);
    EXPECT_EQ(s.decisions(), 2u);
    EXPECT_EQ(strings(s.prefixes()), V{"203.0.113.0/24"});  // halves merged
    EXPECT_EQ(s.next_end(), t0 + 1h);
}

TEST(DecisionSetTest, AHundredThousandDecisionsAreOneCollapsedSet)
{
    // Every second address of 198.18.0.0/15 (65,536) and of 2001:db8:ff::/64
    // (the other 34,464): no two are halves of one prefix, nothing merges.
    DecisionSet s;
    auto t0 = DecisionSet::Clock::now();
    std::vector<Decision> all;
    for (uint32_t i = 0; i < 100000; i++) {
        Decision d;
        d.id = i + 1;
        d.target = i < 65536 ? rg::to_cidr(rg::Prefix4{(198u << 24) + (18u << 16) + i * 2, 32})
                             : rg::to_cidr(rg::Prefix6{(rg::U128(0x20010db800ff0000ull) << 64) + (i - 65536) * 2, 128});
        d.duration = 1h;
        all.push_back(d);
    }
    s.replace(all, t0);
    rg::PrefixSet p = s.prefixes();
    EXPECT_EQ(p.v4.size(), 65536u);
    EXPECT_EQ(p.v6.size(), 34464u);
    EXPECT_TRUE(rg::is_collapsed(p));
}

class ApiKeyFile : public ::testing::Test {
protected:
    void SetUp() override
    {
        std::string tmpl = (std::filesystem::temp_directory_path() / "rg-cskey-XXXXXX").string();
        ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
        dir_ = tmpl;
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }
    std::string write(const std::string &text, mode_t mode)
    {
        std::string p = dir_ + "/key";
        std::ofstream(p) << text;
        chmod(p.c_str(), mode);
        return p;
    }
    std::string dir_;
};

TEST_F(ApiKeyFile, ReadOnlyForItsOwner)
{
    EXPECT_EQ(rg::read_api_key_file(write("  0123abcd \nsecond line\n", 0600)), "0123abcd");
    std::string p = write("0123abcd\n", 0640);
    EXPECT_EQ(error_of([&] { rg::read_api_key_file(p); }),
              p + ": mode 0640: the API key file must not be readable by group or others (chmod 600 " + p + ")");
    p = write("0123abcd\n", 0604);
    EXPECT_TRUE(contains(error_of([&] { rg::read_api_key_file(p); }), "mode 0604"));
    p = write("\n", 0600);
    EXPECT_TRUE(contains(error_of([&] { rg::read_api_key_file(p); }), p + ": no API key in it"));
    EXPECT_TRUE(contains(error_of([&] { rg::read_api_key_file(dir_ + "/nope"); }),
                         dir_ + "/nope: cannot read the API key: No such file or directory"));
}

// push = ratelimit: the rate limiter's bans, each shared once; the ones
// there at start, manual bans and ended bans are not.
TEST(KernelBans, SharesEachNewRateLimitBanOnce)
{
    auto ban = [](const char *cidr, uint32_t reason, uint64_t expires) {
        rg::Ban b;
        b.cidr = rg::parse_cidr(cidr).cidr;
        b.raw.reason = reason;
        b.raw.expires_ns = expires;
        b.raw.hits = 7;
        return b;
    };
    const uint64_t s = 1'000'000'000;
    std::vector<rg::Ban> listed = {ban("192.0.2.1/32", RG_BAN_RATELIMIT, 100 * s)};
    rg::KernelBans kb(listed, 10 * s);  // there at start: shared by the run before
    EXPECT_TRUE(kb.fresh(listed, 11 * s).empty());

    listed.push_back(ban("192.0.2.2/32", RG_BAN_RATELIMIT, 611 * s - 1));
    listed.push_back(ban("198.51.100.0/24", RG_BAN_ESCALATION, 200 * s));
    listed.push_back(ban("203.0.113.9/32", RG_BAN_MANUAL, 200 * s));
    listed.push_back(ban("203.0.113.10/32", RG_BAN_RATELIMIT, 5 * s));  // ended
    auto fresh = kb.fresh(listed, 11 * s);
    ASSERT_EQ(fresh.size(), 2u);
    EXPECT_EQ(fresh[0].prefix.str(), "192.0.2.2/32");
    EXPECT_EQ(fresh[0].rule, "syn-rate");
    EXPECT_EQ(fresh[0].bantime, 600s);  // the time left, rounded up
    EXPECT_EQ(fresh[0].matches, 7u);
    EXPECT_EQ(fresh[1].prefix.str(), "198.51.100.0/24");
    EXPECT_EQ(fresh[1].rule, "syn-rate-escalation");
    EXPECT_TRUE(kb.fresh(listed, 12 * s).empty());  // once

    listed[0].raw.expires_ns = 700 * s;  // renewed: shared again
    fresh = kb.fresh(listed, 13 * s);
    ASSERT_EQ(fresh.size(), 1u);
    EXPECT_EQ(fresh[0].prefix.str(), "192.0.2.1/32");
}

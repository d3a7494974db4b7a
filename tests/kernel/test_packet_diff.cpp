// The differential packet fuzz (tools/fuzz/packet-diff) in its short,
// fixed-seed form: 100,000 random and mutated frames through the real
// program, against ten rounds of random lists of up to 100,000 prefixes,
// bans and settings, each verdict and reason compared with the reference
// model. The 10M-frame run is in docs/packet-fuzz.md.
#include "packet_diff.hpp"
#include "packet_builder.hpp"
#include "privileged.hpp"

#include <gtest/gtest.h>

#include <sstream>

namespace {

// The frames must reach every reason the model can give (all but the rate
// limiter's, which is off), or the fuzz would be testing less than it says.
// The egress program's reasons never come from the XDP program.
void expect_every_reason(const rg::fuzz::DiffResult &res)
{
    for (int r = 0; r < RG_REASON_MAX; r++) {
        if (r == RG_DROP_RATELIMIT || r == RG_WOULD_DROP_RATELIMIT || (rg_reason_info[r].flags & RG_RF_EGRESS))
            EXPECT_EQ(res.by_reason[size_t(r)], 0u) << rg_reason_info[r].name;
        else
            EXPECT_GT(res.by_reason[size_t(r)], 0u) << rg_reason_info[r].name << " never came up";
    }
}

} // namespace

TEST(PacketDiff, FixedSeedAgreesWithTheModel)
{
    RG_REQUIRE_PRIVILEGED();
    rg::fuzz::DiffOptions o;
    o.frames = 100000;
    o.frames_per_round = 10000;
    o.seed = 20261203;
    o.max_prefixes = 100000;
    rg::fuzz::DiffResult res = rg::fuzz::run_packet_diff(o);
    for (const std::string &f : res.failures)
        ADD_FAILURE() << f;
    EXPECT_TRUE(res.ok());
    EXPECT_EQ(res.frames, o.frames);
    EXPECT_EQ(res.rounds, 10u);
    expect_every_reason(res);
    EXPECT_GT(res.largest_list, 1000u) << "the lists should not all be small";
}

// A frame replays alone against its round's lists, and the report says what
// both sides made of it.
TEST(PacketDiff, ReplayOfOneFrame)
{
    RG_REQUIRE_PRIVILEGED();
    auto frame = rg::test::PacketBuilder().eth().ipv4("198.18.0.1", "203.0.113.25").tcp(40000, 25).build();
    std::ostringstream out;
    EXPECT_TRUE(rg::fuzz::replay(20261203, 1000, 3, false, frame, out)) << out.str();
    EXPECT_NE(out.str().find("agree"), std::string::npos) << out.str();
    EXPECT_NE(out.str().find("--round 3 --monitor off --frame " + rg::fuzz::hex(frame)), std::string::npos) << out.str();
}

// rg::printable and rg::json_text: strings from outside on their way to a
// terminal, a log line or JSON. And the outputs that use them: the CLI's
// JSON (print_json of a feed) and rg::log.
#include "common.hpp"
#include "log.hpp"
#include "text.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <cstring>
#include <string>

using nlohmann::json;

namespace {

const std::string kFffd = "\xef\xbf\xbd";  // U+FFFD

TEST(Printable, LeavesTextAndValidUtf8Alone)
{
    EXPECT_EQ(rg::printable(""), "");
    EXPECT_EQ(rg::printable("feed web: applied (192.0.2.0/24) \\ ok"), "feed web: applied (192.0.2.0/24) \\ ok");
    const std::string utf8 = "gr\xc3\xbc\xc3\x9f \xe2\x82\xac \xf0\x9f\x93\xa7";  // ü ß € and an emoji
    EXPECT_EQ(rg::printable(utf8), utf8);
}

TEST(Printable, EscapesEveryControlCharacter)
{
    EXPECT_EQ(rg::printable("a\x1b[31mred\x1b[0m"), "a\\x1b[31mred\\x1b[0m");
    EXPECT_EQ(rg::printable("line\nrelayguard: forged"), "line\\x0arelayguard: forged");
    EXPECT_EQ(rg::printable("\r\t\x7f"), "\\x0d\\x09\\x7f");
    EXPECT_EQ(rg::printable(std::string("a\0b", 3)), "a\\x00b");
    // C1 controls, valid UTF-8 but a CSI (U+009B) to many terminals.
    EXPECT_EQ(rg::printable("x\xc2\x9b" "2Jy\xc2\x80"), "x\\u009b2Jy\\u0080");
    EXPECT_EQ(rg::printable("\xc2\xa0"), "\xc2\xa0");  // U+00A0 is no control
}

TEST(Printable, EscapesBytesThatAreNotUtf8)
{
    EXPECT_EQ(rg::printable("v\xff\xfe"), "v\\xff\\xfe");
    EXPECT_EQ(rg::printable("\xc3\x28"), "\\xc3(");           // a lead byte without its continuation
    EXPECT_EQ(rg::printable("\xe2\x82"), "\\xe2\\x82");       // cut short at the end
    EXPECT_EQ(rg::printable("\xc0\xaf"), "\\xc0\\xaf");       // overlong "/"
    EXPECT_EQ(rg::printable("\xed\xa0\x80"), "\\xed\\xa0\\x80");  // a UTF-16 surrogate
    EXPECT_EQ(rg::printable("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");  // above U+10FFFF
    EXPECT_EQ(rg::printable("\x80"), "\\x80");                // a lone continuation byte
}

TEST(JsonText, InvalidUtf8IsReplacedNotThrown)
{
    json j = {{"etag", "\"v1\xff\x01\""}, {"source", "/tmp/list\xc3\x28.txt"}, {"n", 3}};
    // What every JSON output did before: dump() throws on the first bad byte.
    EXPECT_THROW((void)j.dump(), json::type_error);
    std::string text = rg::json_text(j);
    json back = json::parse(text);  // throws if the text were not valid JSON and UTF-8
    EXPECT_EQ(back["etag"], "\"v1" + kFffd + "\x01\"");
    EXPECT_EQ(back["source"], "/tmp/list" + kFffd + "(.txt");
    EXPECT_EQ(back["n"], 3);
    EXPECT_NE(text.find("\\u0001"), std::string::npos) << text;  // controls escaped by JSON itself
    EXPECT_EQ(text.find('\n'), std::string::npos) << "one line by default: " << text;
}

TEST(JsonText, SameAsDumpForValidText)
{
    json j = {{"a", {1, 2, "x\xc3\xbc"}}, {"b", {{"c", nullptr}}}};
    EXPECT_EQ(rg::json_text(j), j.dump());
    EXPECT_EQ(rg::json_text(j, 2), j.dump(2));
}

TEST(JsonText, FeedJsonWithBytesFromOutside)
{
    // feed list/show --json print feed_json through print_json.
    rg::Feed f;
    f.bit = 2;
    f.raw.flags = RG_FEED_USED;
    std::strcpy(f.raw.name, "web");
    std::strcpy(f.raw.source, "/srv/list\xff\x1b[2J.txt");
    std::strcpy(f.raw.format, "auto");
    std::strcpy(f.raw.etag, "\"\xfe\"");
    std::strcpy(f.raw.last_modified, "Mon, 23 Nov 2026 \xc3\x28 GMT");
    std::strcpy(f.raw.message, "/srv/list\xff: cannot read");
    ::testing::internal::CaptureStdout();
    rg::cli::print_json(rg::cli::feed_json(f, rg_source_counter{}));
    std::string out = ::testing::internal::GetCapturedStdout();
    json j = json::parse(out, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << out;
    EXPECT_EQ(j["source"], "/srv/list" + kFffd + "\x1b[2J.txt");
    EXPECT_EQ(j["etag"], "\"" + kFffd + "\"");
    EXPECT_EQ(j["last_modified"], "Mon, 23 Nov 2026 " + kFffd + "( GMT");
    EXPECT_EQ(j["message"], "/srv/list" + kFffd + ": cannot read");
}

TEST(Log, EachLineIsPrefixedAndEscaped)
{
    const std::string pri = std::getenv("JOURNAL_STREAM") ? "<5>" : "";
    ::testing::internal::CaptureStderr();
    rg::log(rg::LogLevel::notice, "feed x: \"a\x1b]0;t\x07\xff\": refused\nsecond line\n");
    std::string err = ::testing::internal::GetCapturedStderr();
    EXPECT_EQ(err, pri + "relayguard: feed x: \"a\\x1b]0;t\\x07\\xff\": refused\n" + pri +
                       "relayguard: second line\n");
}

} // namespace

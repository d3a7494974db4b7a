// Feeds end to end: the relayguard binary attached in the lab, feeds synced
// with `relayguard feed ...` while real frames and connections go through.
//  - a sync replacing the rest of a list lets no SYN through from a prefix
//    listed before and after (counters prove it);
//  - a truncated download is not applied and `feed list --json` says why;
//  - an HTTP feed served from 127.0.0.1 (in the server namespace) is
//    fetched, and a second sync sends If-None-Match, gets 304 and changes
//    nothing; the same bytes under a new ETag are not parsed (same_content).
#include "lab.hpp"
#include "loopback.hpp"
#include "netns_fixture.hpp"
#include "packet_builder.hpp"
#include "process.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <algorithm>
#include <atomic>
#include <functional>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <thread>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace rg::test::netns_lab;
using rg::test::NetnsTest;
using rg::test::PacketBuilder;

namespace {

// HTTP/1.1 on 127.0.0.1 of a namespace, one connection at a time: reads a
// request's head and hands it to the handler, then closes the connection.
// Declared last in its owner, so that the thread starts after and stops
// before the owner's other members.
class LoopbackHttp {
public:
    using Handler = std::function<void(int conn, const std::string &request)>;

    LoopbackHttp(const rg::lab::Netns &ns, Handler handle) : handle_(std::move(handle))
    {
        ns.run([&] {
            fd_ = rg::test::listen_loopback(AF_INET, port_);
        });
        thread_ = std::thread([this] { serve(); });
    }
    ~LoopbackHttp()
    {
        stop_ = true;
        thread_.join();
        close(fd_);
    }
    std::string url(const std::string &path) const { return "http://127.0.0.1:" + std::to_string(port_) + path; }
    bool stopping() const { return stop_; }
    // False when the peer went away.
    static bool send_all(int c, const std::string &s)
    {
        for (size_t off = 0; off < s.size();) {
            ssize_t n = send(c, s.data() + off, s.size() - off, MSG_NOSIGNAL);
            if (n <= 0)
                return false;
            off += size_t(n);
        }
        return true;
    }

private:
    void serve()
    {
        while (!stop_) {
            pollfd p{fd_, POLLIN, 0};
            if (poll(&p, 1, 100) <= 0)
                continue;
            int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (c < 0)
                continue;
            std::string req;
            if (read_request(c, req))
                handle_(c, req);
            close(c);
        }
    }
    static bool read_request(int c, std::string &req)
    {
        char buf[4096];
        while (req.find("\r\n\r\n") == std::string::npos && req.size() < 65536) {
            pollfd p{c, POLLIN, 0};
            if (poll(&p, 1, 2000) <= 0)
                return false;
            ssize_t n = read(c, buf, sizeof(buf));
            if (n <= 0)
                return false;
            req.append(buf, size_t(n));
        }
        return true;
    }

    Handler handle_;
    int fd_ = -1;
    uint16_t port_ = 0;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

// A one-file HTTP/1.1 server listening on 127.0.0.1 of a namespace. Serves
// the body at any path but /moved, which redirects (301) to /drop.txt. With
// an ETag it answers 304 when If-None-Match equals it; without one it sends
// Last-Modified and answers 304 when If-Modified-Since equals that. Records
// every request's path, If-None-Match and If-Modified-Since.
class HttpFeedServer {
public:
    explicit HttpFeedServer(const rg::lab::Netns &ns)
        : http_(ns, [this](int c, const std::string &req) { handle(c, req); })
    {
    }
    std::string url(const std::string &path) const { return http_.url(path); }
    void set(const std::string &body, const std::string &etag)
    {
        std::lock_guard<std::mutex> g(mu_);
        body_ = body;
        etag_ = etag;
    }
    // No ETag: validated by Last-Modified only.
    void set_last_modified(const std::string &body, const std::string &last_modified)
    {
        std::lock_guard<std::mutex> g(mu_);
        body_ = body;
        etag_.clear();
        last_modified_ = last_modified;
    }
    // Both validators, sent as given (any bytes but CR and LF).
    void set_validators(const std::string &body, const std::string &etag, const std::string &last_modified)
    {
        std::lock_guard<std::mutex> g(mu_);
        body_ = body;
        etag_ = etag;
        last_modified_ = last_modified;
    }
    std::vector<std::string> if_none_match() const
    {
        std::lock_guard<std::mutex> g(mu_);
        return inm_;
    }
    std::vector<std::string> if_modified_since() const
    {
        std::lock_guard<std::mutex> g(mu_);
        return ims_;
    }
    std::vector<std::string> paths() const
    {
        std::lock_guard<std::mutex> g(mu_);
        return paths_;
    }
    unsigned not_modified() const { return not_modified_; }

private:
    void handle(int c, const std::string &req)
    {
        auto header = [&](const std::string &name) {
            size_t at = req.find("\r\n" + name + ": ");
            if (at == std::string::npos)
                return std::string();
            size_t b = at + name.size() + 4, e = req.find("\r\n", b);
            return req.substr(b, e - b);
        };
        std::string inm = header("If-None-Match"), ims = header("If-Modified-Since");
        size_t sp = req.find(' '), sp2 = req.find(' ', sp + 1);
        std::string path = sp == std::string::npos ? "" : req.substr(sp + 1, sp2 - sp - 1);
        std::string resp;
        {
            std::lock_guard<std::mutex> g(mu_);
            inm_.push_back(inm);
            ims_.push_back(ims);
            paths_.push_back(path);
            std::string validator = etag_.empty() ? "Last-Modified: " + last_modified_ : "ETag: " + etag_;
            if (!etag_.empty() && !last_modified_.empty())
                validator += "\r\nLast-Modified: " + last_modified_;
            bool fresh = etag_.empty() ? !ims.empty() && ims == last_modified_ : !inm.empty() && inm == etag_;
            if (path == "/moved") {
                resp = "HTTP/1.1 301 Moved Permanently\r\nLocation: /drop.txt\r\nContent-Length: 0\r\n"
                       "Connection: close\r\n\r\n";
            } else if (fresh) {
                not_modified_++;
                resp = "HTTP/1.1 304 Not Modified\r\n" + validator + "\r\nConnection: close\r\n\r\n";
            } else {
                resp = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
                       std::to_string(body_.size()) + "\r\n" + validator + "\r\nConnection: close\r\n\r\n" + body_;
            }
        }
        LoopbackHttp::send_all(c, resp);
    }

    std::atomic<unsigned> not_modified_{0};
    mutable std::mutex mu_;
    std::string body_, etag_, last_modified_;
    std::vector<std::string> inm_, ims_, paths_;
    LoopbackHttp http_;
};

class FeedNetnsTest : public NetnsTest {
protected:
    void SetUp() override
    {
        NetnsTest::SetUp();
        if (IsSkipped() || HasFatalFailure())
            return;
        char tmpl[] = "/tmp/relayguard-feeds.XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
    }
    void TearDown() override
    {
        NetnsTest::TearDown();
        if (!dir_.empty())
            std::filesystem::remove_all(dir_);
    }
    std::string write(const std::string &name, const std::string &text)
    {
        std::string path = dir_ + "/" + name;
        std::ofstream(path) << text;
        return path;
    }
    nlohmann::json feed(const std::string &name) { return rg_json({"feed", "show", name, "--json"}); }
    nlohmann::json source(const std::string &name)
    {
        nlohmann::json stats = this->stats();
        if (stats["sources"].contains(name))
            return stats["sources"][name];
        ADD_FAILURE() << "no source " << name << " in stats --json: " << stats.dump();
        return {};
    }
    // n addresses in 198.18.0.0/15 (benchmark range), offset apart, as /32s.
    static std::string bulk(int n, int offset)
    {
        std::string s;
        for (int i = 0; i < n; i++) {
            int v = i * 2 + offset;  // no two neighbours merge
            s += "198." + std::to_string(18 + v / 65536) + "." + std::to_string(v / 256 % 256) + "." +
                 std::to_string(v % 256) + "\n";
        }
        return s;
    }
    std::string dir_;
};

// Where s is not valid UTF-8 (the offset of the first bad byte), or npos.
size_t invalid_utf8_at(const std::string &s)
{
    for (size_t i = 0; i < s.size();) {
        auto b = uint8_t(s[i]);
        size_t n = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
        if (n == 0 || i + n > s.size() || (n == 2 && b < 0xc2))
            return i;
        for (size_t k = 1; k < n; k++)
            if ((uint8_t(s[i + k]) & 0xc0) != 0x80)
                return i;
        i += n;
    }
    return std::string::npos;
}

// The first raw control byte of terminal text (C0 but newline, DEL, or a
// C1 control encoded in UTF-8), shown with its offset; "" when there is none.
std::string raw_control(const std::string &s)
{
    for (size_t i = 0; i < s.size(); i++) {
        auto b = uint8_t(s[i]);
        bool c1 = b == 0xc2 && i + 1 < s.size() && uint8_t(s[i + 1]) >= 0x80 && uint8_t(s[i + 1]) <= 0x9f;
        if ((b < 0x20 && b != '\n') || b == 0x7f || c1)
            return "byte " + std::to_string(unsigned(b)) + " at offset " + std::to_string(i);
    }
    return "";
}

// stdout must be one JSON document: parsed without exceptions, so that a
// failure shows what was printed.
nlohmann::json parse_stdout(const rg::lab::CmdResult &r)
{
    EXPECT_EQ(r.status, 0) << r.output;
    EXPECT_EQ(invalid_utf8_at(r.output), std::string::npos) << "JSON output is not valid UTF-8: " << r.output;
    auto j = nlohmann::json::parse(r.output, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << "not JSON: " << r.output;
    return j;
}

TEST_F(FeedNetnsTest, SyncReplacingTheRestOfTheListLetsNoListedSynThrough)
{
    attach();
    std::string path = write("drop.txt", kBad4 + "/32\n" + bulk(8192, 0));
    auto r = rg({"feed", "add", "drop", path});
    ASSERT_EQ(r.status, 0) << r.output;
    ASSERT_EQ(feed("drop")["prefixes"], 8193);
    EXPECT_EQ(connect(kBad4, kServer4, 25, kBlockedTimeoutMs), ConnectResult::timed_out);
    EXPECT_EQ(connect(kClean4, kServer4, 25), ConnectResult::connected);

    uint64_t clean_before = reason_count("passed_clean", "syns");
    uint64_t dropped_before = reason_count("dropped_blocklist", "syns");
    uint64_t feed_before = source("drop")["dropped"]["syns"].get<uint64_t>();
    auto mac = rg::lab::mac_address(*server_, iface_);
    char macs[18];
    std::snprintf(macs, sizeof(macs), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
    std::vector<std::vector<uint8_t>> frames(
        256, PacketBuilder().eth(macs).ipv4(kBad4, kServer4).tcp(41000, 25).flags(rg::test::tcp_flags::SYN).build());
    std::atomic<bool> sending{true};
    std::atomic<size_t> sent{0};
    std::thread sender([&] {
        while (sending)
            sent += rg::lab::send_frames(*client_, client_iface_, frames);
    });
    // Everything but 192.0.2.66 replaced: 8192 deletes, 8192 inserts.
    write("drop.txt", kBad4 + "/32\n" + bulk(8192, 1));
    size_t sent_before_sync = sent;
    r = rg({"feed", "sync", "drop"});
    size_t sent_during = sent - sent_before_sync;
    sending = false;
    sender.join();
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find("applied"), std::string::npos) << r.output;
    auto f = feed("drop");
    EXPECT_EQ(f["last_result"], "applied");
    EXPECT_EQ(f["prefixes"], 8193);
    EXPECT_EQ(rg_json({"block", "list", "--all", "--json"})["count"], 8193);

    EXPECT_GT(sent_during, 0u) << "the sender must have been sending during the sync";
    EXPECT_EQ(reason_count("passed_clean", "syns"), clean_before)
        << "a SYN from a prefix listed before and after passed";
    uint64_t dropped = reason_count("dropped_blocklist", "syns") - dropped_before;
    EXPECT_GE(dropped, sent_during);
    // Attribution: every one of those drops is the feed's.
    EXPECT_EQ(source("drop")["dropped"]["syns"].get<uint64_t>() - feed_before, dropped);
    EXPECT_EQ(connect(kClean4, kServer4, 25), ConnectResult::connected);
}

TEST_F(FeedNetnsTest, TruncatedFeedIsNotAppliedAndListSaysWhy)
{
    attach();
    std::string full = kBad4 + "/32\n" + bulk(1000, 0);
    std::string path = write("drop.txt", full);
    ASSERT_EQ(rg({"feed", "add", "drop", path, "--max-shrink", "20"}).status, 0);
    // A download cut off after a tenth of the list.
    write("drop.txt", full.substr(0, full.size() / 10));
    auto r = rg({"feed", "sync", "drop"});
    EXPECT_EQ(r.status, 1) << r.output;
    EXPECT_NE(r.output.find("shrunk"), std::string::npos) << r.output;
    auto list = rg_json({"feed", "list", "--json"});
    ASSERT_EQ(list["count"], 1);
    auto f = list["feeds"][0];
    EXPECT_EQ(f["last_result"], "shrunk");
    EXPECT_EQ(f["prefixes"], 1001);
    EXPECT_NE(f["message"].get<std::string>().find("max-shrink is 20%"), std::string::npos) << f.dump();
    EXPECT_EQ(rg_json({"block", "list", "--all", "--json"})["count"], 1001);
    EXPECT_EQ(connect(kBad4, kServer4, 25, kBlockedTimeoutMs), ConnectResult::timed_out);

    // Deleting the feed removes only what no other source lists.
    rg_ok({"block", "add", kBad4});
    rg_ok({"feed", "del", "drop"});
    auto rules = rg_json({"block", "list", "--all", "--json"});
    ASSERT_EQ(rules["count"], 1);
    EXPECT_EQ(rules["entries"][0]["sources"], nlohmann::json::array({"manual"}));
    EXPECT_EQ(connect(kBad4, kServer4, 25, kBlockedTimeoutMs), ConnectResult::timed_out);
}

// The shrink guard counts what a download lists and covers, not the
// prefixes left after merging: 256 adjacent addresses (one /24 merged) cut
// to their first 3 lines are refused, and all 256 stay enforced (issue 15,
// item 4).
TEST_F(FeedNetnsTest, ATruncatedDownloadOfAdjacentAddressesIsRefused)
{
    attach();
    std::string all;
    for (int i = 0; i < 256; i++)
        all += "192.0.2." + std::to_string(i) + "\n";
    std::string path = write("adjacent.txt", all);
    rg_ok({"feed", "add", "adj", path});
    EXPECT_EQ(feed("adj")["prefixes"], 1);
    write("adjacent.txt", "192.0.2.0\n192.0.2.1\n192.0.2.2\n");
    auto r = rg({"feed", "sync", "adj"});
    EXPECT_EQ(r.status, 1) << r.output;
    auto f = feed("adj");
    EXPECT_EQ(f["last_result"], "shrunk") << f.dump();
    EXPECT_NE(f["message"].get<std::string>().find("3 entries instead of 256"), std::string::npos) << f.dump();
    EXPECT_EQ(connect(kBad4, kServer4, 25, kBlockedTimeoutMs), ConnectResult::timed_out) << "192.0.2.66 stays blocked";
}

// A source that never ends cannot hang a command: a FIFO nobody writes is
// an empty download at once; one whose writer stays is given up at the
// time limit (issue 15, item 6). Each command runs under `timeout`, so that
// the old behaviour (hanging) fails the test instead of hanging it.
TEST_F(FeedNetnsTest, AFifoSourceNeverHangsACommand)
{
    attach();
    std::string fifo = dir_ + "/fifo";
    ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
    auto bounded = [&](std::vector<std::string> args) {
        args.insert(args.begin(), {"timeout", "30", RELAYGUARD_BIN, "--pin-dir", fs_->pin_dir()});
        return server_->exec(args, {"LIBXDP_BPFFS=" + fs_->root()});
    };
    auto r = bounded({"feed", "add", "pipe", fifo});
    ASSERT_NE(r.status, 124) << "feed add hung on a FIFO without a writer";
    EXPECT_EQ(r.status, 1) << r.output;
    EXPECT_EQ(feed("pipe")["last_result"], "empty");
    int keep = open(fifo.c_str(), O_RDWR);  // a writer that never closes
    ASSERT_GE(keep, 0);
    ASSERT_EQ(::write(keep, "192.0.2.66\n", 11), 11);
    r = bounded({"feed", "sync", "pipe", "--timeout", "1s"});
    close(keep);
    ASSERT_NE(r.status, 124) << "feed sync hung on a FIFO that never ends";
    EXPECT_EQ(r.status, 1) << r.output;
    auto f = feed("pipe");
    EXPECT_EQ(f["last_result"], "fetch_failed");
    EXPECT_NE(f["message"].get<std::string>().find("no end of data within 1 s"), std::string::npos) << f.dump();
}

TEST_F(FeedNetnsTest, HttpFeedIsFetchedThenASecondSyncGets304AndChangesNothing)
{
    attach();
    rg::lab::run_checked({"ip", "-n", server_->name(), "link", "set", "lo", "up"});
    HttpFeedServer http(*server_);
    const std::string v1 = "; test list\n" + kBad4 + "/32 ; SBL1\n2001:db8:25::66/128 ; SBL2\n";
    http.set(v1, "\"v1\"");
    auto r = rg({"feed", "add", "web", http.url("/drop.txt")});
    ASSERT_EQ(r.status, 0) << r.output;
    auto f = feed("web");
    EXPECT_EQ(f["last_result"], "applied");
    EXPECT_EQ(f["http_status"], 200);
    EXPECT_EQ(f["etag"], "\"v1\"");
    EXPECT_EQ(f["prefixes"], 2);
    EXPECT_EQ(connect(kBad4, kServer4, 25, kBlockedTimeoutMs), ConnectResult::timed_out);
    auto before = rg_json({"block", "list", "--all", "--json"});
    uint64_t change = f["last_change"].get<uint64_t>();

    r = rg({"feed", "sync", "web"});
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find("not_modified"), std::string::npos) << r.output;
    f = feed("web");
    EXPECT_EQ(f["last_result"], "not_modified");
    EXPECT_EQ(f["http_status"], 304);
    EXPECT_EQ(f["last_change"].get<uint64_t>(), change);
    EXPECT_EQ(rg_json({"block", "list", "--all", "--json"}), before);
    EXPECT_EQ(http.not_modified(), 1u);
    EXPECT_EQ(http.if_none_match(), (std::vector<std::string>{"", "\"v1\""}));
    std::string hash = f["content_hash"];
    EXPECT_EQ(hash.size(), 32u);  // XXH3-128 in hex

    // The same bytes under a new ETag: fetched, not parsed, nothing written;
    // the new ETag is kept for the next conditional request.
    http.set(v1, "\"v1b\"");
    r = rg({"feed", "sync", "web"});
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find("feed web: same_content: unchanged (same content as the last sync)"), std::string::npos)
        << r.output;
    f = feed("web");
    EXPECT_EQ(f["last_result"], "same_content");
    EXPECT_EQ(f["http_status"], 200);
    EXPECT_EQ(f["etag"], "\"v1b\"");
    EXPECT_EQ(f["content_hash"], hash);
    EXPECT_EQ(f["last_change"].get<uint64_t>(), change);
    EXPECT_EQ(rg_json({"block", "list", "--all", "--json"}), before);

    // A new version is fetched in full; --force skips the condition.
    http.set(kClean4 + "/32\n", "\"v2\"");
    r = rg({"feed", "sync", "web", "--force"});
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_EQ(http.if_none_match().back(), "");
    EXPECT_EQ(feed("web")["etag"], "\"v2\"");
    EXPECT_EQ(connect(kBad4, kServer4, 25), ConnectResult::connected);
    EXPECT_EQ(connect(kClean4, kServer4, 25, kBlockedTimeoutMs), ConnectResult::timed_out);

    // A server error keeps the version in force.
    r = rg({"feed", "add", "gone", "http://127.0.0.1:9/none.txt"});
    EXPECT_EQ(r.status, 1) << r.output;
    EXPECT_EQ(feed("gone")["last_result"], "fetch_failed");
}

TEST_F(FeedNetnsTest, FeedWithLastModifiedOnlyGets304AndARedirectIsFollowed)
{
    attach();
    rg::lab::run_checked({"ip", "-n", server_->name(), "link", "set", "lo", "up"});
    HttpFeedServer http(*server_);
    const std::string stamp = "Mon, 23 Nov 2026 04:00:00 GMT";
    http.set_last_modified(kBad4 + "/32\n", stamp);
    auto r = rg({"feed", "add", "lm", http.url("/moved")});
    ASSERT_EQ(r.status, 0) << r.output;
    auto f = feed("lm");
    EXPECT_EQ(f["last_result"], "applied");
    EXPECT_EQ(f["etag"], "");
    EXPECT_EQ(f["last_modified"], stamp);
    EXPECT_EQ(http.paths(), (std::vector<std::string>{"/moved", "/drop.txt"})) << "the redirect was not followed";
    EXPECT_EQ(connect(kBad4, kServer4, 25, kBlockedTimeoutMs), ConnectResult::timed_out);

    r = rg({"feed", "sync", "lm"});
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_EQ(feed("lm")["last_result"], "not_modified");
    EXPECT_EQ(feed("lm")["http_status"], 304);
    EXPECT_EQ(http.not_modified(), 1u);
    EXPECT_EQ(http.if_modified_since().back(), stamp);
    EXPECT_EQ(connect(kBad4, kServer4, 25, kBlockedTimeoutMs), ConnectResult::timed_out);
}

// TLS is verified: a feed served with a certificate no CA signed is not
// fetched, and what was in force stays.
TEST_F(FeedNetnsTest, HttpsFeedWithAnUntrustedCertificateIsRefused)
{
    attach();
    rg::lab::run_checked({"ip", "-n", server_->name(), "link", "set", "lo", "up"});
    rg::lab::run_checked({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                          "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", dir_ + "/key.pem",
                          "-out", dir_ + "/cert.pem"});
    write("drop.txt", kClean4 + "/32\n");
    ASSERT_EQ(rg({"block", "add", kBad4 + "/32"}).status, 0);
    // openssl s_server -WWW serves files of its working directory.
    rg::test::Process tls({"ip", "netns", "exec", server_->name(), "sh", "-c",
                           "cd " + dir_ + " && exec openssl s_server -WWW -accept 127.0.0.1:8443 -cert cert.pem "
                                          "-key key.pem"},
                          {});
    // s_server prints ACCEPT once it listens.
    ASSERT_TRUE(rg::test::wait_for_text(tls.output_path(), "ACCEPT", std::chrono::seconds(10))) << tls.output();
    auto r = rg({"feed", "add", "tls", "https://127.0.0.1:8443/drop.txt"});
    EXPECT_EQ(r.status, 1) << r.output;
    auto f = feed("tls");
    EXPECT_EQ(f["last_result"], "fetch_failed");
    EXPECT_NE(f["message"].get<std::string>().find("certificate"), std::string::npos) << f.dump();
    EXPECT_EQ(f["prefixes"], 0);
    EXPECT_EQ(connect(kClean4, kServer4, 25), ConnectResult::connected);
    EXPECT_EQ(connect(kBad4, kServer4, 25, kBlockedTimeoutMs), ConnectResult::timed_out);
}

// Strings from outside (an ETag and a Last-Modified sent by the server, a
// source path, a message quoting that path, an interface name) that are not
// UTF-8 or hold control bytes: `--json` output stays valid JSON (bad bytes
// become U+FFFD, controls are escaped by JSON itself), and text output shows
// no raw control byte.
TEST_F(FeedNetnsTest, BytesFromOutsideKeepJsonValidAndTextFreeOfControls)
{
    attach();
    rg::lab::run_checked({"ip", "-n", server_->name(), "link", "set", "lo", "up"});
    HttpFeedServer http(*server_);
    const std::string etag = "\"v1\xff\xfe\x01\"";        // 0xff, 0xfe: never UTF-8; 0x01: a control
    const std::string stamp = "Mon, 23 Nov 2026 \xc3\x28 GMT";  // a broken 2-byte sequence
    http.set_validators(kBad4 + "/32\n", etag, stamp);
    ASSERT_EQ(rg({"feed", "add", "web", http.url("/drop.txt")}).status, 0);
    const std::string path = write("list\xff\x1b[31m.txt", "2001:db8:25::66/128\n");
    auto r = rg({"feed", "add", "file", path});
    ASSERT_EQ(r.status, 0) << r.output;
    const std::string missing = dir_ + "/gone\xff\x1b]0;x\x07.txt";
    r = rg({"feed", "add", "gone", missing});
    EXPECT_EQ(r.status, 1) << r.output;
    EXPECT_EQ(raw_control(r.output), "") << r.output;

    const std::string fffd = "\xef\xbf\xbd";  // U+FFFD, the replacement character
    auto replaced = [&](std::string s) {
        for (size_t at; (at = s.find_first_of("\xff\xfe")) != std::string::npos;)
            s.replace(at, 1, fffd);
        return s;
    };
    auto list = parse_stdout(rg({"feed", "list", "--json"}));
    ASSERT_TRUE(list.is_object()) << list;
    ASSERT_EQ(list["count"], 3) << list.dump();
    for (const auto &f : list["feeds"]) {
        if (f["name"] == "web") {
            EXPECT_EQ(f["last_result"], "applied") << f.dump();
            EXPECT_EQ(f["etag"], "\"v1" + fffd + fffd + "\x01\"") << f.dump();
            EXPECT_NE(f["last_modified"].get<std::string>().find("2026 " + fffd + "( GMT"), std::string::npos)
                << f.dump();
        } else if (f["name"] == "file") {
            EXPECT_EQ(f["last_result"], "applied") << f.dump();
            EXPECT_EQ(f["source"], replaced(path)) << f.dump();
        } else {
            EXPECT_EQ(f["last_result"], "fetch_failed") << f.dump();
            EXPECT_EQ(f["source"], replaced(missing)) << f.dump();
            EXPECT_NE(f["message"].get<std::string>().find("gone" + fffd + "\x1b]0;x\x07.txt"), std::string::npos)
                << f.dump();
        }
    }
    for (const char *name : {"web", "file", "gone"}) {
        auto show = parse_stdout(rg({"feed", "show", name, "--json"}));
        ASSERT_TRUE(show.is_object()) << name;
        EXPECT_EQ(show["name"], name);
        for (const auto &f : list["feeds"]) {
            if (f["name"] == name) {
                EXPECT_EQ(show["source"], f["source"]);
            }
        }
    }

    // Text output: every control byte escaped, and valid UTF-8 throughout.
    for (std::vector<std::string> args : {std::vector<std::string>{"feed", "list"}, {"feed", "show", "web"},
                                         {"feed", "show", "file"}, {"feed", "show", "gone"},
                                         {"feed", "sync", "gone"}, {"feed", "sync", "file"}}) {
        r = rg(args);
        EXPECT_EQ(raw_control(r.output), "") << args[0] << " " << args[1] << ": " << r.output;
        EXPECT_EQ(invalid_utf8_at(r.output), std::string::npos) << args[0] << " " << args[1] << ": " << r.output;
    }
    r = rg({"feed", "show", "file"});
    EXPECT_NE(r.output.find("list\\xff\\x1b[31m.txt"), std::string::npos) << r.output;

    // An interface whose name is not UTF-8 and holds ESC.
    const std::string odd = "rgt\xff\x1b" + std::to_string(getpid() % 10000);
    rg::lab::run_checked({"ip", "-n", server_->name(), "link", "add", "name", odd, "type", "veth", "peer", "name",
                          "rgtp" + std::to_string(getpid() % 100000)});
    rg::lab::run_checked({"ip", "-n", server_->name(), "link", "set", "dev", odd, "up"});
    ASSERT_EQ(rg({"attach", odd, "--mode", "skb"}).status, 0);
    auto status = parse_stdout(rg({"status", "--json"}));
    ASSERT_TRUE(status.is_object());
    EXPECT_EQ(status["interfaces"].size(), 2u) << status.dump();
    auto stats = parse_stdout(rg({"stats", "--json"}));
    ASSERT_TRUE(stats.is_object());
    EXPECT_EQ(stats["interfaces"].size(), 2u) << stats.dump();
    for (std::vector<std::string> args : {std::vector<std::string>{"status"}, {"stats"}}) {
        r = rg(args);
        EXPECT_EQ(r.status, 0) << r.output;
        EXPECT_EQ(raw_control(r.output), "") << args[0] << ": " << r.output;
        EXPECT_EQ(invalid_utf8_at(r.output), std::string::npos) << args[0] << ": " << r.output;
    }
    EXPECT_EQ(rg({"detach", odd}).status, 0);
}

} // namespace

namespace {

// A feed server that misbehaves in the ways issue 21 (part 3) lists, one
// at a time (set()): it answers well, hangs (reads the request and never
// answers), resets the connection (after the request, or half-way through
// the body), streams without end (10 GiB announced, or no length at all),
// or answers 200 with an empty body. Counts the body bytes it got out.
class BadFeedServer {
public:
    enum class Mode { good, hang, hang_mid_body, reset, reset_mid_body, huge_announced, huge_streamed, empty };

    explicit BadFeedServer(const rg::lab::Netns &ns, std::string good)
        : good_(std::move(good)), http_(ns, [this](int c, const std::string &) { handle(c); })
    {
    }
    std::string url() const { return http_.url("/drop.txt"); }
    void set(Mode m) { mode_ = int(m); }
    uint64_t body_bytes_sent() const { return sent_; }

private:
    static bool send_all(int c, const std::string &s) { return LoopbackHttp::send_all(c, s); }
    // Until the client goes away (or the server stops): a hung server.
    void hold(int c)
    {
        char buf[4096];
        while (!http_.stopping()) {
            pollfd p{c, POLLIN, 0};
            if (poll(&p, 1, 100) > 0 && read(c, buf, sizeof(buf)) <= 0)
                return;
        }
    }
    void reset(int c)
    {
        struct linger l{1, 0};  // close() sends RST
        setsockopt(c, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    }
    void handle(int c)
    {
        std::string line;  // about 1 MiB of list lines
        for (int i = 0; i < 65536; i++)
            line += "198.51.100." + std::to_string(i % 256) + "\n";
        const std::string ok = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n";
        switch (Mode(mode_.load())) {
        case Mode::good:
            send_all(c, ok + "Content-Length: " + std::to_string(good_.size()) + "\r\n\r\n" + good_);
            return;
        case Mode::hang:
            return hold(c);
        case Mode::hang_mid_body:
            send_all(c, ok + "Content-Length: 100000\r\n\r\n" + line.substr(0, 1000));
            return hold(c);
        case Mode::reset:
            return reset(c);
        case Mode::reset_mid_body:
            send_all(c, ok + "Content-Length: 100000\r\n\r\n" + line.substr(0, 1000));
            return reset(c);
        case Mode::huge_announced:
        case Mode::huge_streamed:
            if (!send_all(c, ok + (Mode(mode_.load()) == Mode::huge_announced ? "Content-Length: 10737418240\r\n" : "") +
                                 "\r\n"))
                return;
            for (uint64_t n = 0; n < (uint64_t(10) << 30) && !http_.stopping(); n += line.size()) {
                if (!send_all(c, line))
                    return;
                sent_ += line.size();
            }
            return;
        case Mode::empty:
            send_all(c, ok + "Content-Length: 0\r\n\r\n");
            return;
        }
    }

    std::string good_;
    std::atomic<int> mode_{int(Mode::good)};
    std::atomic<uint64_t> sent_{0};
    LoopbackHttp http_;
};

} // namespace

// Issue 21, part 3: a feed server that hangs (before or during the body),
// resets the connection (before or during the body), sends 10 GiB (with
// the length announced, or streamed without one) or answers 200 with an
// empty body. Each sync fails with an error that names the feed, its URL
// and what went wrong, within its time limit; the list in force stays (a
// listed SYN is still dropped, the prefix count unchanged), and the 10 GiB
// stop at the size cap (128 MiB), read as they come, never stored whole.
TEST_F(FeedNetnsTest, AFeedServerThatHangsResetsFloodsOrSendsNothingChangesNothing)
{
    attach();
    rg::lab::run_checked({"ip", "-n", server_->name(), "link", "set", "lo", "up"});
    BadFeedServer http(*server_, kBad4 + "/32\n" + bulk(100, 0));
    ASSERT_EQ(rg({"feed", "add", "web", http.url()}).status, 0);
    ASSERT_EQ(feed("web")["prefixes"], 101);
    using Mode = BadFeedServer::Mode;
    struct Case {
        Mode mode;
        const char *what, *result, *message;
        const char *timeout = "3s";
    };
    const Case cases[] = {
        {Mode::hang, "hangs", "fetch_failed", "Operation timed out"},
        {Mode::hang_mid_body, "hangs half-way", "fetch_failed", "Operation timed out"},
        {Mode::reset, "resets", "fetch_failed", "reset by peer"},
        {Mode::reset_mid_body, "resets half-way", "fetch_failed", "reset by peer"},
        {Mode::huge_announced, "announces 10 GiB", "fetch_failed", "larger than the limit of 134217728 bytes"},
        {Mode::huge_streamed, "streams 10 GiB", "fetch_failed", "larger than the limit of 134217728 bytes", "90s"},
        {Mode::empty, "sends an empty 200", "empty", "empty"},
    };
    for (const Case &c : cases) {
        SCOPED_TRACE(std::string("a server that ") + c.what);
        http.set(c.mode);
        auto t0 = std::chrono::steady_clock::now();
        auto r = server_->exec({"timeout", "120", RELAYGUARD_BIN, "--pin-dir", fs_->pin_dir(), "feed", "sync", "web",
                                "--force", "--timeout", c.timeout},
                               {"LIBXDP_BPFFS=" + fs_->root()});
        double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        ASSERT_NE(r.status, 124) << "feed sync hung";
        EXPECT_EQ(r.status, 1) << r.output;
        EXPECT_LT(took, std::string(c.timeout) == "3s" ? 20 : 100) << r.output;
        EXPECT_NE(r.output.find("feed web"), std::string::npos) << r.output;
        EXPECT_NE(r.output.find(c.message), std::string::npos) << r.output;
        auto f = feed("web");
        EXPECT_EQ(f["last_result"], c.result) << f.dump();
        EXPECT_NE(f["message"].get<std::string>().find(c.message), std::string::npos) << f.dump();
        if (f["last_result"] == "fetch_failed") {
            EXPECT_NE(f["message"].get<std::string>().find(http.url()), std::string::npos) << f.dump();
        }
        EXPECT_EQ(f["prefixes"], 101) << f.dump();
        EXPECT_EQ(rg_json({"block", "list", "--all", "--json"})["count"], 101);
        EXPECT_EQ(connect(kBad4, kServer4, 25, kBlockedTimeoutMs), ConnectResult::timed_out);
        std::cout << c.what << ": " << took << " s: " << f["message"].get<std::string>() << "\n";
    }
    // Streamed: what was sent before the cap stopped it, plus what the
    // sockets held, far from 10 GiB.
    std::cout << "body bytes the server got out: " << http.body_bytes_sent() << "\n";
    EXPECT_LT(http.body_bytes_sent(), uint64_t(2 * 134217728)) << "the size cap did not stop the download";
    EXPECT_EQ(connect(kClean4, kServer4, 25), ConnectResult::connected);
}

// Issue 21, part 3: the state directory on a full filesystem (a 256 KiB
// tmpfs, filled), then each of its files damaged in turn (truncated to
// half, emptied, bytes flipped, replaced by text). Commands that write the
// lists go on (the state directory only holds copies and caches), say which
// file they could not write and why, and what is enforced never changes.
TEST_F(FeedNetnsTest, AFullOrDamagedStateDirectoryNeverChangesWhatIsEnforced)
{
    const std::string state = dir_ + "/state";
    std::filesystem::create_directory(state);
    ASSERT_EQ(rg::lab::run({"mount", "-t", "tmpfs", "-o", "size=256k,mode=0700", "rgft-state", state}).status, 0);
    struct Unmount {
        std::string dir;
        ~Unmount() { rg::lab::run({"umount", "-l", dir}); }
    } unmount{state};
    global_args_ = {"--state-dir", state};
    attach();
    // The JSON document on stdout; the output also holds the warnings of
    // stderr (about the files that cannot be written), which come first.
    auto json_of = [&](const std::vector<std::string> &args) {
        auto r = rg(args);
        EXPECT_EQ(r.status, 0) << r.output;
        size_t at = r.output.find("\n{");
        return nlohmann::json::parse(r.output.front() == '{' ? r.output : r.output.substr(at + 1));
    };
    auto feed = [&](const std::string &name) { return json_of({"feed", "show", name, "--json"}); };
    // Filled up: writes fail with ENOSPC.
    rg::lab::run({"dd", "if=/dev/zero", "of=" + state + "/fill", "bs=4k"});
    std::string path = write("drop.txt", kBad4 + "/32\n" + bulk(5000, 0));
    auto r = rg({"block", "add", kBadNeighbour4});
    EXPECT_EQ(r.status, 0) << r.output;
    r = rg({"feed", "add", "drop", path});
    EXPECT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find("No space left on device"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find(state), std::string::npos) << "the error must say where: " << r.output;
    write("drop.txt", kBad4 + "/32\n" + bulk(5000, 1));
    r = rg({"feed", "sync", "drop"});
    EXPECT_EQ(r.status, 0) << r.output;
    EXPECT_EQ(feed("drop")["last_result"], "applied");
    EXPECT_EQ(json_of({"block", "list", "--all", "--json"})["count"], 5002);
    EXPECT_EQ(connect(kBad4, kServer4, 25, kBlockedTimeoutMs), ConnectResult::timed_out);
    EXPECT_EQ(connect(kBadNeighbour4, kServer4, 25, kBlockedTimeoutMs), ConnectResult::timed_out);

    // Room again: the files are written; then each damaged in turn.
    std::filesystem::remove(state + "/fill");
    ASSERT_EQ(rg({"feed", "sync", "drop", "--force"}).status, 0);
    std::vector<std::string> files;
    for (const auto &e : std::filesystem::directory_iterator(state))
        if (e.is_regular_file() && e.path().extension() != ".lock" && e.file_size() > 0)
            files.push_back(e.path().filename());
    std::sort(files.begin(), files.end());
    std::cout << "state files: " << testing::PrintToString(files) << "\n";
    EXPECT_GE(files.size(), 3u);
    using Damage = std::function<std::string(const std::string &)>;
    const std::pair<const char *, Damage> damages[] = {
        {"truncated to half", [](const std::string &s) { return s.substr(0, s.size() / 2); }},
        {"emptied", [](const std::string &) { return std::string(); }},
        {"bytes flipped", [](std::string s) {
             for (size_t i = s.size() / 3; i < s.size(); i += 97)
                 s[i] = char(s[i] ^ 0x5a);
             return s;
         }},
        {"replaced by text", [](const std::string &) { return std::string("not a relayguard file\n\x01\x02\n"); }},
    };
    int round = 0;
    for (const std::string &f : files) {
        for (const auto &[what, damage] : damages) {
            SCOPED_TRACE(f + " " + what);
            std::string full = state + "/" + f;
            std::ifstream in(full, std::ios::binary);
            std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
            std::ofstream(full, std::ios::binary | std::ios::trunc) << damage(text);
            EXPECT_EQ(json_of({"block", "list", "--all", "--json"})["count"], 5002);
            r = rg({"stats", "--json"});
            EXPECT_EQ(r.status, 0) << r.output;
            // A change through each writer, and back.
            write("drop.txt", kBad4 + "/32\n" + bulk(5000, (++round) % 2));
            r = rg({"feed", "sync", "drop"});
            EXPECT_EQ(r.status, 0) << r.output;
            r = rg({"block", "del", kBadNeighbour4});
            EXPECT_EQ(r.status, 0) << r.output;
            r = rg({"block", "add", kBadNeighbour4});
            EXPECT_EQ(r.status, 0) << r.output;
            auto list = json_of({"block", "list", "--all", "--json"});
            EXPECT_EQ(list["count"], 5002) << r.output;
            EXPECT_EQ(feed("drop")["prefixes"], 5001);
        }
    }
    EXPECT_EQ(connect(kBad4, kServer4, 25, kBlockedTimeoutMs), ConnectResult::timed_out);
    EXPECT_EQ(connect(kBadNeighbour4, kServer4, 25, kBlockedTimeoutMs), ConnectResult::timed_out);
    EXPECT_EQ(connect(kClean4, kServer4, 25), ConnectResult::connected);
}

// Feed downloads and redirects (issue 21, security): redirects are followed
// up to 5 times and only to http(s), never to a local file. The server is
// Python's http.server on 127.0.0.1 (no privileges). That TLS peers are
// verified is NetnsFeedTest.HttpsWithAnUntrustedCertificateIsRefused's.
#include "feed_fetch.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <cstdio>
#include <string>

namespace {

const char *kServer = R"PY(
import http.server, os
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass
    def redirect(self, to):
        self.send_response(302)
        self.send_header("Location", to)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def do_GET(self):
        if self.path.startswith("/hop/"):  # /hop/N: N redirects before the list
            n = int(self.path[5:])
            return self.redirect("/list.txt" if n <= 1 else "/hop/%d" % (n - 1))
        if self.path == "/to-file":
            return self.redirect("file:///etc/hostname")
        body = b"192.0.2.0/24\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], os.getpid(), flush=True)
s.serve_forever()
)PY";

// The Python server above, on a port of its choice.
class PyServer {
public:
    PyServer()
    {
        std::string cmd = "exec python3 -c '" + std::string(kServer) + "'";
        pipe_ = popen(cmd.c_str(), "r");
        if (!pipe_ || std::fscanf(pipe_, "%d %d", &port_, &pid_) != 2)
            port_ = 0;  // the test's ASSERT on port() says so
    }
    ~PyServer()
    {
        if (pid_ > 0)
            kill(pid_, SIGTERM);
        if (pipe_)
            pclose(pipe_);
    }
    int port() const { return port_; }

private:
    FILE *pipe_ = nullptr;
    int port_ = 0, pid_ = 0;
};

TEST(FeedRedirects, FollowedFiveTimesAtMostAndOnlyToHttp)
{
    PyServer server;
    ASSERT_GT(server.port(), 0) << "the HTTP server did not start";
    std::string base = "http://127.0.0.1:" + std::to_string(server.port()), body;
    auto fetch = [&body](const std::string &url) {
        rg::FetchLimits limits;
        limits.timeout_s = 20;
        std::string out;
        rg::FetchResult r = rg::fetch_source(url, "", "", limits, out);
        body = out.substr(0, r.bytes);
        return r;
    };

    rg::FetchResult r = fetch(base + "/hop/5");
    EXPECT_TRUE(r.ok) << r.error;
    EXPECT_EQ(body, "192.0.2.0/24\n");

    r = fetch(base + "/hop/6");
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find("edirect"), std::string::npos) << r.error;

    r = fetch(base + "/to-file");
    EXPECT_FALSE(r.ok) << "followed a redirect to file://";
    EXPECT_EQ(body, "");
    EXPECT_NE(r.error.find("file"), std::string::npos) << r.error;
}

} // namespace

// The HTTP side of CrowdSec's Local API, through libcurl (as feeds fetch):
// the bouncer's GET /v1/decisions/stream with its API key, and a machine's
// login and alerts (relayguard's own bans shared with the fleet). Every
// request has a deadline and a size limit, and can be given up (the daemon
// stops).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace rg {

struct LapiLimits {
    std::chrono::milliseconds connect_timeout{std::chrono::seconds(5)};
    std::chrono::milliseconds timeout{std::chrono::seconds(30)};  // the whole answer (100,000 decisions: ~20 MB)
    size_t max_bytes = 512u << 20;
    std::function<bool()> cancelled;  // asked while a request waits: true gives it up
};

class LapiClient {
public:
    // url: the LAPI's base, e.g. http://127.0.0.1:8080 (a trailing / is fine).
    LapiClient(std::string url, std::string api_key, LapiLimits limits);
    ~LapiClient();
    LapiClient(const LapiClient &) = delete;
    LapiClient &operator=(const LapiClient &) = delete;

    // GET /v1/decisions/stream[?startup=true]: the body of a 200 answer.
    // Throws rg::Error saying what failed: the connection ("cannot reach
    // http://...: Connection refused"), a timeout, an HTTP status (403: the
    // API key was refused), an answer too large.
    std::string decisions_stream(bool startup);

    // POST /v1/watchers/login as a machine (`cscli machines add`): its
    // token (JWT) for post_alerts. Throws rg::Error.
    std::string login(const std::string &machine_id, const std::string &password);
    // POST /v1/alerts: a JSON array of alerts with their decisions. Throws
    // rg::Error (an expired token too: log in again).
    void post_alerts(const std::string &token, const std::string &alerts);

    const std::string &url() const { return url_; }

private:
    struct Answer {
        long status = 0;
        std::string body;
    };
    // One request; throws rg::Error when there is no HTTP answer.
    Answer request(const std::string &path, const std::vector<std::string> &headers, const std::string *post);

    std::string url_, api_key_;
    LapiLimits limits_;
    void *curl_;  // CURL*, kept between polls so the connection is reused
};

} // namespace rg

// relayguard as a CrowdSec bouncer: the daemon's [crowdsec] section. A
// thread of its own polls the Local API's decision stream (startup=true
// first, and again after any failed poll, since the LAPI may have been
// restarted or lost decisions meanwhile; deltas otherwise), keeps the
// decisions in force (decision_set.hpp, which also ends each one on time
// itself), and hands their union to the blocklist as the list of the
// "crowdsec" source (crowdsec_source.hpp), through the lists' one write
// path: a sorted, collapsed set, diffed against the kernel tables, written
// without a gap. 100,000 decisions are one write.
//
// Invariants:
//  - when the LAPI is down, slow or answers nonsense, what is enforced
//    stays (decisions still end on time); polls are retried with backoff
//    (the poll interval doubled per failure, at most 10 intervals and at
//    most 30 s), and the status says why;
//  - a resync (startup=true) replaces the set as a whole and goes through
//    the same diff: a target listed before and after is never missing;
//  - the maps it writes are the pinned ones: when they are replaced (a
//    detach, the daemon's repair) it registers its source again and writes
//    its whole list, on the next poll;
//  - its writes hold the pin-directory lock, as every writer's do.
//
// Status: STATE_DIR/crowdsec.json after every poll (crowdsec_status_json),
// and the registry entry's last_result and message (`feed list`).
#pragma once

#include "ban_alert.hpp"
#include "decision.hpp"
#include "decision_set.hpp"
#include "duration.hpp"
#include "lapi_client.hpp"
#include "state_dir.hpp"

#include <nlohmann/json.hpp>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace rg {

struct CrowdsecConfig {
    std::string lapi_url;      // empty: no bouncer
    std::string api_key_file;  // must not be readable by group or others
    std::string api_key;       // read from it when the config is loaded
    Duration poll_interval{std::chrono::seconds(1)};
    DecisionFilter filter;
    // push = watch and/or ratelimit: the watch's bans, the rate limiter's
    // (kernel_bans.hpp), go to the LAPI as alerts, sent as the machine of
    // machine_credentials (`cscli machines add NAME -f FILE`).
    bool push_watch = false;
    bool push_ratelimit = false;
    std::string machine_credentials, machine_login, machine_password;
    bool enabled() const { return !lapi_url.empty(); }
    bool pushes() const { return push_watch || push_ratelimit; }
    // "off", "watch", "ratelimit" or "watch,ratelimit".
    std::string push_name() const;
    bool operator==(const CrowdsecConfig &) const = default;
};

// Reads an API key file: its first line, trimmed. Throws rg::Error naming
// the file when it is missing, empty, or readable by group or others.
std::string read_api_key_file(const std::string &path);
// Reads a machine's credentials as `cscli machines add -f` writes them
// (YAML: url, login, password) into cfg; the same checks.
void read_machine_credentials(const std::string &path, CrowdsecConfig &cfg);

class Bouncer {
public:
    // Starts the thread; the first poll is at once.
    Bouncer(const CrowdsecConfig &cfg, std::string pin_dir, StateDir state);
    ~Bouncer();  // stops the thread (gives a request in flight up)
    Bouncer(const Bouncer &) = delete;
    Bouncer &operator=(const Bouncer &) = delete;
    const CrowdsecConfig &config() const { return cfg_; }
    // A decision of the watch (watcher.hpp): with push = watch, a ban made
    // is sent to the LAPI (queued; sent by the bouncer's thread, again
    // after a failure, at most 10,000 waiting). Thread-safe.
    void share(const nlohmann::json &watch_event);
    // A ban to send as it is (the caller checked that push covers it).
    void share(const SharedBan &ban);

private:
    struct Writer;
    void run();
    void poll();
    void write();
    void save_status();
    void push();
    std::chrono::milliseconds wait_after_poll() const;

    CrowdsecConfig cfg_;
    std::string pin_dir_;
    StateDir state_;
    DecisionSet set_;
    bool dirty_ = true;   // the set changed since the last write
    bool resync_ = true;  // the next poll asks for startup=true
    bool synced_ = false; // a startup answer came: the set is what the LAPI says
    std::unique_ptr<Writer> writer_;
    std::unique_ptr<LapiClient> client_;
    DecisionSet::Clock::time_point last_poll_{};
    nlohmann::json status_;
    std::mutex mu_;
    std::condition_variable cv_;
    bool stop_ = false;
    std::vector<nlohmann::json> pending_;  // alerts to send (under mu_)
    uint64_t push_dropped_ = 0;            // alerts dropped: too many waiting (under mu_)
    std::string token_;                    // the machine's JWT, once logged in
    bool push_failed_ = false;             // the last push failed: the next waits for a poll
    std::thread thread_;
};

// STATE_DIR/crowdsec.json as the bouncer last wrote it, with "active"
// (a bouncer runs on this state directory now); {"active": false} when
// there is none.
nlohmann::json crowdsec_status_json(const StateDir &state);

} // namespace rg

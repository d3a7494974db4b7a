#include "lapi_client.hpp"

#include "error.hpp"

#include <curl/curl.h>
#include <nlohmann/json.hpp>

#include <mutex>

namespace rg {

namespace {

struct Transfer {
    std::string body;
    const LapiLimits &limits;
    bool too_big = false, cancelled = false;
};

size_t on_body(char *data, size_t size, size_t n, void *user)
{
    auto *t = static_cast<Transfer *>(user);
    if (t->body.size() + size * n > t->limits.max_bytes) {
        t->too_big = true;
        return 0;
    }
    t->body.append(data, size * n);
    return size * n;
}

int on_progress(void *user, curl_off_t, curl_off_t, curl_off_t, curl_off_t)
{
    auto *t = static_cast<Transfer *>(user);
    t->cancelled = t->limits.cancelled && t->limits.cancelled();
    return t->cancelled;
}

} // namespace

LapiClient::LapiClient(std::string url, std::string api_key, LapiLimits limits)
    : url_(std::move(url)), api_key_(std::move(api_key)), limits_(std::move(limits))
{
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    while (!url_.empty() && url_.back() == '/')
        url_.pop_back();
    curl_ = curl_easy_init();
    if (!curl_)
        throw Error("cannot initialise libcurl");
}

LapiClient::~LapiClient() { curl_easy_cleanup(static_cast<CURL *>(curl_)); }

LapiClient::Answer LapiClient::request(const std::string &path, const std::vector<std::string> &headers,
                                       const std::string *post)
{
    CURL *c = static_cast<CURL *>(curl_);
    curl_easy_reset(c);  // keeps the connection cache
    std::string url = url_ + path;
    std::unique_ptr<curl_slist, void (*)(curl_slist *)> list(nullptr, curl_slist_free_all);
    for (const std::string &h : headers)
        list.reset(curl_slist_append(list.release(), h.c_str()));
    list.reset(curl_slist_append(list.release(), "Accept: application/json"));
    if (post)
        list.reset(curl_slist_append(list.release(), "Content-Type: application/json"));
    char errbuf[CURL_ERROR_SIZE] = "";
    Transfer t{{}, limits_};
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);  // the key goes to this server only
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, long(limits_.connect_timeout.count()));
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, long(limits_.timeout.count()));
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(c, CURLOPT_USERAGENT, "relayguard/0.1 (crowdsec bouncer)");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, list.get());
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, &t);
    if (post) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, post->data());
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(post->size()));
    }
    CURLcode rc = curl_easy_perform(c);
    Answer a;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a.status);
    if (rc != CURLE_OK) {
        if (t.cancelled)
            throw Error(url + ": given up (stopping)");
        if (t.too_big)
            throw Error(url + ": answer larger than " + std::to_string(limits_.max_bytes) + " bytes");
        throw Error("cannot reach " + url + ": " + (errbuf[0] ? errbuf : curl_easy_strerror(rc)));
    }
    a.body = std::move(t.body);
    return a;
}

std::string LapiClient::decisions_stream(bool startup)
{
    std::string path = std::string("/v1/decisions/stream") + (startup ? "?startup=true" : "");
    Answer a = request(path, {"X-Api-Key: " + api_key_}, nullptr);
    if (a.status == 401 || a.status == 403)
        throw Error(url_ + path + ": HTTP " + std::to_string(a.status) +
                    ": the API key was refused (make one with `cscli bouncers add NAME`)");
    if (a.status != 200)
        throw Error(url_ + path + ": HTTP " + std::to_string(a.status));
    return std::move(a.body);
}

std::string LapiClient::login(const std::string &machine_id, const std::string &password)
{
    std::string body = nlohmann::json{{"machine_id", machine_id}, {"password", password}}.dump();
    Answer a = request("/v1/watchers/login", {}, &body);
    if (a.status == 401 || a.status == 403)
        throw Error(url_ + "/v1/watchers/login: HTTP " + std::to_string(a.status) + ": machine " + machine_id +
                    " was refused (its credentials, or not validated: `cscli machines validate`)");
    nlohmann::json j = nlohmann::json::parse(a.body, nullptr, false);
    if (a.status != 200 || !j.is_object() || !j.contains("token") || !j["token"].is_string())
        throw Error(url_ + "/v1/watchers/login: HTTP " + std::to_string(a.status) + ": no token in the answer");
    return j["token"].get<std::string>();
}

void LapiClient::post_alerts(const std::string &token, const std::string &alerts)
{
    Answer a = request("/v1/alerts", {"Authorization: Bearer " + token}, &alerts);
    if (a.status != 200 && a.status != 201)
        throw Error(url_ + "/v1/alerts: HTTP " + std::to_string(a.status) + ": " + a.body.substr(0, 200));
}

} // namespace rg

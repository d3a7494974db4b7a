// The readers of the state directory (lists/state_dir, feeds/feed_memo,
// feeds/feed_stats, watch/watch_state, crowdsec/bouncer): files that a
// crash, a full disk or a hand may have damaged. Each must be ignored (or
// counted from zero) when it does not check out, never crash or be taken
// half. Byte 0 picks the file:
//   0  a binary state file as written (header and payload): StateDir::read
//   1  a feed memo's payload under a valid header, with the body file that
//      follows it (its hash put into the payload, so the memo is read on):
//      load_feed_memo, then the next download parsed from it (feed_delta)
//   2  feed-NAME.stats   3  watch.json   4  crowdsec.json
// Properties: a state file read has the payload size its header states;
// a memo loaded has as many prefixes as it states.
#include "bouncer.hpp"
#include "feed_delta.hpp"
#include "feed_memo.hpp"
#include "feed_stats.hpp"
#include "fuzz_check.hpp"
#include "state_dir.hpp"
#include "watch_state.hpp"

#include <filesystem>
#include <cstdlib>
#include <cstdint>
#include <fcntl.h>
#include <unistd.h>
#include <xxhash.h>

namespace {

std::string dir_path;

void write_file(const std::string &name, std::string_view bytes)
{
    std::string path = dir_path + "/" + name;
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FUZZ_CHECK(fd >= 0, "cannot write " + path);
    FUZZ_CHECK(write(fd, bytes.data(), bytes.size()) == ssize_t(bytes.size()), "short write");
    close(fd);
}

// The header StateDir::write puts before a payload (state_dir.cpp).
std::string with_header(uint32_t kind, std::string_view payload)
{
    struct {
        char magic[8] = {'R', 'G', 'S', 'T', 'A', 'T', 'E', '1'};
        uint32_t kind;
        uint32_t pad = 0;
        uint64_t payload_size;
        uint64_t checksum;
    } h;
    static_assert(sizeof(h) == 32);
    h.kind = kind;
    h.payload_size = payload.size();
    h.checksum = XXH3_64bits(payload.data(), payload.size());
    return std::string(reinterpret_cast<const char *>(&h), sizeof(h)) + std::string(payload);
}

void memo(std::string_view input)
{
    // Two bytes of payload size, the payload, the body.
    if (input.size() < 2)
        return;
    size_t n = std::min<size_t>(uint8_t(input[0]) | size_t(uint8_t(input[1])) << 8, input.size() - 2);
    std::string payload(input.substr(2, n));
    std::string_view body = input.substr(2 + n);
    if (payload.size() >= 16) {
        XXH128_hash_t h = XXH3_128bits(body.data(), body.size());
        std::memcpy(payload.data(), &h.high64, 8);
        std::memcpy(payload.data() + 8, &h.low64, 8);
    }
    write_file("feed-x.memo", with_header(2, payload));
    write_file("feed-x.body", body);
    rg::StateDir dir(dir_path);
    std::optional<rg::FeedMemo> m = rg::load_feed_memo(dir, "x");
    if (!m)
        return;
    FUZZ_CHECK(m->body == body, "the memo's body is not the file's");
    FUZZ_CHECK(payload.size() == 64 + m->prefixes.v4.size() * sizeof(rg::Prefix4) +
                                     m->prefixes.v6.size() * sizeof(rg::Prefix6),
               "a memo taken with a payload of the wrong size");
    // The next download from it: this download again, then with a line
    // more.
    for (std::string next : {std::string(body), std::string(body) + "\n192.0.2.1\n"})
        for (auto [fmt, name] : rg::feed_format_names)
            rg::feed_delta(*m, next, fmt, 8, 19, "x");
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***)
{
    rg_fuzz::quiet();
    char tmpl[] = "/tmp/relayguard-fuzz-state.XXXXXX";
    FUZZ_CHECK(mkdtemp(tmpl) != nullptr, "mkdtemp");
    dir_path = tmpl;
    // libFuzzer ends with exit(): the directory goes with it (a crash keeps it).
    std::atexit([] { std::filesystem::remove_all(dir_path); });
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    std::string_view input = rg_fuzz::text_of(data + 1, size - 1);
    rg::StateDir dir(dir_path);
    switch (data[0] % 5) {
    case 0: {
        write_file("f", input);
        std::unique_ptr<rg::StateFile> f = dir.read("f", 1);
        if (f)
            FUZZ_CHECK(input.size() >= 32 && f->payload().size() == input.size() - 32, "payload size");
        break;
    }
    case 1:
        memo(input);
        break;
    case 2:
        write_file(rg::feed_stats_file("x"), input);
        rg::load_feed_stats(dir, "x");
        break;
    case 3:
        write_file(rg::kWatchStateFile, input);
        rg::load_watch_state(dir);
        break;
    case 4:
        write_file("crowdsec.json", input);
        rg::crowdsec_status_json(dir);
        break;
    }
    return 0;
}

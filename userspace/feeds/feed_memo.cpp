#include "feed_memo.hpp"

#include "log.hpp"

#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

namespace rg {

namespace {

constexpr uint32_t kMemoKind = 2;

// The memo's payload: MemoStamp, the IPv6 prefixes, the IPv4 prefixes.
struct MemoStamp {
    uint64_t body_hash[2];  // XXH3-128 of the body file
    uint32_t format;        // FeedFormat
    uint32_t pad;
    uint64_t good_lines, comment_lines, host_bits_cleared;
    uint64_t n4, n6;
};
static_assert(sizeof(MemoStamp) % 16 == 0);

std::string body_name(const std::string &feed) { return "feed-" + feed + ".body"; }
std::string memo_name(const std::string &feed) { return "feed-" + feed + ".memo"; }

void hash_of(std::string_view text, uint64_t out[2])
{
    XXH128_hash_t h = XXH3_128bits(text.data(), text.size());
    out[0] = h.high64;
    out[1] = h.low64;
}

} // namespace

struct FeedMemo::Owner {
    // A memo loaded: its file and its body, mapped.
    std::unique_ptr<StateFile> memo;
    void *body = nullptr;
    size_t size = 0;
    // A memo made by a sync: the download and its parsed prefixes.
    std::string download;
    PrefixSet prefixes, list;
    bool saved = false;
    ~Owner()
    {
        if (body)
            munmap(body, size);
    }
};

FeedMemo make_feed_memo(std::string download, FeedParseResult parsed, PrefixSet list, uint64_t list_gen)
{
    auto owner = std::make_shared<FeedMemo::Owner>();
    FeedMemo m;
    m.format = parsed.format;
    m.good_lines = parsed.good_lines;
    m.comment_lines = parsed.comment_lines;
    m.host_bits_cleared = parsed.host_bits_cleared;
    owner->download = std::move(download);
    m.body = owner->download;
    owner->prefixes = std::move(parsed.prefixes);
    m.prefixes = owner->prefixes;
    owner->list = std::move(list);
    m.list = owner->list;
    m.list_gen = list_gen;
    m.owner = std::move(owner);
    return m;
}

void give_back_memory(FeedMemo &&memo, PrefixSet &prefixes, std::string &body, PrefixSet &list)
{
    if (!memo.owner || memo.owner.use_count() != 1 || memo.owner->memo)
        return;
    prefixes = std::move(memo.owner->prefixes);
    body = std::move(memo.owner->download);
    list = std::move(memo.owner->list);
    memo = {};
}

std::optional<FeedMemo> load_feed_memo(const StateDir &state, const std::string &feed)
{
    auto owner = std::make_shared<FeedMemo::Owner>();
    owner->memo = state.read(memo_name(feed), kMemoKind);
    if (!owner->memo)
        return std::nullopt;
    PayloadReader r(owner->memo->payload());
    MemoStamp s{};
    FeedMemo m;
    if (!r.read(s))
        return std::nullopt;
    m.prefixes.v6 = r.array<Prefix6>(s.n6);
    m.prefixes.v4 = r.array<Prefix4>(s.n4);
    if (!r.done())
        return std::nullopt;
    std::string path = state.file(body_name(feed));
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return std::nullopt;
    struct stat st {};
    if (fstat(fd, &st) == 0 && st.st_size > 0) {
        owner->size = size_t(st.st_size);
        void *p = mmap(nullptr, owner->size, PROT_READ, MAP_PRIVATE, fd, 0);
        owner->body = p == MAP_FAILED ? nullptr : p;
    }
    close(fd);
    m.body = {static_cast<const char *>(owner->body), owner->body ? owner->size : 0};
    uint64_t h[2];
    hash_of(m.body, h);
    if (std::memcmp(h, s.body_hash, sizeof(h)) != 0) {
        log(LogLevel::info, "feed " + feed + ": its saved version does not match " + path + "; parsing in full");
        return std::nullopt;
    }
    m.format = FeedFormat(s.format);
    m.good_lines = s.good_lines;
    m.comment_lines = s.comment_lines;
    m.host_bits_cleared = s.host_bits_cleared;
    owner->saved = true;
    m.owner = std::move(owner);
    return m;
}

void save_feed_memo(const StateDir &state, const std::string &feed, const FeedMemo &memo)
{
    if (!memo.owner || memo.owner->saved)
        return;
    MemoStamp s{};
    hash_of(memo.body, s.body_hash);
    s.format = uint32_t(memo.format);
    s.good_lines = memo.good_lines;
    s.comment_lines = memo.comment_lines;
    s.host_bits_cleared = memo.host_bits_cleared;
    s.n4 = memo.prefixes.v4.size();
    s.n6 = memo.prefixes.v6.size();
    std::span<const std::byte> parts[] = {as_bytes_of(s), as_bytes_of(memo.prefixes.v6),
                                          as_bytes_of(memo.prefixes.v4)};
    // The memo names its body by hash: written in either order, a memo and
    // a body of different versions never pass as one.
    state.write_text(body_name(feed), memo.body);
    state.write(memo_name(feed), kMemoKind, parts);
    memo.owner->saved = true;
}

void remove_feed_memo(const StateDir &state, const std::string &feed)
{
    state.remove(memo_name(feed));
    state.remove(body_name(feed));
}

} // namespace rg

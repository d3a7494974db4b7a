#include "lists.hpp"

#include "error.hpp"
#include "log.hpp"
#include "table_update.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <utility>

namespace rg {

namespace {

// The tables' entries as of one generation of these very maps, in the
// state directory (StateDir kind 1). Payload: CacheStamp, the IPv6 entries,
// the IPv4 entries (16-byte aligned records first).
constexpr uint32_t kTablesCacheKind = 1;

struct CacheStamp {
    char boot_id[48];  // /proc/sys/kernel/random/boot_id
    uint32_t map_id;   // of rg_config
    uint32_t pad;
    uint64_t gen;      // rg_config.lists_gen
    uint64_t n4, n6;
};
static_assert(sizeof(CacheStamp) % 16 == 0);

CacheStamp stamp_of(const Maps &maps, uint64_t gen)
{
    CacheStamp s{};
    std::ifstream f("/proc/sys/kernel/random/boot_id");
    std::string id;
    std::getline(f, id);
    std::memcpy(s.boot_id, id.data(), std::min(id.size(), sizeof(s.boot_id) - 1));
    s.map_id = maps.map_id(RG_STR(RG_MAP_CONFIG));
    s.gen = gen;
    return s;
}

// The most entries of each family the tables take (both lists together).
constexpr size_t kMax4 = RG_BLOCK_MAX_ENTRIES + RG_ALLOW_MAX_ENTRIES;
constexpr size_t kMax6 = RG_BLOCK6_MAX_ENTRIES + RG_ALLOW_MAX_ENTRIES;

void check_limits(TableSpan next)
{
    if (next.v4.size() > kMax4 || next.v6.size() > kMax6)
        throw Error("the lists are full: they would hold " + std::to_string(next.v4.size()) + " IPv4 and " +
                        std::to_string(next.v6.size()) + " IPv6 prefixes, at most " + std::to_string(kMax4) +
                        " and " + std::to_string(kMax6) + " fit",
                    ENOSPC);
}

} // namespace

std::string tables_cache_name(uint64_t gen)
{
    return "tables-" + std::to_string(gen) + ".cache";
}

Lists::Lists(Maps &maps, StateDir state, bool persist_cache)
    : maps_(maps), state_(std::move(state)), persist_cache_(persist_cache) {}

Lists::~Lists() = default;

ListTables &Lists::tables()
{
    if (!tables_)
        tables_ = std::make_unique<ListTables>(maps_);
    return *tables_;
}

TableSpan Lists::current()
{
    uint64_t gen = maps_.lists_gen();
    if (gen == gen_ && !(gen & 1))
        return cur_;
    gen_ = 1;
    file_.reset();
    listed_.reset();
    covered_[0].reset();
    covered_[1].reset();
    std::unique_ptr<StateFile> f = gen & 1 ? nullptr : state_.read(tables_cache_name(gen), kTablesCacheKind);
    if (f) {
        PayloadReader r(f->payload());
        CacheStamp got{}, want = stamp_of(maps_, gen);
        if (r.read(got) && std::memcmp(&got, &want, offsetof(CacheStamp, n4)) == 0) {
            auto v6 = r.array<TableEntry6>(got.n6);
            auto v4 = r.array<TableEntry4>(got.n4);
            if (r.done()) {
                file_ = std::move(f);
                own_ = {};
                cur_ = {v4, v6};
                gen_ = gen;
                return cur_;
            }
        }
    }
    own_ = tables().read();
    cur_ = own_;
    gen_ = gen;  // odd: read again next time
    return cur_;
}

void Lists::persist()
{
    if (!persist_cache_)
        return;
    CacheStamp s = stamp_of(maps_, gen_);
    s.n4 = cur_.v4.size();
    s.n6 = cur_.v6.size();
    std::span<const std::byte> parts[] = {as_bytes_of(s), as_bytes_of(cur_.v6), as_bytes_of(cur_.v4)};
    std::string name = tables_cache_name(gen_);
    try {
        state_.write(name, kTablesCacheKind, parts);
    } catch (const std::exception &e) {
        log(LogLevel::warning, std::string("cannot keep a copy of the list tables: ") + e.what());
    }
    // The copies of other generations are of no use any more.
    state_.remove_matching("tables", ".cache", name);
}

void Lists::commit(TableSpan cur, TableSpan next, const TableChange &change, bool full)
{
    uint64_t writing = maps_.lists_gen() | 1;
    maps_.set_lists_gen(writing);
    try {
        tables().write(next, change, full);
    } catch (...) {
        // Put back what the tables held; the error reported is the first.
        try {
            TableSet now = tables().read();
            ClassTable classes(tables().classes(), now);
            tables().write(cur, diff_tables(now, cur, classes), true);
            maps_.set_lists_gen(writing + 1);
        } catch (const std::exception &e) {
            log(LogLevel::error, std::string("cannot put the lists back after a failed write: ") + e.what() +
                                     "; the next write repairs them");
        }
        gen_ = 1;
        throw;
    }
    maps_.set_lists_gen(writing + 1);
}

void Lists::repair_if_needed(WriteResult &r)
{
    if (!(maps_.lists_gen() & 1))
        return;
    // Rebuild from what each source lists in the tables now: a source the
    // dead update did not touch gets its list back exactly, the one it was
    // changing a mix of its old and new lists (its next write replaces it).
    TableSet now = tables().read();
    ClassTable classes(tables().classes(), now);
    SourcesListed listed = rg::sources_listed(now, classes);
    TableSet next, tmp;
    for (ListKind kind : {ListKind::allow, ListKind::block})
        for (unsigned bit = 0; bit < RG_MAX_SOURCES; bit++)
            if (listed.of(kind) >> bit & 1) {
                ListChange add{{}, rg::source_list(now, classes, kind, bit)};
                collapse_in_place(add.added);
                update_tables(next, classes, kind, bit, add, tmp);
                std::swap(next, tmp);
            }
    commit(now, next, diff_tables(now, next, classes), true);
    own_ = std::move(next);
    file_.reset();
    cur_ = own_;
    gen_ = maps_.lists_gen();
    listed_.reset();
    covered_[0].reset();
    covered_[1].reset();
    r.repaired = true;
    log(LogLevel::warning, "the lists were left half-way by an update that did not finish; repaired");
}

WriteResult Lists::replace(std::span<const SourceUpdate> updates)
{
    WriteResult r;
    repair_if_needed(r);
    Stopwatch watch;
    TableSpan cur = current();
    log(LogLevel::debug, "lists: " + std::to_string(cur.size()) + " entries in the tables, read in " + watch.lap());
    ClassTable classes(tables().classes(), cur);
    TableSpan from = cur;
    TableSet other;
    TableChange change;
    size_t applied = 0;
    for (const SourceUpdate &u : updates) {
        bool known = u.known && u.known_gen == maps_.lists_gen();
        ListChange computed = known ? ListChange{} : list_change(from, classes, u.kind, u.bit, u.list);
        const ListChange &lc = known ? *u.known : computed;
        r.removed += lc.removed.size();
        r.added += lc.added.size();
        if (lc.empty())
            continue;
        TableSet &out = applied % 2 == 0 ? spare_ : other;
        change = update_tables(from, classes, u.kind, u.bit, lc, out);
        from = out;
        applied++;
    }
    if (applied == 0) {
        if (r.repaired)
            persist();
        return r;
    }
    if (applied > 1)
        change = diff_tables(cur, from, classes);
    check_limits(from);
    log(LogLevel::debug, "lists: change of " + std::to_string(change.size()) + " entries computed in " + watch.lap());
    commit(cur, from, change, false);
    log(LogLevel::debug, "lists: tables written in " + watch.lap());
    r.upserts = change.up4.size() + change.up6.size();
    r.deletes = change.del4.size() + change.del6.size();
    // What was built becomes what the tables hold; the old copy is the next
    // spare (a daemon reuses its buffers from one write to the next).
    if (applied % 2 == 0)  // the last update was built in `other`
        std::swap(spare_, other);
    std::swap(own_, spare_);
    file_.reset();
    cur_ = own_;
    gen_ = maps_.lists_gen();
    // A source lists something now if and only if its new list is not
    // empty; a list no update is for covers what it covered.
    for (const SourceUpdate &u : updates) {
        if (listed_) {
            uint64_t &bits = u.kind == ListKind::allow ? listed_->allow : listed_->block;
            bits = u.list.empty() ? bits & ~(uint64_t(1) << u.bit) : bits | uint64_t(1) << u.bit;
        }
        covered_[int(u.kind)].reset();
    }
    persist();
    log(LogLevel::debug, "lists: copy of the tables kept in " + watch.lap());
    return r;
}

PrefixSet Lists::source_list(ListKind kind, unsigned bit)
{
    return rg::source_list(current(), ClassTable(tables().classes()), kind, bit);
}

SourcesListed Lists::sources_listed()
{
    TableSpan cur = current();
    if (!listed_)
        listed_ = rg::sources_listed(cur, ClassTable(tables().classes()));
    return *listed_;
}

ListSize Lists::size(ListKind kind)
{
    return listed_count(current(), ClassTable(tables().classes()), kind);
}

std::array<ListSize, RG_MAX_SOURCES> Lists::size_by_source(ListKind kind)
{
    return listed_count_by_source(current(), ClassTable(tables().classes()), kind);
}

PrefixSet Lists::listed(ListKind kind)
{
    TableSpan cur = current();
    std::optional<PrefixSet> &c = covered_[int(kind)];
    if (!c)
        c = covered_by(cur, ClassTable(tables().classes()), kind);
    return *c;
}

} // namespace rg

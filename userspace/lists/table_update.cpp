#include "table_update.hpp"

#include <algorithm>

namespace rg {

namespace {

// The outermost prefixes of removed and added (both sorted), one at a time:
// disjoint, in prefix order. Made as they are walked, not stored (a full
// load's change adds a million prefixes).
template <class A> class Regions {
public:
    Regions(const std::vector<Prefix<A>> &removed, const std::vector<Prefix<A>> &added) : r_(removed), a_(added) {}

    bool next(Prefix<A> &q)
    {
        while (i_ < r_.size() || j_ < a_.size()) {
            bool take_r = j_ == a_.size() || (i_ < r_.size() && prefix_less(r_[i_], a_[j_]));
            const Prefix<A> &p = take_r ? r_[i_++] : a_[j_++];
            if (!last_ || !contains(*last_, p)) {
                last_ = &p;
                q = p;
                return true;
            }
        }
        return false;
    }

private:
    const std::vector<Prefix<A>> &r_, &a_;
    size_t i_ = 0, j_ = 0;
    const Prefix<A> *last_ = nullptr;
};

template <class A> struct Sweep {
    struct Link {
        Prefix<A> p;
        ClassValue v;
    };
    std::span<const TableEntry<A>> cur;
    ClassTable &classes;
    ListKind kind;
    uint64_t bit;
    std::vector<TableEntry<A>> &next;
    std::vector<TableEntry<A>> &up;
    std::vector<Prefix<A>> &del;
    std::vector<Link> chain{};  // old entries containing the current prefix, outermost first

    void climb_to(const Prefix<A> &p)
    {
        while (!chain.empty() && !contains(chain.back().p, p))
            chain.pop_back();
    }

    // Every prefix inside region q: old entries cur[i, end) and the added
    // prefixes add[j, add_end), merged in prefix order. What the source
    // covers here comes from the added prefixes alone (they are disjoint:
    // `cover`, the last one passed, is the only one that can contain p).
    void region(size_t i, size_t end, const Prefix<A> *add, size_t nadd)
    {
        const Prefix<A> *cover = nullptr;
        size_t j = 0;
        while (i < end || j < nadd) {
            bool in_old = i < end && (j == nadd || !prefix_less(add[j], cur[i].p));
            bool in_new = j < nadd && (i == end || !prefix_less(cur[i].p, add[j]));
            const Prefix<A> p = in_old ? cur[i].p : add[j];
            climb_to(p);
            ClassValue above = chain.empty() ? ClassValue{} : chain.back().v;
            ClassValue v = in_old ? classes[cur[i].cls] : above;
            if (in_new)
                cover = &add[j];
            bool covered = in_new || (cover && contains(*cover, p));
            // The changed list's answer (k) and the other list's (o), here
            // and at the closest old entry above.
            uint64_t k = v.of(kind), o = v.of(other()), up_k = above.of(kind), up_o = above.of(other());
            uint64_t nk = (k & ~bit) | (covered ? bit : 0);
            // An entry stays one while some source lists it: the other list
            // as before, the changed one if the source now lists it or
            // another of its sources does.
            bool in_other = in_old && o && o != up_o;
            bool in_this = in_new || ((k & ~bit) & ~(up_k & ~bit)) != 0;
            if (in_other || in_this) {
                ClassValue nv = v;
                (kind == ListKind::allow ? nv.allow : nv.block) = nk;
                uint32_t cls = in_old && nk == k ? cur[i].cls : classes.id(nv);
                next.push_back({p, cls});
                if (!in_old || cls != cur[i].cls)
                    up.push_back({p, cls});
            } else if (in_old) {
                del.push_back(p);
            }
            if (in_old)
                chain.push_back({p, v});
            i += in_old;
            j += in_new;
        }
    }

    ListKind other() const { return kind == ListKind::allow ? ListKind::block : ListKind::allow; }

    void run(const std::vector<Prefix<A>> &added, Regions<A> qs)
    {
        size_t i = 0, j = 0;
        for (Prefix<A> q; qs.next(q);) {
            // Entries before q are copied as they are. Of them only those
            // reaching q matter to it (an entry before q in prefix order
            // that reaches q's address contains q): they join the chain.
            size_t gap = i;
            for (; i < cur.size() && prefix_less(cur[i].p, q); i++)
                if (last_address(cur[i].p) >= q.addr) {
                    climb_to(cur[i].p);
                    chain.push_back({cur[i].p, classes[cur[i].cls]});
                }
            next.insert(next.end(), cur.begin() + long(gap), cur.begin() + long(i));
            size_t end = i;
            while (end < cur.size() && contains(q, cur[end].p))
                end++;
            while (j < added.size() && prefix_less(added[j], q))
                j++;
            size_t aend = j;
            while (aend < added.size() && contains(q, added[aend]))
                aend++;
            climb_to(q);
            region(i, end, added.data() + j, aend - j);
            i = end;
            j = aend;
        }
        next.insert(next.end(), cur.begin() + long(i), cur.end());
    }
};

template <class A>
void diff_family(std::span<const TableEntry<A>> cur, std::span<const TableEntry<A>> next,
                 std::vector<TableEntry<A>> &up, std::vector<Prefix<A>> &del)
{
    size_t i = 0, j = 0;
    while (i < cur.size() || j < next.size()) {
        if (j == next.size() || (i < cur.size() && prefix_less(cur[i].p, next[j].p))) {
            del.push_back(cur[i++].p);
        } else if (i == cur.size() || prefix_less(next[j].p, cur[i].p)) {
            up.push_back(next[j++]);
        } else {
            if (cur[i].cls != next[j].cls)
                up.push_back(next[j]);
            i++, j++;
        }
    }
}

} // namespace

TableChange update_tables(TableSpan cur, ClassTable &classes, ListKind kind, unsigned bit, const ListChange &change,
                          TableSet &next)
{
    TableChange ch;
    size_t classes_before = classes.added().size();
    uint64_t b = uint64_t(1) << bit;
    next.v4.clear();
    next.v6.clear();
    // Room for the most entries there can be (only what is written to
    // counts in memory): no copy while they grow.
    next.v4.reserve(cur.v4.size() + change.added.v4.size());
    next.v6.reserve(cur.v6.size() + change.added.v6.size());
    ch.up4.reserve(next.v4.capacity());
    ch.up6.reserve(next.v6.capacity());
    Sweep<uint32_t>{cur.v4, classes, kind, b, next.v4, ch.up4, ch.del4}.run(
        change.added.v4, Regions<uint32_t>(change.removed.v4, change.added.v4));
    Sweep<U128>{cur.v6, classes, kind, b, next.v6, ch.up6, ch.del6}.run(
        change.added.v6, Regions<U128>(change.removed.v6, change.added.v6));
    ch.new_classes.assign(classes.added().begin() + long(classes_before), classes.added().end());
    return ch;
}

TableChange diff_tables(TableSpan cur, TableSpan next, const ClassTable &classes)
{
    TableChange ch;
    diff_family(cur.v4, next.v4, ch.up4, ch.del4);
    diff_family(cur.v6, next.v6, ch.up6, ch.del6);
    ch.new_classes = classes.added();
    return ch;
}

} // namespace rg

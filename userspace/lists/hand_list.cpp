#include "hand_list.hpp"

#include "log.hpp"

#include <algorithm>
#include <sstream>

namespace rg {

namespace {

const char *source_label(unsigned bit)
{
    return bit == RG_SOURCE_MANUAL ? "manual" : bit == RG_SOURCE_CONFIG ? "config" : "source";
}

// Sorted, without duplicates.
PrefixSet normalised(std::vector<Cidr> cidrs)
{
    PrefixSet s = to_prefix_set(cidrs);
    s.v4.erase(std::unique(s.v4.begin(), s.v4.end()), s.v4.end());
    s.v6.erase(std::unique(s.v6.begin(), s.v6.end()), s.v6.end());
    return s;
}

// The file's prefixes, or nothing if a line is not one.
std::optional<PrefixSet> parse_file(const std::string &text)
{
    std::vector<Cidr> cidrs;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        if (line.empty() || line[0] == '#')
            continue;
        ParsedCidr p;
        std::string why;
        if (!try_parse_cidr(line, p, why) || p.host_bits_cleared)
            return std::nullopt;
        cidrs.push_back(p.cidr);
    }
    return normalised(std::move(cidrs));
}

} // namespace

HandList::HandList(Lists &lists, ListKind kind, unsigned bit) : lists_(lists), kind_(kind), bit_(bit)
{
    PrefixSet in_force = lists_.source_list(kind_, bit_);
    std::optional<std::string> text = lists_.state().read_text(file_name());
    std::optional<PrefixSet> saved = text ? parse_file(*text) : std::nullopt;
    if (saved && collapse(*saved) == in_force) {
        added_ = std::move(*saved);
        return;
    }
    if (!in_force.empty() || text)
        log(LogLevel::warning, "the " + name() + " as added (" + lists_.state().file(file_name()) + ") is " +
                                   (text ? "out of date or damaged" : "missing") +
                                   "; taking what the kernel holds for it, " + std::to_string(in_force.size()) +
                                   " prefixes (prefixes added inside others may be missing from `list`)");
    added_ = std::move(in_force);
}

std::string HandList::name() const
{
    return std::string(source_label(bit_)) + " " + list_name(kind_);
}

std::string HandList::file_name() const
{
    return std::string(source_label(bit_)) + "-" + list_name(kind_) + ".list";
}

WriteResult HandList::write(PrefixSet next)
{
    WriteResult r = lists_.replace(kind_, bit_, collapse(next));
    added_ = std::move(next);
    std::string text = "# relayguard " + name() + ": every prefix as added (written by relayguard; do not edit)\n";
    for (const Cidr &c : prefixes())
        text += c.str() + "\n";
    try {
        lists_.state().write_text(file_name(), text);
    } catch (const std::exception &e) {
        log(LogLevel::warning, std::string("cannot record the ") + name() + " as added: " + e.what() +
                                   " (what is enforced is not affected)");
    }
    return r;
}

std::vector<bool> HandList::add(const std::vector<Cidr> &cidrs)
{
    std::vector<Cidr> all = prefixes();
    std::vector<bool> out;
    for (const Cidr &c : cidrs) {
        out.push_back(std::find(all.begin(), all.end(), c) == all.end());
        if (out.back())
            all.push_back(c);
    }
    if (std::find(out.begin(), out.end(), true) != out.end())
        write(normalised(std::move(all)));
    return out;
}

std::vector<bool> HandList::del(const std::vector<Cidr> &cidrs)
{
    std::vector<Cidr> all = prefixes();
    std::vector<bool> out;
    for (const Cidr &c : cidrs) {
        auto it = std::find(all.begin(), all.end(), c);
        out.push_back(it != all.end());
        if (it != all.end())
            all.erase(it);
    }
    if (std::find(out.begin(), out.end(), true) != out.end())
        write(normalised(std::move(all)));
    return out;
}

WriteResult HandList::set(const std::vector<Cidr> &cidrs)
{
    PrefixSet next = normalised(cidrs);
    if (next == added_)
        return {};
    return write(std::move(next));
}

std::optional<Cidr> HandList::covering(const Cidr &c) const
{
    for (const Cidr &p : prefixes())
        if (p != c && p.contains(c))
            return p;
    return std::nullopt;
}

} // namespace rg

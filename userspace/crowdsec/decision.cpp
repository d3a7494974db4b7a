#include "decision.hpp"

#include "error.hpp"
#include "text.hpp"

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>

namespace rg {

using nlohmann::json;

namespace {

std::string lower(std::string s)
{
    std::ranges::transform(s, s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    return s;
}

// A decision's value for an error message: printable, in double quotes.
// (Built by appending: GCC 12 at -O3 gives a false -Wrestrict on "\"" + s.)
std::string shown_value(std::string_view value)
{
    std::string s = "\"";
    s += printable(value);
    s += '"';
    return s;
}

// One element of "new" or "deleted"; throws rg::Error saying what is wrong.
Decision parse_decision(const json &j)
{
    if (!j.is_object())
        throw Error("not an object");
    auto text = [&](const char *key, bool required) -> std::string {
        auto it = j.find(key);
        if (it == j.end() || it->is_null()) {
            if (required)
                throw Error(std::string("\"") + key + "\": missing");
            return {};
        }
        if (!it->is_string())
            throw Error(std::string("\"") + key + "\": not a string");
        return it->get<std::string>();
    };
    Decision d;
    auto id = j.find("id");
    if (id == j.end() || !id->is_number_integer() || id->get<int64_t>() < 0)
        throw Error("\"id\": missing or not a whole number");
    d.id = id->get<uint64_t>();
    d.scope = text("scope", true);
    d.value = text("value", true);
    d.type = text("type", true);
    d.origin = text("origin", false);
    d.scenario = text("scenario", false);
    std::string duration = text("duration", true);
    try {
        d.duration = parse_go_duration(duration);
    } catch (const Error &e) {
        throw Error(std::string("\"duration\": ") + e.what());
    }
    return d;
}

} // namespace

std::chrono::nanoseconds parse_go_duration(std::string_view text)
{
    auto bad = [&](const std::string &why) { return Error("duration \"" + printable(text) + "\": " + why); };
    std::string_view s = text;
    bool negative = false;
    if (!s.empty() && (s.front() == '-' || s.front() == '+')) {
        negative = s.front() == '-';
        s.remove_prefix(1);
    }
    if (s == "0")
        return std::chrono::nanoseconds(0);
    if (s.empty())
        throw bad("empty");
    struct Unit {
        std::string_view name;
        int64_t ns;
    };
    // Longest names first: "ms" before "m", "ns" before "s" is not needed
    // ("s" never starts another unit).
    static constexpr Unit kUnits[] = {{"ns", 1},          {"us", 1000},          {"\xc2\xb5s", 1000},
                                      {"\xce\xbcs", 1000}, {"ms", 1000000},       {"s", 1000000000},
                                      {"m", 60000000000},  {"h", 3600000000000}};
    long double total = 0;
    while (!s.empty()) {
        size_t digits = 0;
        while (digits < s.size() && (std::isdigit(static_cast<unsigned char>(s[digits])) || s[digits] == '.'))
            digits++;
        std::string_view number = s.substr(0, digits);
        if (number.empty() || number == "." || std::ranges::count(number, '.') > 1)
            throw bad("expected a number at \"" + printable(s) + "\"");
        s.remove_prefix(digits);
        const Unit *unit = nullptr;
        for (const Unit &u : kUnits)
            if (s.starts_with(u.name) && (!unit || u.name.size() > unit->name.size()))
                unit = &u;
        if (!unit)
            throw bad(s.empty() ? "a number without a unit (h, m, s, ms, us, ns)"
                                : "unknown unit at \"" + printable(s) + "\"");
        s.remove_prefix(unit->name.size());
        long double value = 0;
        std::string n(number);
        value = std::stold(n.front() == '.' ? "0" + n : n);
        total += value * (long double)unit->ns;
    }
    if (total > 9.2e18L)
        throw bad("out of range");
    int64_t ns = int64_t(total + 0.5L);
    return std::chrono::nanoseconds(negative ? -ns : ns);
}

namespace {

// One element of the answer's "new" (added) or "deleted" list, index i:
// kept in `to` when the filter takes it, else counted as ignored or refused.
void take_decision(const json &item, bool added, size_t i, const DecisionFilter &filter, StreamAnswer &out)
{
    const char *list = added ? "new" : "deleted";
    auto refuse = [&](const std::string &why) {
        if (out.refused.size() < 10)
            out.refused.push_back(std::string(list) + "[" + std::to_string(i) + "]: " + why);
        out.refused_count++;
    };
    Decision d;
    try {
        d = parse_decision(item);
    } catch (const Error &e) {
        refuse(e.what());
        return;
    }
    std::string scope = lower(d.scope), type = lower(d.type);
    bool scope_ok = (scope == "ip" && filter.ip) || (scope == "range" && filter.range);
    if (!scope_ok || std::ranges::find(filter.types, type) == filter.types.end()) {
        out.ignored++;
        return;
    }
    ParsedCidr p;
    std::string why;
    if (!try_parse_cidr(d.value, p, why)) {
        refuse(shown_value(d.value) + ": " + why);
        return;
    }
    // An Ip is one address; a Range given with host bits set is the
    // range it names (as parse_cidr normalises it).
    if (scope == "ip" && p.cidr.len != p.cidr.max_len()) {
        refuse(shown_value(d.value) + ": scope Ip but not a single address");
        return;
    }
    unsigned min = p.cidr.family == 4 ? filter.min_prefix4 : filter.min_prefix6;
    if (added && p.cidr.len < min) {  // a deletion of one is harmless
        refuse(shown_value(d.value) + ": broader than /" + std::to_string(min) + ", refused");
        return;
    }
    d.target = p.cidr;
    (added ? out.added : out.deleted).push_back(std::move(d));
}

} // namespace

// The answer is parsed as a stream: each element of "new" and "deleted" is
// taken as it ends and then dropped from the document (nlohmann's parser
// callback), so 100,000 decisions never exist as one JSON tree.
StreamAnswer parse_stream_answer(std::string_view body, const DecisionFilter &filter)
{
    using Event = json::parse_event_t;
    StreamAnswer out;
    std::string key;           // the last key of the top-level object
    const char *list = nullptr; // "new" or "deleted" while inside its array
    size_t index = 0;
    auto element = [&](int depth, Event ev, json &parsed) {
        if (depth == 1 && ev == Event::key)
            key = parsed.get<std::string>();
        else if (depth == 1 && ev == Event::array_start)
            list = key == "new" ? "new" : key == "deleted" ? "deleted" : nullptr, index = 0;
        else if (depth == 1 && ev == Event::array_end)
            list = nullptr;
        else if (depth == 2 && list && (ev == Event::object_end || ev == Event::array_end || ev == Event::value)) {
            take_decision(parsed, list[0] == 'n', index++, filter, out);
            return false;  // taken: not kept in the document
        }
        return true;
    };
    json doc = json::parse(body, element, false);
    if (doc.is_discarded()) {
        std::string head(body.substr(0, 80));
        throw Error("the LAPI's answer is not JSON (" + std::to_string(body.size()) + " bytes, starting \"" +
                    printable(head) + "\")");
    }
    if (!doc.is_object() || !doc.contains("new") || !doc.contains("deleted"))
        throw Error("the LAPI's answer is not a decision stream: expected an object with \"new\" and \"deleted\"");
    for (const char *name : {"new", "deleted"})
        if (!doc[name].is_null() && !doc[name].is_array())  // the LAPI sends null for an empty list
            throw Error(std::string("the LAPI's answer: \"") + name + "\": neither a list nor null");
    return out;
}

} // namespace rg

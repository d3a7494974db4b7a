// The rules of `relayguard watch`: which log lines count against a source.
//
// A rule applies to the lines of one program (the last part of the syslog
// tag, so "postfix/smtpd", "postfix/submission/smtpd" and
// "postfix-out/smtpd" are all "smtpd"), must contain a literal (a cheap
// first test; most lines of a mail log fail it), and then match a PCRE2
// regular expression (JIT-compiled) on the message, whose named group
// `addr` is the source's address. The first rule that matches a line takes
// it. The built-in rules cover Postfix 3.x (README "Log rules" lists them);
// a config may change their thresholds, turn them off, or add its own.
#pragma once

#include "cidr.hpp"
#include "duration.hpp"
#include "log_line.hpp"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace rg {

struct LogRule {
    std::string name;
    std::string daemon;   // last part of the program's tag; empty: any program
    std::string literal;  // the message must contain it; empty: no first test
    std::string regex;    // PCRE2, on the message, with a named group `addr`
    unsigned maxretry = 5;  // matches of one source ...
    Duration findtime{std::chrono::minutes(10)};  // ... within this long ...
    Duration bantime{std::chrono::hours(1)};      // ... ban it this long
    bool operator==(const LogRule &) const = default;
};

// The built-in Postfix rules, in the order they are tried.
const std::vector<LogRule> &builtin_log_rules();
// The built-in rule of that name, or nullptr.
const LogRule *builtin_log_rule(std::string_view name);

// Why the pattern is not a usable rule regex (does not compile, has no
// named group `addr`), or empty when it is.
std::string regex_problem(const std::string &regex);

struct RuleMatch {
    size_t rule;          // index in the RuleSet
    Cidr source;          // a host address (/32 or /128)
};

class RuleSet {
public:
    // Compiles every rule; throws rg::Error "rule NAME: ..." for a bad one.
    explicit RuleSet(std::vector<LogRule> rules);
    ~RuleSet();
    RuleSet(RuleSet &&) noexcept;
    RuleSet &operator=(RuleSet &&) noexcept;

    // The first rule that matches the line and names an address.
    std::optional<RuleMatch> match(const LogLine &line) const;

    const std::vector<LogRule> &rules() const { return rules_; }

private:
    struct Compiled;
    std::vector<LogRule> rules_;
    std::vector<std::unique_ptr<Compiled>> compiled_;
};

} // namespace rg

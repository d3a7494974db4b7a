#define PCRE2_CODE_UNIT_WIDTH 8
#include "log_rules.hpp"

#include "error.hpp"

#include <pcre2.h>

namespace rg {

namespace {

using namespace std::chrono_literals;

// How Postfix names a client: "name[addr]" (smtpd) or "[addr]:port"
// (postscreen); an IPv6 address is in the brackets as it is.
#define CLIENT "[^\\s\\[]*\\[(?<addr>[^\\]]+)\\]"

const std::vector<LogRule> kRules = {
    {"relay-denied", "smtpd", "Relay access denied",
     "^\\w+: reject: RCPT from " CLIENT "(?::\\d+)?: 554 5\\.7\\.1 .*Relay access denied", 3, 10min, 1h},
    {"noqueue-reject", "smtpd", "reject: ",
     "^\\w+: (?:milter-)?reject: \\S+ from " CLIENT "(?::\\d+)?: [45]\\d\\d [45]\\.\\d+\\.\\d+ "
     ".*(?:(?:Helo command|Sender address|Recipient address|Client host) rejected|Client host \\[\\S+\\] blocked using)",
     5, 10min, 10min},
    {"sasl-failed", "smtpd", "authentication failed", "^warning: " CLIENT "(?::\\d+)?: SASL [-\\w]+ authentication failed(?!: Connection lost to authentication server)", 5,
     10min, 1h},
    {"lost-connection", "smtpd", "lost connection after",
     "^lost connection after (?:AUTH|CONNECT|EHLO|HELO|STARTTLS|MAIL|RCPT|RSET|NOOP|VRFY|UNKNOWN) from " CLIENT, 10,
     10min, 10min},
    {"too-many-errors", "smtpd", "too many errors after", "^too many errors after \\S+.* from " CLIENT, 3, 10min, 1h},
    {"improper-pipelining", "smtpd", "improper command pipelining",
     "^improper command pipelining after \\S+ from " CLIENT, 2, 10min, 1h},
    {"postscreen-pregreet", "postscreen", "PREGREET", "^PREGREET \\d+ after \\S+ from " CLIENT ":\\d+", 2, 10min,
     1h},
    {"postscreen-hangup", "postscreen", "HANGUP", "^HANGUP after \\S+ from " CLIENT ":\\d+ in tests after SMTP handshake", 10,
     10min, 10min},
    {"postscreen-dnsbl", "postscreen", "DNSBL rank", "^DNSBL rank \\d+ for " CLIENT ":\\d+", 1, 10min, 1h},
    {"postscreen-pipelining", "postscreen", "COMMAND PIPELINING", "^COMMAND PIPELINING from " CLIENT ":\\d+", 2,
     10min, 1h},
    {"postscreen-bare-newline", "postscreen", "BARE NEWLINE", "^BARE NEWLINE from " CLIENT ":\\d+", 2, 10min, 1h},
    {"postscreen-non-smtp-command", "postscreen", "NON-SMTP COMMAND", "^NON-SMTP COMMAND from " CLIENT ":\\d+", 2,
     10min, 1h},
};

#undef CLIENT

struct Code {
    pcre2_code *code = nullptr;
    std::string error;
    uint32_t addr_group = 0;

    explicit Code(const std::string &regex)
    {
        int err = 0;
        PCRE2_SIZE offset = 0;
        code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(regex.data()), regex.size(), 0, &err,
                             &offset, nullptr);
        if (!code) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(err, msg, sizeof(msg));
            error = "does not compile at offset " + std::to_string(offset) + ": " + reinterpret_cast<char *>(msg);
            return;
        }
        int group = pcre2_substring_number_from_name(code, reinterpret_cast<PCRE2_SPTR>("addr"));
        if (group <= 0) {
            error = "has no named group (?<addr>...) for the source's address";
            return;
        }
        addr_group = uint32_t(group);
        pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // without JIT (unsupported CPU), it still matches
    }
    ~Code() { pcre2_code_free(code); }
    Code(const Code &) = delete;
    Code &operator=(const Code &) = delete;
};

} // namespace

const std::vector<LogRule> &builtin_log_rules() { return kRules; }

const LogRule *builtin_log_rule(std::string_view name)
{
    for (const LogRule &r : kRules)
        if (r.name == name)
            return &r;
    return nullptr;
}

std::string regex_problem(const std::string &regex) { return Code(regex).error; }

struct RuleSet::Compiled {
    Code code;
    pcre2_match_data *data;

    explicit Compiled(const LogRule &r) : code(r.regex), data(nullptr)
    {
        if (!code.error.empty())
            throw Error("rule " + r.name + ": the regex " + code.error);
        data = pcre2_match_data_create_from_pattern(code.code, nullptr);
    }
    ~Compiled() { pcre2_match_data_free(data); }
};

RuleSet::RuleSet(std::vector<LogRule> rules) : rules_(std::move(rules))
{
    for (const LogRule &r : rules_)
        compiled_.push_back(std::make_unique<Compiled>(r));
}

RuleSet::~RuleSet() = default;
RuleSet::RuleSet(RuleSet &&) noexcept = default;
RuleSet &RuleSet::operator=(RuleSet &&) noexcept = default;

std::optional<RuleMatch> RuleSet::match(const LogLine &line) const
{
    for (size_t i = 0; i < rules_.size(); i++) {
        const LogRule &r = rules_[i];
        if (!r.daemon.empty() && r.daemon != line.daemon)
            continue;
        if (!r.literal.empty() && line.message.find(r.literal) == std::string_view::npos)
            continue;
        Compiled &c = *compiled_[i];
        int rc = pcre2_match(c.code.code, reinterpret_cast<PCRE2_SPTR>(line.message.data()), line.message.size(), 0,
                             0, c.data, nullptr);
        if (rc <= 0)
            continue;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(c.data);
        PCRE2_SIZE from = ov[2 * c.code.addr_group], to = ov[2 * c.code.addr_group + 1];
        if (from == PCRE2_UNSET)
            continue;
        ParsedCidr parsed;
        std::string why;
        std::string_view addr = line.message.substr(from, to - from);
        if (addr.find('/') != std::string_view::npos || !try_parse_cidr(addr, parsed, why))
            continue;  // "unknown", a name: nothing to ban
        return RuleMatch{i, parsed.cidr};
    }
    return std::nullopt;
}

} // namespace rg

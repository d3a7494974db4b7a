#!/usr/bin/env python3
"""Annotates a Postfix maillog for tests/data/postfix/rules.tsv: each line
gets the relayguard rule it should yield and the client address, or "-" and
no address. Part of tools/lab/postfix-fixtures.sh.

    postfix-fixtures-annotate.py MAILLOG EXPECT > rules.tsv

EXPECT lists "RULE<TAB>ADDRESS" pairs the session was driven to produce;
each must be annotated at least once, or this fails (exit 1) after writing.
The patterns below are the lab's reading of the log, checked by hand when the
fixtures are regenerated; they are not relayguard's parser.
"""
import collections
import re
import sys

# smtpd names a client "name[addr]"; postscreen "[addr]:port".
SMTPD = r"[^\s\[]*\[(?P<addr>[^\]]+)\]"
PSCRN = r"\[(?P<addr>[^\]]+)\]:\d+"
# Dropping the connection before DATA, as relayguard's lost-connection rule
# reads it: per line, without following the session.
LOST_AFTER = ("AUTH", "CONNECT", "EHLO", "HELO", "STARTTLS", "MAIL", "RCPT", "RSET", "NOOP", "VRFY", "UNKNOWN")

# (rule, program suffix, pattern), the first match wins.
RULES = [
    ("relay-denied", "smtpd", r"NOQUEUE: reject: \S+ from " + SMTPD + r": 554 5\.7\.1 .*Relay access denied"),
    ("noqueue-reject", "smtpd", r"NOQUEUE: reject: \S+ from " + SMTPD + r": "),
    ("sasl-failed", "smtpd", r"warning: " + SMTPD + r": SASL (?:LOGIN|PLAIN) authentication failed"),
    ("lost-connection", "smtpd", r"lost connection after (?P<cmd>\S+) from " + SMTPD),
    ("too-many-errors", "smtpd", r"too many errors after \S+ from " + SMTPD),
    ("improper-pipelining", "smtpd", r"improper command pipelining after \S+ from " + SMTPD),
    ("postscreen-pregreet", "postscreen", r"PREGREET \d+ after \S+ from " + PSCRN + ": "),
    ("postscreen-hangup", "postscreen", r"HANGUP after \S+ from " + PSCRN + r" in tests after SMTP handshake"),
    ("postscreen-pipelining", "postscreen", r"COMMAND PIPELINING from " + PSCRN),
    ("postscreen-bare-newline", "postscreen", r"BARE NEWLINE from " + PSCRN),
    ("postscreen-non-smtp-command", "postscreen", r"NON-SMTP COMMAND from " + PSCRN),
    ("postscreen-dnsbl", "postscreen", r"DNSBL rank \d+ for " + PSCRN + "$"),
]
RULES = [(r, p, re.compile(x)) for r, p, x in RULES]
PROGRAM = re.compile(r"^\S+ +\d+ [\d:.]+ \S+ (?P<prog>[^\[\s]+)\[(?P<pid>\d+)\]: (?P<msg>.*)$")
DISCONNECT = re.compile(r"^disconnect from \S+(?: .* data=(?P<ok>\d+))?")


def annotate(line):
    m = PROGRAM.match(line)
    if not m:
        return "-", ""
    for rule, prog, pattern in RULES:
        if not m["prog"].endswith("/" + prog):
            continue
        r = pattern.search(m["msg"])
        if not r:
            continue
        if rule == "lost-connection" and r["cmd"] not in LOST_AFTER:
            return "-", ""
        return rule, r["addr"]
    return "-", ""


def main():
    log_path, expect_path = sys.argv[1], sys.argv[2]
    with open(log_path, encoding="utf-8", errors="replace") as f:
        lines = f.read().splitlines()
    print("# relayguard's Postfix rules, one maillog line each: RULE<TAB>ADDRESS<TAB>LINE")
    print("# RULE - with ADDRESS empty: the line must match no rule. Real lines from")
    print("# tools/lab/postfix-fixtures.sh (tests/data/postfix/README.md).")
    seen = collections.Counter()
    for line in lines:
        rule, addr = annotate(line)
        seen[(rule, addr)] += 1
        print(f"{rule}\t{addr}\t{line}")
    missing = []
    with open(expect_path, encoding="utf-8") as f:
        for row in f:
            rule, addr = row.rstrip("\n").split("\t")
            if not seen[(rule, addr)]:
                missing.append(f"{rule} {addr}")
    per_rule = collections.Counter()
    for (rule, _), n in seen.items():
        per_rule[rule] += n
    print("postfix-fixtures-annotate: " + ", ".join(f"{r} {n}" for r, n in sorted(per_rule.items())), file=sys.stderr)
    if missing:
        print("postfix-fixtures-annotate: expected but not in the log: " + "; ".join(missing), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()

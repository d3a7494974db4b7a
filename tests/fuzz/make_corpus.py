#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (tests/fuzz/corpus/TARGET/):
real inputs of each parser -- the example config, the Postfix log lines of
tests/data/postfix, LAPI answers and feeds in the shapes the unit tests and
the real services use -- with the option bytes each target reads first.
Run from anywhere; rewrites the seeds it makes, keeps others."""
import hashlib, json, os, re, struct

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fuzz", "corpus")


def put(target, data):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()[:16]), "wb") as f:
        f.write(data)


def read(*path):
    with open(os.path.join(ROOT, *path), "rb") as f:
        return f.read()


# Formats by their index in feed_format_names (automatic, plain, spamhaus,
# netset, ipset, json, range).
AUTO, PLAIN, SPAMHAUS, NETSET, IPSET, JSON, RANGE = range(7)
FEEDS = {
    SPAMHAUS: "; Spamhaus DROP List 2026/12/03 - (c) 2026 The Spamhaus Project SLU\n"
              "; https://www.spamhaus.org/drop/drop.txt\n; Last-Modified: Wed, 02 Dec 2026 21:58:12 GMT\n"
              "; Expires: Thu, 03 Dec 2026 22:58:12 GMT\n192.0.2.0/24 ; SBL123456\n198.51.100.0/25 ; SBL654321\n"
              "203.0.113.128/26 ; SBL1\n",
    NETSET: "#\n# firehol_level1\n#\n# ipv4 hash:net ipset\n#\n# Maintainer      : FireHOL\n#\n"
            "192.0.2.0/24\n198.51.100.7\n203.0.113.0/27\r\n",
    IPSET: "create blocklist hash:net family inet hashsize 1024 maxelem 65536\n"
           "add blocklist 192.0.2.0/24\nadd blocklist 198.51.100.7 timeout 600\n"
           "add blocklist 203.0.113.1-203.0.113.9 comment \"x # y\"\nadd blocklist 203.0.113.64/26 nomatch\n",
    JSON: '[{"cidr": "192.0.2.0/24", "note": "x"}, "198.51.100.7", {"ip": "2001:db8::1"}, '
          '"203.0.113.1-203.0.113.20"]',
    RANGE: "192.0.2.0-192.0.2.255\n198.51.100.10 - 198.51.100.19 # a comment\n2001:db8::-2001:db8::ff\n",
    PLAIN: "\xef\xbb\xbf# a BOM first\n192.0.2.1\n198.51.100.0/24 ; comment\n  2001:db8:1::/48  \n\n"
           "::ffff:192.0.2.9\n192.0.2.7/24\nnot-an-address\n",
    AUTO: '{"cidr":"192.0.2.0/24","sblid":"SBL1","rir":"arin"}\n{"cidr":"2001:db8::/32","sblid":"SBL2","rir":"ripencc"}\n'
          '{"type":"metadata","timestamp":1796000000,"size":2,"records":2,"copyright":"(c) 2026"}\n',
}
FEEDS_EXTRA = ['{"data": ["192.0.2.1", {"ip": "192.0.2.2"}]}',
               '["192.0.2.1", "192.0.2.0/33", 17, {"cidr": 5}, null, "2001:db8::/32"]']

CIDRS = ["192.0.2.0/24", "192.0.2.7", "198.51.100.1/32", "0.0.0.0/0", "255.255.255.255", "192.0.2.9/24",
         "2001:db8::/32", "2001:db8::1", "::/0", "::1", "::ffff:192.0.2.9", "::ffff:192.0.2.0/120",
         "::ffff:0:0/96", "fe80::1%eth0", "2001:db8:0:0:0:0:0:1/128", "1.2.3.4/33", "01.2.3.4", "1.2.3",
         "192.0.2.0/024", "192.0.2.0-192.0.2.255", "2001:db8::-2001:db8::ff", "203.0.113.7 - 203.0.113.1",
         "::ffff:1.2.3.4/127"]
DURATIONS = ["30s", "10m", "1h30m", "1d", "250ms", "0s", "365d", "1h1m1s1ms", "1.5h", "30m1h", "60",
             "2", "2/s", "0.5/s", "30/m", "100/h", "1000000/s", "0.000011574/s", "0.1/s", "1/d"]

PROBE_CLOSED = ("220 mx.example.org ESMTP Postfix (Debian/GNU)\r\n"
                "250-mx.example.org\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n250-ETRN\r\n"
                "250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n"
                "250 CHUNKING\r\n"
                + "250 2.1.0 Ok\r\n554 5.7.1 <relaytest@example.com>: Relay access denied\r\n250 2.0.0 Ok\r\n" * 8
                + "221 2.0.0 Bye\r\n")
PROBE_OPEN = ("220 relay.example.net ESMTP\r\n250-relay.example.net\r\n250 HELP\r\n"
              + "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.0.0 Ok\r\n" * 8)
PROBE_OTHER = ["220 mx ESMTP\r\n502 5.5.2 Error: command not recognized\r\n250 mx\r\n"
               "530 5.7.0 Must issue a STARTTLS command first\r\n",
               "220 mx ESMTP\r\n250-mx\r\n250 STARTTLS\r\n220 2.0.0 Ready to start TLS\r\n\x16\x03\x01\x00\x05hello",
               "421 4.3.2 Service shutting down\r\n", "554 5.7.1 no SMTP service here\r\n"]

LAPI = [
    '{"deleted":null,"new":[{"duration":"1.572950353s","id":3,"origin":"cscli","scenario":"manual \'ban\' from '
    '\'rg-test\'","scope":"Range","type":"ban","value":"2001:db8:1::/48"},{"duration":"1h59m58.572948279s","id":2,'
    '"origin":"cscli","scenario":"manual \'ban\' from \'rg-test\'","scope":"Ip","type":"ban","value":"192.0.2.7"}]}',
    '{"deleted":null,"new":null}',
    '{"deleted":[{"duration":"-101.345145ms","id":1,"origin":"cscli","scenario":"x","scope":"Ip","type":"ban",'
    '"value":"192.0.2.7"}],"new":null}',
    '{"deleted":[],"new":[{"duration":"1h","id":1,"scope":"Country","type":"ban","value":"XX"},{"duration":"1h",'
    '"id":2,"scope":"Ip","type":"captcha","value":"192.0.2.1"},{"duration":"1h","id":3,"scope":"ip","type":"BAN",'
    '"value":"192.0.2.2"},{"duration":"1h","id":4,"scope":"Range","type":"ban","value":"198.51.100.0/24"}]}',
    '{"deleted":null,"new":[{"id":1,"scope":"Ip","type":"ban","value":"192.0.2.1"},{"duration":"1y","id":2,'
    '"scope":"Ip","type":"ban","value":"192.0.2.2"},{"duration":"1h","id":3,"scope":"Ip","type":"ban","value":'
    '"192.0.2.300"},{"duration":"1h","id":4,"scope":"Ip","type":"ban","value":"192.0.2.0/24"},{"duration":"1h",'
    '"id":5,"scope":"Range","type":"ban","value":"0.0.0.0/1"},{"duration":"1h","id":6,"scope":"Range","type":'
    '"ban","value":"2001:db8::/16"},{"duration":"1h","id":"7","scope":"Ip","type":"ban","value":"192.0.2.7"},'
    '{"duration":"1h","id":8,"scope":"Ip","type":"ban","value":"::ffff:192.0.2.8"}]}',
    '{"deleted":[{"duration":"-1s","id":9,"scope":"Ip","type":"ban","value":"192.0.2.1"}],"new":[{"duration":'
    '"4h0m0.5µs","id":9,"scope":"Ip","type":"ban","value":"192.0.2.1"},{"duration":"+2562047h","id":10,'
    '"scope":"Ip","type":"ban","value":"192.0.2.2"}]}',
    '{"message":"access forbidden"}',
]


def main():
    for c in CIDRS:
        put("cidr", c)
    for d in DURATIONS:
        put("duration", d)
    conf = read("dist", "relayguard.conf")
    put("duration", b"")
    for m in re.findall(rb"= *([0-9][0-9a-z./]*)\s*$", conf, re.M):
        put("duration", m)

    for fmt, text in FEEDS.items():
        put("feed_format", bytes([fmt]) + text.encode())
        put("feed_format", bytes([AUTO]) + text.encode())
        put("feed_check", bytes([fmt, 8, 19, 50, 3, 1, 200, 8]) + text.encode())
        nxt = "\n".join(text.split("\n")[:-3] + ["192.0.2.99", "2001:db8:ff::/48"] + text.split("\n")[-3:])
        for limits in (0, 1):
            put("feed_delta", bytes([fmt, limits]) + text.encode() + b"\0" + nxt.encode())
    for text in FEEDS_EXTRA:
        put("feed_format", bytes([JSON]) + text.encode())

    put("config", conf)
    put("config", "[filter]\ninterfaces = eth0\n")
    put("config", "[filter]\ninterfaces = eth0, eth1\nports = 25 587\nmonitor = yes\nallow = 192.0.2.0/24\n"
                  "block = 198.51.100.7, 2001:db8::/48\n[rate]\nrate = 30/m\nburst = 5\n"
                  "[feed spamhaus-drop]\nsource = https://www.spamhaus.org/drop/drop.txt\nformat = spamhaus\n"
                  "interval = 12h\n[watch]\nlog = /var/log/mail.log\n[watch-rule relay-denied]\nmaxretry = 3\n"
                  "[metrics]\nlisten = 127.0.0.1:9121\n")

    log = read("tests", "data", "postfix", "maillog-sample.log")
    lines = log.split(b"\n")
    for i in range(0, len(lines), 40):
        chunk = b"\n".join(lines[i:i + 40])
        put("watch", bytes([0]) + chunk)
        put("watch", bytes([4 | 1]) + chunk)
    rules = [l.split(b"\t", 2)[2] for l in read("tests", "data", "postfix", "rules.tsv").split(b"\n")
             if l and not l.startswith(b"#") and l.count(b"\t") >= 2]
    seen = set()
    for l in rules:
        key = l.split(b": ", 1)[-1][:40]
        if key in seen:
            continue
        seen.add(key)
        put("watch", bytes([0]) + b"\n".join([l] * 3))

    for text in [PROBE_CLOSED, PROBE_OPEN] + PROBE_OTHER:
        put("probe", b"\0" + text.encode("latin-1"))
    put("probe", b"\1" + PROBE_CLOSED.encode())

    for body in LAPI:
        put("crowdsec_decisions", b"\0" + body.encode())
        put("crowdsec_decisions", b"\x0f" + body.encode())

    # State files: 0 a binary state file, 1 a feed memo, 2 feed stats,
    # 3 watch.json, 4 crowdsec.json.
    payload = b"cache"
    header = b"RGSTATE1" + struct.pack("<IIQQ", 1, 0, len(payload), 0)
    put("state_files", b"\0" + header + payload)
    body = b"192.0.2.0/24\n198.51.100.7\n# c\n2001:db8::/48\n"
    stamp = b"\0" * 16 + struct.pack("<IIQQQQQ", PLAIN, 0, 3, 1, 0, 2, 1)
    v6 = struct.pack("<QQB15x", 0, 0x20010db800000000, 48)  # little-endian U128: low, high
    v4 = struct.pack("<IB3x", 0xc0000200, 24) + struct.pack("<IB3x", 0xc6336407, 32)
    memo = stamp + v6 + v4
    put("state_files", b"\1" + struct.pack("<H", len(memo)) + memo + body)
    put("state_files", b"\2" + b'{"syncs":{"applied":3,"fetch_failed":1},"last_seconds":0.25}\n')
    watch = {"source": "/var/log/mail.log", "lines": 367,
             "rules": {"relay-denied": {"matches": 3, "bans": 1, "exempt": 0}},
             "bans": [{"prefix": "192.0.2.7/32", "rule": "relay-denied", "matches": 3, "offence": 1,
                       "escalation": False, "banned_at": 1796000000, "expires_at": 1796003600,
                       "lines": [lines[100].decode("utf-8", "replace")]}],
             "offenders": [{"source": "192.0.2.7/32", "bans": 1, "last_ban": 1796000000}]}
    put("state_files", b"\3" + json.dumps(watch).encode() + b"\n")
    put("state_files", b"\4" + b'{"lapi":"http://127.0.0.1:8080","polls":12,"decisions":2,"updated":1796000000}\n')


main()

#!/usr/bin/env python3
"""Writes a blocklist of COUNT distinct prefixes in a realistic mix, one per line.

The mix follows what public mail-abuse feeds look like: mostly single IPv4
addresses (blocklist.de-style lists), many /24s, a few broad DROP-style
ranges, some IPv6 single addresses, /64s and /48s. Addresses are drawn with a
fixed seed, so the same arguments always give the same list; the benchmark
ranges (198.18.0.0/15, 2001:db8::/32, 2001:2::/48's /32) and private/reserved space are avoided
unless given with --include.

  gen-prefixes.py --count 1000000 [--seed 1] [--include FILE] > list.txt

Lines of --include (prefixes or addresses) are written first and count towards
COUNT. --changed PCT writes the same list with PCT percent of the generated
lines replaced by new prefixes (for a sync benchmark).
"""
import argparse
import ipaddress
import random
import sys

# (weight, family, prefix lengths)
MIX = [
    (0.52, 4, [32]),
    (0.22, 4, [24]),
    (0.04, 4, [25, 26, 27, 28, 29, 30, 31]),
    (0.02, 4, [16, 17, 18, 19, 20, 21, 22, 23]),
    (0.08, 6, [128]),
    (0.07, 6, [64]),
    (0.04, 6, [48]),
    (0.01, 6, [29, 32, 36, 40, 44]),
]

def _range4(cidr):
    net = ipaddress.IPv4Network(cidr)
    return int(net.network_address), int(net.broadcast_address)


AVOID4 = [_range4(n) for n in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.0.0.0/24", "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
    "203.0.113.0/24", "224.0.0.0/3")]
# The /32s of 2001:db8::/32 (documentation) and 2001:2::/48 (benchmarking,
# RFC 5180): the per-packet benchmark's IPv6 sources come from them.
AVOID6 = (0x20010db8, 0x20010002)


def random_prefix(rng, family, length):
    """(family, network as int, length), outside the avoided ranges."""
    if family == 4:
        while True:
            lo = rng.getrandbits(32) & ~((1 << (32 - length)) - 1)
            hi = lo | ((1 << (32 - length)) - 1)
            if not any(lo <= a_hi and a_lo <= hi for a_lo, a_hi in AVOID4):
                return (4, lo, length)
    # Global unicast 2000::/3, outside the AVOID6 /32s (all lengths used are >= 29: a
    # shorter prefix is checked by its first bits against each /32's).
    while True:
        addr = (0b001 << 125 | rng.getrandbits(125)) & ~((1 << (128 - length)) - 1)
        shift = 32 - min(length, 32)
        if all((addr >> 96) >> shift != a >> shift for a in AVOID6):
            return (6, addr, length)


def fmt(p):
    family, addr, length = p
    if family == 4:
        return f"{addr >> 24}.{addr >> 16 & 255}.{addr >> 8 & 255}.{addr & 255}/{length}"
    return f"{ipaddress.IPv6Address(addr).compressed}/{length}"


def parse(text):
    net = ipaddress.ip_network(text, strict=False)
    return (net.version, int(net.network_address), net.prefixlen)


def draw(rng, weights):
    _, family, lengths = rng.choices(MIX, weights)[0]
    return random_prefix(rng, family, rng.choice(lengths))


def generate(count, seed, included):
    rng = random.Random(seed)
    weights = [m[0] for m in MIX]
    seen = set(included)
    out = []
    while len(seen) < count:
        p = draw(rng, weights)
        if p not in seen:
            seen.add(p)
            out.append(p)
    return out, rng


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--include", help="file of prefixes/addresses to list first")
    ap.add_argument("--changed", type=float, default=0.0, help="percent of generated lines to replace")
    args = ap.parse_args()
    included = []
    if args.include:
        with open(args.include) as f:
            for line in f:
                line = line.split("#")[0].strip()
                if line:
                    included.append(parse(line))
    generated, rng = generate(args.count, args.seed, included)
    if args.changed:
        step = max(1, round(100 / args.changed))
        seen = set(included) | set(generated)
        for i in range(0, len(generated), step):
            while True:
                net = draw(rng, [m[0] for m in MIX])
                if net not in seen:
                    break
            seen.add(net)
            generated[i] = net
    sys.stdout.writelines(fmt(p) + "\n" for p in included + generated)


if __name__ == "__main__":
    main()

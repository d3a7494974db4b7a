#!/usr/bin/env python3
"""A DNS server for the lab, which has no DNS: it answers a DNSBL zone so
postscreen's DNSBL test runs offline, and NXDOMAIN to everything else (so
reverse lookups fail at once, as they would for an address without PTR).

    dnsbl-server.py ADDR ZONE LISTED_IP...

Listens on ADDR port 53 (UDP). A query for the A record of <reversed IP>.ZONE
gets 127.0.0.2 when the IP is listed (IPv4: reversed octets; IPv6: reversed
nibbles, as RFC 5782 says).
"""
import ipaddress
import socket
import struct
import sys


def dnsbl_name(ip, zone):
    ip = ipaddress.ip_address(ip)
    if ip.version == 4:
        labels = reversed(str(ip).split("."))
    else:
        labels = reversed(ip.exploded.replace(":", ""))
    return ".".join(labels) + "." + zone.strip(".").lower()


def parse_question(msg):
    """The first question's name, type and where the question ends."""
    pos, labels = 12, []
    while msg[pos]:
        n = msg[pos]
        labels.append(msg[pos + 1:pos + 1 + n].decode("ascii", "replace").lower())
        pos += 1 + n
    qtype, _qclass = struct.unpack("!HH", msg[pos + 1:pos + 5])
    return ".".join(labels), qtype, pos + 5


def answer(msg, listed):
    qid, flags = struct.unpack("!HH", msg[:4])
    name, qtype, end = parse_question(msg)
    rd = flags & 0x0100
    question = msg[12:end]
    if name in listed:
        if qtype == 1:  # A
            rr = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + bytes([127, 0, 0, 2])
            return struct.pack("!HHHHHH", qid, 0x8480 | rd, 1, 1, 0, 0) + question + rr
        return struct.pack("!HHHHHH", qid, 0x8480 | rd, 1, 0, 0, 0) + question  # no data
    return struct.pack("!HHHHHH", qid, 0x8483 | rd, 1, 0, 0, 0) + question  # NXDOMAIN


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    addr, zone, ips = sys.argv[1], sys.argv[2], sys.argv[3:]
    listed = {dnsbl_name(ip, zone) for ip in ips}
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.bind((addr, 53))
    while True:
        msg, peer = sock.recvfrom(4096)
        try:
            sock.sendto(answer(msg, listed), peer)
        except (IndexError, struct.error):
            pass  # not a query we can parse: no answer


if __name__ == "__main__":
    main()

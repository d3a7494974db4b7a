#!/usr/bin/env python3
"""A scripted SMTP client for the lab, for what swaks will not do: talk before
the greeting, bare newlines, pipelining without EHLO, hanging up mid-session.

    smtp-talk.py [-b SRC] HOST PORT STEP...

STEPs, run in order:
    reply        read one complete reply (all its lines; fail on timeout)
    greeting     the same as reply (readability)
    send:TEXT    send TEXT at once; \\r, \\n and \\t escapes are decoded
    cmd:TEXT     send TEXT + CRLF, then read one reply
    sleep:SECS   wait
    drain        read until the server closes (or 10 s pass)
    close        hang up at once (also done after the last step)
Each reply read is printed to stdout with a "S: " prefix.
"""
import argparse
import socket
import sys
import time


def read_reply(sock, buf):
    """One SMTP reply: lines until one whose 4th character is not '-'."""
    lines = []
    while True:
        while b"\n" not in buf:
            chunk = sock.recv(4096)
            if not chunk:
                raise ConnectionError("server closed the connection")
            buf += chunk
        line, buf = buf.split(b"\n", 1)
        line = line.rstrip(b"\r").decode("utf-8", "replace")
        lines.append(line)
        if len(line) < 4 or line[3] != "-":
            return lines, buf


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-b", "--bind", help="source address")
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("steps", nargs="+")
    args = ap.parse_args()

    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.settimeout(30)
    if args.bind:
        sock.bind((args.bind, 0))
    sock.connect((args.host, args.port))
    buf = b""
    for step in args.steps:
        verb, _, arg = step.partition(":")
        if verb in ("reply", "greeting"):
            lines, buf = read_reply(sock, buf)
            for line in lines:
                print("S:", line)
        elif verb in ("send", "cmd"):
            text = arg.replace("\\r", "\r").replace("\\n", "\n").replace("\\t", "\t")
            if verb == "cmd":
                text += "\r\n"
            sock.sendall(text.encode())
            if verb == "cmd":
                lines, buf = read_reply(sock, buf)
                for line in lines:
                    print("S:", line)
        elif verb == "sleep":
            time.sleep(float(arg))
        elif verb == "drain":
            sock.settimeout(10)
            try:
                while sock.recv(4096):
                    pass
            except (socket.timeout, ConnectionError):
                pass
        elif verb == "close":
            break
        else:
            sys.exit(f"smtp-talk.py: unknown step {step!r}")
    sock.close()


if __name__ == "__main__":
    main()

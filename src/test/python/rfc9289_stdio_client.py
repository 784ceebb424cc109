#!/usr/bin/env python3
"""An RFC 9289 (RPC-over-TLS) client on OpenSSL through Python's ssl module, for rpc-tlsservd's
relay tests: a TLS stack other than the product's, driven through standard input and output.
Standard library only.

It connects to the front end, sends the AUTH_TLS NULL probe in clear text and checks the
"STARTTLS" verifier of the reply (RFC 9289 section 4.1), then does TLS 1.3 with ALPN "sunrpc",
verifying the server's certificate for "localhost" against --ca. Then, one at a time, it reads a
record-marked RPC message (RFC 5531 section 11) from standard input, sends it inside TLS, reads
one record-marked reply and writes it to standard output. At the end of standard input it sends
close_notify and waits for the server's (ssl's unwrap).

On stderr, one line per event, for tests to read: "tls ok version=... cipher=... alpn=...",
"close_notify answered", or "error ..." (and exit status 1).
--keylog FILE writes the session's secrets (NSS key log format) for a test to read the wire.
"""
import argparse
import socket
import ssl
import struct
import sys

AUTH_TLS = 7
PROBE_XID = 0x9289


def log(*words):
    print(*words, file=sys.stderr, flush=True)


def read_exactly(read, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = read(n - len(buf))
        if not chunk:
            return None if not buf else bytes(buf)
        buf += chunk
    return bytes(buf)


def read_framed(read):
    """One record with its marks, fragments included as they came; None at a clean end."""
    out = bytearray()
    while True:
        mark = read_exactly(read, 4)
        if mark is None:
            if out:
                raise EOFError("end inside a record")
            return None
        if len(mark) < 4:
            raise EOFError("end inside a record mark")
        (m,) = struct.unpack(">I", mark)
        frag = read_exactly(read, m & 0x7FFFFFFF) if m & 0x7FFFFFFF else b""
        if frag is None or len(frag) < (m & 0x7FFFFFFF):
            raise EOFError("end inside a fragment")
        out += mark + frag
        if m & 0x80000000:
            return bytes(out)


def probe(sock):
    # NULL call of program 100000 version 2, credential AUTH_TLS of length 0, verifier AUTH_NONE
    call = struct.pack(">IIIIIIIIII", PROBE_XID, 0, 2, 100000, 2, 0, AUTH_TLS, 0, 0, 0)
    sock.sendall(struct.pack(">I", 0x80000000 | len(call)) + call)
    reply = read_framed(lambda n: sock.recv(n))
    if reply is None:
        raise EOFError("no reply to the probe")
    body = reply[4:]
    xid, mtype, stat, flavor, vlen = struct.unpack(">IIIII", body[:20])
    verf = body[20:20 + vlen]
    if xid != PROBE_XID or mtype != 1 or stat != 0 or verf != b"STARTTLS":
        raise ValueError("not a STARTTLS reply: %r" % body)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--ca", required=True)
    p.add_argument("--keylog")
    args = p.parse_args()

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_verify_locations(args.ca)
    ctx.set_alpn_protocols(["sunrpc"])
    if args.keylog:
        ctx.keylog_filename = args.keylog
    raw = socket.create_connection(("127.0.0.1", args.port), timeout=20)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        probe(raw)
        tls = ctx.wrap_socket(raw, server_hostname="localhost")
        log("tls ok version=%s cipher=%s alpn=%s" % (tls.version(), tls.cipher()[0], tls.selected_alpn_protocol()))
        stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
        while True:
            call = read_framed(stdin.read)
            if call is None:
                break
            tls.sendall(call)
            reply = read_framed(tls.recv)
            if reply is None:
                raise EOFError("the server closed before replying")
            stdout.write(reply)
            stdout.flush()
        tls.unwrap()  # our close_notify, then the server's: an EOF without it raises
        log("close_notify answered")
    except (OSError, ValueError, EOFError) as e:
        log("error %s: %s" % (type(e).__name__, e))
        return 1
    finally:
        raw.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

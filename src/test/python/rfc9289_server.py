#!/usr/bin/env python3
"""An independent RFC 9289 (RPC-over-TLS) server for rpc-tlsservd's tests, on OpenSSL through
Python's ssl module: a TLS stack other than the product's (Bouncy Castle), so the connector is
tested against someone else's reading of the RFC. Standard library only.

It listens on loopback, reads record-marked RPC messages (RFC 5531 section 11), answers the
AUTH_TLS NULL probe with the "STARTTLS" verifier (RFC 9289 section 4.1), then does TLS 1.3 with
ALPN "sunrpc" as the server, and serves a tiny program (PROGRAM below) inside TLS:

  0 NULL
  1 ECHO(opaque<>) -> the same opaque
  2 PEER() -> the client certificate's subject as a string ("" without one)
  3 CALLBACK(opaque<>) -> void, and then sends the client one CALL of program BACKCHANNEL,
    procedure 1, with that opaque as its argument (the backchannel, as NFSv4.1 uses it)
  4 CALLBACK_REPLY() -> the opaque result of the client's reply to that CALL ("" before one)

On stdout: "READY <port>" once it listens. On stderr, one line per event, for tests to read:
"probe answered ...", "tls ok ...", "tls failed ...", "call proc=N" (inside TLS),
"plain call proc=N" (a call that came in plain text), "closed ...".

--no-starttls=autherror answers the probe with MSG_DENIED/AUTH_ERROR (AUTH_BADCRED), as a server
that knows no AUTH_TLS does; --no-starttls=plain answers it MSG_ACCEPTED with an empty AUTH_NONE
verifier. Either way it then serves the program in plain text.
"""
import argparse
import socket
import ssl
import struct
import sys
import threading

PROGRAM = 0x20009289
VERSION = 1
BACKCHANNEL = 0x20009290
BACKCHANNEL_XID = 0x7B000001
AUTH_NONE, AUTH_TLS = 0, 7
CALL, REPLY = 0, 1
MSG_ACCEPTED, MSG_DENIED = 0, 1
SUCCESS, PROG_UNAVAIL, PROG_MISMATCH, PROC_UNAVAIL, GARBAGE_ARGS = 0, 1, 2, 3, 4
AUTH_ERROR, AUTH_BADCRED = 1, 1
MAX_RECORD = 4 << 20  # bigger records are an attack in a test: close


def log(*words):
    print(*words, file=sys.stderr, flush=True)


class Closed(Exception):
    pass


def read_exactly(conn, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = conn.recv(min(n - len(buf), 1 << 16))
        if not chunk:
            raise Closed()
        buf += chunk
    return bytes(buf)


def read_record(conn):
    """One record, its fragments joined."""
    rec = bytearray()
    while True:
        (mark,) = struct.unpack(">I", read_exactly(conn, 4))
        size = mark & 0x7FFFFFFF
        if len(rec) + size > MAX_RECORD:
            raise Closed()
        rec += read_exactly(conn, size)
        if mark & 0x80000000:
            return bytes(rec)


def send_record(conn, lock, msg):
    with lock:
        conn.sendall(struct.pack(">I", 0x80000000 | len(msg)) + msg)


def opaque(b):
    return struct.pack(">I", len(b)) + b + b"\0" * (-len(b) % 4)


def take_opaque(buf, pos):
    (n,) = struct.unpack_from(">I", buf, pos)
    if pos + 4 + n > len(buf):
        raise ValueError("opaque longer than the message")
    return buf[pos + 4:pos + 4 + n], pos + 4 + ((n + 3) & ~3)


def accepted(xid, stat, body=b"", verf=b""):
    return struct.pack(">III", xid, REPLY, MSG_ACCEPTED) + struct.pack(">I", AUTH_NONE) + opaque(verf) \
        + struct.pack(">I", stat) + body


def parse_call(rec):
    """(xid, prog, vers, proc, cred flavor, cred body, verf flavor, verf body, args) of a CALL."""
    xid, mtype, rpcvers, prog, vers, proc = struct.unpack_from(">IIIIII", rec, 0)
    (cflavor,) = struct.unpack_from(">I", rec, 24)
    cred, pos = take_opaque(rec, 28)
    (vflavor,) = struct.unpack_from(">I", rec, pos)
    verf, pos = take_opaque(rec, pos + 4)
    return xid, prog, vers, proc, cflavor, cred, vflavor, verf, rec[pos:]


class Connection:
    def __init__(self, args, ctx, conn, peer):
        self.args, self.ctx, self.conn, self.peer = args, ctx, conn, peer
        self.lock = threading.Lock()
        self.tls = False
        self.client_subject = ""
        self.callback_reply = b""

    def run(self):
        try:
            self.conn.settimeout(self.args.timeout)
            first = read_record(self.conn)
            if self.is_probe(first):
                xid = struct.unpack_from(">I", first, 0)[0]
                if self.args.no_starttls == "autherror":
                    send_record(self.conn, self.lock, struct.pack(">IIIII", xid, REPLY, MSG_DENIED, AUTH_ERROR, AUTH_BADCRED))
                    log("probe answered AUTH_ERROR peer=%s:%d" % self.peer)
                elif self.args.no_starttls == "plain":
                    send_record(self.conn, self.lock, accepted(xid, SUCCESS))
                    log("probe answered without STARTTLS peer=%s:%d" % self.peer)
                else:
                    send_record(self.conn, self.lock, accepted(xid, SUCCESS, verf=b"STARTTLS"))
                    log("probe answered STARTTLS peer=%s:%d" % self.peer)
                    self.start_tls()
                first = None
            while True:
                rec = first if first is not None else read_record(self.conn)
                first = None
                self.handle(rec)
        except Closed:
            log("closed peer=%s:%d tls=%s" % (self.peer + (self.tls,)))
        except (OSError, ValueError, struct.error) as e:
            log("closed peer=%s:%d tls=%s error=%s" % (self.peer + (self.tls, e)))
        finally:
            try:
                self.conn.close()
            except OSError:
                pass

    @staticmethod
    def is_probe(rec):
        try:
            xid, prog, vers, proc, cflavor, cred, vflavor, verf, rest = parse_call(rec)
        except (struct.error, ValueError):
            return False
        mtype = struct.unpack_from(">I", rec, 4)[0]
        return mtype == CALL and proc == 0 and cflavor == AUTH_TLS and not cred and vflavor == AUTH_NONE and not verf

    def start_tls(self):
        try:
            self.conn = self.ctx.wrap_socket(self.conn, server_side=True)
        except (ssl.SSLError, OSError) as e:
            log("tls failed peer=%s:%d error=%s" % (self.peer + (e,)))
            raise Closed()
        self.tls = True
        cert = self.conn.getpeercert()
        if cert:
            self.client_subject = ",".join("%s=%s" % kv for rdn in cert.get("subject", ()) for kv in rdn)
        log("tls ok peer=%s:%d version=%s alpn=%s cipher=%s client=%s" % (self.peer + (
            self.conn.version(), self.conn.selected_alpn_protocol(), self.conn.cipher()[0], self.client_subject or "-")))

    def handle(self, rec):
        if len(rec) >= 8 and struct.unpack_from(">I", rec, 4)[0] == REPLY:
            xid = struct.unpack_from(">I", rec, 0)[0]
            if xid == BACKCHANNEL_XID:
                try:  # MSG_ACCEPTED, verifier, SUCCESS, then the opaque result
                    _, _, stat = struct.unpack_from(">III", rec, 8)
                    verf, pos = take_opaque(rec, 16)
                    (accept,) = struct.unpack_from(">I", rec, pos)
                    self.callback_reply, _ = take_opaque(rec, pos + 4)
                    log("backchannel reply accept_stat=%d bytes=%d" % (accept, len(self.callback_reply)))
                except (struct.error, ValueError) as e:
                    log("backchannel reply undecodable: %s" % e)
            else:
                log("reply to nothing xid=%#x" % xid)
            return
        xid, prog, vers, proc, cflavor, cred, vflavor, verf, argbuf = parse_call(rec)
        log("%scall proc=%d prog=%#x cred=%d tls=%s" % ("" if self.tls else "plain ", proc, prog, cflavor, self.tls))
        if prog != PROGRAM:
            send_record(self.conn, self.lock, accepted(xid, PROG_UNAVAIL))
        elif vers != VERSION:
            send_record(self.conn, self.lock, accepted(xid, PROG_MISMATCH, struct.pack(">II", VERSION, VERSION)))
        elif proc == 0:
            send_record(self.conn, self.lock, accepted(xid, SUCCESS))
        elif proc == 1:
            data, _ = take_opaque(argbuf, 0)
            send_record(self.conn, self.lock, accepted(xid, SUCCESS, opaque(data)))
        elif proc == 2:
            send_record(self.conn, self.lock, accepted(xid, SUCCESS, opaque(self.client_subject.encode())))
        elif proc == 3:
            data, _ = take_opaque(argbuf, 0)
            send_record(self.conn, self.lock, accepted(xid, SUCCESS))
            call = struct.pack(">IIIIII", BACKCHANNEL_XID, CALL, 2, BACKCHANNEL, 1, 1) \
                + struct.pack(">I", AUTH_NONE) + opaque(b"") + struct.pack(">I", AUTH_NONE) + opaque(b"") + opaque(data)
            send_record(self.conn, self.lock, call)
            log("backchannel call sent bytes=%d" % len(data))
        elif proc == 4:
            send_record(self.conn, self.lock, accepted(xid, SUCCESS, opaque(self.callback_reply)))
        else:
            send_record(self.conn, self.lock, accepted(xid, PROC_UNAVAIL))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cert", required=True, help="PEM certificate chain, leaf first")
    p.add_argument("--key", required=True, help="PEM private key")
    p.add_argument("--ca", help="require a client certificate that verifies against this PEM CA file")
    p.add_argument("--no-starttls", choices=["autherror", "plain"], help="do not offer TLS: answer the probe this way")
    p.add_argument("--address", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--timeout", type=float, default=120.0, help="seconds a connection may be silent")
    args = p.parse_args()

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3  # RFC 9289 section 5.1.1
    ctx.set_alpn_protocols(["sunrpc"])  # RFC 9289 section 5.2
    ctx.load_cert_chain(args.cert, args.key)
    if args.ca:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(args.ca)

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((args.address, args.port))
    listener.listen(64)
    print("READY %d" % listener.getsockname()[1], flush=True)
    while True:
        conn, peer = listener.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        log("accepted peer=%s:%d" % peer)
        threading.Thread(target=Connection(args, ctx, conn, peer).run, daemon=True).start()


if __name__ == "__main__":
    main()

"""A minimal RFC 6455 WebSocket client over TLS, enough for kumis signaling (text frames of
JSON, ping/pong, close). Python's standard library has none, and the runner must not need npm."""

import base64
import hashlib
import os
import select
import socket
import ssl
import struct
import time

GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'  # RFC 6455 §1.3


class WebSocketError(Exception):
    pass


class WebSocket:
    def __init__(self, host, port, path, subprotocol, timeout=10):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE  # kumisd's self-signed certificate on loopback
        raw = socket.create_connection((host, port), timeout=timeout)
        self.sock = ctx.wrap_socket(raw, server_hostname=host)
        self.buf = b''
        self.fragments = b''
        self.messages = []
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(('GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n'
                           'Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n'
                           'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: %s\r\n\r\n'
                           % (path, host, port, key, subprotocol)).encode())
        while b'\r\n\r\n' not in self.buf:
            self._fill(time.monotonic() + timeout)
        head, self.buf = self.buf.split(b'\r\n\r\n', 1)
        self.sock.settimeout(None)
        lines = head.decode('latin-1').split('\r\n')
        if ' 101 ' not in lines[0] + ' ':
            raise WebSocketError('upgrade refused: ' + lines[0])
        headers = {k.strip().lower(): v.strip()
                   for k, _, v in (x.partition(':') for x in lines[1:])}
        accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
        if headers.get('sec-websocket-accept') != accept:
            raise WebSocketError('bad Sec-WebSocket-Accept')
        if headers.get('sec-websocket-protocol') != subprotocol:
            raise WebSocketError('server did not accept subprotocol ' + subprotocol)

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        if not self.sock.pending():
            r, _, _ = select.select([self.sock], [], [], left)
            if not r:
                raise TimeoutError
        data = self.sock.recv(65536)
        if not data:
            self._parse()
            raise WebSocketError('connection closed')
        self.buf += data

    def _send_frame(self, opcode, payload):
        head = bytes([0x80 | opcode])
        n = len(payload)
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack('!H', n)
        else:
            head += bytes([0x80 | 127]) + struct.pack('!Q', n)
        mask = os.urandom(4)  # RFC 6455 §5.3: clients mask every frame
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(head + mask + masked)

    def send_text(self, text):
        self._send_frame(0x1, text.encode())

    def _parse(self):
        """Moves every complete message out of the receive buffer into self.messages,
        answering pings; a close frame raises WebSocketError."""
        while True:
            if len(self.buf) < 2:
                return
            b0, b1 = self.buf[0], self.buf[1]
            n, off = b1 & 0x7f, 2
            if n == 126:
                if len(self.buf) < 4:
                    return
                n, off = struct.unpack('!H', self.buf[2:4])[0], 4
            elif n == 127:
                if len(self.buf) < 10:
                    return
                n, off = struct.unpack('!Q', self.buf[2:10])[0], 10
            if len(self.buf) < off + n:
                return
            payload, self.buf = self.buf[off:off + n], self.buf[off + n:]
            opcode = b0 & 0x0f
            if opcode == 0x9:
                self._send_frame(0xA, payload)
            elif opcode == 0x8:
                code = struct.unpack('!H', payload[:2])[0] if len(payload) >= 2 else 1005
                raise WebSocketError('closed by server (%d %s)'
                                     % (code, payload[2:].decode(errors='replace')))
            elif opcode in (0x0, 0x1):
                self.fragments += payload
                if b0 & 0x80:
                    self.messages.append(self.fragments.decode())
                    self.fragments = b''

    def recv_text(self, timeout):
        """Returns the next text message; raises TimeoutError or WebSocketError."""
        deadline = time.monotonic() + timeout
        while not self.messages:
            self._fill(deadline)
            self._parse()
        return self.messages.pop(0)

    def read_available(self):
        """Reads what has arrived without blocking; returns the complete messages."""
        self.sock.setblocking(False)
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    self._parse()  # a close frame before the EOF says why
                    raise WebSocketError('connection closed')
                self.buf += data
        except (ssl.SSLWantReadError, BlockingIOError):
            pass
        finally:
            self.sock.setblocking(True)
        self._parse()
        out, self.messages = self.messages, []
        return out

    def fileno(self):
        return self.sock.fileno()

    def close(self):
        try:
            self._send_frame(0x8, struct.pack('!H', 1000))
            self.sock.close()
        except OSError:
            pass

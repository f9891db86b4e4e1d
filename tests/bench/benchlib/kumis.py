"""Driver for kumisd over its WebSocket signaling (signaling/PROTOCOL.md, DESIGN §4):
hello -> welcome; join -> joined; publish: offer {pc:"up"} -> answer {pc:"up"}; receive: the
server offers {pc:"down"}, the client answers; trickle "candidate" both ways."""

import json
import os
import selectors
import ssl
import subprocess
import time
import urllib.request

from . import sdp
from .drivers import DriverError, ServerUnavailable
from .ws import WebSocket, WebSocketError

PORT = 18443
PASSWORD = 'bench-moderator'
# Messages the benchmark never waits for: dropped as they arrive, so queues stay short.
NOISE = ('participant-joined', 'participant-left', 'active-speaker', 'media-state', 'pong')
# Error codes meaning "this server cannot do media yet", not "the harness is wrong".
UNAVAILABLE_CODES = ('unavailable', 'unknown-type', 'not-allowed')


class KumisDriver:
    name = 'kumis'

    def __init__(self, build_dir, workdir):
        self.binary = os.path.join(build_dir, 'server', 'kumisd')
        self.workdir = workdir
        self.proc = None
        self.parts = []
        self.selector = selectors.DefaultSelector()
        self.down_offers = 0

    @property
    def pid(self):
        return self.proc.pid

    def _config_write(self):
        path = os.path.join(self.workdir, 'kumisd.conf')
        with open(path, 'w') as f:
            f.write('[server]\nlisten_address = 127.0.0.1\nport = %d\nstate_dir = %s\n'
                    '[signaling]\nmax_connections = 5000\n'
                    '[forum]\npolicy = open\nmoderator_password = %s\n'
                    '[media]\naddresses = 127.0.0.1\n'
                    # Janus records nothing in this benchmark: neither does kumis.
                    '[recording]\nenabled = false\n'
                    % (PORT, os.path.join(self.workdir, 'var'), PASSWORD))
        return path

    def start(self):
        if not os.access(self.binary, os.X_OK):
            raise ServerUnavailable('kumis: kumisd not built at %s' % self.binary)
        conf = self._config_write()
        self.log = open(os.path.join(self.workdir, 'kumisd.log'), 'w')
        self.proc = subprocess.Popen([self.binary, '--config', conf], cwd=self.workdir,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        ctx = ssl.create_default_context()
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen('https://127.0.0.1:%d/healthz' % PORT, context=ctx,
                                       timeout=1).read()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise DriverError('kumisd did not start (see %s/kumisd.log)' % self.workdir)
                time.sleep(0.2)

    def stop(self):
        for p in self.parts:
            self.selector.unregister(p['ws'])
            p['ws'].close()
        self.parts = []
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    # -- signaling helpers ------------------------------------------------------------------

    def _send(self, part, **msg):
        part['ws'].send_text(json.dumps(msg))

    def _queue(self, part, text):
        m = json.loads(text)
        if m.get('type') in NOISE:
            return
        if (m.get('type') == 'offer' and m.get('pc') == 'down' and part.get('reanswer')):
            # The server renegotiates a connected subscriber (a track came or went): same ICE
            # and DTLS, new m-lines; the generator counts new SSRCs by itself.
            self._send(part, type='answer', pc='down', sdp=part['reanswer'](m['sdp']))
            return
        part['queue'].append(m)

    def _pump(self, part, timeout):
        """Reads one message into the participant's queue; False on timeout."""
        try:
            self._queue(part, part['ws'].recv_text(timeout))
            return True
        except TimeoutError:
            return False
        except WebSocketError as e:
            raise DriverError('kumis: %s' % e)

    def service(self):
        """Reads every connection without blocking. kumisd closes a connection whose client
        does not read (PROTOCOL.md), and a moderator hears of every join."""
        for key, _ in self.selector.select(0):
            part = key.data
            try:
                for text in part['ws'].read_available():
                    self._queue(part, text)
            except WebSocketError as e:
                raise DriverError('kumis: %s: %s' % (part['name'], e))

    def _wait(self, part, pred, timeout, what):
        deadline = time.monotonic() + timeout
        while True:
            for m in part['queue']:
                if m.get('type') == 'error':
                    part['queue'].remove(m)
                    self._error_raise(m, what)
                if pred(m):
                    part['queue'].remove(m)
                    return m
            left = deadline - time.monotonic()
            if left <= 0 or not self._pump(part, left):
                raise DriverError('kumis: no %s within %.0f s' % (what, timeout))

    @staticmethod
    def _error_raise(m, what):
        text = '%s (%s, while waiting for %s)' % (m.get('message'), m.get('code'), what)
        if m.get('code') in UNAVAILABLE_CODES:
            raise ServerUnavailable('kumis: SFU not available: ' + text)
        raise DriverError('kumis: ' + text)

    def _candidates_add(self, part, pc, text, wait):
        """The SDP plus any trickled candidates for @pc (waits up to @wait s for one)."""
        deadline = time.monotonic() + wait
        extra = []
        while True:
            for m in list(part['queue']):
                if m.get('type') == 'candidate' and m.get('pc') == pc:
                    part['queue'].remove(m)
                    if m.get('candidate'):
                        c = m['candidate']
                        extra.append('a=' + (c if c.startswith('candidate:') else 'candidate:' + c))
            if extra or sdp.parse(text + '\r\n'.join(extra))['candidates']:
                break
            left = deadline - time.monotonic()
            if left <= 0 or not self._pump(part, min(left, 0.2)):
                if time.monotonic() >= deadline:
                    break
        return text.rstrip('\r\n') + '\r\n' + ''.join(x + '\r\n' for x in extra)

    def _candidate_send(self, part, pc, our_sdp):
        c = sdp.parse(our_sdp)['candidates'][0]
        self._send(part, type='candidate', pc=pc, mid='0',
                   candidate='candidate:1 1 udp 2130706431 %s %d typ host' % c)
        self._send(part, type='candidate', pc=pc, mid='0', candidate='')

    # -- the driver interface -------------------------------------------------------------

    def join(self, name, publisher):
        try:
            ws = WebSocket('127.0.0.1', PORT, '/ws', 'kumis.v1')
        except (OSError, WebSocketError) as e:
            raise DriverError('kumis: WebSocket: %s' % e)
        part = {'name': name, 'ws': ws, 'queue': []}
        self.parts.append(part)
        self.selector.register(ws, selectors.EVENT_READ, part)
        self._send(part, type='hello', version=1, client='kumis-bench', lang='en')
        self._wait(part, lambda m: m.get('type') == 'welcome', 10, 'welcome')
        msg = {'type': 'join', 'name': name, 'institution': 'kumis bench'}
        if publisher:
            msg['password'] = PASSWORD  # a moderator joins as a speaker (PROTOCOL.md)
        self._send(part, **msg)
        self._wait(part, lambda m: m.get('type') == 'joined', 10, 'joined')
        return part

    def publish(self, part, offer_sdp):
        self._send(part, type='offer', pc='up', sdp=offer_sdp)
        m = self._wait(part, lambda m: m.get('type') == 'answer' and m.get('pc') == 'up', 15,
                       'answer on pc up')
        self._candidate_send(part, 'up', offer_sdp)
        return self._candidates_add(part, 'up', m['sdp'], 15)

    def wait_publishing(self, part, timeout=15):
        pass  # kumis forwards as soon as the up connection is secure; nothing to wait for

    def subscribe(self, part, feeds):
        def has_media(m):
            if m.get('type') != 'offer' or m.get('pc') != 'down':
                return False
            return any(x['port'] != 0 and x['kind'] in ('audio', 'video')
                       for x in sdp.parse(m['sdp'])['media'])
        try:
            m = self._wait(part, has_media, 15, 'offer with media on pc down')
        except DriverError as e:
            if self.down_offers:  # it did offer before: a failure, not a missing feature
                raise
            raise ServerUnavailable('kumis: SFU not available: %s' % e)
        self.down_offers += 1
        # Take the newest such offer if the server renegotiated meanwhile.
        while self._pump(part, 0.01):
            pass
        newer = [x for x in part['queue'] if has_media(x)]
        for x in newer:
            part['queue'].remove(x)
        if newer:
            m = newer[-1]
        return self._candidates_add(part, 'down', m['sdp'], 15)

    def subscribe_answer(self, part, answer_sdp, reanswer=None):
        self._send(part, type='answer', pc='down', sdp=answer_sdp)
        self._candidate_send(part, 'down', answer_sdp)
        part['reanswer'] = reanswer

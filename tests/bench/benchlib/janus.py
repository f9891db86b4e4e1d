"""Driver for Janus 1.1.2's VideoRoom plugin over its HTTP API (long-poll for events)."""

import json
import os
import random
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.request

from .drivers import DriverError, ServerUnavailable

BASE = 'http://127.0.0.1:8088/janus'
ROOM = 1234


def _http(url, body=None, timeout=10):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers={'Content-Type': 'application/json'})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read())


def _tx():
    return '%016x' % random.getrandbits(64)


class JanusDriver:
    name = 'janus'

    def __init__(self, shared_dir, workdir):
        self.config_src = os.path.join(shared_dir, 'peers', 'janus')
        self.workdir = workdir
        self.proc = None
        self.session = None
        self.events = []          # every event received, in order
        self.cond = threading.Condition()
        self.poller = None
        self.stopping = False

    @property
    def pid(self):
        return self.proc.pid

    @staticmethod
    def available(shared_dir):
        if shutil.which('janus') is None:
            return 'janus is not installed (apt-get install janus)'
        if not os.path.isfile(os.path.join(shared_dir, 'peers', 'janus', 'janus.jcfg')):
            return 'Janus configuration not found in %s/peers/janus' % shared_dir
        return None

    def _config_write(self):
        cfg = os.path.join(self.workdir, 'janus-config')
        os.makedirs(cfg, exist_ok=True)
        for f in os.listdir(self.config_src):
            with open(os.path.join(self.config_src, f)) as src:
                text = src.read().replace('CONFIG_DIR', cfg)
            with open(os.path.join(cfg, f), 'w') as dst:
                dst.write(text)
        return cfg

    def start(self):
        why = self.available(os.path.dirname(os.path.dirname(self.config_src)))
        if why:
            raise ServerUnavailable('janus: ' + why)
        # TESTING.md: Janus skips loopback interfaces when gathering; give it a non-loopback
        # interface holding 127.0.0.1 (the config enforces jan0). Traffic still uses lo.
        subprocess.run('ip link add jan0 type ifb 2>/dev/null; ip addr add 127.0.0.1/32 dev jan0 '
                       '2>/dev/null; ip link set jan0 up', shell=True, check=False)
        cfg = self._config_write()
        self.log = open(os.path.join(self.workdir, 'janus.log'), 'w')
        self.proc = subprocess.Popen(['janus', '-C', os.path.join(cfg, 'janus.jcfg'), '-F', cfg],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while True:
            try:
                _http(BASE + '/info', timeout=1)
                break
            except (urllib.error.URLError, OSError, ValueError):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise DriverError('janus did not start (see %s/janus.log)' % self.workdir)
                time.sleep(0.2)
        self.session = self._request(BASE, {'janus': 'create'})['data']['id']
        self.poller = threading.Thread(target=self._poll, daemon=True)
        self.poller.start()

    def stop(self):
        self.stopping = True
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.poller:
            self.poller.join(timeout=35)

    def _request(self, url, body):
        body = dict(body, transaction=_tx())
        ans = _http(url, body)
        if ans.get('janus') == 'error':
            raise DriverError('janus: %s' % ans.get('error', {}).get('reason'))
        return ans

    def _poll(self):
        url = '%s/%d?maxev=50' % (BASE, self.session)
        while not self.stopping:
            try:
                evs = _http(url, timeout=40)
            except Exception:  # noqa: BLE001 — any failure of a long poll: retry or stop
                if self.stopping:
                    return
                time.sleep(0.1)
                continue
            if isinstance(evs, dict):
                evs = [evs]
            with self.cond:
                self.events.extend(e for e in evs if e.get('janus') != 'keepalive')
                self.cond.notify_all()

    def _wait(self, pred, timeout, what):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for e in self.events:
                    if pred(e):
                        self.events.remove(e)
                        return e
                left = deadline - time.monotonic()
                if left <= 0:
                    raise DriverError('janus: no %s within %.0f s' % (what, timeout))
                self.cond.wait(left)

    def _message(self, handle, body, jsep=None, timeout=15):
        """Sends a plugin request; returns its asynchronous event (with any jsep)."""
        tx = _tx()
        req = {'janus': 'message', 'transaction': tx, 'body': body}
        if jsep:
            req['jsep'] = jsep
        ans = _http('%s/%d/%d' % (BASE, self.session, handle), req)
        if ans.get('janus') == 'error':
            raise DriverError('janus: %s' % ans['error'].get('reason'))
        if ans.get('janus') == 'success':
            ev = ans
        else:
            ev = self._wait(lambda e: e.get('transaction') == tx, timeout, body['request'])
        data = ev.get('plugindata', {}).get('data', {})
        if 'error' in data:
            raise DriverError('janus videoroom: %s' % data['error'])
        return ev

    def _attach(self):
        ans = self._request('%s/%d' % (BASE, self.session),
                            {'janus': 'attach', 'plugin': 'janus.plugin.videoroom'})
        return ans['data']['id']

    def join(self, name, publisher):
        return {'name': name, 'pub_handle': None, 'sub_handle': None, 'feed': None}

    def publish(self, part, offer_sdp):
        part['pub_handle'] = self._attach()
        ev = self._message(part['pub_handle'],
                           {'request': 'joinandconfigure', 'room': ROOM, 'ptype': 'publisher',
                            'display': part['name']},
                           {'type': 'offer', 'sdp': offer_sdp, 'trickle': False})
        part['feed'] = ev['plugindata']['data']['id']
        if 'jsep' not in ev:
            raise DriverError('janus: publisher joined without an answer')
        return ev['jsep']['sdp']

    def wait_publishing(self, part, timeout=15):
        h = part['pub_handle']
        self._wait(lambda e: e.get('janus') == 'webrtcup' and e.get('sender') == h, timeout,
                   'webrtcup for ' + part['name'])

    def subscribe(self, part, feeds):
        part['sub_handle'] = self._attach()
        ev = self._message(part['sub_handle'],
                           {'request': 'join', 'room': ROOM, 'ptype': 'subscriber',
                            'streams': [{'feed': f['feed']} for f in feeds]})
        if 'jsep' not in ev:
            raise DriverError('janus: subscriber attached without an offer')
        return ev['jsep']['sdp']

    def service(self):
        pass  # events arrive on the long-poll thread

    def subscribe_answer(self, part, answer_sdp, reanswer=None):
        self._message(part['sub_handle'], {'request': 'start'},
                      {'type': 'answer', 'sdp': answer_sdp, 'trickle': False})

"""Control of kumis-loadgen over its stdin/stdout JSON lines (see loadgen/main.c)."""

import json
import subprocess
import time

from . import sdp


class LoadgenError(Exception):
    pass


class Loadgen:
    def __init__(self, binary, fixtures, log_path):
        self.log = open(log_path, 'w')
        self.proc = subprocess.Popen([binary, '--fixtures', fixtures], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.log, text=True,
                                     bufsize=1)

    def call(self, **req):
        self.proc.stdin.write(json.dumps(req) + '\n')
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise LoadgenError('kumis-loadgen exited (see its log)')
        ans = json.loads(line)
        if not ans.get('ok'):
            raise LoadgenError('kumis-loadgen: %s' % ans.get('error'))
        return ans

    def create(self, pid, kind, t0=None):
        return self.call(cmd='create', id=pid, kind=kind, t0=t0 if t0 else time.monotonic())

    def remote(self, pid, remote_sdp, we_offered, audio_pt, video_pt):
        """Points peer @pid at the server described by @remote_sdp (already parsed).
        ICE role: the offerer controls (RFC 8445 §6.1.1) unless the server is ice-lite.
        DTLS role: the server's a=setup decides (RFC 5763 §5)."""
        if not remote_sdp['candidates']:
            raise sdp.SdpError('server SDP has no UDP IPv4 candidate')
        ip, port = remote_sdp['candidates'][0]
        controlling = we_offered or remote_sdp['ice_lite']
        setup = remote_sdp['setup'] or 'actpass'
        if we_offered:  # we offered actpass: the server's answer chose (RFC 5763 §5)
            dtls_client = setup == 'passive'
        else:  # sdp.subscriber_answer() answers "active" unless the server insisted on it
            dtls_client = setup != 'active'
        return self.call(cmd='remote', id=pid, ufrag=remote_sdp['ufrag'], pwd=remote_sdp['pwd'],
                         ip=ip, port=port, controlling=controlling, dtls_client=dtls_client,
                         audio_pt=audio_pt, video_pt=video_pt)

    def stats(self):
        return self.call(cmd='stats')

    def close(self):
        if self.proc.poll() is None:
            try:
                self.call(cmd='quit')
                self.proc.wait(timeout=5)
            except (LoadgenError, OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        self.log.close()

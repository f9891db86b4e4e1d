"""Minimal SDP for the load generator (RFC 8866, JSEP RFC 8829): parse what a server offers or
answers, write the generator's offer (publisher) or answer (subscriber). Only what the
benchmark needs: one ICE host candidate, BUNDLE, rtcp-mux, Opus and VP8."""

import time


class SdpError(Exception):
    pass


def parse(text):
    """Returns a dict: ufrag, pwd, fingerprint, setup, ice_lite, candidates [(ip, port)],
    media [{kind, port, mid, pts, codecs {name: pt}, direction}]."""
    out = {'ufrag': None, 'pwd': None, 'fingerprint': None, 'setup': None, 'ice_lite': False,
           'candidates': [], 'media': []}
    cur = None
    for raw in text.replace('\r\n', '\n').split('\n'):
        line = raw.strip()
        if line.startswith('m='):
            f = line[2:].split()
            cur = {'kind': f[0], 'port': int(f[1]), 'pts': f[3:], 'codecs': {}, 'mid': None,
                   'direction': 'sendrecv'}
            out['media'].append(cur)
        elif line.startswith('a='):
            key, _, val = line[2:].partition(':')
            if key == 'ice-lite':
                out['ice_lite'] = True
            elif key in ('ice-ufrag', 'ice-pwd', 'fingerprint', 'setup'):
                name = {'ice-ufrag': 'ufrag', 'ice-pwd': 'pwd'}.get(key, key)
                if out[name] is None:
                    out[name] = val.strip()
            elif key == 'candidate':
                c = parse_candidate(val)
                if c and c not in out['candidates']:
                    out['candidates'].append(c)
            elif cur is not None and key == 'mid':
                cur['mid'] = val
            elif cur is not None and key == 'rtpmap':
                pt, _, enc = val.partition(' ')
                cur['codecs'].setdefault(enc.split('/')[0].upper(), int(pt))
            elif cur is not None and key in ('sendrecv', 'sendonly', 'recvonly', 'inactive'):
                cur['direction'] = key
    if not out['ufrag'] or not out['pwd'] or not out['fingerprint']:
        raise SdpError('SDP without ice-ufrag, ice-pwd or fingerprint')
    return out


def parse_candidate(val):
    """'1 1 udp 2130706431 127.0.0.1 20000 typ host' -> ('127.0.0.1', 20000) for UDP IPv4."""
    if val.startswith('candidate:'):
        val = val[len('candidate:'):]
    f = val.split()
    if len(f) < 8 or f[2].lower() != 'udp' or ':' in f[4]:
        return None
    return (f[4], int(f[5]))


def _transport(lines, gen, setup):
    lines += ['a=ice-ufrag:' + gen['ufrag'], 'a=ice-pwd:' + gen['pwd'],
              'a=fingerprint:' + gen['fingerprint'], 'a=setup:' + setup, 'a=rtcp-mux',
              'a=candidate:1 1 udp 2130706431 %s %d typ host' % (gen['ip'], gen['port']),
              'a=end-of-candidates']


def _head(mids):
    return ['v=0', 'o=- %d 2 IN IP4 127.0.0.1' % int(time.time() * 1000), 's=-', 't=0 0',
            'a=group:BUNDLE ' + ' '.join(mids), 'a=msid-semantic: WMS *']


def publisher_offer(gen, audio_pt=111, video_pt=96):
    """Offer of a send-only Opus + VP8 publisher whose ICE/DTLS/SSRCs come from the generator's
    "create" answer @gen."""
    lines = _head(['0', '1'])
    lines += ['m=audio 9 UDP/TLS/RTP/SAVPF %d' % audio_pt, 'c=IN IP4 0.0.0.0', 'a=mid:0',
              'a=sendonly', 'a=msid:bench a0']
    _transport(lines, gen, 'actpass')
    lines += ['a=rtpmap:%d opus/48000/2' % audio_pt, 'a=fmtp:%d minptime=10;useinbandfec=1' % audio_pt,
              'a=ssrc:%d cname:bench' % gen['audio_ssrc']]
    lines += ['m=video 9 UDP/TLS/RTP/SAVPF %d' % video_pt, 'c=IN IP4 0.0.0.0', 'a=mid:1',
              'a=sendonly', 'a=msid:bench v0']
    _transport(lines, gen, 'actpass')
    lines += ['a=rtpmap:%d VP8/90000' % video_pt, 'a=rtcp-fb:%d nack' % video_pt,
              'a=rtcp-fb:%d nack pli' % video_pt, 'a=rtcp-fb:%d ccm fir' % video_pt,
              'a=ssrc:%d cname:bench' % gen['video_ssrc']]
    return '\r\n'.join(lines) + '\r\n'


def subscriber_answer(offer, gen):
    """Answer to a server's offer: every audio/video m-line with Opus/VP8 is accepted
    receive-only, anything else rejected (port 0). Returns (sdp, audio_pt, video_pt)."""
    accepted, body, audio_pt, video_pt = [], [], 0, 0
    for m in offer['media']:
        codec = {'audio': 'OPUS', 'video': 'VP8'}.get(m['kind'])
        pt = m['codecs'].get(codec) if codec else None
        mid = m['mid'] if m['mid'] is not None else str(len(body))
        if pt is None or m['port'] == 0:
            body.append(['m=%s 0 %s' % (m['kind'], 'UDP/DTLS/SCTP webrtc-datachannel'
                                         if m['kind'] == 'application' else
                                         'UDP/TLS/RTP/SAVPF ' + (m['pts'][0] if m['pts'] else '0')),
                         'c=IN IP4 0.0.0.0', 'a=mid:' + mid, 'a=inactive'])
            continue
        if m['kind'] == 'audio':
            audio_pt = audio_pt or pt
        else:
            video_pt = video_pt or pt
        accepted.append(mid)
        lines = ['m=%s 9 UDP/TLS/RTP/SAVPF %d' % (m['kind'], pt), 'c=IN IP4 0.0.0.0',
                 'a=mid:' + mid, 'a=recvonly' if m['direction'] != 'inactive' else 'a=inactive']
        # RFC 5763 §5: the answerer of actpass picks; active makes us the DTLS client.
        _transport(lines, gen, 'passive' if offer['setup'] == 'active' else 'active')
        if m['kind'] == 'audio':
            lines.append('a=rtpmap:%d opus/48000/2' % pt)
        else:
            lines += ['a=rtpmap:%d VP8/90000' % pt, 'a=rtcp-fb:%d nack' % pt,
                      'a=rtcp-fb:%d nack pli' % pt, 'a=rtcp-fb:%d ccm fir' % pt]
        body.append(lines)
    if not accepted:
        raise SdpError('offer has no Opus or VP8 m-line')
    lines = _head(accepted)
    for b in body:
        lines += b
    return '\r\n'.join(lines) + '\r\n', audio_pt, video_pt

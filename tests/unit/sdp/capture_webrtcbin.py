#!/usr/bin/python3
"""Captures GStreamer webrtcbin's send-only offer (VP8 + Opus, max-bundle) for test_sdp, and
checks that webrtcbin accepts kumis's answer to it (test_sdp /sdp/up/external writes it).

Usage, in a private network namespace (see /work/shared/TESTING.md):
  unshare -n sh -c 'ip link set lo up; /usr/bin/python3 tests/unit/sdp/capture_webrtcbin.py \
      tests/unit/sdp build/tests/unit/test_sdp'
webrtcbin as offerer sometimes returns no offer: this retries once."""
import os
import subprocess
import sys
import tempfile

import gi

gi.require_version('Gst', '1.0')
gi.require_version('GstWebRTC', '1.0')
gi.require_version('GstSdp', '1.0')
from gi.repository import GLib, Gst, GstSdp, GstWebRTC  # noqa: E402

PIPELINE = (
    'webrtcbin name=w bundle-policy=max-bundle '
    'videotestsrc is-live=true ! vp8enc deadline=1 ! rtpvp8pay ! '
    'application/x-rtp,media=video,encoding-name=VP8,payload=96,clock-rate=90000 ! w. '
    'audiotestsrc is-live=true ! opusenc ! rtpopuspay ! '
    'application/x-rtp,media=audio,encoding-name=OPUS,payload=111,clock-rate=48000 ! w.')


def kumis_answer(test_sdp, offer_text):
    with tempfile.TemporaryDirectory() as d:
        env = dict(os.environ, KUMIS_SDP_UP_OFFER=os.path.join(d, 'offer.sdp'),
                   KUMIS_SDP_UP_ANSWER=os.path.join(d, 'answer.sdp'))
        with open(env['KUMIS_SDP_UP_OFFER'], 'w') as f:
            f.write(offer_text)
        run = subprocess.run([test_sdp, '-p', '/sdp/up/external'], env=env,
                             capture_output=True, text=True)
        if run.returncode != 0:
            raise RuntimeError('test_sdp failed: ' + run.stdout + run.stderr)
        with open(env['KUMIS_SDP_UP_ANSWER']) as f:
            return f.read()


def attempt(test_sdp):
    pipe = Gst.parse_launch(PIPELINE)
    w = pipe.get_by_name('w')
    loop = GLib.MainLoop()
    result = {}

    def on_answer_set(promise, _):
        reply = promise.get_reply()
        err = reply.get_value('error') if reply and reply.has_field('error') else None
        result['answer_error'] = err.message if err else None
        loop.quit()

    def on_offer(promise, _):
        reply = promise.get_reply()
        offer = reply.get_value('offer') if reply else None
        if offer is None:
            loop.quit()
            return
        result['offer'] = offer.sdp.as_text()
        w.emit('set-local-description', offer, None)
        answer_text = kumis_answer(test_sdp, result['offer'])
        result['answer'] = answer_text
        _, sdp = GstSdp.SDPMessage.new_from_text(answer_text)
        answer = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.ANSWER, sdp)
        w.emit('set-remote-description', answer,
               Gst.Promise.new_with_change_func(on_answer_set, None))

    def negotiate(_):
        for i in range(2):
            w.emit('get-transceiver', i).set_property(
                'direction', GstWebRTC.WebRTCRTPTransceiverDirection.SENDONLY)
        w.emit('create-offer', None, Gst.Promise.new_with_change_func(on_offer, None))

    w.connect('on-negotiation-needed', negotiate)
    pipe.set_state(Gst.State.PLAYING)
    GLib.timeout_add_seconds(15, loop.quit)
    loop.run()
    signaling = w.get_property('signaling-state')
    pipe.set_state(Gst.State.NULL)
    result['signaling'] = signaling.value_nick
    return result


def main():
    out_dir, test_sdp = sys.argv[1], sys.argv[2]
    Gst.init(None)
    result = attempt(test_sdp)
    if 'offer' not in result:
        result = attempt(test_sdp)
    if 'offer' not in result:
        sys.exit('webrtcbin gave no offer twice')
    with open(os.path.join(out_dir, 'webrtcbin-offer.sdp'), 'w') as f:
        f.write(result['offer'])
    if result.get('answer_error') or result['signaling'] != 'stable':
        sys.exit('webrtcbin refused kumis answer: %s (signaling %s)\n%s' % (
            result.get('answer_error'), result['signaling'], result.get('answer')))
    print('webrtcbin-offer.sdp written; webrtcbin accepted the kumis answer (signaling stable)')


if __name__ == '__main__':
    main()

#!/usr/bin/python3
"""A GStreamer webrtcbin peer for kumis's end-to-end tests: an independent WebRTC stack.

Usage: webrtcbin_peer.py publish [--offer-at-once] | subscribe

By default the publisher waits until caps (with the SSRCs) have reached webrtcbin before it
offers, so every m-line announces its a=ssrc; --offer-at-once offers as soon as webrtcbin asks,
as most applications do, and the video m-line then usually has no a=ssrc.

It speaks JSON lines. stdin: the server's signaling messages (offer, answer, candidate; the
others are ignored). stdout: {"send": {...}} for a message to send to the server, and progress
lines: {"event": ...}, {"frames": N, "audio": M} (decoded video frames, decoded audio buffers).
It ends on EOF on stdin or on SIGTERM.

publish:   videotestsrc (ball, 320x240, 30 fps) -> VP8 and audiotestsrc -> Opus, send-only, into
           one max-bundle webrtcbin that offers on the "up" connection.
subscribe: a webrtcbin that answers the server's "down" offers and decodes every stream it gets.
"""

import json
import os
import signal
import sys
import threading

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstSdp", "1.0")
gi.require_version("GstWebRTC", "1.0")
gi.require_version("Nice", "0.1")
from gi.repository import GLib, Gst, GstSdp, GstWebRTC, Nice  # noqa: E402

VIDEO_CAPS = ("application/x-rtp,media=video,encoding-name=VP8,payload=96,clock-rate=90000,"
              "rtcp-fb-nack-pli=(boolean)true")
AUDIO_CAPS = ("application/x-rtp,media=audio,encoding-name=OPUS,payload=111,clock-rate=48000,"
              "encoding-params=(string)2")

PUBLISH = (
    "webrtcbin name=w bundle-policy=max-bundle "
    "videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,framerate=30/1 ! "
    "vp8enc deadline=1 keyframe-max-dist=30 target-bitrate=300000 ! rtpvp8pay pt=96 ! "
    f"{VIDEO_CAPS} ! w. "
    "audiotestsrc is-live=true wave=sine freq=440 ! audioconvert ! audioresample ! "
    f"opusenc ! rtpopuspay pt=111 ! {AUDIO_CAPS} ! w. "
)

_out_lock = threading.Lock()


def emit(obj):
    """Writes one JSON line to stdout (signals arrive on GStreamer's threads)."""
    with _out_lock:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()


def mids_of(sdp_text):
    """Returns the mids of the m-lines of @sdp_text, in order."""
    res, msg = GstSdp.SDPMessage.new_from_text(sdp_text)
    if res != GstSdp.SDPResult.OK:
        return []
    return [msg.get_media(i).get_attribute_val("mid") for i in range(msg.medias_len())]


class Peer:
    def __init__(self, mode, wait_caps=True):
        self.mode = mode
        self.wait_caps = wait_caps
        self.pc = "up" if mode == "publish" else "down"
        self.loop = GLib.MainLoop()
        if mode == "publish":
            self.pipe = Gst.parse_launch(PUBLISH)
            self.w = self.pipe.get_by_name("w")
        else:
            self.pipe = Gst.Pipeline.new("subscriber")
            self.w = Gst.ElementFactory.make("webrtcbin", "w")
            self.w.set_property("bundle-policy", GstWebRTC.WebRTCBundlePolicy.MAX_BUNDLE)
            self.pipe.add(self.w)
        self.local_mids = []
        self.remote_mids = []
        self.offer_attempts = 0
        self.offered = False
        self.frames = 0
        self.audio = 0
        self.reported = (-1, -1)
        self.lock = threading.Lock()
        self.ice = self.w.get_property("ice-agent")
        self.agent = self.ice.get_property("agent")
        # libnice never gathers loopback addresses by itself (TESTING.md); the tests run in a
        # namespace that has only lo. No UPnP discovery either.
        addr = Nice.Address()
        addr.set_from_string("127.0.0.1")
        self.agent.add_local_address(addr)
        self.agent.set_property("upnp", False)
        self.ice.set_property("ice-tcp", False)  # kumis speaks ICE over UDP only
        self.w.connect("on-ice-candidate", self.on_ice_candidate)
        self.w.connect("notify::ice-connection-state", self.on_state, "ice")
        self.w.connect("notify::connection-state", self.on_state, "connection")
        if mode == "publish":
            # One transceiver per linked sink pad, in link order: video, then audio. Fixing
            # their codecs makes the offer independent of caps having flowed yet.
            for i, caps in enumerate((VIDEO_CAPS, AUDIO_CAPS)):
                t = self.w.emit("get-transceiver", i)
                t.set_property("direction", GstWebRTC.WebRTCRTPTransceiverDirection.SENDONLY)
                t.set_property("codec-preferences", Gst.Caps.from_string(caps))
            self.w.connect("on-negotiation-needed", self.on_negotiation_needed)
        else:
            self.w.connect("pad-added", self.on_webrtc_pad)
        bus = self.pipe.get_bus()
        bus.add_signal_watch()
        bus.connect("message::error", self.on_error)

    # ---------------------------------------------------------------- common
    def on_error(self, _bus, msg):
        err, dbg = msg.parse_error()
        emit({"event": "error", "message": err.message, "debug": dbg})

    def on_state(self, w, pspec, what):
        emit({"event": what, "state": w.get_property(pspec.name).value_nick})

    def on_ice_candidate(self, _w, mline, candidate):
        mid = self.local_mids[mline] if mline < len(self.local_mids) else str(mline)
        emit({"send": {"type": "candidate", "pc": self.pc, "candidate": candidate, "mid": mid}})

    def add_remote_candidate(self, msg):
        cand = msg.get("candidate") or ""
        if not cand:
            return  # end of candidates: webrtcbin needs no marker
        mid = msg.get("mid")
        mline = self.remote_mids.index(mid) if mid in self.remote_mids else 0
        self.w.emit("add-ice-candidate", mline, cand)

    def set_description(self, kind, sdp_text, then=None):
        res, sdpmsg = GstSdp.SDPMessage.new_from_text(sdp_text)
        if res != GstSdp.SDPResult.OK:
            emit({"event": "error", "message": f"unparsable {kind}"})
            return
        desc = GstWebRTC.WebRTCSessionDescription.new(
            GstWebRTC.WebRTCSDPType.OFFER if kind == "offer" else GstWebRTC.WebRTCSDPType.ANSWER,
            sdpmsg)
        self.remote_mids = mids_of(sdp_text)
        emit({"event": "remote", "kind": kind, "sdp": sdp_text})

        def done(promise, _data):
            promise.wait()
            reply = promise.get_reply()
            if reply is not None and reply.has_field("error"):
                emit({"event": "error", "message": f"set-remote-description: {reply.get_value('error')}"})
                return
            emit({"event": "remote-set", "kind": kind})
            if then:
                then()

        self.w.emit("set-remote-description", desc, Gst.Promise.new_with_change_func(done, None))

    def set_local(self, desc):
        text = desc.sdp.as_text()
        self.local_mids = mids_of(text)
        # The description goes out before gathering can produce a candidate for it.
        kind = "offer" if desc.type == GstWebRTC.WebRTCSDPType.OFFER else "answer"
        emit({"event": "local", "kind": kind, "sdp": text})
        emit({"send": {"type": kind, "pc": self.pc, "sdp": text}})
        self.w.emit("set-local-description", desc, None)

    # ---------------------------------------------------------------- publish
    def on_negotiation_needed(self, _w):
        if self.offered:
            return
        self.offered = True
        if self.wait_caps:
            self.caps_deadline = GLib.get_monotonic_time() + 5 * 1000000
            GLib.timeout_add(20, self.offer_when_caps)
        else:
            GLib.idle_add(self.create_offer)

    def offer_when_caps(self):
        """Offers once every sink pad of webrtcbin has caps with an SSRC: webrtcbin then puts
        a=ssrc in every m-line. An offer made earlier lacks a=ssrc where caps have not flowed
        yet, and webrtcbin sends no mid header extension either."""
        pads = [p for p in self.w.sinkpads if p.get_name().startswith("sink_")]
        ready = all(p.get_current_caps() is not None and
                    p.get_current_caps().get_structure(0).has_field("ssrc") for p in pads)
        if ready or GLib.get_monotonic_time() > self.caps_deadline:
            emit({"event": "caps", "ready": ready})
            self.create_offer()
            return False
        return True

    def create_offer(self):
        self.offer_attempts += 1
        self.w.emit("create-offer", None, Gst.Promise.new_with_change_func(self.on_offer, None))
        return False

    def on_offer(self, promise, _data):
        promise.wait()
        reply = promise.get_reply()
        offer = reply.get_value("offer") if reply is not None and reply.has_field("offer") else None
        if offer is None:
            # webrtcbin as offerer sometimes yields no offer (TESTING.md): try again.
            emit({"event": "null-offer", "attempt": self.offer_attempts})
            if self.offer_attempts < 4:
                GLib.timeout_add(200, self.create_offer)
            return
        self.set_local(offer)

    # ---------------------------------------------------------------- subscribe
    def on_remote_offer(self, sdp_text):
        self.set_description("offer", sdp_text, then=self.create_answer)

    def create_answer(self, attempt=1):
        def done(promise, _data):
            promise.wait()
            reply = promise.get_reply()
            answer = reply.get_value("answer") if reply is not None and reply.has_field("answer") else None
            if answer is None:
                # Like its offers (TESTING.md), webrtcbin sometimes yields no answer, seen for a
                # re-offer that came right after its previous answer on a busy machine: try again.
                if attempt < 4:
                    emit({"event": "null-answer", "attempt": attempt})
                    GLib.timeout_add(200, lambda: self.create_answer(attempt + 1))
                    return
                emit({"event": "error", "message": "webrtcbin made no answer"})
                return
            self.set_local(answer)

        self.w.emit("create-answer", None, Gst.Promise.new_with_change_func(done, None))
        return False

    def on_webrtc_pad(self, _w, pad):
        if pad.get_direction() != Gst.PadDirection.SRC:
            return
        dec = Gst.ElementFactory.make("decodebin")
        dec.connect("pad-added", self.on_decoded_pad)
        self.pipe.add(dec)
        dec.sync_state_with_parent()
        pad.link(dec.get_static_pad("sink"))
        emit({"event": "stream", "pad": pad.get_name()})

    def on_decoded_pad(self, _dec, pad):
        caps = pad.get_current_caps() or pad.query_caps(None)
        name = caps.get_structure(0).get_name()
        video = name.startswith("video/")
        sink = Gst.ElementFactory.make("fakesink")
        sink.set_property("sync", False)
        sink.set_property("async", False)
        self.pipe.add(sink)
        sink.sync_state_with_parent()
        pad.link(sink.get_static_pad("sink"))
        pad.add_probe(Gst.PadProbeType.BUFFER, self.count, video)
        emit({"event": "decoded", "caps": caps.to_string()})

    def count(self, _pad, _info, video):
        with self.lock:
            if video:
                self.frames += 1
            else:
                self.audio += 1
        return Gst.PadProbeReturn.OK

    def report(self):
        with self.lock:
            now = (self.frames, self.audio)
        if now != self.reported:
            self.reported = now
            emit({"frames": now[0], "audio": now[1]})
        return True

    # ---------------------------------------------------------------- input
    def handle(self, msg):
        t, pc = msg.get("type"), msg.get("pc")
        if pc != self.pc:
            return False
        if t == "answer" and self.mode == "publish":
            self.set_description("answer", msg["sdp"])
        elif t == "offer" and self.mode == "subscribe":
            self.on_remote_offer(msg["sdp"])
        elif t == "candidate":
            self.add_remote_candidate(msg)
        return False

    def read_stdin(self):
        for line in sys.stdin:
            line = line.strip()
            if not line:
                continue
            try:
                msg = json.loads(line)
            except ValueError:
                emit({"event": "error", "message": "bad input line"})
                continue
            GLib.idle_add(self.handle, msg)
        GLib.idle_add(self.stop)

    def stop(self, *_args):
        self.loop.quit()
        return False

    def run(self):
        threading.Thread(target=self.read_stdin, daemon=True).start()
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, self.stop)
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, self.stop)
        if self.mode == "subscribe":
            GLib.timeout_add(250, self.report)
        self.pipe.set_state(Gst.State.PLAYING)
        emit({"event": "ready", "mode": self.mode})
        self.loop.run()
        self.pipe.set_state(Gst.State.NULL)
        if self.mode == "subscribe":
            self.report()
        emit({"event": "stopped"})


def main():
    args = sys.argv[1:]
    if not args or args[0] not in ("publish", "subscribe") or \
            any(a != "--offer-at-once" for a in args[1:]):
        sys.stderr.write("usage: webrtcbin_peer.py publish [--offer-at-once] | subscribe\n")
        return 2
    Gst.init(None)
    Peer(args[0], wait_caps="--offer-at-once" not in args).run()
    sys.stdout.flush()
    # Skip the interpreter's teardown: PyGObject then drops wrappers of the ICE agent after
    # webrtcbin is gone and GLib prints criticals. Everything is stopped already.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())

// kumis web client — the media side: an "up" RTCPeerConnection to publish camera and
// microphone (speakers and moderators), a "down" one to receive everyone who speaks
// (DESIGN §4). Signaling goes through the caller's send(); see signaling/PROTOCOL.md.

const SIMULCAST = [
  { rid: 'q', scaleResolutionDownBy: 4, maxBitrate: 150_000 },
  { rid: 'h', scaleResolutionDownBy: 2, maxBitrate: 700_000 },
  { rid: 'f', maxBitrate: 1_500_000 },
];

// Video the browser holds before showing it. On a lossy link the last packet of a frame is
// missed only when the next frame arrives (33-66 ms later); kumis resends it within a few ms of
// the NACK, but Chromium throws a frame completed after a newer one was shown (framesDropped).
// 150 ms covers one frame interval, the resend and one more retry; the audio waits with the
// video (lip sync), and 150 ms is well inside a conversation's budget.
const VIDEO_BUFFER_MS = 150;

export class MediaSession {
  // send(msg): sends a signaling message; onTrack(streamId, stream), onRemoveStream(streamId)
  constructor(send, { onStream = () => {}, onStreamGone = () => {}, onState = () => {} } = {}) {
    this.send = send;
    this.onStream = onStream;
    this.onStreamGone = onStreamGone;
    this.onState = onState;
    this.up = null;
    this.down = null;
    this.localStream = null;
    this.streams = new Map();
    this.queue = Promise.resolve(); // signaling is applied in arrival order (JSEP)
  }

  makePc(name) {
    const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' });
    pc.onicecandidate = (e) => {
      const c = e.candidate;
      this.send({ type: 'candidate', pc: name, candidate: c ? c.candidate : '', mid: c?.sdpMid ?? undefined });
    };
    pc.onconnectionstatechange = () => this.onState(name, pc.connectionState);
    return pc;
  }

  // Publishes camera and microphone (and optional extra tracks such as a screen share).
  async publish({ video = true, audio = true, simulcast = true, stream = null } = {}) {
    this.localStream = stream || await navigator.mediaDevices.getUserMedia({ video, audio });
    const pc = this.up = this.makePc('up');
    for (const track of this.localStream.getTracks()) {
      const init = { direction: 'sendonly', streams: [this.localStream] };
      if (track.kind === 'video' && simulcast) init.sendEncodings = SIMULCAST;
      pc.addTransceiver(track, init);
    }
    await pc.setLocalDescription(await pc.createOffer());
    this.send({ type: 'offer', pc: 'up', sdp: pc.localDescription.sdp });
    return this.localStream;
  }

  async unpublish() {
    if (this.up) this.up.close();
    this.up = null;
    if (this.localStream) this.localStream.getTracks().forEach((t) => t.stop());
    this.localStream = null;
  }

  ensureDown() {
    if (this.down) return this.down;
    const pc = this.down = this.makePc('down');
    pc.ontrack = (e) => {
      if (e.track.kind === 'video' && 'jitterBufferTarget' in e.receiver) {
        e.receiver.jitterBufferTarget = VIDEO_BUFFER_MS;
      }
      const stream = e.streams[0] || new MediaStream([e.track]);
      if (!this.streams.has(stream.id)) {
        this.streams.set(stream.id, stream);
        this.onStream(stream.id, stream);
      }
      stream.onremovetrack = () => {
        if (stream.getTracks().length === 0) {
          this.streams.delete(stream.id);
          this.onStreamGone(stream.id);
        }
      };
    };
    return pc;
  }

  // Handles offer/answer/candidate messages from the server, one at a time in arrival order
  // (a candidate must not overtake the description it belongs to). Returns a promise of
  // whether the message was a media one.
  handle(msg) {
    if (!['offer', 'answer', 'candidate'].includes(msg.type)) return Promise.resolve(false);
    const run = this.queue.then(() => this.apply(msg));
    this.queue = run.catch((e) => this.onState('error', String(e)));
    return run;
  }

  async apply(msg) {
    if (msg.type === 'answer' && msg.pc === 'up' && this.up) {
      await this.up.setRemoteDescription({ type: 'answer', sdp: msg.sdp });
      return true;
    }
    if (msg.type === 'offer' && msg.pc === 'down') {
      const pc = this.ensureDown();
      await pc.setRemoteDescription({ type: 'offer', sdp: msg.sdp });
      await pc.setLocalDescription(await pc.createAnswer());
      this.send({ type: 'answer', pc: 'down', sdp: pc.localDescription.sdp });
      return true;
    }
    if (msg.type === 'candidate') {
      const pc = msg.pc === 'up' ? this.up : this.down;
      if (!pc) return true;
      if (!msg.candidate) await pc.addIceCandidate(null).catch(() => {});
      else await pc.addIceCandidate({ candidate: msg.candidate, sdpMid: msg.mid ?? '0' });
      return true;
    }
    return false;
  }

  // Asks the server for the low or high simulcast layer ("auto" follows bandwidth).
  setQuality(quality) {
    this.send({ type: 'quality', quality });
  }

  close() {
    this.unpublish();
    if (this.down) this.down.close();
    this.down = null;
  }
}

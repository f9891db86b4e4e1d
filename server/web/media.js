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

// Resolves once @pc's signaling is stable (or closed), or after @ms, whichever comes first.
function settled(pc, ms) {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      pc.removeEventListener('signalingstatechange', check);
      resolve();
    };
    const check = () => { if (pc.signalingState === 'stable' || pc.signalingState === 'closed') done(); };
    const timer = setTimeout(done, ms);
    pc.addEventListener('signalingstatechange', check);
    check();
  });
}

export class MediaSession {
  // send(msg): sends a signaling message; onStream(streamId, stream) for a stream's first track,
  // onTrack(streamId, kind) for every track received, onStreamGone(streamId)
  constructor(send, { onStream = () => {}, onTrack = () => {}, onStreamGone = () => {},
    onState = () => {}, onScreenEnded = () => {} } = {}) {
    this.send = send;
    this.onStream = onStream;
    this.onTrack = onTrack;
    this.onStreamGone = onStreamGone;
    this.onState = onState;
    this.onScreenEnded = onScreenEnded;
    this.up = null;
    this.down = null;
    this.localStream = null;
    this.camera = {}; // kind -> the camera's and microphone's transceivers
    this.screen = null; // the screen share's transceiver
    this.screenStream = null;
    this.upQueue = Promise.resolve(); // up offers, one at a time
    this.upOffers = 0;
    this.upOfferId = null; // the id of the up offer waiting for its answer
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

  // The up connection is made once; turning the camera off and on, and sharing the screen,
  // re-offer on it (signaling/PROTOCOL.md), so the ICE and DTLS session stays.
  ensureUp() {
    if (!this.up) this.up = this.makePc('up');
    return this.up;
  }

  // Offers the up connection as it is now, one negotiation at a time: a new offer waits until
  // the server has answered the last one (or 10 s, if it answered with an error instead).
  negotiateUp() {
    const run = this.upQueue.then(async () => {
      const pc = this.up;
      if (!pc || pc.signalingState === 'closed') return;
      await settled(pc, 10000);
      if (pc.signalingState === 'have-local-offer') await pc.setLocalDescription({ type: 'rollback' });
      await pc.setLocalDescription(await pc.createOffer());
      this.upOfferId = `up-${++this.upOffers}`;
      this.send({ type: 'offer', pc: 'up', sdp: pc.localDescription.sdp, id: this.upOfferId });
    });
    this.upQueue = run.catch((e) => this.onState('error', String(e)));
    return run;
  }

  // Sends @track on @transceiver again (turned back on), or on a new transceiver made by @init.
  async sendTrack(transceiver, track, stream, init) {
    if (transceiver && transceiver.currentDirection !== 'stopped') {
      transceiver.direction = 'sendonly';
      await transceiver.sender.replaceTrack(track);
      transceiver.sender.setStreams?.(stream);
      return transceiver;
    }
    return this.ensureUp().addTransceiver(track, { direction: 'sendonly', streams: [stream], ...init });
  }

  async stopSending(transceiver) {
    if (!transceiver || transceiver.currentDirection === 'stopped') return;
    transceiver.direction = 'inactive';
    await transceiver.sender.replaceTrack(null);
  }

  // Publishes camera and microphone (@stream: tracks of the caller's choosing instead).
  async publish({ video = true, audio = true, simulcast = true, stream = null } = {}) {
    this.localStream = stream || await navigator.mediaDevices.getUserMedia({ video, audio });
    for (const track of this.localStream.getTracks()) {
      const init = track.kind === 'video' && simulcast ? { sendEncodings: SIMULCAST } : {};
      this.camera[track.kind] = await this.sendTrack(this.camera[track.kind], track, this.localStream, init);
    }
    await this.negotiateUp();
    return this.localStream;
  }

  // Camera and microphone off: their m-lines go inactive, a screen share goes on.
  async unpublish() {
    for (const t of Object.values(this.camera)) await this.stopSending(t);
    if (this.localStream) this.localStream.getTracks().forEach((t) => t.stop());
    this.localStream = null;
    if (this.up) await this.negotiateUp();
  }

  // Shares the screen (or the video track of @stream) as a second stream, which others receive
  // as "<participant>-screen". Ends by stopScreen(), or by the browser's own "stop sharing",
  // after which onScreenEnded() is called.
  async shareScreen({ stream = null } = {}) {
    const s = stream || await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
    const track = s.getVideoTracks()[0];
    if (!track) throw new Error('no video track to share');
    if ('contentHint' in track) track.contentHint = 'detail'; // slides: sharp text over smooth motion
    await this.stopScreen({ negotiate: false });
    this.screenStream = s;
    this.screen = await this.sendTrack(this.screen, track, s, {});
    track.addEventListener('ended', () => {
      if (this.screenStream === s) this.stopScreen().then(() => this.onScreenEnded());
    });
    await this.negotiateUp();
    return s;
  }

  async stopScreen({ negotiate = true } = {}) {
    if (!this.screenStream) return;
    await this.stopSending(this.screen);
    this.screenStream.getTracks().forEach((t) => t.stop());
    this.screenStream = null;
    if (negotiate) await this.negotiateUp();
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
      this.onTrack(stream.id, e.track.kind);
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
    if (msg.type === 'error' && msg.id != null && msg.id === this.upOfferId) {
      // The server refused our up offer (e.g. not allowed to speak): back to stable, so that
      // the next change can be offered.
      this.upOfferId = null;
      const pc = this.up;
      const run = this.queue.then(async () => {
        if (pc?.signalingState === 'have-local-offer') await pc.setLocalDescription({ type: 'rollback' });
        return true;
      });
      this.queue = run.catch((e) => this.onState('error', String(e)));
      return run;
    }
    if (!['offer', 'answer', 'candidate'].includes(msg.type)) return Promise.resolve(false);
    const run = this.queue.then(() => this.apply(msg));
    this.queue = run.catch((e) => this.onState('error', String(e)));
    return run;
  }

  async apply(msg) {
    if (msg.type === 'answer' && msg.pc === 'up' && this.up) {
      this.upOfferId = null;
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
    for (const s of [this.localStream, this.screenStream]) s?.getTracks().forEach((t) => t.stop());
    this.localStream = this.screenStream = null;
    if (this.up) this.up.close();
    if (this.down) this.down.close();
    this.up = this.down = null;
  }
}

// End-to-end with an independent WebRTC stack: GStreamer's webrtcbin (webrtcbin_peer.py, one
// Python process per peer) publishes VP8 + Opus to kumisd, and another webrtcbin receives it
// through the SFU. Node does the kumis.v1 signaling and relays offer/answer/candidate as JSON
// lines to and from the peers. No Chromium is involved. Run inside a private network namespace
// (`unshare -n sh -c 'ip link set lo up; KUMISD=... node --test webrtcbin.test.mjs'`).
// KUMIS_E2E_LOG=1 prints kumisd's log, KUMIS_E2E_SDP=1 adds every SDP to failure reports.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { startKumisd, sleep, waitFor } from './kumisd.mjs';

const PASSWORD = 'x';
const PEER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'webrtcbin_peer.py');
const MEDIA = new Set(['offer', 'answer', 'candidate']);

// Like sleep(), but its timer does not keep node alive once everything else has ended.
const grace = (ms) => new Promise((resolve) => setTimeout(resolve, ms).unref());

// A participant's signaling connection: keeps every message, hands media ones to its peer.
class Participant {
  constructor(server, name) {
    this.server = server;
    this.name = name;
    this.messages = [];
    this.peer = null;
    this.backlog = [];
  }

  attach(peer) {
    this.peer = peer;
    for (const msg of this.backlog.splice(0)) peer.deliver(msg);
  }

  async open(password) {
    const ws = this.ws = new WebSocket(this.server.url.replace(/^https/, 'wss') + '/ws', ['kumis.v1'],
      { rejectUnauthorized: false });
    this.closed = new Promise((resolve) => ws.on('close', (code) => resolve(code)));
    ws.on('error', () => {}); // shows up as 'close'
    ws.on('message', (data) => {
      const msg = JSON.parse(data.toString());
      this.messages.push(msg);
      if (!MEDIA.has(msg.type)) return;
      if (this.peer) this.peer.deliver(msg);
      else this.backlog.push(msg); // e.g. the down offer that comes with joining
    });
    await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
    this.send({ type: 'hello', version: 1, client: 'kumis-e2e-webrtcbin/0.1', lang: 'en' });
    await waitFor(() => this.find((m) => m.type === 'welcome'), 5000, `${this.name}: welcome`);
    const join = { type: 'join', name: this.name, institution: 'GStreamer' };
    if (password) join.password = password;
    this.send(join);
    return waitFor(() => this.find((m) => m.type === 'joined'), 5000, `${this.name}: joined`);
  }

  send(msg) {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  find(pred) {
    return this.messages.find(pred);
  }

  mediaState(pc) {
    return this.messages.filter((m) => m.type === 'media-state' && m.pc === pc).map((m) => m.state);
  }

  errors() {
    return this.messages.filter((m) => m.type === 'error');
  }

  async close() {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close();
    await Promise.race([this.closed, grace(3000)]);
  }
}

// One webrtcbin_peer.py process bound to a participant; the pipe to its stdin buffers what
// arrives before the Python side reads.
class GstPeer {
  constructor(mode, participant, args = []) {
    this.mode = mode;
    this.t0 = Date.now();
    this.participant = participant;
    this.events = [];
    this.stats = { frames: 0, audio: 0 };
    this.sdps = [];
    this.stderr = '';
    this.proc = spawn('/usr/bin/python3', [PEER, mode, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.exited = new Promise((resolve) => this.proc.on('exit', (code, sig) => resolve(code ?? sig)));
    this.proc.stdin.on('error', () => {}); // the peer may be gone already at stop()
    this.proc.stderr.on('data', (d) => { this.stderr += d; });
    readline.createInterface({ input: this.proc.stdout }).on('line', (line) => this.onLine(line));
    participant.attach(this);
  }

  onLine(line) {
    let obj;
    try { obj = JSON.parse(line); } catch { this.events.push({ event: 'garbage', line }); return; }
    if (obj.send) this.participant.send(obj.send);
    else if ('frames' in obj) this.stats = obj;
    else this.events.push({ ...obj, sdp: undefined, ms: Date.now() - this.t0 }); // SDPs: KUMIS_E2E_SDP
    if (obj.event === 'local' || obj.event === 'remote') this.sdps.push(obj);
    if (obj.send && obj.send.type !== 'candidate') {
      this.events.push({ event: 'sent', type: obj.send.type, ms: Date.now() - this.t0 });
    }
  }

  deliver(msg) {
    this.proc.stdin.write(JSON.stringify(msg) + '\n');
  }

  has(pred) {
    return this.events.some(pred);
  }

  // Ends the process by its PID: EOF on stdin and SIGTERM, SIGKILL if it hangs.
  async stop() {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return this.exited;
    const kill = (sig) => { try { process.kill(this.proc.pid, sig); } catch { /* gone already */ } };
    this.proc.stdin.end();
    kill('SIGTERM');
    const code = await Promise.race([this.exited, grace(5000).then(() => 'timeout')]);
    if (code === 'timeout') {
      kill('SIGKILL');
      await this.exited;
    }
    return code;
  }

  describe() {
    const sdps = process.env.KUMIS_E2E_SDP ? this.sdps.map((d) => `${d.event} ${d.kind}:\n${d.sdp}`).join('\n') : '';
    return `${this.mode} peer events: ${JSON.stringify(this.events)}\nstats: ${JSON.stringify(this.stats)}\n` +
      `stderr: ${this.stderr.slice(-4000)}\n${sdps}`;
  }
}

// Runs @fn with a fresh kumisd and stops everything it started, by PID, whatever happens:
// the peers (each must exit 0), the WebSockets, then kumisd (must exit 0 on SIGTERM).
async function withKumis(fn) {
  const server = await startKumisd({ forum: { policy: 'open', moderator_password: PASSWORD } });
  const ctx = { server, peers: [], clients: [] };
  ctx.join = async (name, password) => {
    const p = new Participant(server, name);
    ctx.clients.push(p);
    return { p, joined: await p.open(password) };
  };
  ctx.peer = (mode, participant, args) => {
    const peer = new GstPeer(mode, participant, args);
    ctx.peers.push(peer);
    return peer;
  };
  const died = () => server.proc.signalCode ?? server.proc.exitCode;
  ctx.diagnose = (...peers) => peers.map((p) => p.describe()).join('\n') +
    `\nkumisd ${died() === null ? 'still runs' : `DIED (${died()})`}; its log (tail):\n${server.log().slice(-6000)}`;
  // Waits for @fn, giving up at once if kumisd dies; a failure carries what the peers and
  // kumisd said.
  ctx.waitFor = (fn, ms, what, ...peers) =>
    waitFor(() => died() !== null || fn(), ms, what)
      .then(() => { if (died() !== null) throw new Error(`kumisd died (${died()}) while waiting for ${what}`); })
      .catch((e) => { throw new Error(`${e.message}\n${ctx.diagnose(...peers)}`); });
  let failed = true;
  try {
    await fn(ctx);
    failed = false;
  } finally {
    const codes = [];
    for (const peer of ctx.peers) codes.push(await peer.stop());
    for (const c of ctx.clients) await c.close();
    if (process.env.KUMIS_E2E_LOG) console.error(server.log());
    if (failed) {
      await server.kill(); // the test's own error is the one to report
    } else {
      await server.stop(); // asserts exit status 0, with kumisd's output
      assert.deepEqual(codes, ctx.peers.map(() => 0), 'every webrtcbin peer exits 0');
    }
  }
}

// The speaker's webrtcbin offers on the up connection; kumis must answer it without an error
// and report the connection connected. Returns the milliseconds from start to connected.
async function publish(ctx, speaker, args = []) {
  const t0 = Date.now();
  const pub = ctx.peer('publish', speaker, args);
  await ctx.waitFor(() => speaker.find((m) => m.type === 'answer' && m.pc === 'up') ||
    speaker.errors().length || pub.has((e) => e.event === 'error'), 10000, 'the answer to the up offer', pub);
  assert.deepEqual(speaker.errors(), [], `kumis refuses webrtcbin's offer\n${ctx.diagnose(pub)}`);
  await ctx.waitFor(() => speaker.mediaState('up').length > 0, 10000, 'media-state of the up connection', pub);
  assert.deepEqual(speaker.mediaState('up'), ['connected'], `up connection\n${ctx.diagnose(pub)}`);
  assert.ok(pub.has((e) => e.event === 'connection' && e.state === 'connected'),
    'webrtcbin sees its up connection connected too');
  return { pub, upMs: Date.now() - t0 };
}

// The viewer's webrtcbin must decode more than 60 video frames and some audio within 20 s of
// @since, keep decoding (>= 15 frames in the next second of a 30 fps source), and kumis must
// take its answers without an error.
async function expectMedia(ctx, viewer, sub, since, ...others) {
  await ctx.waitFor(() => sub.stats.frames > 60 && sub.stats.audio > 0, 20000 - (Date.now() - since),
    'the webrtcbin viewer decoding > 60 video frames and audio', sub, ...others);
  const mediaMs = Date.now() - since;
  assert.deepEqual(viewer.errors(), [], `kumis refuses webrtcbin's answer\n${ctx.diagnose(sub)}`);
  assert.ok(viewer.mediaState('down').includes('connected'), 'kumis reports the down connection connected');
  assert.ok(sub.has((e) => e.event === 'decoded' && e.caps.startsWith('video/x-raw')), 'decoded video');
  assert.ok(sub.has((e) => e.event === 'decoded' && e.caps.startsWith('audio/x-raw')), 'decoded audio');
  const before = { ...sub.stats };
  await sleep(1000);
  assert.ok(sub.stats.frames - before.frames >= 15, `${sub.stats.frames - before.frames} frames decoded in 1 s`);
  assert.ok(sub.stats.audio > before.audio, 'audio keeps coming');
  return mediaMs;
}

test('webrtcbin publishes VP8 + Opus; another webrtcbin decodes it through kumis', () => withKumis(async (ctx) => {
  const { p: speaker, joined } = await ctx.join('Penerbit GStreamer', PASSWORD);
  assert.equal(joined.participant.role, 'moderator');
  assert.equal(joined.participant.state, 'speaker', 'the moderator may publish');
  const { pub, upMs } = await publish(ctx, speaker);

  const { p: viewer, joined: seen } = await ctx.join('Penonton GStreamer');
  assert.equal(seen.participant.role, 'attendee');
  const t1 = Date.now();
  const sub = ctx.peer('subscribe', viewer);
  const mediaMs = await expectMedia(ctx, viewer, sub, t1, pub);
  const at = (pred) => pub.events.find(pred)?.ms;
  console.log(`# up connected after ${upMs} ms (webrtcbin ready ${at((e) => e.event === 'ready')} ms, ` +
    `offer sent ${at((e) => e.event === 'sent')} ms, connected ${at((e) => e.state === 'connected')} ms); ` +
    `> 60 frames decoded ${mediaMs} ms after the viewer started`);
}));

test('a webrtcbin viewer there before the speaker gets the tracks by re-offers', () => withKumis(async (ctx) => {
  const { p: viewer } = await ctx.join('Penonton GStreamer');
  const sub = ctx.peer('subscribe', viewer);
  const { p: speaker } = await ctx.join('Penerbit GStreamer', PASSWORD);
  const t0 = Date.now();
  const { pub } = await publish(ctx, speaker);
  const mediaMs = await expectMedia(ctx, viewer, sub, t0, pub);
  const offers = viewer.messages.filter((m) => m.type === 'offer' && m.pc === 'down').length;
  console.log(`# ${offers} down offer(s); > 60 frames decoded ${mediaMs} ms after the speaker started`);
}));

// Most webrtcbin applications offer from on-negotiation-needed at once; caps have then not yet
// reached webrtcbin, so the video m-line has no a=ssrc, and webrtcbin 1.22 sends no mid header
// extension. kumis must then tell the streams apart by payload type (RFC 8843 §9.2).
test('webrtcbin offering before its caps flow (no a=ssrc on video, no mid extension)', () => withKumis(async (ctx) => {
  const { p: speaker } = await ctx.join('Penerbit GStreamer', PASSWORD);
  const { pub } = await publish(ctx, speaker, ['--offer-at-once']);
  const { p: viewer } = await ctx.join('Penonton GStreamer');
  const t1 = Date.now();
  const sub = ctx.peer('subscribe', viewer);
  await expectMedia(ctx, viewer, sub, t1, pub);
}));

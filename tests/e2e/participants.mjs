// Shared by the media e2e tests: a participant is a Chromium page that runs the web client's
// media.js against kumisd, with what the tests need to look at exposed on window.kt.
import assert from 'node:assert/strict';
import { before, after } from 'node:test';
import { startKumisd, waitFor } from './kumisd.mjs';
import { launchBrowser } from './browser.mjs';

export const PASSWORD = 'rahasia-moderator';

// The hooks every media test file starts with: before its tests, a kumisd whose forum lets
// everyone in and makes moderators of those who give PASSWORD, and one headless Chromium that
// plays media without a gesture; after them, @cleanup (undoing the test's network rules, say),
// then both stopped, kumisd checked to exit 0. Returns { server, browser }, filled by before().
export function forumWithBrowser({ cleanup = () => {} } = {}) {
  const forum = { server: null, browser: null };
  before(async () => {
    forum.server = await startKumisd({ forum: { policy: 'open', moderator_password: PASSWORD } });
    forum.browser = await launchBrowser({ autoplay: true });
  });
  after(async () => {
    cleanup();
    await forum.browser?.close();
    if (process.env.KUMIS_E2E_LOG) console.error(forum.server?.log());
    if (forum.server) assert.equal(await forum.server.stop(), 0, 'kumisd exits 0 on SIGTERM');
  });
  return forum;
}

// Opens a page for one person, connects, says hello and joins (as moderator with @password).
export async function person(browser, server, name, password) {
  const page = await browser.newPage();
  await page.goto(server.url + '/');
  await page.evaluate(async ({ name, password }) => {
    const { MediaSession } = await import('/media.js');
    const ws = new WebSocket(`wss://${location.host}/ws`, 'kumis.v1');
    window.kt = { messages: [], errors: [], ws };
    await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject; });
    ws.onclose = (e) => { window.kt.closed = { code: e.code, reason: e.reason }; };
    const send = (m) => ws.send(JSON.stringify(m));
    window.kt.send = send;
    window.kt.ms = new MediaSession(send, {
      onStream: (id, stream) => {
        const v = document.createElement('video');
        v.autoplay = true;
        v.srcObject = stream;
        document.body.appendChild(v);
        v.play().catch(() => {});
      },
    });
    ws.onmessage = (e) => {
      const m = JSON.parse(e.data);
      window.kt.messages.push(m);
      if (m.type === 'error') window.kt.errors.push(m);
      window.kt.ms.handle(m);
    };
    send({ type: 'hello', version: 1 });
    send({ type: 'join', name, institution: 'Lembaga Administrasi Negara', password });
  }, { name, password });
  await waitFor(() => page.evaluate(() => window.kt.messages.some((m) => m.type === 'joined')),
    10000, `${name} joined`);
  return page;
}

// The inbound-rtp entries of a page's down connection (frames: framesDecoded; dropped:
// framesDropped, frames complete but discarded before decoding, e.g. too late; lost: packets
// lost for good, retransmissions counted; headerBytes: RTP header and padding bytes).
export async function inbound(page) {
  return page.evaluate(async () => {
    const pc = window.kt.ms.down;
    if (!pc) return [];
    const out = [];
    (await pc.getStats()).forEach((s) => {
      if (s.type === 'inbound-rtp') {
        out.push({ kind: s.kind, mid: s.mid, frames: s.framesDecoded ?? 0, width: s.frameWidth ?? 0,
          samples: s.totalSamplesReceived ?? 0, level: s.audioLevel ?? 0,
          packets: s.packetsReceived, headerBytes: s.headerBytesReceived ?? 0,
          nacks: s.nackCount ?? 0, lost: s.packetsLost ?? 0,
          dropped: s.framesDropped ?? 0, keyframes: s.keyFramesDecoded ?? 0, plis: s.pliCount ?? 0,
          freezes: s.freezeCount ?? 0, freezeS: s.totalFreezesDuration ?? 0,
          rtx: s.retransmittedPacketsReceived ?? 0 });
      }
    });
    return out;
  });
}

// What a publishing page's video sender produced, one entry per simulcast layer in the order
// it published them (the order of a=simulcast, which is kumis's layer index):
// [{rid, frames: framesSent, encoded: framesEncoded, keyframes, width, limit}].
export async function outboundVideo(page) {
  return page.evaluate(async () => {
    const pc = window.kt.ms.up;
    const sender = pc?.getSenders().find((s) => s.track?.kind === 'video');
    if (!sender) return [];
    const byRid = new Map();
    (await pc.getStats()).forEach((s) => {
      if (s.type === 'outbound-rtp' && s.kind === 'video') byRid.set(s.rid ?? '', s);
    });
    return sender.getParameters().encodings.map((e) => {
      const s = byRid.get(e.rid ?? '') || {};
      return { rid: e.rid ?? '', frames: s.framesSent ?? 0, encoded: s.framesEncoded ?? 0,
        keyframes: s.keyFramesEncoded ?? 0, width: s.frameWidth ?? 0,
        limit: s.qualityLimitationReason ?? '' };
    });
  });
}

export const videoOf = (list) => list.filter((s) => s.kind === 'video');
export const audioOf = (list) => list.filter((s) => s.kind === 'audio');

// The UDP port of the page's end of its down (or up) connection's selected candidate pair.
export async function selectedLocalPort(page, pc = 'down') {
  return page.evaluate(async (pc) => {
    const stats = await window.kt.ms[pc].getStats();
    let pairId = null;
    stats.forEach((s) => { if (s.type === 'transport') pairId = s.selectedCandidatePairId; });
    const pair = stats.get(pairId);
    return stats.get(pair.localCandidateId).port;
  }, pc);
}

// The server's counters for this participant (the "stats" message). Fails after 5 s saying
// what came instead and how the WebSocket is.
export async function serverStats(page) {
  return page.evaluate(async () => {
    const n = window.kt.messages.length;
    const id = `s${n}`;
    const t0 = Date.now();
    window.kt.send({ type: 'stats', id });
    while (Date.now() - t0 < 5000) {
      const m = window.kt.messages.slice(n).find((x) => x.type === 'stats' || (x.type === 'error' && x.id === id));
      if (m?.type === 'stats') return m.media;
      if (m) throw new Error(`stats answered by ${JSON.stringify(m)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const ws = window.kt.closed ? `closed by the server: ${JSON.stringify(window.kt.closed)}`
      : `WebSocket readyState ${window.kt.ws.readyState}`;
    throw new Error(`no stats answer in 5 s (${ws}; ` +
      `since then: ${JSON.stringify(window.kt.messages.slice(n).map((x) => x.type))})`);
  });
}

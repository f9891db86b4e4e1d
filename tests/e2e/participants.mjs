// Shared by the media e2e tests: a participant is a Chromium page that runs the web client's
// media.js against kumisd, with what the tests need to look at exposed on window.kt.
import { waitFor } from './harness.mjs';

// Opens a page for one person, connects, says hello and joins (as moderator with @password).
export async function person(browser, server, name, password) {
  const page = await browser.newPage();
  await page.goto(server.url + '/');
  await page.evaluate(async ({ name, password }) => {
    const { MediaSession } = await import('/media.js');
    const ws = new WebSocket(`wss://${location.host}/ws`, 'kumis.v1');
    window.kt = { messages: [], errors: [] };
    await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject; });
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

// The inbound-rtp entries of a page's down connection.
export async function inbound(page) {
  return page.evaluate(async () => {
    const pc = window.kt.ms.down;
    if (!pc) return [];
    const out = [];
    (await pc.getStats()).forEach((s) => {
      if (s.type === 'inbound-rtp') {
        out.push({ kind: s.kind, mid: s.mid, frames: s.framesDecoded ?? 0, width: s.frameWidth ?? 0,
          samples: s.totalSamplesReceived ?? 0, level: s.audioLevel ?? 0,
          packets: s.packetsReceived, nacks: s.nackCount ?? 0 });
      }
    });
    return out;
  });
}

export const videoOf = (list) => list.filter((s) => s.kind === 'video');
export const audioOf = (list) => list.filter((s) => s.kind === 'audio');

// The UDP port of the page's end of its down connection's selected candidate pair.
export async function selectedLocalPort(page) {
  return page.evaluate(async () => {
    const stats = await window.kt.ms.down.getStats();
    let pairId = null;
    stats.forEach((s) => { if (s.type === 'transport') pairId = s.selectedCandidatePairId; });
    const pair = stats.get(pairId);
    return stats.get(pair.localCandidateId).port;
  });
}

// The server's counters for this participant (the "stats" message).
export async function serverStats(page) {
  return page.evaluate(async () => {
    const n = window.kt.messages.length;
    window.kt.send({ type: 'stats', id: `s${n}` });
    for (let i = 0; i < 100; i++) {
      const m = window.kt.messages.slice(n).find((x) => x.type === 'stats');
      if (m) return m.media;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('no stats answer');
  });
}

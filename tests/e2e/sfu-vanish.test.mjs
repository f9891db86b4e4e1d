// End-to-end: a speaker's browser vanishes from the network without a goodbye, and kumis must
// notice it by consent freshness (RFC 7675: consent expires 30 s after the last proof that the
// peer still wants our packets), end its session and tell everyone concerned.
//
// Two speakers (moderator password, camera + microphone) and an attendee decoding both, in one
// Chromium. Then nftables drops every UDP packet to and from the vanishing speaker's local ICE
// ports, on its up connection and on its down connection (it receives the other speaker): no
// DTLS close_notify, no RTCP, no STUN gets through either way. Its WebSocket (TCP) stays open
// and its page stays loaded: only its media vanishes. Within 30 s of consent plus a margin
// (<= 45 s from the drop) kumis must
//   - tell the attendee `participant-left` for that speaker and send it a new down offer
//     without the speaker's tracks (its m-lines inactive), so that the attendee's stream of the
//     speaker loses its tracks (what the web client then takes off the screen);
//   - send the vanished speaker `media-state` failed and close its WebSocket with 4000 "media
//     connection failed" (signaling/PROTOCOL.md, Closing);
// while the other speaker, whose network is untouched, keeps its session and keeps reaching the
// attendee. The seconds from the drop to each of these are printed.
//
// That the test can fail: with `nft` replaced by a no-op earlier in PATH (no packet dropped),
// the attendee is not told within the 45 s and the test fails on that wait.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { sleep, waitFor } from './kumisd.mjs';
import { PASSWORD, forumWithBrowser, person, inbound, videoOf } from './participants.mjs';

const TABLE = 'kumis_vanish';
const CONSENT_S = 30; // RFC 7675 §5.1
const LIMIT_S = CONSENT_S + 15; // the margin: kumis checks once a second, the machine is shared
const sh = (cmd, args) => execFileSync(cmd, args, { stdio: 'pipe' }).toString();

const forum = forumWithBrowser({
  cleanup: () => { try { sh('nft', ['delete', 'table', 'inet', TABLE]); } catch { /* not there */ } },
});

// Stamps every message a page receives (receivedAt) and the close of its WebSocket (closed.at)
// with the page's Date.now(): the same clock as node's on this machine.
async function stamp(page) {
  await page.evaluate(() => {
    const { ws } = window.kt;
    const onmessage = ws.onmessage;
    ws.onmessage = (e) => {
      const n = window.kt.messages.length;
      onmessage(e);
      for (const m of window.kt.messages.slice(n)) m.receivedAt = Date.now();
    };
    const onclose = ws.onclose;
    ws.onclose = (e) => {
      onclose(e);
      window.kt.closed.at = Date.now();
    };
  });
}

const idOf = (page) => page.evaluate(() => window.kt.messages.find((m) => m.type === 'joined').participant.id);

// The page's UDP ports for each of its connections (participants.mjs's selectedLocalPort looks
// at the down connection only): {up: {selected, state, all}, down: ...}, `all` being every
// local UDP candidate's port (the selected one among them), null for a connection it has not.
async function localUdpPorts(page) {
  return page.evaluate(async () => {
    const out = {};
    for (const name of ['up', 'down']) {
      const pc = window.kt.ms[name];
      if (!pc) {
        out[name] = null;
        continue;
      }
      const stats = await pc.getStats();
      let pairId = null;
      const all = new Set();
      stats.forEach((s) => {
        if (s.type === 'transport') pairId = s.selectedCandidatePairId;
        if (s.type === 'local-candidate' && s.protocol === 'udp') all.add(s.port);
      });
      const pair = pairId ? stats.get(pairId) : null;
      const selected = pair ? stats.get(pair.localCandidateId)?.port : undefined;
      out[name] = { selected, state: pc.connectionState, all: [...all] };
    }
    return out;
  });
}

// Drops every UDP packet from or to @ports (both directions cross the input hook on lo).
function dropUdp(ports) {
  const set = `{ ${ports.join(', ')} }`;
  sh('nft', ['add', 'table', 'inet', TABLE]);
  sh('nft', ['add', 'chain', 'inet', TABLE, 'in', '{ type filter hook input priority 0; }']);
  sh('nft', ['add', 'rule', 'inet', TABLE, 'in', 'udp', 'sport', set, 'counter', 'drop']);
  sh('nft', ['add', 'rule', 'inet', TABLE, 'in', 'udp', 'dport', set, 'counter', 'drop']);
}

// Packets the two rules dropped: {fromSpeaker, toSpeaker}.
function dropped() {
  const text = sh('nft', ['list', 'table', 'inet', TABLE]);
  const count = (dir) => Number(text.match(new RegExp(`udp ${dir} .*counter packets (\\d+)`))?.[1] ?? NaN);
  return { fromSpeaker: count('sport'), toSpeaker: count('dport') };
}

// What the attendee's page shows of @id's stream (the web client puts one <video> a stream,
// whose id is the participant's, and takes it off when the stream has no track left).
function streamOf(page, id) {
  return page.evaluate((id) => {
    const v = [...document.querySelectorAll('video')].find((x) => x.srcObject?.id === id);
    if (!v) return null;
    return { tracks: v.srcObject.getTracks().map((t) => t.kind).sort().join('+'), width: v.videoWidth };
  }, id);
}

const seconds = (ms) => (ms / 1000).toFixed(1);

// The three pages share one Chromium: when kumisd spoke HTTP/2, their WebSockets were streams of
// one TCP connection and closing the vanished speaker's session sometimes (2-5 of 16 runs) ended
// the others' too (1006); kumisd now offers only http/1.1 (signaling/ws_server.c). The test
// reports every page's close code and kumisd's log if that comes back.
test(`a speaker whose media vanishes is cleaned up within ${CONSENT_S} s of consent (<= ${LIMIT_S} s) and everyone is told`, async (t) => {
  const speaker = await person(forum.browser, forum.server, 'Pembicara Hilang', PASSWORD);
  const other = await person(forum.browser, forum.server, 'Pembicara Tetap', PASSWORD);
  const attendee = await person(forum.browser, forum.server, 'Peserta');
  for (const p of [speaker, other, attendee]) await stamp(p);
  let t0 = null; // the drop
  const crashes = [];
  for (const [name, p] of [['speaker', speaker], ['other speaker', other], ['attendee', attendee]]) {
    p.on('crash', () => crashes.push(`${name}'s page crashed at ${seconds(Date.now() - (t0 ?? Date.now()))} s`));
  }
  const [speakerId, otherId] = [await idOf(speaker), await idOf(other)];
  await speaker.evaluate(() => window.kt.ms.publish());
  await other.evaluate(() => window.kt.ms.publish());

  // Everyone connected: the attendee decodes both, the speaker decodes the other speaker (so it
  // has a down connection as well as its up one).
  await waitFor(async () => videoOf(await inbound(attendee)).filter((s) => s.frames > 10).length >= 2, 30000,
    'the attendee decoding both speakers');
  await waitFor(async () => videoOf(await inbound(speaker)).some((s) => s.frames > 10), 30000,
    'the vanishing speaker decoding the other one');
  await waitFor(async () => (await streamOf(attendee, speakerId))?.width > 0, 10000,
    'the attendee\'s picture of the speaker');
  assert.equal((await streamOf(attendee, speakerId)).tracks, 'audio+video', 'the attendee plays the speaker\'s audio and video');

  const ports = await localUdpPorts(speaker);
  assert.ok(ports.up?.selected > 0, `the speaker's up connection has a selected pair: ${JSON.stringify(ports)}`);
  assert.ok(ports.down?.selected > 0, `the speaker's down connection has a selected pair: ${JSON.stringify(ports)}`);
  const drop = [...new Set([...ports.up.all, ...ports.down.all])].sort((a, b) => a - b);
  const offersBefore = await attendee.evaluate(() => window.kt.messages.filter((m) => m.type === 'offer').length);
  // When the attendee's stream of the speaker is left without tracks (removetrack).
  await attendee.evaluate((id) => {
    const stream = [...document.querySelectorAll('video')].find((x) => x.srcObject?.id === id).srcObject;
    stream.addEventListener('removetrack', () => {
      if (stream.getTracks().length === 0) window.kt.emptyAt = Date.now();
    });
  }, speakerId);

  t0 = Date.now();
  dropUdp(drop);
  t.diagnostic(`${new Date(t0).toISOString()}: dropping all UDP from and to the speaker's ports ${drop.join(', ')} ` +
    `(selected: up ${ports.up.selected}, down ${ports.down.selected})`);

  // The attendee is told the speaker left.
  const closedOf = (p) => p.evaluate(() => window.kt.closed).catch((e) => e.message);
  const state = async () => JSON.stringify({
    crashes,
    closed: { speaker: await closedOf(speaker), other: await closedOf(other), attendee: await closedOf(attendee) },
    speaker: await speaker.evaluate(() => ({ closed: window.kt.closed,
      media: window.kt.messages.filter((m) => m.type === 'media-state') })),
    attendeeLast8: await attendee.evaluate((n) => window.kt.messages.filter((m) => m.type !== 'candidate')
      .slice(-n).map((m) => `${m.type}${m.participant ? ` ${JSON.stringify(m.participant)}` : ''}`), 8),
    dropped: (() => { try { return dropped(); } catch (e) { return String(e.message); } })(),
  });
  let left;
  try {
    left = await waitFor(() => attendee.evaluate((id) => window.kt.messages
      .find((m) => m.type === 'participant-left' && m.participant === id), speakerId),
    t0 + LIMIT_S * 1000 - Date.now(), `participant-left ${speakerId} at the attendee`);
  } catch (e) {
    throw new Error(`${e.message}\n${(Date.now() - t0) / 1000} s after the drop the attendee has not been told ` +
      `that ${speakerId} left\n${await state()}\nkumisd (tail):\n${forum.server.log().slice(-2000)}`, { cause: e });
  }
  const leftS = (left.receivedAt - t0) / 1000;

  // ... its down connection is renegotiated until no m-line carries the speaker's tracks (kumis
  // removes them one offer at a time: JSEP allows one offer in flight) ...
  const offersSince = () => attendee.evaluate((n) => window.kt.messages.filter((m) => m.type === 'offer').slice(n), offersBefore);
  const summary = (offers) => offers.map((o) => `${seconds(o.receivedAt - t0)} s: ` + o.sdp.split(/\r?\nm=/).slice(1)
    .map((m) => `${m.split(' ')[0]} mid ${m.match(/^a=mid:(\S+)/m)?.[1]} ${m.match(/^a=(sendonly|inactive|recvonly|sendrecv)/m)?.[1]}` +
      ` ${m.match(/^a=msid:(\S+)/m)?.[1] ?? '-'}`).join(', ')).join('\n');
  let offer;
  try {
    offer = await waitFor(async () => {
      const closed = await attendee.evaluate(() => window.kt.closed);
      // Seen: kumisd dropping the attendee's and the other speaker's WebSockets (1006) right
      // after the vanished speaker's session ended, when its up and down failed together.
      if (closed) {
        throw new Error(`the attendee's own WebSocket was closed (${JSON.stringify(closed)}) ` +
          `${closed.at - left.receivedAt} ms after participant-left ${speakerId}`);
      }
      return (await offersSince()).find((m) => m.receivedAt >= left.receivedAt && !m.sdp.includes(`msid:${speakerId} `));
    }, 10000, 'a down offer without the speaker\'s tracks at the attendee');
  } catch (e) {
    throw new Error(`${e.message}\nthe attendee's down offers since the drop:\n${summary(await offersSince())}\n` +
      `${await state()}\nkumisd (tail):\n${forum.server.log().slice(-2000)}`, { cause: e });
  }
  t.diagnostic(`the attendee's down offers since the drop (participant-left ${speakerId} at ${seconds(left.receivedAt - t0)} s):\n` +
    summary(await offersSince()));
  assert.ok(offer.sdp.includes(`msid:${otherId} `), 'the new down offer still carries the other speaker');
  assert.equal((offer.sdp.match(/^a=inactive/gm) || []).length, 2, 'the speaker\'s two m-lines are inactive');

  // ... and what the attendee plays of the speaker loses its tracks (the client drops the video).
  const emptyAt = await waitFor(() => attendee.evaluate(() => window.kt.emptyAt), 10000,
    'the speaker\'s stream at the attendee losing its tracks');
  assert.equal((await streamOf(attendee, speakerId)).tracks, '', 'nothing of the speaker is played');
  const goneS = (emptyAt - t0) / 1000;

  // The vanished speaker is told its media failed and its session is closed with 4000.
  const closed = await waitFor(() => speaker.evaluate(() => window.kt.closed), 10000, 'the speaker\'s WebSocket closed');
  assert.equal(closed.code, 4000, `the speaker's session is closed with 4000: ${JSON.stringify(closed)}`);
  assert.equal(closed.reason, 'media connection failed');
  const failed = await speaker.evaluate(() => window.kt.messages.filter((m) => m.type === 'media-state' && m.state === 'failed'));
  assert.ok(failed.length >= 1, 'the speaker is sent media-state failed before the close');
  const closedS = (closed.at - t0) / 1000;

  const drops = dropped();
  const figures = [
    `drop -> speaker sent media-state failed (${failed.map((m) => m.pc).join(', ')}): ` +
      `${seconds(failed[0].receivedAt - t0)} s; WebSocket closed ${closed.code} "${closed.reason}": ${closedS.toFixed(1)} s`,
    `drop -> attendee told participant-left ${speakerId}: ${leftS.toFixed(1)} s; new down offer: ` +
      `${seconds(offer.receivedAt - t0)} s; the speaker's stream at the attendee empty: ${goneS.toFixed(1)} s`,
    `packets dropped: ${drops.fromSpeaker} from the speaker, ${drops.toSpeaker} to it`,
  ].join('\n');
  t.diagnostic(figures);
  assert.ok(leftS <= LIMIT_S, `the attendee is told within ${LIMIT_S} s of the drop (${leftS.toFixed(1)} s)\n${figures}`);
  assert.ok(closedS <= LIMIT_S, `the speaker's session ends within ${LIMIT_S} s (${closedS.toFixed(1)} s)\n${figures}`);
  assert.ok(drops.fromSpeaker > 0 && drops.toSpeaker > 0, `the rules dropped packets both ways\n${figures}`);

  // The other speaker, whose network was untouched, stays and keeps reaching the attendee.
  assert.equal(await other.evaluate(() => window.kt.closed), undefined, 'the other speaker\'s session stays open');
  assert.ok(!(await other.evaluate(() => window.kt.messages.some((m) => m.type === 'media-state' && m.state === 'failed'))),
    'the other speaker\'s media did not fail');
  assert.ok(!(await attendee.evaluate((id) => window.kt.messages.some((m) => m.type === 'participant-left' && m.participant === id), otherId)),
    'nobody told the attendee the other speaker left');
  const otherMid = offer.sdp.split(/\r?\nm=/).find((m) => m.startsWith('video') && m.includes(`msid:${otherId} `))
    ?.match(/^a=mid:(\S+)/m)?.[1];
  assert.ok(otherMid, 'the other speaker\'s video m-line in the down offer');
  const otherFrames = async () => {
    const s = await streamOf(attendee, otherId);
    assert.equal(s?.tracks, 'audio+video', 'the attendee still plays the other speaker');
    return videoOf(await inbound(attendee)).find((x) => x.mid === otherMid).frames;
  };
  const f0 = await otherFrames();
  await sleep(2000);
  const f1 = await otherFrames();
  assert.ok(f1 > f0 + 10, `the attendee keeps decoding the other speaker (${f1 - f0} frames in 2 s)`);
});

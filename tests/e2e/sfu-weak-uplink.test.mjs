// End-to-end: a speaker on a weak uplink. The UDP packets the speaker's browser sends to kumis
// (its up connection) are capped at 500 kbit/s (tc htb + tbf on lo, inside the test's private
// network namespace), while it publishes 720p simulcast (~2.5 Mbit/s).
//
// What must happen: the browser learns from kumis's transport-wide congestion feedback
// (arrival times: a queue building) and receiver reports (RFC 3550 §6.4.1: loss per stream)
// that its uplink is full, lowers its bandwidth estimate and sends what fits; the attendee
// keeps decoding. That the test can fail: kumis before 2026-12-06 sent neither (receiver
// reports without report blocks), the browser kept pushing 4-6 Mbit/s into the cap and the
// test failed; with report blocks alone it came down to the cap after 10-20 s but stayed at
// 5-10 % loss, and the attendee decoded 0-24 frames in 4 s.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { sleep, waitFor } from './kumisd.mjs';
import { PASSWORD, forumWithBrowser, person, inbound, videoOf, selectedLocalPort, outboundVideo, serverStats } from './participants.mjs';

const CAP_KBIT = 500;
const sh = (cmd, args) => execFileSync(cmd, args, { stdio: 'pipe' }).toString();
const forum = forumWithBrowser({
  cleanup: () => { try { sh('tc', ['qdisc', 'del', 'dev', 'lo', 'root']); } catch { /* not there */ } },
});

// This kernel has no prio qdisc: HTB with a capped class for the speaker's port, the rest
// unshaped, and tbf in the class for a bounded queue (TESTING.md).
function capFrom(port) {
  sh('tc', ['qdisc', 'add', 'dev', 'lo', 'root', 'handle', '1:', 'htb', 'default', '10']);
  sh('tc', ['class', 'add', 'dev', 'lo', 'parent', '1:', 'classid', '1:10', 'htb', 'rate', '10gbit']);
  sh('tc', ['class', 'add', 'dev', 'lo', 'parent', '1:', 'classid', '1:20', 'htb', 'rate',
    `${CAP_KBIT}kbit`, 'ceil', `${CAP_KBIT}kbit`]);
  sh('tc', ['qdisc', 'add', 'dev', 'lo', 'parent', '1:20', 'handle', '20:', 'tbf', 'rate',
    `${CAP_KBIT}kbit`, 'burst', '32kbit', 'latency', '400ms']);
  sh('tc', ['filter', 'add', 'dev', 'lo', 'parent', '1:', 'protocol', 'ip', 'prio', '1', 'u32',
    'match', 'ip', 'sport', String(port), '0xffff', 'flowid', '1:20']);
}

// What the speaker's up connection sends: payload bytes of all its RTP streams, and the
// browser's own estimate of what it may send.
function sending(page) {
  return page.evaluate(async () => {
    let bytes = 0;
    let estimate = 0;
    (await window.kt.ms.up.getStats()).forEach((s) => {
      if (s.type === 'outbound-rtp') bytes += s.bytesSent ?? 0;
      if (s.type === 'candidate-pair' && s.nominated) estimate = s.availableOutgoingBitrate ?? 0;
    });
    return { bytes, estimate, at: Date.now() };
  });
}

async function kbitOver(page, ms) {
  const a = await sending(page);
  await sleep(ms);
  const b = await sending(page);
  return { kbit: Math.round((8 * (b.bytes - a.bytes)) / (b.at - a.at)), estimate: Math.round(b.estimate / 1000) };
}

async function framesOver(page, ms) {
  const a = videoOf(await inbound(page))[0];
  await sleep(ms);
  const b = videoOf(await inbound(page))[0];
  return b.frames - a.frames;
}

test(`a speaker on a ${CAP_KBIT} kbit/s uplink: its browser sends what fits, the attendee keeps decoding`, async (t) => {
  const speaker = await person(forum.browser, forum.server, 'Pembicara', PASSWORD);
  const attendee = await person(forum.browser, forum.server, 'Peserta');
  await speaker.evaluate(() => window.kt.ms.publish({ video: { width: 1280, height: 720 } }));
  await waitFor(async () => videoOf(await inbound(attendee)).some((s) => s.frames > 60), 20000,
    'the attendee decoding');
  const free = await kbitOver(speaker, 3000);
  capFrom(await selectedLocalPort(speaker, 'up'));
  const t0 = Date.now();
  const seen = [];
  let capped;
  do {
    capped = await kbitOver(speaker, 2000);
    seen.push(capped.kbit);
  } while (capped.kbit >= CAP_KBIT * 1.2 && Date.now() - t0 < 40000);
  const adapted = ((Date.now() - t0) / 1000).toFixed(1);
  assert.ok(capped.kbit < CAP_KBIT * 1.2, `the speaker's browser lowers what it sends under the ` +
    `cap within 40 s (kbit/s every 2 s: ${seen.join(', ')}; before: ${JSON.stringify(free)})`);
  await sleep(3000); // what was queued before drains
  const out1 = await outboundVideo(speaker);
  const frames = await framesOver(attendee, 4000);
  const out2 = await outboundVideo(speaker);
  const st = await serverStats(attendee);
  const speakerStats = await serverStats(speaker);
  const pub = speakerStats.publishing;
  t.diagnostic(`layers sent in 4 s: ${JSON.stringify(out2.map((l, i) => [l.rid, l.frames - out1[i].frames, l.width, l.limit]))}; ` +
    `attendee: ${JSON.stringify(st.receiving)}; published: ${JSON.stringify(pub)}; ` +
    `congestion feedback sent: ${speakerStats.up.congestion_feedback}`);
  t.diagnostic(`before the cap: ${JSON.stringify(free)}; under it after ${adapted} s: ` +
    `${JSON.stringify(capped)}; attendee decoded ${frames} frames in 4 s`);
  assert.ok(free.kbit > 2 * CAP_KBIT, `the speaker sent more than the cap before it (${free.kbit} kbit/s)`);
  assert.ok(frames > 20, `the attendee keeps decoding under the cap (${frames} frames in 4 s)`);
  // ~20 a second while the speaker sends (every 50 ms); the stats show it.
  assert.ok(speakerStats.up.congestion_feedback > 100,
    `kumis sent the speaker congestion feedback (${speakerStats.up.congestion_feedback} packets)`);
  assert.ok(pub.find((p) => p.kind === 'video').lost > 0, 'kumis counted what the cap lost');
});

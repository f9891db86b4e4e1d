// End-to-end: the speaker's own network loses packets. nftables drops 5 % of the UDP packets
// the speaker's browser sends to kumis (its up connection), inside the test's private network
// namespace. Such a loss is every attendee's loss, and no attendee's NACK can be answered from
// kumis's caches: kumis must NACK the speaker itself (RFC 4585), take the resent packets from
// its RTX stream (RFC 4588) and forward them late, so that the attendee still decodes at least
// 90 % of the frames it decodes without loss.
//
// How it is judged: the attendee asks for the top layer; over a clean window and a lossy one,
// the frames the speaker sent on the layer kumis forwards are compared with the frames the
// attendee decoded. That the test can fail: without kumis's NACKs the attendee loses every
// frame with a lost packet and what depends on it until the next keyframe.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { sleep, waitFor } from './kumisd.mjs';
import { PASSWORD, forumWithBrowser, person, inbound, videoOf, outboundVideo, selectedLocalPort, serverStats } from './participants.mjs';

const LOSS_PERCENT = 5;
const TABLE = 'kumis_uplink';
const sh = (cmd, args) => execFileSync(cmd, args, { stdio: 'pipe' }).toString();
const forum = forumWithBrowser({
  cleanup: () => { try { sh('nft', ['delete', 'table', 'inet', TABLE]); } catch { /* not there */ } },
});

function dropFrom(port) {
  sh('nft', ['add', 'table', 'inet', TABLE]);
  sh('nft', ['add', 'chain', 'inet', TABLE, 'in', '{ type filter hook input priority 0; }']);
  sh('nft', ['add', 'rule', 'inet', TABLE, 'in', 'udp', 'sport', String(port),
    'numgen', 'random', 'mod', '100', '<', String(LOSS_PERCENT), 'counter', 'drop']);
}

// The speaker's retransmission counters (Chromium's outbound-rtp, video, all layers).
function publisherRepairs(page) {
  return page.evaluate(async () => {
    let nacks = 0;
    let resent = 0;
    (await window.kt.ms.up.getStats()).forEach((s) => {
      if (s.type === 'outbound-rtp' && s.kind === 'video') {
        nacks += s.nackCount ?? 0;
        resent += s.retransmittedPacketsSent ?? 0;
      }
    });
    return { nacks, resent };
  });
}

async function sample(speaker, attendee) {
  const [inb, sent, stats, pub] = await Promise.all([inbound(attendee), outboundVideo(speaker),
    serverStats(speaker), publisherRepairs(speaker)]);
  const layer = (await serverStats(attendee)).receiving.find((r) => r.kind === 'video').layer;
  const track = stats.publishing.find((p) => p.kind === 'video');
  return { decoded: videoOf(inb)[0].frames, layer, sent, nacksOut: track.nacks_out, repaired: track.repaired, pub };
}

// Frames sent on the attendee's layer and decoded over @ms, sampled each half second.
async function measure(speaker, attendee, ms) {
  const first = await sample(speaker, attendee);
  let prev = first;
  let sent = 0;
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    await sleep(500);
    const cur = await sample(speaker, attendee);
    const frames = (s) => s.sent[cur.layer]?.frames ?? 0;
    sent += frames(cur) - frames(prev);
    prev = cur;
  }
  return { sent, decoded: prev.decoded - first.decoded, nacksOut: prev.nacksOut - first.nacksOut,
    repaired: prev.repaired - first.repaired, pubNacks: prev.pub.nacks - first.pub.nacks,
    pubResent: prev.pub.resent - first.pub.resent, layer: prev.layer };
}

test(`${LOSS_PERCENT} % loss on the speaker's uplink: kumis NACKs the speaker, the attendee keeps >= 90 % of the frames`, async (t) => {
  const speaker = await person(forum.browser, forum.server, 'Pembicara', PASSWORD);
  const attendee = await person(forum.browser, forum.server, 'Peserta');
  await speaker.evaluate(() => window.kt.ms.publish({ video: { width: 1280, height: 720 } }));
  await attendee.evaluate(() => window.kt.ms.setQuality('high'));
  await waitFor(async () => videoOf(await inbound(attendee)).some((s) => s.frames > 60), 20000,
    'the attendee decoding');
  const port = await selectedLocalPort(speaker, 'up');

  const clean = await measure(speaker, attendee, 6000);
  dropFrom(port);
  const lossy = await measure(speaker, attendee, 10000);
  sh('nft', ['delete', 'table', 'inet', TABLE]);
  const pct = (w) => (w.sent > 0 ? (100 * w.decoded) / w.sent : 0).toFixed(1);
  const figures = `without loss: ${JSON.stringify(clean)} (${pct(clean)} % decoded)\n` +
    `with ${LOSS_PERCENT} % uplink loss: ${JSON.stringify(lossy)} (${pct(lossy)} % decoded)`;
  t.diagnostic(figures);
  assert.ok(clean.sent > 0 && clean.decoded > 0, `the attendee decodes without loss\n${figures}`);
  assert.ok(lossy.nacksOut > 0, `kumis sent NACKs to the speaker\n${figures}`);
  assert.ok(lossy.pubNacks > 0 && lossy.pubResent > 0, `the speaker got them and resent\n${figures}`);
  assert.ok(lossy.repaired > 0, `resent packets filled kumis's gaps\n${figures}`);
  assert.ok(10 * lossy.decoded * clean.sent >= 9 * clean.decoded * lossy.sent,
    `with uplink loss the attendee decodes >= 90 % of what it decodes without\n${figures}`);
});

// End-to-end under a bad network, inside the test's private network namespace: 5 % of the UDP
// packets toward an attendee are dropped at random (nftables), then its link is capped at
// 500 kbit/s (tc tbf). NACKs must be sent and answered, and the attendee must keep decoding.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { startKumisd, launchChromium, sleep, waitFor } from './harness.mjs';
import { person, inbound, videoOf, selectedLocalPort, serverStats } from './participants.mjs';

const PASSWORD = 'rahasia-moderator';
let server;
let browser;

const sh = (cmd, args) => execFileSync(cmd, args, { stdio: 'pipe' }).toString();

before(async () => {
  server = await startKumisd({ forum: { policy: 'open', moderator_password: PASSWORD } });
  browser = await launchChromium();
});

after(async () => {
  try { sh('nft', ['delete', 'table', 'inet', 'kumis_loss']); } catch { /* not there */ }
  try { sh('tc', ['qdisc', 'del', 'dev', 'lo', 'root']); } catch { /* not there */ }
  await browser?.close();
  if (server) assert.equal(await server.stop(), 0, 'kumisd exits 0 on SIGTERM');
});

async function framesOver(page, ms) {
  const a = videoOf(await inbound(page))[0];
  await sleep(ms);
  const b = videoOf(await inbound(page))[0];
  return { frames: b.frames - a.frames, width: b.width, nacks: b.nacks };
}

test('5 % loss toward an attendee: NACKs answered, >= 90 % of the frames; 500 kbit/s: lower layer', async () => {
  const speaker = await person(browser, server, 'Pembicara', PASSWORD);
  const attendee = await person(browser, server, 'Peserta');
  // 720p, so that Chrome sends all three simulcast layers (it sends two for 640x480).
  await speaker.evaluate(() => window.kt.ms.publish({ video: { width: 1280, height: 720 } }));
  await waitFor(async () => videoOf(await inbound(attendee)).some((s) => s.frames > 30), 20000,
    'the attendee decoding');

  const clean = await framesOver(attendee, 6000);
  assert.ok(clean.frames > 0);

  const port = await selectedLocalPort(attendee);
  sh('nft', ['add', 'table', 'inet', 'kumis_loss']);
  sh('nft', ['add', 'chain', 'inet', 'kumis_loss', 'in', '{ type filter hook input priority 0; }']);
  sh('nft', ['add', 'rule', 'inet', 'kumis_loss', 'in', 'udp', 'dport', String(port),
    'numgen', 'random', 'mod', '100', '<', '5', 'drop']);
  const lossy = await framesOver(attendee, 6000);
  const stats = await serverStats(attendee);
  sh('nft', ['delete', 'table', 'inet', 'kumis_loss']);
  const video = stats.receiving.find((r) => r.kind === 'video');
  assert.ok(lossy.nacks > 0, `the attendee sent NACKs (${lossy.nacks})`);
  assert.ok(video.nacks_in > 0 && video.retransmitted > 0,
    `kumis answered NACKs (${video.nacks_in} NACK packets, ${video.retransmitted} retransmitted)`);
  assert.ok(lossy.frames >= 0.9 * clean.frames,
    `with loss ${lossy.frames} frames in 6 s, without ${clean.frames}`);

  // A 500 kbit/s cap on what reaches the attendee: it is moved to a lower simulcast layer.
  // First let it settle on the highest layer again (the bandwidth estimate climbs after loss).
  // Without probing, REMB grows only a little past what a receiver gets, so the top layer may
  // not come back: a layer above the lowest is enough here.
  const layerOf = (s) => s.receiving.find((r) => r.kind === 'video').layer;
  await waitFor(async () => layerOf(await serverStats(attendee)) >= 1, 40000,
    'the attendee above the lowest layer');
  await sleep(2000);
  const layerBefore = layerOf(await serverStats(attendee));
  const before = videoOf(await inbound(attendee))[0].width;
  // This kernel has no prio qdisc: HTB with a 500 kbit/s class for the attendee's port, the
  // rest unshaped, and tbf in the class for a bounded queue (TESTING.md).
  sh('tc', ['qdisc', 'add', 'dev', 'lo', 'root', 'handle', '1:', 'htb', 'default', '10']);
  sh('tc', ['class', 'add', 'dev', 'lo', 'parent', '1:', 'classid', '1:10', 'htb', 'rate', '10gbit']);
  sh('tc', ['class', 'add', 'dev', 'lo', 'parent', '1:', 'classid', '1:20', 'htb', 'rate', '500kbit',
    'ceil', '500kbit']);
  sh('tc', ['qdisc', 'add', 'dev', 'lo', 'parent', '1:20', 'handle', '20:', 'tbf', 'rate', '500kbit',
    'burst', '32kbit', 'latency', '400ms']);
  sh('tc', ['filter', 'add', 'dev', 'lo', 'parent', '1:', 'protocol', 'ip', 'prio', '1', 'u32',
    'match', 'ip', 'dport', String(port), '0xffff', 'flowid', '1:20']);
  await waitFor(async () => {
    const s = await serverStats(attendee);
    return layerOf(s) < layerBefore;
  }, 30000, 'kumis moving the attendee to a lower layer');
  await waitFor(async () => videoOf(await inbound(attendee))[0].width < before, 15000,
    'a smaller picture at the attendee');
  const capped = await framesOver(attendee, 4000);
  assert.ok(capped.frames > 20, `the attendee keeps decoding under the cap (${capped.frames} frames in 4 s)`);
});

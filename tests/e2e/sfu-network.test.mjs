// End-to-end under a bad network, inside the test's private network namespace: 5 % of the UDP
// packets toward an attendee are dropped at random (nftables), then its link is capped at
// 500 kbit/s (tc tbf). NACKs must be sent and answered, and the attendee must keep decoding.
//
// How the 5 % loss is judged: the attendee must decode at least 90 % of the frames it decodes
// without loss. Frame counts move with the speaker's frame rate (Chromium encodes 720p simulcast
// on a shared 2-core machine) and with the layer kumis forwards, and a single 5 s window with
// loss ranged from 83 % to 100 % of the frames sent, so the test alternates clean and lossy
// windows (clean, lossy, clean, lossy...), counts in each the frames the speaker sent on the
// layer the attendee receives (sampled every half second) and compares the decoded share of
// those, summed over the lossy windows, with the one over the clean windows. Every window's
// figures are printed, and repeated in a failure.
//
// What 5 % loss costs here (measured): every NACK is answered within ~2 ms, and no packet stays
// lost; but a lost last packet of a frame is noticed only when the next frame arrives, ~50 ms
// later, and Chromium discards a frame completed that late once a newer one can be decoded
// (framesDropped, no freeze, no PLI): about 5 % of the frames. Each layer switch costs a frame
// or two more.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { sleep, waitFor } from './kumisd.mjs';
import { PASSWORD, forumWithBrowser, person, inbound, videoOf, outboundVideo, selectedLocalPort, serverStats } from './participants.mjs';

const LOSS_PERCENT = 5;
const WINDOW_MS = 5000;
const PAIRS = 4; // clean + lossy windows: 20 s of loss, ~400 frames
const sh = (cmd, args) => execFileSync(cmd, args, { stdio: 'pipe' }).toString();

const forum = forumWithBrowser({
  cleanup: () => {
    try { sh('nft', ['delete', 'table', 'inet', 'kumis_loss']); } catch { /* not there */ }
    try { sh('tc', ['qdisc', 'del', 'dev', 'lo', 'root']); } catch { /* not there */ }
  },
});

async function framesOver(page, ms) {
  const a = videoOf(await inbound(page))[0];
  await sleep(ms);
  const b = videoOf(await inbound(page))[0];
  return { frames: b.frames - a.frames, width: b.width, nacks: b.nacks };
}

// Drops LOSS_PERCENT % of the UDP packets to @port, at random, or stops doing so.
function setLoss(port, on) {
  if (!on) {
    sh('nft', ['delete', 'table', 'inet', 'kumis_loss']);
    return;
  }
  sh('nft', ['add', 'table', 'inet', 'kumis_loss']);
  sh('nft', ['add', 'chain', 'inet', 'kumis_loss', 'in', '{ type filter hook input priority 0; }']);
  sh('nft', ['add', 'rule', 'inet', 'kumis_loss', 'in', 'udp', 'dport', String(port),
    'numgen', 'random', 'mod', '100', '<', String(LOSS_PERCENT), 'drop']);
}

// The speaker's and the attendee's video counters and kumis's for the attendee, at one time.
async function sample(speaker, attendee) {
  const [inb, sent, stats] = await Promise.all([inbound(attendee), outboundVideo(speaker), serverStats(attendee)]);
  return { t: Date.now(), rx: videoOf(inb)[0], tx: sent, kumis: stats.receiving.find((r) => r.kind === 'video') };
}

// One window of WINDOW_MS, with or without loss toward the attendee (on @port). Returns the
// window's figures; `sent` counts the frames the speaker sent on the layer kumis was forwarding
// to the attendee, half a second at a time.
async function measureWindow(speaker, attendee, port, lossy) {
  if (lossy) setLoss(port, true);
  try {
    const first = await sample(speaker, attendee);
    const layers = [first.kumis.layer];
    let prev = first;
    let sent = 0;
    while (prev.t - first.t < WINDOW_MS) {
      await sleep(500);
      const cur = await sample(speaker, attendee);
      const l = cur.kumis.layer;
      const frames = (s) => (s.tx[l] ?? s.tx.reduce((a, b) => (a.frames > b.frames ? a : b))).frames;
      sent += frames(cur) - frames(prev);
      if (l !== layers.at(-1)) layers.push(l);
      prev = cur;
    }
    const rx = (k) => prev.rx[k] - first.rx[k];
    const kumis = (k) => prev.kumis[k] - first.kumis[k];
    return {
      lossy, ms: prev.t - first.t, layers: layers.join('>'), sent, decoded: rx('frames'),
      dropped: rx('dropped'), freezes: rx('freezes'), freezeS: rx('freezeS'), keyframes: rx('keyframes'),
      plis: rx('plis'), nacks: rx('nacks'), rtx: rx('rtx'), lost: rx('lost'), nacksIn: kumis('nacks_in'),
      retransmitted: kumis('retransmitted'), switches: kumis('layer_switches'), width: prev.rx.width,
    };
  } finally {
    if (lossy) setLoss(port, false);
  }
}

const pct = (a, b) => (b > 0 ? (100 * a) / b : 0).toFixed(1);

function report(windows, clean, lossy) {
  const head = 'window loss    ms layers  sent decoded dropped freezes keyframes plis nacks ' +
    'kumis:nacks/retransmitted rtx switches lost';
  const rows = windows.map((w, i) => [
    String(i + 1).padStart(6), `${w.lossy ? LOSS_PERCENT : 0}%`.padStart(4), String(w.ms).padStart(5),
    w.layers.padStart(6), String(w.sent).padStart(5), String(w.decoded).padStart(7),
    String(w.dropped).padStart(7), `${w.freezes} (${w.freezeS.toFixed(1)} s)`.padStart(7),
    String(w.keyframes).padStart(9), String(w.plis).padStart(4), String(w.nacks).padStart(5),
    `${w.nacksIn}/${w.retransmitted}`.padStart(25), String(w.rtx).padStart(3), String(w.switches).padStart(8), String(w.lost).padStart(4),
  ].join(' '));
  return [head, ...rows,
    `without loss: ${clean.decoded} of ${clean.sent} frames sent on the attendee's layer decoded (${pct(clean.decoded, clean.sent)} %)`,
    `with ${LOSS_PERCENT} % loss: ${lossy.decoded} of ${lossy.sent} (${pct(lossy.decoded, lossy.sent)} %), ` +
      `${lossy.dropped} complete but dropped, ${lossy.freezes} freezes`,
  ].join('\n');
}

const sum = (ws) => ws.reduce((t, w) => {
  for (const k of ['sent', 'decoded', 'dropped', 'freezes', 'nacks', 'nacksIn', 'retransmitted', 'rtx']) t[k] += w[k];
  return t;
}, { sent: 0, decoded: 0, dropped: 0, freezes: 0, nacks: 0, nacksIn: 0, retransmitted: 0, rtx: 0 });

test(`${LOSS_PERCENT} % loss toward an attendee: NACKs answered, >= 90 % of the frames; 500 kbit/s: lower layer`, async (t) => {
  const speaker = await person(forum.browser, forum.server, 'Pembicara', PASSWORD);
  const attendee = await person(forum.browser, forum.server, 'Peserta');
  // 720p, so that Chrome sends all three simulcast layers (it sends two for 640x480).
  await speaker.evaluate(() => window.kt.ms.publish({ video: { width: 1280, height: 720 } }));
  await waitFor(async () => videoOf(await inbound(attendee)).some((s) => s.frames > 30), 20000,
    'the attendee decoding');

  const port = await selectedLocalPort(attendee);
  const windows = [];
  try {
    for (let i = 0; i < 2 * PAIRS; i++) windows.push(await measureWindow(speaker, attendee, port, i % 2 === 1));
  } catch (e) {
    // E.g. kumis closing the attendee's session because its down connection failed.
    throw new Error(`${e.message}\nafter ${windows.length} windows:\n${report(windows,
      sum(windows.filter((w) => !w.lossy)), sum(windows.filter((w) => w.lossy)))}\n` +
      `kumisd (tail):\n${forum.server.log().slice(-1500)}`, { cause: e });
  }
  const clean = sum(windows.filter((w) => !w.lossy));
  const lossy = sum(windows.filter((w) => w.lossy));
  const figures = report(windows, clean, lossy);
  t.diagnostic(figures);
  assert.ok(clean.sent > 0 && clean.decoded > 0, `the attendee decodes without loss\n${figures}`);
  assert.ok(lossy.nacks > 0, `the attendee sent NACKs (${lossy.nacks})\n${figures}`);
  assert.ok(lossy.nacksIn > 0 && lossy.retransmitted > 0,
    `kumis answered NACKs (${lossy.nacksIn} NACK packets, ${lossy.retransmitted} retransmitted)\n${figures}`);
  // The down offer has RTX (RFC 4588) and Chromium takes it: the resent packets come on the RTX
  // stream, which Chromium counts as retransmittedPacketsReceived (not as late media packets).
  assert.ok(lossy.rtx > 0, `the attendee received retransmissions on the RTX stream (${lossy.rtx})\n${figures}`);
  // decoded/sent with loss >= 90 % of decoded/sent without, in integers.
  assert.ok(10 * lossy.decoded * clean.sent >= 9 * clean.decoded * lossy.sent,
    `with loss the attendee decodes ${pct(lossy.decoded * clean.sent, clean.decoded * lossy.sent)} % ` +
    `of the frames it decodes without (>= 90 % required)\n${figures}`);

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

// Captures the real SDPs that tests/unit/test_sdp.c parses, from Debian's headless Chromium.
//
// Usage (inside a private network namespace, see /work/shared/TESTING.md):
//   unshare -n sh -c 'ip link set lo up; NODE_PATH=/tmp/sdpcap/node_modules \
//       node tests/unit/sdp/capture.mjs offers  tests/unit/sdp'
//   KUMIS_SDP_DUMP_DIR=/tmp/kumis-offers build/tests/unit/test_sdp   # writes our down offers
//   unshare -n sh -c 'ip link set lo up; NODE_PATH=/tmp/sdpcap/node_modules \
//       node tests/unit/sdp/capture.mjs answers tests/unit/sdp /tmp/kumis-offers'
//
//   unshare -n sh -c 'ip link set lo up; NODE_PATH=/tmp/sdpcap/node_modules \
//       node tests/unit/sdp/capture.mjs up tests/unit/sdp build/tests/unit/test_sdp'
//
// "offers" records Chromium's send-only offers (camera + mic, simulcast, camera + screen).
// "answers" feeds kumis's generated down offers (down-offer-1.sdp, then the re-offer
// down-offer-2.sdp with an inactive m-line, down-offer-3.sdp reusing it) to one
// RTCPeerConnection in order, and records each createAnswer(): this proves Chromium accepts
// our offers and re-offers. "up" makes live offers (camera + mic, simulcast, screen), has
// test_sdp (/sdp/up/external) write kumis's answer to each, and gives that answer to the same
// RTCPeerConnection: proves Chromium accepts our answers (recvonly, simulcast recv, passive).
// Any setRemoteDescription failure exits non-zero.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { spawnSync } from 'node:child_process';

const require = createRequire(path.join(process.env.NODE_PATH || '/tmp/sdpcap/node_modules', 'x'));
const { chromium } = require('playwright-core');

const [mode, outDir, offerDir] = process.argv.slice(2);
if (!['offers', 'answers', 'up'].includes(mode) || !outDir) {
  console.error('usage: capture.mjs offers|answers|up OUT_DIR [OFFER_DIR|TEST_SDP]');
  process.exit(2);
}

// A secure context is needed for getUserMedia: http://127.0.0.1 is one.
const server = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/html' });
  res.end('<!doctype html><title>sdp capture</title>');
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${server.address().port}/`;

const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kumis-sdpcap-'));
const ctx = await chromium.launchPersistentContext(userDir, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
    '--allow-loopback-in-peer-connection'],
});
let failed = false;
try {
  const page = ctx.pages()[0] || (await ctx.newPage());
  await page.goto(url);
  if (mode === 'offers') {
    const offers = await page.evaluate(async () => {
      const gathered = (pc) => new Promise((resolve) => {
        if (pc.iceGatheringState === 'complete') return resolve();
        pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && resolve();
        setTimeout(resolve, 5000);
      });
      async function offer(build) {
        const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' });
        await build(pc);
        await pc.setLocalDescription(await pc.createOffer());
        await gathered(pc);
        const sdp = pc.localDescription.sdp;
        pc.close();
        return sdp;
      }
      const cam = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
      const out = {};
      out['chromium-offer-camera-mic.sdp'] = await offer(async (pc) => {
        for (const t of cam.getTracks()) pc.addTransceiver(t, { direction: 'sendonly', streams: [cam] });
      });
      out['chromium-offer-simulcast.sdp'] = await offer(async (pc) => {
        pc.addTransceiver(cam.getAudioTracks()[0], { direction: 'sendonly', streams: [cam] });
        pc.addTransceiver(cam.getVideoTracks()[0], {
          direction: 'sendonly', streams: [cam],
          sendEncodings: [{ rid: 'q', scaleResolutionDownBy: 4 },
            { rid: 'h', scaleResolutionDownBy: 2 }, { rid: 'f' }],
        });
      });
      // Screen share as a second video track in its own stream (fake devices have no
      // screen picker: a canvas stands in for the shared screen).
      const canvas = document.createElement('canvas');
      canvas.width = 1280; canvas.height = 720;
      canvas.getContext('2d').fillRect(0, 0, 10, 10);
      const screen = canvas.captureStream(5);
      out['chromium-offer-screen.sdp'] = await offer(async (pc) => {
        for (const t of cam.getTracks()) pc.addTransceiver(t, { direction: 'sendonly', streams: [cam] });
        pc.addTransceiver(screen.getVideoTracks()[0], { direction: 'sendonly', streams: [screen] });
      });
      return out;
    });
    for (const [name, sdp] of Object.entries(offers)) {
      fs.writeFileSync(path.join(outDir, name), sdp);
      console.log(`wrote ${name} (${sdp.length} bytes)`);
    }
  } else if (mode === 'up') {
    // Answers from kumis, computed by test_sdp outside the page.
    await page.exposeFunction('kumisAnswer', (offer) => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kumis-up-'));
      const env = { ...process.env, KUMIS_SDP_UP_OFFER: path.join(dir, 'offer.sdp'),
        KUMIS_SDP_UP_ANSWER: path.join(dir, 'answer.sdp') };
      fs.writeFileSync(env.KUMIS_SDP_UP_OFFER, offer);
      const run = spawnSync(offerDir, ['-p', '/sdp/up/external'], { env, encoding: 'utf8' });
      if (run.status !== 0) throw new Error(`test_sdp failed: ${run.stdout}${run.stderr}`);
      const answer = fs.readFileSync(env.KUMIS_SDP_UP_ANSWER, 'utf8');
      fs.rmSync(dir, { recursive: true, force: true });
      return answer;
    });
    const results = await page.evaluate(async () => {
      const cam = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
      const canvas = document.createElement('canvas');
      canvas.getContext('2d').fillRect(0, 0, 10, 10);
      const screen = canvas.captureStream(5);
      const setups = {
        'camera-mic': (pc) => cam.getTracks().forEach((t) =>
          pc.addTransceiver(t, { direction: 'sendonly', streams: [cam] })),
        simulcast: (pc) => {
          pc.addTransceiver(cam.getAudioTracks()[0], { direction: 'sendonly', streams: [cam] });
          pc.addTransceiver(cam.getVideoTracks()[0], { direction: 'sendonly', streams: [cam],
            sendEncodings: [{ rid: 'q', scaleResolutionDownBy: 4 },
              { rid: 'h', scaleResolutionDownBy: 2 }, { rid: 'f' }] });
        },
        screen: (pc) => {
          cam.getTracks().forEach((t) => pc.addTransceiver(t, { direction: 'sendonly', streams: [cam] }));
          pc.addTransceiver(screen.getVideoTracks()[0], { direction: 'sendonly', streams: [screen] });
        },
      };
      const out = [];
      for (const [name, setup] of Object.entries(setups)) {
        const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' });
        setup(pc);
        const offer = await pc.createOffer();
        await pc.setLocalDescription(offer);
        try {
          const answer = await window.kumisAnswer(offer.sdp);
          await pc.setRemoteDescription({ type: 'answer', sdp: answer });
          const params = pc.getSenders().map((s) => `${s.track.kind}:` +
            s.getParameters().encodings.map((e) => e.rid || '-').join('/') + ':' +
            (s.getParameters().codecs[0] || {}).mimeType);
          out.push({ name, ok: true, answer, params,
            directions: pc.getTransceivers().map((t) => t.currentDirection) });
        } catch (e) {
          out.push({ name, ok: false, error: String(e) });
        }
        pc.close();
      }
      return out;
    });
    for (const r of results) {
      if (!r.ok) {
        console.error(`${r.name}: Chromium refused kumis's answer: ${r.error}`);
        failed = true;
        continue;
      }
      fs.writeFileSync(path.join(outDir, `kumis-answer-up-${r.name}.sdp`), r.answer);
      console.log(`${r.name}: accepted; senders ${r.params.join(' ')}; directions ${r.directions.join(' ')}`);
    }
  } else {
    const names = fs.readdirSync(offerDir).filter((n) => /^down-offer-\d+\.sdp$/.test(n)).sort();
    if (names.length === 0) throw new Error(`no down-offer-N.sdp in ${offerDir}`);
    const offers = names.map((n) => fs.readFileSync(path.join(offerDir, n), 'utf8'));
    const result = await page.evaluate(async (offers) => {
      const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' });
      // A receive-only page gathers nothing without a media permission (TESTING.md).
      await navigator.mediaDevices.getUserMedia({ audio: true });
      const answers = [];
      const tracks = [];
      pc.ontrack = (e) => tracks.push(`${e.transceiver.mid}:${e.track.kind}:${e.streams.map((s) => s.id).join(',')}`);
      for (const sdp of offers) {
        try {
          await pc.setRemoteDescription({ type: 'offer', sdp });
          const answer = await pc.createAnswer();
          await pc.setLocalDescription(answer);
          await new Promise((r) => setTimeout(r, 300));
          answers.push({ ok: true, sdp: pc.localDescription.sdp,
            transceivers: pc.getTransceivers().map((t) => `${t.mid}:${t.receiver.track.kind}:${t.currentDirection}`) });
        } catch (e) {
          answers.push({ ok: false, error: String(e) });
          break;
        }
      }
      pc.close();
      return { answers, tracks };
    }, offers);
    result.answers.forEach((a, i) => {
      const name = names[i].replace('down-offer', 'chromium-answer-down');
      if (!a.ok) {
        console.error(`${names[i]}: Chromium refused it: ${a.error}`);
        failed = true;
        return;
      }
      fs.writeFileSync(path.join(outDir, name), a.sdp);
      console.log(`wrote ${name} (${a.sdp.length} bytes) transceivers ${a.transceivers.join(' ')}`);
    });
    console.log(`ontrack: ${result.tracks.join(' ')}`);
  }
} finally {
  await ctx.close();
  server.close();
  fs.rmSync(userDir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);

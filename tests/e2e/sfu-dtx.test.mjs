// End-to-end: a speaker who is silent most of the time, as most people on a forum's stage are.
// kumis's answer asks the speaker's Opus encoder for discontinuous transmission (usedtx=1,
// RFC 7587): while the microphone hears silence, Chromium sends a packet every 400 ms instead of
// every 20 ms, so the silent speaker costs every attendee (and kumis) almost nothing.
//
// The speaker's microphone is a file (Chromium loops it): 1.5 s of a 440 Hz tone, then 4.5 s
// of silence. Measured through kumis: 50.9 audio packets a second without DTX, 21.6 with it.
// The test asks for fewer than 35 a second, and that the attendee still plays audio all along
// (comfort noise in the gaps) and hears the tone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { makeTempDir, sleep, waitFor } from './kumisd.mjs';
import { launchBrowser } from './browser.mjs';
import { PASSWORD, forumWithBrowser, person, inbound, audioOf } from './participants.mjs';

const RATE = 48000;
const TONE_S = 1.5;
const FILE_S = 6;
const MEASURE_S = 12; // two loops of the file
const DTX_MAX_PACKETS_PER_S = 35;

const forum = forumWithBrowser();

// A 16-bit mono WAV: TONE_S of a 440 Hz tone, then silence up to FILE_S.
function microphoneFile(dir) {
  const samples = RATE * FILE_S;
  const wav = Buffer.alloc(44 + 2 * samples);
  wav.write('RIFF', 0);
  wav.writeUInt32LE(36 + 2 * samples, 4);
  wav.write('WAVEfmt ', 8);
  wav.writeUInt32LE(16, 16); // fmt chunk size
  wav.writeUInt16LE(1, 20); // PCM
  wav.writeUInt16LE(1, 22); // mono
  wav.writeUInt32LE(RATE, 24);
  wav.writeUInt32LE(2 * RATE, 28); // bytes a second
  wav.writeUInt16LE(2, 32); // bytes a frame
  wav.writeUInt16LE(16, 34); // bits a sample
  wav.write('data', 36);
  wav.writeUInt32LE(2 * samples, 40);
  for (let i = 0; i < RATE * TONE_S; i++)
    wav.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / RATE)), 44 + 2 * i);
  const file = path.join(dir, 'microphone.wav');
  fs.writeFileSync(file, wav);
  return file;
}

async function audioSent(page) {
  return page.evaluate(async () => {
    let packets = null;
    (await window.kt.ms.up.getStats()).forEach((s) => {
      if (s.type === 'outbound-rtp' && s.kind === 'audio') packets = s.packetsSent;
    });
    return packets;
  });
}

test('a mostly silent speaker sends Opus DTX: few audio packets, the attendee still hears it', async (t) => {
  const dir = makeTempDir('kumis-dtx-');
  const speakerBrowser = await launchBrowser({
    autoplay: true, extraArgs: [`--use-file-for-fake-audio-capture=${microphoneFile(dir)}`],
  });
  t.after(async () => {
    await speakerBrowser.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const speaker = await person(speakerBrowser, forum.server, 'Pembicara Hening', PASSWORD);
  await speaker.evaluate(() => window.kt.ms.publish());
  const attendee = await person(forum.browser, forum.server, 'Peserta');
  await waitFor(async () => audioOf(await inbound(attendee)).some((s) => s.samples > 0), 20000,
    'the attendee plays the speaker\'s audio');
  const fmtp = await speaker.evaluate(() => window.kt.ms.up.remoteDescription.sdp.match(/a=fmtp:111 .*/)?.[0]);
  assert.match(fmtp ?? '', /usedtx=1/, `kumis's answer asks for DTX: ${fmtp}`);

  const sent0 = await audioSent(speaker);
  const heard0 = audioOf(await inbound(attendee))[0];
  let loudest = 0;
  for (let i = 0; i < MEASURE_S * 4; i++) {
    await sleep(250);
    loudest = Math.max(loudest, audioOf(await inbound(attendee))[0].level);
  }
  const sent = ((await audioSent(speaker)) - sent0) / MEASURE_S;
  const heard1 = audioOf(await inbound(attendee))[0];
  const received = (heard1.packets - heard0.packets) / MEASURE_S;
  const played = (heard1.samples - heard0.samples) / MEASURE_S;
  const figures = `speaker sent ${sent.toFixed(1)} audio packets/s, attendee received ` +
    `${received.toFixed(1)}/s and played ${played.toFixed(0)} samples/s, loudest ${loudest.toFixed(3)}`;
  console.log(figures);
  assert.ok(sent < DTX_MAX_PACKETS_PER_S, `DTX: fewer than ${DTX_MAX_PACKETS_PER_S} a second (without: ~50); ${figures}`);
  assert.ok(received > 0.8 * sent, `kumis forwards what the speaker sends; ${figures}`);
  assert.ok(played > 0.8 * RATE, `the attendee plays audio all along; ${figures}`);
  assert.ok(loudest > 0.05, `the attendee hears the tone; ${figures}`);
});

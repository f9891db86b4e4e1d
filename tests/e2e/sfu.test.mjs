// End-to-end: real headless Chromium participants publish and receive through kumisd's SFU.
// One speaker and three attendees, then a second speaker, then the second speaker leaves;
// an attendee asks for the low simulcast layer. Run inside a private network namespace.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sleep, waitFor } from './kumisd.mjs';
import { PASSWORD, forumWithBrowser, person, inbound, videoOf, audioOf } from './participants.mjs';

const forum = forumWithBrowser();
const join = (name, password) => person(forum.browser, forum.server, name, password);

test('one speaker, three attendees: everyone decodes video at 15 fps or more and hears audio', async () => {
  const speaker = await join('Pembicara Satu', PASSWORD);
  const attendees = [];
  for (let i = 1; i <= 3; i++) attendees.push(await join(`Peserta ${i}`));
  await speaker.evaluate(() => window.kt.ms.publish());

  for (const a of attendees) {
    await waitFor(async () => videoOf(await inbound(a)).some((s) => s.frames > 10), 20000);
  }
  const first = await Promise.all(attendees.map(inbound));
  await sleep(3000);
  const second = await Promise.all(attendees.map(inbound));
  attendees.forEach((_, i) => {
    const v0 = videoOf(first[i])[0];
    const v1 = videoOf(second[i])[0];
    const fps = (v1.frames - v0.frames) / 3;
    assert.ok(fps >= 15, `attendee ${i + 1} decodes ${fps.toFixed(1)} fps`);
    const a0 = audioOf(first[i])[0];
    const a1 = audioOf(second[i])[0];
    assert.ok(a1.samples > a0.samples, `attendee ${i + 1} audio samples grow`);
    assert.ok(a1.level > 0, `attendee ${i + 1} hears sound (audioLevel ${a1.level})`);
    // Chromium cuts a frame into packets a byte apart; kumis pads the shorter ones so that the
    // frame leaves as one UDP GSO message (kumis_burst_pads). The padding reaches the attendee
    // (which decodes on): header and padding bytes beyond kumis's 20-byte header (12 fixed +
    // abs-send-time), at most 8 a packet.
    const padding = v1.headerBytes - 20 * v1.packets;
    assert.ok(padding > 0 && padding <= 8 * v1.packets,
      `attendee ${i + 1} gets padded packets: ${padding} padding bytes in ${v1.packets} packets`);
  });
  const cipher = await attendees[0].evaluate(async () => {
    let c = '';
    (await window.kt.ms.down.getStats()).forEach((s) => { if (s.type === 'transport') c = s.srtpCipher; });
    return c;
  });
  assert.equal(cipher, 'SRTP_AEAD_AES_128_GCM', 'SRTP uses GCM');

  // An attendee may not publish: the server refuses the up offer.
  const before = await attendees[0].evaluate(() => window.kt.errors.length);
  await attendees[0].evaluate(() => window.kt.ms.publish({ simulcast: false }));
  await waitFor(() => attendees[0].evaluate((n) => window.kt.errors.slice(n)
    .some((e) => e.code === 'not-allowed'), before), 5000, 'refusal of the attendee\'s offer');
  await attendees[0].evaluate(() => window.kt.ms.unpublish());

  // The low simulcast layer is smaller than what the others get.
  await attendees[2].evaluate(() => window.kt.ms.setQuality('low'));
  await waitFor(async () => {
    const low = videoOf(await inbound(attendees[2]))[0].width;
    const high = videoOf(await inbound(attendees[1]))[0].width;
    return low > 0 && low < high;
  }, 15000);

  // A second speaker: everyone sees both.
  const speaker2 = await join('Pembicara Dua', PASSWORD);
  await speaker2.evaluate(() => window.kt.ms.publish());
  for (const p of [...attendees, speaker]) {
    await waitFor(async () => videoOf(await inbound(p)).filter((s) => s.frames > 5).length >= (p === speaker ? 1 : 2), 20000);
  }
  await waitFor(async () => videoOf(await inbound(speaker2)).some((s) => s.frames > 5), 20000);

  // The second speaker leaves: attendees are told and get a new down offer.
  const offersBefore = await attendees[1].evaluate(() => window.kt.messages.filter((m) => m.type === 'offer').length);
  await speaker2.evaluate(() => window.kt.send({ type: 'leave' }));
  await speaker2.close();
  await waitFor(() => attendees[1].evaluate(() => window.kt.messages.some((m) => m.type === 'participant-left')));
  await waitFor(() => attendees[1].evaluate((n) => window.kt.messages.filter((m) => m.type === 'offer').length > n, offersBefore));
  // Speaker one keeps flowing after the renegotiation.
  const s1 = videoOf(await inbound(attendees[1])).sort((a, b) => b.frames - a.frames)[0];
  await sleep(2000);
  const s2 = videoOf(await inbound(attendees[1])).find((s) => s.mid === s1.mid);
  assert.ok(s2.frames > s1.frames + 15, 'the remaining speaker keeps decoding after renegotiation');
});

// End-to-end: speakers whose browser offers one codec only, VP9 (RFC 9628) or H.264
// (RFC 6184, packetization-mode 1), in real headless Chromium through kumisd, inside a private
// network namespace. kumis answers that codec, forwards it without decoding (keyframes found
// in the payload; VP9 picture IDs and TL0PICIDX rewritten across layer switches) and offers it
// to the attendees, who decode it: the DESIGN's "H.264 and VP9 where both sides offer them".
// For each: one stream to two attendees, then simulcast with an attendee on the low layer. And
// an attendee whose browser cannot decode VP9 is told so and sent nothing it cannot use.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sleep, waitFor } from './kumisd.mjs';
import { PASSWORD, forumWithBrowser, person, inbound, videoOf, serverStats } from './participants.mjs';

const forum = forumWithBrowser();

const CODECS = [
  { name: 'VP9', mime: 'video/VP9', fmtp: /profile-id=0/ },
  { name: 'H264', mime: 'video/H264', fmtp: /packetization-mode=1;profile-level-id=42e01f/ },
];

// The codec (mimeType and fmtp) of the page's video inbound-rtp (@pc 'down') or outbound-rtp
// ('up'), from its codecId.
function videoCodec(page, pc) {
  return page.evaluate(async (pc) => {
    const stats = await window.kt.ms[pc].getStats();
    const type = pc === 'down' ? 'inbound-rtp' : 'outbound-rtp';
    let codec = null;
    stats.forEach((s) => {
      if (s.type === type && s.kind === 'video' && s.codecId) codec = stats.get(s.codecId);
    });
    return codec ? `${codec.mimeType} ${codec.sdpFmtpLine ?? ''}`.trim() : '';
  }, pc);
}

// A speaker whose browser offers @codec (and its rtx) and nothing else for video.
async function codecSpeaker(name, codec, simulcast) {
  const speaker = await person(forum.browser, forum.server, name, PASSWORD);
  await speaker.evaluate(({ mime, fmtp }) => {
    const add = RTCPeerConnection.prototype.addTransceiver;
    RTCPeerConnection.prototype.addTransceiver = function (track, init) {
      // Chromium sends VP9 simulcast only when each encoding names its scalability mode (one
      // spatial layer, three temporal ones); otherwise just the first encoding.
      const encodings = init?.sendEncodings?.map((e) => ({ ...e, scalabilityMode: 'L1T3' }));
      const t = add.call(this, track, encodings ? { ...init, sendEncodings: encodings } : init);
      if ((track.kind ?? track) === 'video') {
        const re = new RegExp(fmtp);
        t.setCodecPreferences(RTCRtpReceiver.getCapabilities('video').codecs.filter((c) =>
          (c.mimeType === mime && re.test(c.sdpFmtpLine ?? '')) || c.mimeType === 'video/rtx'));
      }
      return t;
    };
  }, { mime: codec.mime, fmtp: codec.fmtp.source });
  await speaker.evaluate((simulcast) => window.kt.ms.publish({ simulcast }), simulcast);
  const offer = await speaker.evaluate(() => window.kt.ms.up.localDescription.sdp);
  const offered = [...offer.matchAll(/a=rtpmap:\d+ ([\w-]+)\/90000/g)].map((m) => m[1]);
  assert.deepEqual([...new Set(offered.filter((c) => c !== 'rtx'))], [codec.name],
    `the speaker offers ${codec.name} only`);
  await waitFor(async () => (await videoCodec(speaker, 'up')).startsWith(codec.mime), 20000,
    `the speaker sending ${codec.name}`);
  return speaker;
}

for (const codec of CODECS) {
  test(`a ${codec.name}-only speaker: kumis answers ${codec.name} and two attendees decode it at 15 fps or more`, async () => {
    const attendees = [await person(forum.browser, forum.server, `Peserta ${codec.name} 1`),
      await person(forum.browser, forum.server, `Peserta ${codec.name} 2`)];
    const speaker = await codecSpeaker(`Pembicara ${codec.name}`, codec, false);
    for (const a of attendees) {
      await waitFor(async () => videoOf(await inbound(a)).some((s) => s.frames > 10), 20000,
        `an attendee decoding the ${codec.name} speaker`);
    }
    const first = await Promise.all(attendees.map(inbound));
    await sleep(3000);
    const second = await Promise.all(attendees.map(inbound));
    for (let i = 0; i < attendees.length; i++) {
      const fps = (videoOf(second[i])[0].frames - videoOf(first[i])[0].frames) / 3;
      assert.ok(fps >= 15, `attendee ${i + 1} decodes ${fps.toFixed(1)} fps`);
      assert.ok(videoOf(second[i])[0].width > 0, `attendee ${i + 1} has a picture`);
      const got = await videoCodec(attendees[i], 'down');
      assert.ok(got.startsWith(codec.mime), `attendee ${i + 1} receives ${codec.name} (${got})`);
    }
    await Promise.all([speaker, ...attendees].map((p) => p.close()));
  });

  test(`a ${codec.name} simulcast speaker: an attendee asking for the low layer gets a smaller picture`, async () => {
    const high = await person(forum.browser, forum.server, `Peserta Tinggi ${codec.name}`);
    const low = await person(forum.browser, forum.server, `Peserta Rendah ${codec.name}`);
    await low.evaluate(() => window.kt.ms.setQuality('low'));
    const speaker = await codecSpeaker(`Pembicara Simulcast ${codec.name}`, codec, true);
    const width = async (page) => videoOf(await inbound(page)).find((s) => s.frames > 0)?.width ?? 0;
    await waitFor(async () => {
      const [h, l] = [await width(high), await width(low)];
      return l > 0 && l < h;
    }, 30000, `the low-layer attendee getting a smaller ${codec.name} picture than the other`);
    const before = videoOf(await inbound(low)).find((s) => s.frames > 0).frames;
    await sleep(2000);
    const after = videoOf(await inbound(low)).find((s) => s.frames > 0).frames;
    assert.ok(after - before >= 20, `the low-layer attendee keeps decoding (${after - before} frames in 2 s)`);
    assert.ok((await videoCodec(low, 'down')).startsWith(codec.mime));
    await Promise.all([speaker, high, low].map((p) => p.close()));
  });
}

// A browser that cannot decode the only codec a speaker sends (emulated: the attendee's answer
// prefers every video codec but VP9, so its VP9 m-line is rejected). kumis must not send that
// track (it would only use the attendee's bandwidth), must say so once, and must go on serving
// the attendee's other tracks and everyone else.
test('an attendee whose browser cannot decode VP9: told once, the track not sent, the others unaffected', async () => {
  const other = await person(forum.browser, forum.server, 'Peserta Biasa');
  const noVp9 = await person(forum.browser, forum.server, 'Peserta Tanpa VP9');
  await noVp9.evaluate(() => {
    const createAnswer = RTCPeerConnection.prototype.createAnswer;
    RTCPeerConnection.prototype.createAnswer = function (...args) {
      for (const t of this.getTransceivers()) {
        if (t.receiver.track.kind === 'video') {
          t.setCodecPreferences(RTCRtpReceiver.getCapabilities('video').codecs
            .filter((c) => c.mimeType !== 'video/VP9'));
        }
      }
      return createAnswer.apply(this, args);
    };
  });
  const speaker = await codecSpeaker('Pembicara VP9 Saja', CODECS[0], false);
  const speakerId = await speaker.evaluate(
    () => window.kt.messages.find((m) => m.type === 'joined').participant.id);
  await waitFor(async () => videoOf(await inbound(other)).some((s) => s.frames > 10), 20000,
    'the other attendee decoding the VP9 speaker');
  const told = () => noVp9.evaluate(
    () => window.kt.messages.filter((m) => m.type === 'track-unsupported'));
  await waitFor(async () => (await told()).length > 0, 15000,
    'the attendee without VP9 told that it cannot receive the track');
  await sleep(3000); // packets would have flowed by now; a renegotiation must not tell again
  const messages = await told();
  assert.equal(messages.length, 1, `told once: ${JSON.stringify(messages)}`);
  const { participant, stream, kind, codec } = messages[0];
  assert.deepEqual({ participant, stream, kind, codec },
    { participant: speakerId, stream: speakerId, kind: 'video', codec: 'VP9' });
  const mine = (await serverStats(noVp9)).receiving;
  const video = mine.find((r) => r.kind === 'video');
  const audio = mine.find((r) => r.kind === 'audio');
  assert.equal(video.unsupported, true);
  assert.equal(video.packets_out, 0, 'no VP9 packet sent to the attendee who cannot decode it');
  assert.equal(audio.unsupported, false);
  assert.ok(audio.packets_out > 50, `the speaker's audio still sent (${audio.packets_out} packets)`);
  const theirs = (await serverStats(other)).receiving.find((r) => r.kind === 'video');
  assert.equal(theirs.unsupported, false);
  assert.ok(theirs.packets_out > 100, `the other attendee's video sent (${theirs.packets_out})`);
  await Promise.all([speaker, other, noVp9].map((p) => p.close()));
});

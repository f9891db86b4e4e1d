// End-to-end: a speaker whose browser offers VP9 only (RFC 9628), in real headless Chromium
// through kumisd, inside a private network namespace. kumis answers VP9, forwards it without
// decoding (keyframes found from the payload descriptor, picture IDs and TL0PICIDX rewritten
// across layer switches) and offers it to the attendees, who decode it: the DESIGN's "VP9
// where both sides offer it". First one stream, then simulcast with an attendee on the low
// layer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sleep, waitFor } from './kumisd.mjs';
import { PASSWORD, forumWithBrowser, person, inbound, videoOf } from './participants.mjs';

const forum = forumWithBrowser();

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

async function vp9Speaker(name, simulcast) {
  const speaker = await person(forum.browser, forum.server, name, PASSWORD);
  // The speaker's browser offers VP9 profile 0 (and its rtx) and nothing else for video.
  await speaker.evaluate(() => {
    const add = RTCPeerConnection.prototype.addTransceiver;
    RTCPeerConnection.prototype.addTransceiver = function (track, init) {
      // Chromium sends VP9 simulcast only when each encoding names its scalability mode (one
      // spatial layer, three temporal ones); otherwise just the first encoding.
      const encodings = init?.sendEncodings?.map((e) => ({ ...e, scalabilityMode: 'L1T3' }));
      const t = add.call(this, track, encodings ? { ...init, sendEncodings: encodings } : init);
      if ((track.kind ?? track) === 'video') {
        const codecs = RTCRtpReceiver.getCapabilities('video').codecs.filter((c) =>
          (c.mimeType === 'video/VP9' && /profile-id=0/.test(c.sdpFmtpLine ?? 'profile-id=0')) ||
          c.mimeType === 'video/rtx');
        t.setCodecPreferences(codecs);
      }
      return t;
    };
  });
  await speaker.evaluate((simulcast) => window.kt.ms.publish({ simulcast }), simulcast);
  const offer = await speaker.evaluate(() => window.kt.ms.up.localDescription.sdp);
  assert.ok(!/VP8\/90000/.test(offer) && /VP9\/90000/.test(offer), 'the speaker offers VP9 only');
  await waitFor(async () => /VP9/.test(await videoCodec(speaker, 'up')), 20000, 'the speaker sending VP9');
  return speaker;
}

test('a VP9-only speaker: kumis answers VP9 and two attendees decode it at 15 fps or more', async () => {
  const attendees = [await person(forum.browser, forum.server, 'Peserta 1'),
    await person(forum.browser, forum.server, 'Peserta 2')];
  const speaker = await vp9Speaker('Pembicara VP9', false);

  for (const a of attendees) {
    await waitFor(async () => videoOf(await inbound(a)).some((s) => s.frames > 10), 20000,
      'an attendee decoding the VP9 speaker');
  }
  const first = await Promise.all(attendees.map(inbound));
  await sleep(3000);
  const second = await Promise.all(attendees.map(inbound));
  for (let i = 0; i < attendees.length; i++) {
    const fps = (videoOf(second[i])[0].frames - videoOf(first[i])[0].frames) / 3;
    assert.ok(fps >= 15, `attendee ${i + 1} decodes ${fps.toFixed(1)} fps`);
    assert.ok(videoOf(second[i])[0].width > 0, `attendee ${i + 1} has a picture`);
    const codec = await videoCodec(attendees[i], 'down');
    assert.match(codec, /^video\/VP9/, `attendee ${i + 1} receives VP9 (${codec})`);
  }
  await speaker.close();
});

test('a VP9 simulcast speaker: an attendee asking for the low layer gets a smaller picture', async () => {
  const high = await person(forum.browser, forum.server, 'Peserta Tinggi');
  const low = await person(forum.browser, forum.server, 'Peserta Rendah');
  await low.evaluate(() => window.kt.ms.setQuality('low'));
  await vp9Speaker('Pembicara Simulcast', true);
  const width = async (page) => videoOf(await inbound(page)).find((s) => s.frames > 0)?.width ?? 0;
  await waitFor(async () => {
    const [h, l] = [await width(high), await width(low)];
    return l > 0 && l < h;
  }, 30000, 'the low-layer attendee getting a smaller VP9 picture than the other');
  const before = videoOf(await inbound(low)).find((s) => s.frames > 0).frames;
  await sleep(2000);
  const after = videoOf(await inbound(low)).find((s) => s.frames > 0).frames;
  assert.ok(after - before >= 20, `the low-layer attendee keeps decoding (${after - before} frames in 2 s)`);
  assert.match(await videoCodec(low, 'down'), /^video\/VP9/);
});

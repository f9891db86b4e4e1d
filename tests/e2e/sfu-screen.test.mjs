// End-to-end: a speaker shares a screen next to the camera, in real headless Chromium through
// kumisd, inside a private network namespace. The "screen" is a 1280x720 canvas drawn 15 times
// a second and captured (getDisplayMedia needs a person to pick a screen); the web client sends
// it exactly as it sends a screen: a second stream on the same up connection, re-offered.
//
// What an attendee must see (signaling/PROTOCOL.md): the speaker's camera as the stream
// "<speaker id>" and the screen as "<speaker id>-screen", both decoding; the camera turned off
// while the screen goes on, and back on again (the up connection is re-offered, never
// rebuilt); the screen share ended while the camera goes on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sleep, waitFor } from './kumisd.mjs';
import { PASSWORD, forumWithBrowser, person } from './participants.mjs';

const forum = forumWithBrowser();

// The page's decoded video per received stream id: {streamId: {frames, width}}. A stream whose
// video track was taken away (its m-line inactive) is not listed.
function videoByStream(page) {
  return page.evaluate(async () => {
    const streamOf = new Map();
    for (const v of document.querySelectorAll('video')) {
      for (const t of v.srcObject?.getVideoTracks() ?? []) streamOf.set(t.id, v.srcObject.id);
    }
    const out = {};
    const pc = window.kt.ms.down;
    if (!pc) return out;
    (await pc.getStats()).forEach((r) => {
      if (r.type === 'inbound-rtp' && r.kind === 'video' && streamOf.has(r.trackIdentifier)) {
        out[streamOf.get(r.trackIdentifier)] = { frames: r.framesDecoded ?? 0, width: r.frameWidth ?? 0 };
      }
    });
    return out;
  });
}

// Frames decoded on stream @id over @ms (0 when the stream is not there at the end).
async function framesOver(page, id, ms) {
  const a = (await videoByStream(page))[id]?.frames ?? 0;
  await sleep(ms);
  const b = (await videoByStream(page))[id]?.frames ?? 0;
  return b - a;
}

test('a speaker shares a screen beside the camera; camera off and on again; sharing ends', async (t) => {
  const speaker = await person(forum.browser, forum.server, 'Pembicara', PASSWORD);
  const attendee = await person(forum.browser, forum.server, 'Peserta');
  const id = await speaker.evaluate(() => window.kt.messages.find((m) => m.type === 'joined').participant.id);
  const screenId = `${id}-screen`;
  const seen = () => videoByStream(attendee);

  await speaker.evaluate(() => window.kt.ms.publish());
  await waitFor(async () => (await seen())[id]?.frames > 10, 20000, 'the attendee decoding the camera');

  await speaker.evaluate(async () => {
    const canvas = document.createElement('canvas');
    canvas.width = 1280;
    canvas.height = 720;
    const g = canvas.getContext('2d');
    let n = 0;
    window.kt.painter = setInterval(() => {
      n += 1;
      g.fillStyle = `hsl(${(n * 7) % 360} 50% 40%)`;
      g.fillRect(0, 0, canvas.width, canvas.height);
      g.fillStyle = '#fff';
      g.font = '64px sans-serif';
      g.fillText(`Slide ${n}`, 80, 160);
    }, 66);
    await window.kt.ms.shareScreen({ stream: canvas.captureStream(15) });
  });
  await waitFor(async () => (await seen())[screenId]?.width === 1280, 20000,
    `the attendee decoding ${screenId} at 1280 pixels wide`);
  const both = await seen();
  t.diagnostic(`sharing: ${JSON.stringify(both)}`);
  assert.deepEqual(Object.keys(both).sort(), [id, screenId].sort(), 'two streams: camera and screen');
  assert.ok(await framesOver(attendee, id, 2000) > 10, 'the camera keeps decoding beside the screen');

  // Camera off: its m-lines go inactive, the screen goes on.
  await speaker.evaluate(() => window.kt.ms.unpublish());
  await waitFor(async () => !((id) in await seen()), 15000, 'the camera gone at the attendee');
  assert.ok(await framesOver(attendee, screenId, 2000) > 10, 'the screen keeps decoding with the camera off');

  // Camera on again, on the same up connection.
  await speaker.evaluate(() => window.kt.ms.publish());
  await waitFor(async () => (await seen())[id]?.frames > 10, 20000, 'the camera back at the attendee');
  assert.ok(await framesOver(attendee, id, 2000) > 10, 'the camera decodes again');

  // Sharing ends: the screen stream goes, the camera goes on.
  await speaker.evaluate(async () => {
    await window.kt.ms.stopScreen();
    clearInterval(window.kt.painter);
  });
  await waitFor(async () => !(screenId in await seen()), 15000, 'the screen gone at the attendee');
  assert.ok(await framesOver(attendee, id, 2000) > 10, 'the camera keeps decoding after the share ended');
  const errors = await speaker.evaluate(() => window.kt.errors);
  assert.deepEqual(errors, [], 'the speaker got no error');
});

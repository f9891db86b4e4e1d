// End-to-end: the web client (server/web) in real headless Chromium against a real kumisd.
// The page exposes its state as attributes on <body>: data-conn (connecting, open, closed) and
// data-state (start, ready, joining, lobby, room); the tests wait on those, never on sleeps.
// Set KUMIS_E2E_SCREENSHOTS=DIR to keep screenshots of the page in both languages.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startKumisd } from './kumisd.mjs';
import { launchBrowser, watchPage } from './browser.mjs';

const TITLE = 'Forum Uji Bang Kumis'; // not the default: proves the title comes from the server
const DESCRIPTION = 'Deskripsi ini datang dari konfigurasi server';
const PASSWORD = 'sandi-moderator-uji';
const CONFIG = {
  forum: { title: TITLE, description: DESCRIPTION, moderator_password: PASSWORD, time_zone: 'Asia/Makassar' },
};
const SHOTS = process.env.KUMIS_E2E_SCREENSHOTS;

let server;
let browser;
let page;
let problems;

before(async () => {
  server = await startKumisd(CONFIG);
  browser = await launchBrowser({ viewport: { width: 390, height: 844 } }); // a phone
  page = await browser.newPage();
  problems = watchPage(page);
});

after(async () => {
  if (process.env.KUMIS_E2E_LOG && server) console.error(server.log());
  await browser?.close();
  await server?.kill();
});

const body = (attr) => page.locator('body').getAttribute(`data-${attr}`);
const text = (selector) => page.locator(selector).innerText();
const waitState = (p, state, timeout = 10000) => p.waitForSelector(`body[data-state="${state}"]`, { timeout });
const shot = (name) => (SHOTS ? page.screenshot({ path: path.join(SHOTS, `kumis-${name}.png`), fullPage: true }) : null);

test('the page loads over HTTPS, connects, and shows the forum the server describes', async () => {
  const response = await page.goto(`${server.url}/`);
  assert.equal(response.status(), 200);
  assert.ok(page.url().startsWith('https://'));
  await waitState(page, 'ready'); // set only when the WebSocket got welcome
  assert.equal(await body('conn'), 'open');
  assert.equal(await text('#forum-title'), TITLE);
  assert.equal(await text('#forum-description'), DESCRIPTION);
  assert.match(await page.title(), new RegExp(TITLE));
  assert.match(await text('#server-version'), /kumisd \d+\.\d+\.\d+/, 'the server name from welcome');
  assert.match(await text('#conn-text'), /Terhubung/);
  // Dates are shown in the forum's time zone (Asia/Makassar is WITA), whatever the browser's.
  assert.match(await text('#forum-clock'), / WITA$/);
  assert.deepEqual(problems, []);
});

test('the join form is in Bahasa Indonesia by default', async () => {
  assert.equal(await page.locator('html').getAttribute('lang'), 'id');
  assert.equal(await text('label[for="name"]'), 'Nama');
  assert.equal(await text('label[for="institution"]'), 'Instansi / Lembaga');
  assert.equal(await text('#join-submit'), 'Masuk');
  assert.equal(await page.locator('[data-lang="id"]').getAttribute('aria-pressed'), 'true');
  await shot('id');
});

test('validation messages appear in the chosen language: required, and at most 80 characters', async () => {
  await page.fill('#name', '');
  await page.fill('#institution', '');
  await page.click('#join-submit');
  assert.equal(await text('#name-error'), 'Nama wajib diisi.');
  assert.equal(await text('#institution-error'), 'Instansi / Lembaga wajib diisi.');
  assert.equal(await page.locator('#name').getAttribute('aria-invalid'), 'true');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'name', 'focus moves to the first invalid field');
  assert.equal(await body('state'), 'ready', 'nothing was sent');
  await shot('id-validation');

  await page.fill('#name', 'é'.repeat(81)); // characters, not bytes: 81 of them is one too many
  assert.match(await text('#name-error'), /paling banyak 80 karakter/);
  await page.fill('#name', 'é'.repeat(80));
  assert.equal(await text('#name-error'), '', 'the message goes away once fixed');
  assert.equal(await page.locator('#name').getAttribute('aria-invalid'), 'false');
});

test('switching to English changes every label at once, and a reload keeps English', async () => {
  await page.click('[data-lang="en"]');
  assert.equal(await page.locator('html').getAttribute('lang'), 'en');
  assert.equal(await text('label[for="name"]'), 'Name');
  assert.equal(await text('label[for="institution"]'), 'Institution / Organisation');
  assert.equal(await text('#join-submit'), 'Join');
  assert.equal(await text('#join-heading'), 'Join the forum');
  assert.equal(await text('#institution-error'), 'Institution / Organisation is required.', 'open messages are translated too');
  assert.match(await text('#conn-text'), /Connected/);
  assert.match(await text('#forum-time'), /^Forum time: .* WITA$/);
  assert.equal(await page.locator('[data-lang="en"]').getAttribute('aria-pressed'), 'true');
  await shot('en-validation');

  await page.reload();
  await waitState(page, 'ready');
  assert.equal(await page.locator('html').getAttribute('lang'), 'en');
  assert.equal(await text('label[for="name"]'), 'Name');
  assert.equal(await text('#forum-title'), TITLE);
  await shot('en');
});

test('an attendee waits in the lobby until a moderator lets them in, then sees the moderator\'s camera', async () => {
  await page.fill('#name', 'Budi Santoso');
  await page.fill('#institution', 'BPSDM Jawa Timur');
  await page.click('#join-submit');
  await waitState(page, 'lobby');
  assert.match(await text('#lobby'), /Waiting for a moderator to let you in/);
  await shot('en-lobby');

  const moderator = await browser.newPage();
  const modProblems = watchPage(moderator);
  try {
    await moderatorAdmitsAndPublishes(moderator);
  } finally {
    await moderator.close(); // never leave a publishing page behind for the next tests
  }
  assert.deepEqual(modProblems, []);
});

async function moderatorAdmitsAndPublishes(moderator) {
  await moderator.goto(`${server.url}/`);
  await waitState(moderator, 'ready');
  await moderator.click('[data-lang="id"]');
  await moderator.fill('#name', 'Bang Kumis');
  await moderator.fill('#institution', 'Tim Forum');
  await moderator.click('#moderator summary');
  await moderator.fill('#password', PASSWORD);
  await moderator.click('#join-submit');
  await waitState(moderator, 'room');
  const admit = moderator.getByRole('button', { name: 'Izinkan Budi Santoso masuk' });
  await admit.waitFor({ timeout: 5000 });
  assert.match(await moderator.locator('#waiting').innerText(), /BPSDM Jawa Timur/);
  await admit.click();

  await waitState(page, 'room');
  assert.match(await text('#room-you'), /You joined as Budi Santoso \(BPSDM Jawa Timur\)/);
  assert.match(await text('#people'), /Bang Kumis/);
  await moderator.waitForFunction(() => document.querySelector('#waiting-box').hidden);
  assert.match(await moderator.locator('#people').innerText(), /Budi Santoso/);
  await shot('en-room');

  // The moderator (a speaker) turns the camera on; the attendee's page shows the video.
  assert.equal(await page.locator('#camera').isVisible(), false, 'an attendee has no camera button');
  assert.equal(await page.locator('#screen').isVisible(), false, 'an attendee has no screen-share button');
  assert.equal(await moderator.locator('#screen').innerText(), 'Bagikan layar', 'a speaker may share the screen');
  await moderator.click('#camera');
  await moderator.waitForFunction(() => /Matikan/.test(document.querySelector('#camera').textContent));
  await page.waitForFunction(() => {
    const v = document.querySelector('#videos video');
    return v && v.videoWidth > 0 && v.currentTime > 0;
  }, null, { timeout: 30000 });
  assert.equal(await page.locator('#no-video').isVisible(), false);
  await shot('en-room-video');

  await moderator.click('#room .leave');
  await waitState(moderator, 'ready');
  await page.waitForFunction(() => !/Bang Kumis/.test(document.querySelector('#people').innerText));
  await page.waitForFunction(() => document.querySelectorAll('#videos video').length === 0, null, { timeout: 10000 });
}

test('a refused join shows the server\'s message in a friendly box, and the form stays usable', async () => {
  const other = await browser.newPage();
  await other.goto(`${server.url}/`);
  await waitState(other, 'ready');
  await other.click('[data-lang="id"]');
  await other.fill('#name', 'Bukan Moderator');
  await other.fill('#institution', 'Entah');
  await other.click('#moderator summary');
  await other.fill('#password', 'salah');
  await other.click('#join-submit');
  const alert = other.locator('#alert');
  await alert.waitFor({ state: 'visible', timeout: 10000 });
  assert.equal(await alert.getAttribute('role'), 'alert');
  assert.match(await alert.innerText(), /Ada kendala/);
  assert.match(await alert.innerText(), /kata sandi moderator salah/);
  assert.equal(await other.locator('body').getAttribute('data-state'), 'ready');
  assert.equal(await other.locator('#join-submit').isEnabled(), true);
  if (SHOTS) await other.screenshot({ path: path.join(SHOTS, 'kumis-id-error.png'), fullPage: true });

  // The language switch is told to the server (a new hello), so its own messages follow.
  await other.click('#alert-close');
  assert.equal(await alert.isVisible(), false);
  await other.click('[data-lang="en"]');
  await other.click('#join-submit');
  await alert.waitFor({ state: 'visible', timeout: 10000 });
  assert.match(await alert.innerText(), /Something went wrong/);
  assert.match(await alert.innerText(), /wrong moderator password/);
  await other.close();
});

test('the page shows a lost connection and comes back by itself, rejoining the lobby', async () => {
  await page.click('#room .leave');
  await waitState(page, 'ready');
  await page.click('#join-submit'); // name and institution are still filled in
  await waitState(page, 'lobby');

  const port = server.port;
  await server.stop();
  server = null;
  await page.waitForSelector('body[data-conn="closed"]', { timeout: 10000 });
  assert.match(await text('#conn-text'), /Disconnected/);
  await shot('en-disconnected');

  server = await startKumisd({ ...CONFIG, server: { port } });
  await page.waitForSelector('body[data-conn="open"]', { timeout: 20000 });
  await waitState(page, 'lobby', 10000); // joined again with the same details
  assert.match(await text('#lobby'), /Waiting for a moderator/);
});

test('the daemon exits 0 on SIGTERM', async () => {
  await server.stop(); // asserts exit status 0
  server = null;
  assert.deepEqual(problems.filter((p) => !/WebSocket|ERR_CONNECTION_REFUSED/.test(p)), []);
});

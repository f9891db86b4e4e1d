// Debian's Chromium, headless, driven by playwright-core, with the flags TESTING.md found
// necessary on this machine. Never `npx playwright install`: the browser is /usr/bin/chromium.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.KUMIS_CHROMIUM || '/usr/bin/chromium';

const FLAGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
  '--allow-loopback-in-peer-connection',
];

// Launches one persistent context in a fresh profile directory (so localStorage survives a
// reload, as a real browser's would). @options go to launchPersistentContext (viewport,
// locale...), except `autoplay: true`, which lets pages play media without a user gesture
// (the media tests' pages, see participants.mjs; the web client's own page must cope without),
// and `extraArgs`, more command-line flags (a microphone file, say).
// Returns the context; its close() also removes the profile.
export async function launchBrowser({ autoplay = false, extraArgs = [], ...options } = {}) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'kumis-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    ignoreHTTPSErrors: true, // kumisd's self-signed certificate
    args: [...FLAGS, ...(autoplay ? ['--autoplay-policy=no-user-gesture-required'] : []), ...extraArgs],
    ...options,
  });
  const close = context.close.bind(context);
  context.close = async () => {
    await close();
    fs.rmSync(profile, { recursive: true, force: true });
  };
  return context;
}

// Collects what would otherwise be invisible in a headless run: page errors, console errors
// and failed requests. Returns the array it fills.
export function watchPage(page) {
  const problems = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('requestfailed', (r) => problems.push(`requestfailed: ${r.url()} ${r.failure()?.errorText}`));
  return problems;
}

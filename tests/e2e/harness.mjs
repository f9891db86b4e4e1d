// Shared by the e2e tests: start kumisd in a fresh directory, launch Debian's Chromium.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import https from 'node:https';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls @fn until it returns a truthy value; fails after @ms with @what.
export async function waitFor(fn, ms = 10000, what = 'condition') {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}: ${fn}`);
    await sleep(100);
  }
}

async function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

function get(url) {
  return new Promise((resolve) => {
    https.get(url, { rejectUnauthorized: false }, (res) => { res.resume(); resolve(res.statusCode); })
      .on('error', () => resolve(0));
  });
}

// Starts kumisd (path from $KUMISD) with a config built from @groups ({group: {key: value}}).
// Returns { url, port, dir, proc, log(), stop() -> exit code }.
export async function startKumisd(groups = {}) {
  const bin = process.env.KUMISD;
  if (!bin) throw new Error('KUMISD must name the kumisd binary');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kumis-e2e-'));
  const port = await freePort();
  const all = { ...groups, server: { port, state_dir: path.join(dir, 'var'), ...(groups.server || {}) } };
  const text = Object.entries(all).map(([g, kv]) =>
    `[${g}]\n` + Object.entries(kv).map(([k, v]) => `${k} = ${v}`).join('\n')).join('\n\n') + '\n';
  fs.writeFileSync(path.join(dir, 'kumisd.conf'), text);
  let output = '';
  const proc = spawn(bin, ['--config', path.join(dir, 'kumisd.conf')], { cwd: dir });
  proc.stdout.on('data', (d) => { output += d; });
  proc.stderr.on('data', (d) => { output += d; });
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve(code ?? signal)));
  const url = `https://127.0.0.1:${port}`;
  await waitFor(async () => (await get(url + '/healthz')) === 200, 15000, 'kumisd /healthz');
  return {
    url, port, dir, proc,
    log: () => output,
    async stop() {
      proc.kill('SIGTERM');
      let timer;
      const timeout = new Promise((r) => { timer = setTimeout(() => r('timeout'), 10000); });
      const code = await Promise.race([exited, timeout]);
      clearTimeout(timer);
      if (code !== 0) console.error(output);
      fs.rmSync(dir, { recursive: true, force: true });
      return code;
    },
  };
}

// Debian's Chromium, headless, with the flags TESTING.md found necessary for WebRTC here.
export async function launchChromium() {
  const { chromium } = await import('playwright-core');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kumis-chromium-'));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    ignoreHTTPSErrors: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
      '--allow-loopback-in-peer-connection', '--autoplay-policy=no-user-gesture-required'],
  });
  const close = context.close.bind(context);
  context.close = async () => { await close(); fs.rmSync(dir, { recursive: true, force: true }); };
  return context;
}

// Runs a real kumisd for a test: in a fresh temporary directory, with a configuration file of
// the test's choosing (free port, state_dir inside the directory), ready once /healthz answers,
// stopped by its PID with SIGTERM and checked to exit 0. The binary comes from $KUMISD.
// Also the two waiting helpers every test uses: sleep() and waitFor().
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const READY_MS = 20000;
const STOP_MS = 10000;

export function kumisdPath() {
  const bin = process.env.KUMISD;
  if (!bin) throw new Error('set KUMISD to the kumisd binary (ctest does: $<TARGET_FILE:kumisd>)');
  return bin;
}

export function makeTempDir(prefix = 'kumis-e2e-') {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

// A TCP port nobody listens on right now (the tests run in their own network namespace, so
// nothing else can take it before kumisd does).
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// Writes @groups ({group: {key: value}}) as a GLib key file; returns its path.
export function writeConfig(dir, groups, name = 'kumisd.conf') {
  const text = Object.entries(groups)
    .map(([group, keys]) => `[${group}]\n` + Object.entries(keys).map(([k, v]) => `${k} = ${v}\n`).join(''))
    .join('\n');
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Polls @fn every 100 ms until it returns a truthy value, which it resolves with; throws after
// @ms naming @what.
export async function waitFor(fn, ms = 10000, what = 'condition') {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}: ${fn}`);
    await sleep(100);
  }
}

// Resolves with the HTTP status of GET @url (self-signed certificates accepted), 0 on failure.
export function httpsStatus(url) {
  return new Promise((resolve) => {
    const req = https.get(url, { rejectUnauthorized: false, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

function collect(proc) {
  const out = { stdout: '', stderr: '' };
  proc.stdout.setEncoding('utf8').on('data', (d) => { out.stdout += d; });
  proc.stderr.setEncoding('utf8').on('data', (d) => { out.stderr += d; });
  return out;
}

// Resolves with {code, signal} when @proc exits, or null after @ms (the timer never keeps
// node alive on its own).
function exitOf(proc, ms) {
  if (proc.exitCode !== null || proc.signalCode !== null)
    return Promise.resolve({ code: proc.exitCode, signal: proc.signalCode });
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), ms);
    timer.unref();
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
  });
}

// Starts kumisd with @config merged over {server: {port: <free>, state_dir: <dir>/var}}
// (a port given in @config is kept: a test can restart a daemon where the page expects it).
// Returns {url, port, dir, pid, proc, log(), stop(), kill()}; stop() sends SIGTERM to the PID,
// asserts the exit status is 0 (a kumisd that died before fails it too) and removes the
// directory; proc.exitCode/signalCode tell whether it still runs. Throws (with kumisd's
// output) if the daemon exits or /healthz does not answer within 20 s.
export async function startKumisd(config = {}) {
  const dir = makeTempDir();
  const port = Number(config.server?.port ?? (await freePort()));
  const groups = { ...config, server: { state_dir: path.join(dir, 'var'), ...(config.server || {}), port } };
  const file = writeConfig(dir, groups);
  const proc = spawn(kumisdPath(), ['--config', file], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = collect(proc);
  const log = () => `--- kumisd stdout\n${out.stdout}--- kumisd stderr\n${out.stderr}`;
  const url = `https://127.0.0.1:${port}`;
  const deadline = Date.now() + READY_MS;
  while ((await httpsStatus(`${url}/healthz`)) !== 200) {
    if (proc.exitCode !== null || proc.signalCode !== null || Date.now() > deadline) {
      proc.kill('SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
      throw new Error(`kumisd did not become ready on port ${port}\n${log()}`);
    }
    await sleep(100);
  }
  let stopped = false;
  return {
    url,
    port,
    dir,
    pid: proc.pid,
    proc,
    log,
    async stop() {
      assert.ok(!stopped, 'kumisd stopped twice');
      stopped = true;
      const running = () => proc.exitCode === null && proc.signalCode === null;
      if (running()) process.kill(proc.pid, 'SIGTERM');
      const exit = await exitOf(proc, STOP_MS);
      if (!exit) process.kill(proc.pid, 'SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
      assert.deepEqual(exit, { code: 0, signal: null }, `kumisd exits 0 on SIGTERM\n${log()}`);
      return exit.code;
    },
    // For cleanup after a failed test: no assertion.
    async kill() {
      if (stopped) return;
      stopped = true;
      proc.kill('SIGTERM');
      if (!(await exitOf(proc, STOP_MS))) proc.kill('SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

// Runs kumisd with @args to completion in @cwd (a fresh directory, removed afterwards, by
// default), or stops it by
// PID with SIGTERM once its stderr contains @until. Resolves with {code, signal, stdout, stderr}.
export async function runKumisd(args, { cwd = null, until = null, timeoutMs = 20000 } = {}) {
  const ownDir = cwd === null; // a directory of our own is removed afterwards
  if (ownDir) cwd = makeTempDir();
  const proc = spawn(kumisdPath(), args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = collect(proc);
  let terminated = false;
  if (until) {
    proc.stderr.on('data', () => {
      if (!terminated && out.stderr.includes(until)) {
        terminated = true;
        process.kill(proc.pid, 'SIGTERM');
      }
    });
  }
  let exit = await exitOf(proc, timeoutMs);
  if (!exit) {
    proc.kill('SIGKILL');
    exit = (await exitOf(proc, 5000)) || { code: null, signal: 'SIGKILL' };
    exit.timedOut = true;
  }
  if (ownDir) fs.rmSync(cwd, { recursive: true, force: true });
  return { ...exit, ...out, terminated };
}

// End-to-end: kumisd's command line. --help and --version; a bad configuration file is named
// in one line with its line number and key, and kumisd exits 2 without starting; with no
// configuration at all, in an empty directory, it starts on its defaults and stops cleanly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { makeTempDir, runKumisd } from './kumisd.mjs';

const EXIT_CONFIG = 2;

test('--help prints the options and exits 0', async () => {
  const r = await runKumisd(['--help']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Usage:/);
  assert.match(r.stdout, /--config/);
  assert.match(r.stdout, /--version/);
});

test('--version prints the version and exits 0', async () => {
  const r = await runKumisd(['--version']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^kumisd \d+\.\d+\.\d+\n$/);
});

test('an unknown option or an extra argument exits 2 with a hint', async () => {
  for (const args of [['--no-such-option'], ['extra']]) {
    const r = await runKumisd(args);
    assert.equal(r.code, EXIT_CONFIG, args.join(' '));
    assert.match(r.stderr, /try --help/);
  }
});

// Each bad file: its text, the line the error must name, and what the line must mention.
const BAD_CONFIGS = [
  { what: 'unknown key', text: '[server]\nport = 8443\nbogus = 3\n', line: 3, mentions: ['bogus'] },
  { what: 'bad value', text: '# a comment\n[server]\nport = delapan\n', line: 3, mentions: ['port', 'delapan'] },
  { what: 'port out of range', text: '[server]\n\nport = 70000\n', line: 3, mentions: ['port'] },
  { what: 'value not one of a list', text: '[forum]\npolicy = kadang-kadang\n', line: 2, mentions: ['policy'] },
  { what: 'unknown group', text: '[server]\nport = 8443\n[serverr]\nport = 1\n', line: 3, mentions: ['serverr'] },
  { what: 'syntax error', text: '[server]\nport = 8443\nthis is not a key file\n', line: 3, mentions: ['this is not a key file'] },
  { what: 'key before any group', text: 'port = 8443\n', line: 1, mentions: ['port'] },
];

for (const bad of BAD_CONFIGS) {
  test(`a config file with ${bad.what} is named in one line with its line number, exit 2`, async () => {
    const dir = makeTempDir();
    const file = path.join(dir, 'broken.conf');
    fs.writeFileSync(file, bad.text);
    const r = await runKumisd(['--config', file], { cwd: dir });
    assert.equal(r.code, EXIT_CONFIG, r.stderr);
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, `exactly one line on stderr:\n${r.stderr}`);
    assert.ok(lines[0].includes(`${file}:${bad.line}:`), `names ${file}:${bad.line}: in "${lines[0]}"`);
    for (const word of bad.mentions) assert.ok(lines[0].includes(word), `mentions ${word} in "${lines[0]}"`);
    assert.equal(r.stdout, '');
    assert.deepEqual(fs.readdirSync(dir), ['broken.conf'], 'nothing was written: kumisd did not start');
    fs.rmSync(dir, { recursive: true, force: true });
  });
}

test('a config file that does not exist is named, exit 2', async () => {
  const r = await runKumisd(['--config', '/nonexistent/kumisd.conf']);
  assert.equal(r.code, EXIT_CONFIG);
  assert.match(r.stderr, /\/nonexistent\/kumisd\.conf/);
});

// Runs on the defaults: 127.0.0.1:8443, which is free inside the test's own network namespace.
test('with no config in an empty directory kumisd starts on its defaults and stops cleanly', async () => {
  const dir = makeTempDir();
  const r = await runKumisd([], { cwd: dir, until: 'listening on https://' });
  assert.ok(r.terminated, `kumisd said it was listening:\n${r.stderr}`);
  assert.deepEqual({ code: r.code, signal: r.signal }, { code: 0, signal: null }, r.stderr);
  assert.match(r.stderr, /listening on https:\/\/127\.0\.0\.1:8443\//);
  assert.match(r.stderr, /moderator password/, 'the first start prints the moderator password once');
  for (const file of ['cert.pem', 'key.pem', 'moderator-password'])
    assert.ok(fs.existsSync(path.join(dir, 'var', file)), `var/${file} was made on first start`);

  // A second start in the same directory reuses what the first one made and prints no password.
  const again = await runKumisd([], { cwd: dir, until: 'listening on https://' });
  assert.equal(again.code, 0, again.stderr);
  assert.doesNotMatch(again.stderr, /moderator password/);
  fs.rmSync(dir, { recursive: true, force: true });
});

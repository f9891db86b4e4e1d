// End-to-end: the kumis.v1 WebSocket protocol and the HTTP side of a real kumisd, spoken to by
// node (ws). Checks signaling/PROTOCOL.md from the outside: hello/welcome, every error code for
// 1000 malformed messages on one connection that stays usable, size and binary limits, the
// flood limit (close 1008), plain HTTP, /healthz, 404, and a clean exit on SIGTERM.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import { startKumisd } from './kumisd.mjs';
import { KumisClient } from './wsclient.mjs';

const server = await startKumisd();
after(() => server.kill()); // only acts if a test failed before the SIGTERM test

function fetchStatus(url, { insecure = true } = {}) {
  const lib = url.startsWith('https:') ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.get(url, { rejectUnauthorized: !insecure, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within 5 s`)));
    req.on('error', reject);
  });
}

test('hello is answered by welcome with the forum', async () => {
  const c = await KumisClient.open(server.url);
  const w = await c.request({ type: 'hello', version: 1, client: 'kumis-e2e', lang: 'id', id: 'h1' }, 'welcome');
  assert.equal(w.type, 'welcome');
  assert.equal(w.id, 'h1', 'the request id is echoed');
  assert.equal(w.version, 1);
  assert.match(w.server, /^kumisd \d+\.\d+\.\d+/);
  assert.equal(w.forum.id, 'bang-kumis-menyapa');
  assert.equal(w.forum.title, 'Bang Kumis Menyapa');
  assert.equal(typeof w.forum.description, 'string');
  assert.ok(w.forum.description.length > 0);
  assert.equal(w.forum.policy, 'lobby');
  assert.equal(w.forum.time_zone, 'Asia/Jakarta');
  await c.close();
});

test('messages before hello get hello-first; a wrong version gets bad-version', async () => {
  const c = await KumisClient.open(server.url);
  c.send({ type: 'join', id: 1, name: 'Budi', institution: 'BPSDM' });
  assert.deepEqual(pick(await c.next()), { type: 'error', code: 'hello-first', id: 1 });
  c.send({ type: 'ping', id: 2 });
  assert.deepEqual(pick(await c.next()), { type: 'pong', id: 2 }, 'ping is allowed before hello');
  c.send({ type: 'hello', version: 2, id: 3 });
  assert.deepEqual(pick(await c.next()), { type: 'error', code: 'bad-version', id: 3 });
  assert.equal((await c.hello()).type, 'welcome');
  await c.close();
});

const pick = (m) => Object.fromEntries(Object.entries(m).filter(([k]) => ['type', 'code', 'id'].includes(k)));

// ---- 1000 malformed messages --------------------------------------------------------------

// A small seeded generator (mulberry32) so a failure can be replayed exactly.
function random(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const VALID = [
  { type: 'ping' },
  { type: 'hello', version: 1, client: 'x', lang: 'en' },
  { type: 'join', name: 'Budi', institution: 'BPSDM Jatim' },
  { type: 'candidate', pc: 'up', candidate: '', mid: '0' },
];

// Each generator returns [text, expected error code, id the error must echo or undefined].
const MALFORMED = {
  // Proper prefixes of an object are never JSON; plus the documented oddities.
  'bad-json': (r, i) => {
    const fixed = ['not json', '{', '', ' ', "{'type':'ping'}", '{"type":"ping",}', '{"type":"ping"} x',
      '{"type":"ping","type":"hello"}', '{"type":"join","name":"a\\u0000b","institution":"x"}', '{"a":NaN}',
      '{"type":"ping"}}', 'undefined', '\u00e9t\u00e9', '{"type":"\ud83d\ude00"'];
    if (i % 3 === 0) return [fixed[Math.floor(r() * fixed.length)], 'bad-json'];
    const text = JSON.stringify({ ...VALID[Math.floor(r() * VALID.length)], id: i });
    return [text.slice(0, 1 + Math.floor(r() * (text.length - 1))), 'bad-json'];
  },
  'not-object': (r, i) => [JSON.stringify([i, 'type', { type: 'ping' }].slice(0, Math.floor(r() * 4))), 'not-object'],
  'missing-type': (r, i) => {
    const types = [undefined, null, 1, true, [], {}, ['ping']];
    const msg = { id: i, typ: 'ping' };
    const t = types[Math.floor(r() * types.length)];
    if (t !== undefined) msg.type = t;
    return [JSON.stringify(msg), 'missing-type', i];
  },
  'unknown-type': (r, i) => {
    const names = ['x-' + Math.floor(r() * 1e9).toString(36), 'PING', 'Hello', '', ' ping', 'join ', 'welcome', 'error'];
    return [JSON.stringify({ type: names[Math.floor(r() * names.length)], id: i }), 'unknown-type', i];
  },
  'missing-field': (r, i) => {
    const msgs = [{ type: 'hello' }, { type: 'hello', version: null }, { type: 'join', name: 'Budi' },
      { type: 'join', institution: 'BPSDM' }, { type: 'join', name: null, institution: 'x' }, { type: 'admit' },
      { type: 'offer', pc: 'up' }, { type: 'answer', sdp: 'v=0' }, { type: 'candidate', pc: 'down' }, { type: 'quality' }];
    return [JSON.stringify({ ...msgs[Math.floor(r() * msgs.length)], id: i }), 'missing-field', i];
  },
  'bad-field': (r, i) => {
    const msgs = [{ type: 'hello', version: '1' }, { type: 'hello', version: 1.5 }, { type: 'hello', version: 1, lang: 'fr' },
      { type: 'hello', version: 1, client: 'c'.repeat(129) }, { type: 'join', name: 5, institution: 'x' },
      { type: 'join', name: 'Budi', institution: [] }, { type: 'join', name: 'N'.repeat(81), institution: 'BPSDM' },
      { type: 'join', name: 'Budi', institution: 'I'.repeat(81) }, { type: 'join', name: '   ', institution: 'x' },
      { type: 'admit', participant: 7 }, { type: 'offer', pc: 'sideways', sdp: 'v=0' }, { type: 'quality', quality: 'best' },
      { type: 'candidate', pc: 'up', candidate: 'c'.repeat(1025) }];
    const msg = msgs[Math.floor(r() * msgs.length)];
    // A bad "id" is itself a bad field, and then the error cannot echo it.
    if (r() < 0.15) return [JSON.stringify({ type: 'ping', id: [{}, 1.5, 'i'.repeat(65), true][i % 4] }), 'bad-field'];
    return [JSON.stringify({ ...msg, id: i }), 'bad-field', i];
  },
  // Random text (valid UTF-8, as WebSocket text frames must be): classified the way JSON is.
  'random': (r) => {
    const n = 1 + Math.floor(r() * 200);
    let s = '';
    for (let k = 0; k < n; k++) {
      const pool = r();
      const cp = pool < 0.6 ? 32 + Math.floor(r() * 95) : pool < 0.9 ? 0xa0 + Math.floor(r() * 0x2000) : 0x1f300 + Math.floor(r() * 0x300);
      s += String.fromCodePoint(cp);
    }
    let v;
    try {
      v = JSON.parse(s);
    } catch {
      return [s, 'bad-json'];
    }
    return [s, Array.isArray(v) ? 'not-object' : v && typeof v === 'object' ? 'missing-type' : 'bad-json'];
  },
};

test('1000 malformed messages each get the right error and the connection stays usable', async () => {
  const c = await KumisClient.open(server.url);
  assert.equal((await c.hello()).type, 'welcome');
  const r = random(20261128);
  const kinds = Object.keys(MALFORMED);
  const sent = [];
  for (let i = 0; i < 1000; i++) {
    const kind = kinds[i % kinds.length];
    const [text, code, id] = MALFORMED[kind](r, i);
    sent.push({ kind, text, code, id });
    c.send(text);
  }
  const wrong = [];
  const seen = {};
  for (const s of sent) {
    const m = await c.next(10000);
    seen[m.code] = (seen[m.code] || 0) + 1;
    if (m.type !== 'error' || m.code !== s.code || m.id !== s.id || typeof m.message !== 'string' || !m.message)
      wrong.push({ sent: s.text.slice(0, 120), expected: s.code, id: s.id, got: m });
  }
  assert.deepEqual(wrong.slice(0, 10), [], `${wrong.length} of 1000 answers were not the expected error`);
  for (const code of ['bad-json', 'not-object', 'missing-type', 'unknown-type', 'missing-field', 'bad-field'])
    assert.ok(seen[code] >= 50, `at least 50 ${code} errors (got ${seen[code]})`);
  const w = await c.request({ type: 'hello', version: 1, id: 'again' }, 'welcome');
  assert.deepEqual(pick(w), { type: 'welcome', id: 'again' }, 'hello is still answered afterwards');
  await c.close();
});

// PROTOCOL.md: "not-object: JSON, but not an object" (jansson calls a bare scalar invalid JSON
// unless asked with JSON_DECODE_ANY).
test('a top-level JSON scalar gets not-object', async () => {
  const c = await KumisClient.open(server.url);
  await c.hello();
  try {
    for (const text of ['1', '"hello"', 'null', 'true', '-2.5e3']) {
      c.send(text);
      assert.equal((await c.next()).code, 'not-object', text);
    }
  } finally {
    await c.close();
  }
});

test('a text message over 64 KiB gets too-large, and the connection stays usable', async () => {
  const c = await KumisClient.open(server.url);
  await c.hello();
  c.send(JSON.stringify({ type: 'ping', id: 1, pad: 'x'.repeat(70 * 1024) }));
  const m = await c.next();
  assert.equal(m.type, 'error');
  assert.equal(m.code, 'too-large');
  c.send({ type: 'ping', id: 2 });
  assert.deepEqual(pick(await c.next()), { type: 'pong', id: 2 });
  // Just under the limit is still fine.
  const pad = 65536 - JSON.stringify({ type: 'ping', id: 3, pad: '' }).length;
  c.send(JSON.stringify({ type: 'ping', id: 3, pad: 'y'.repeat(pad) }));
  assert.deepEqual(pick(await c.next()), { type: 'pong', id: 3 }, 'a message of exactly 65536 bytes is accepted');
  await c.close();
});

test('a binary frame gets binary-unsupported, and the connection stays usable', async () => {
  const c = await KumisClient.open(server.url);
  await c.hello();
  c.sendRaw(Buffer.from([0x7b, 0x00, 0xff, 0x10]), { binary: true });
  const m = await c.next();
  assert.deepEqual(pick(m), { type: 'error', code: 'binary-unsupported' });
  c.send({ type: 'ping', id: 9 });
  assert.deepEqual(pick(await c.next()), { type: 'pong', id: 9 });
  await c.close();
});

test('a text frame that is not UTF-8 fails the connection with 1007', async () => {
  const c = await KumisClient.open(server.url);
  await c.hello();
  c.sendRaw(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
  const { code } = await c.closed;
  assert.equal(code, 1007);
});

test('a flood of 5000 messages is closed with 1008 and the daemon still answers', async () => {
  const c = await KumisClient.open(server.url);
  await c.hello();
  for (let i = 0; i < 5000; i++) c.send({ type: 'ping', id: i });
  let timer;
  const closed = await Promise.race([c.closed, new Promise((r) => { timer = setTimeout(() => r(null), 15000); })]);
  clearTimeout(timer);
  assert.ok(closed, 'the flooding connection was closed');
  assert.equal(closed.code, 1008);
  const d = await KumisClient.open(server.url);
  assert.equal((await d.hello()).type, 'welcome', 'a new connection is served');
  await d.close();
});

test('a WebSocket without the kumis.v1 subprotocol is refused', async () => {
  await assert.rejects(KumisClient.open(server.url, { protocol: null }));
  await assert.rejects(KumisClient.open(server.url, { protocol: 'chat' }));
  // ...and the daemon still speaks kumis.v1 to those who ask for it.
  const c = await KumisClient.open(server.url);
  c.close();
});

test('plain HTTP to the port gets a redirect to https, not a hang', async () => {
  const res = await fetchStatus(`http://127.0.0.1:${server.port}/`);
  assert.ok([301, 302, 307, 308].includes(res.status), `status ${res.status}`);
  assert.match(res.headers.location, /^https:\/\//);
});

// A browser that may speak HTTP/2 carries all its WebSockets to kumisd as streams of one TCP
// connection (RFC 8441), and lws 4.1 sometimes ends the whole connection when one stream is
// closed: a vanished speaker's session took the other sessions of that browser with it (1006).
test('TLS offers only http/1.1, so every WebSocket has its own TCP connection', async () => {
  const alpn = await new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port: server.port, ALPNProtocols: ['h2', 'http/1.1'],
      rejectUnauthorized: false }, () => { resolve(s.alpnProtocol); s.end(); });
    s.on('error', reject);
  });
  assert.equal(alpn, 'http/1.1', 'a client offering h2 and http/1.1 gets http/1.1');
});

test('/healthz answers 200 ok; an unknown path 404; the page and its modules are served', async () => {
  const health = await fetchStatus(`${server.url}/healthz`);
  assert.equal(health.status, 200);
  assert.equal(health.body.trim(), 'ok');
  assert.equal((await fetchStatus(`${server.url}/no/such/page`)).status, 404);
  assert.equal((await fetchStatus(`${server.url}/healthz/more`)).status, 404);
  const page = await fetchStatus(`${server.url}/`);
  assert.equal(page.status, 200);
  assert.match(page.body, /<html lang="id">/);
  for (const file of ['app.js', 'i18n.js', 'connection.js', 'style.css']) {
    const res = await fetchStatus(`${server.url}/${file}`);
    assert.equal(res.status, 200, file);
    assert.match(res.headers['content-type'], file.endsWith('.js') ? /javascript/ : /text\/css/, file);
  }
});

test('the daemon exits 0 on SIGTERM', async () => {
  assert.equal(await server.stop(), 0); // stop() asserts the exit status itself, too
});

// A small kumis.v1 WebSocket client for the e2e tests (node has no WebSocket client of its own
// in version 20): messages are queued as they arrive and taken in order with next().
import WebSocket from 'ws';

export class KumisClient {
  // Use KumisClient.open(); the constructor does not wait for the connection.
  constructor(ws) {
    this.ws = ws;
    this.queue = []; // parsed messages not yet taken
    this.waiters = []; // pending next() calls
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeCode = code;
        for (const w of this.waiters.splice(0)) w.reject(new Error(`closed with ${code} while waiting`));
        resolve({ code, reason: reason.toString() });
      });
    });
    ws.on('error', () => {}); // a failed connection shows up as 'close'
    ws.on('message', (data, isBinary) => {
      const msg = isBinary ? { type: '(binary)' } : JSON.parse(data.toString());
      const w = this.waiters.shift();
      if (w) w.resolve(msg);
      else this.queue.push(msg);
    });
  }

  // Connects to @baseUrl (https://127.0.0.1:PORT) at /ws with subprotocol kumis.v1.
  static open(baseUrl, { protocol = 'kumis.v1' } = {}) {
    const url = baseUrl.replace(/^http/, 'ws') + '/ws';
    const ws = new WebSocket(url, protocol ? [protocol] : [], { rejectUnauthorized: false, maxPayload: 1 << 24 });
    const client = new KumisClient(ws);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(client));
      ws.once('unexpected-response', (req, res) => reject(new Error(`upgrade refused: HTTP ${res.statusCode}`)));
      ws.once('error', reject);
    });
  }

  send(msg) {
    this.ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg));
  }

  sendRaw(data, options) {
    this.ws.send(data, options);
  }

  // Resolves with the next message; rejects after @ms or when the connection closes.
  next(ms = 5000) {
    if (this.queue.length) return Promise.resolve(this.queue.shift());
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve: (m) => { clearTimeout(timer); resolve(m); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`no message within ${ms} ms`));
      }, ms);
      this.waiters.push(waiter);
    });
  }

  // Sends @msg and returns the next message of the given @type, skipping notifications.
  async request(msg, type, ms = 5000) {
    this.send(msg);
    const end = Date.now() + ms;
    for (;;) {
      const m = await this.next(Math.max(1, end - Date.now()));
      if (m.type === type || m.type === 'error') return m;
    }
  }

  async hello(lang = 'id') {
    return this.request({ type: 'hello', version: 1, client: 'kumis-e2e/0.1', lang }, 'welcome');
  }

  close() {
    this.ws.close();
    return this.closed;
  }
}

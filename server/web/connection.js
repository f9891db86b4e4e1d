// kumis web client — the signaling connection: one WebSocket (subprotocol kumis.v1, see
// signaling/PROTOCOL.md) that reconnects by itself with exponential backoff and notices a
// dead link with a ping, because on weak mobile connections TCP can stay silent for minutes.

const SUBPROTOCOL = 'kumis.v1';
const BACKOFF_FIRST_MS = 1000;
const BACKOFF_MAX_MS = 30000;
const KEEPALIVE_MS = 25000; // a message at least this often keeps NAT and proxies open
const DEAD_AFTER_MS = 10000; // no answer to a ping this long: the link is gone

export class Connection {
  // @url: wss://host/ws. Callbacks: onState(state, retryInMs) with state 'connecting',
  // 'open' or 'closed'; onOpen(); onMessage(object) for each JSON object received.
  constructor(url, { onState = () => {}, onOpen = () => {}, onMessage = () => {} } = {}) {
    this.url = url;
    this.onState = onState;
    this.onOpen = onOpen;
    this.onMessage = onMessage;
    this.ws = null;
    this.failures = 0;
    this.retryTimer = 0;
    this.keepaliveTimer = 0;
    this.deadTimer = 0;
  }

  connect() {
    clearTimeout(this.retryTimer);
    this.drop();
    this.onState('connecting', 0);
    let ws;
    try {
      ws = new WebSocket(this.url, SUBPROTOCOL);
    } catch {
      this.scheduleRetry();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      this.onState('open', 0);
      this.armKeepalive();
      this.onOpen();
    };
    ws.onmessage = (event) => {
      this.armKeepalive();
      if (typeof event.data !== 'string') return;
      let msg;
      try {
        msg = JSON.parse(event.data);
      } catch {
        return; // the server only sends JSON; anything else is not ours to act on
      }
      if (msg && typeof msg === 'object' && typeof msg.type === 'string') this.onMessage(msg);
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.scheduleRetry();
    };
  }

  // Sends @msg as JSON. Returns whether it was handed to an open socket.
  send(msg) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(msg));
    return true;
  }

  get isOpen() {
    return !!this.ws && this.ws.readyState === WebSocket.OPEN;
  }

  // Called once the server has accepted us (welcome): the next failure starts a fresh backoff.
  resetBackoff() {
    this.failures = 0;
  }

  // Forgets the current socket without waiting for a closing handshake that may never come.
  drop() {
    clearTimeout(this.keepaliveTimer);
    clearTimeout(this.deadTimer);
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      try {
        ws.close();
      } catch {
        /* already closed */
      }
    }
  }

  scheduleRetry() {
    this.drop();
    // Full backoff with jitter, so a restarted server is not hit by everyone at once.
    const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** this.failures);
    const delay = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
    this.failures++;
    this.onState('closed', delay);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  armKeepalive() {
    clearTimeout(this.keepaliveTimer);
    clearTimeout(this.deadTimer);
    this.keepaliveTimer = setTimeout(() => {
      if (!this.send({ type: 'ping' })) return;
      this.deadTimer = setTimeout(() => this.scheduleRetry(), DEAD_AFTER_MS);
    }, KEEPALIVE_MS);
  }
}

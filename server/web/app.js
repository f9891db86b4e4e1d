// kumis web client — the forum page: language, connection state, join form, lobby and room.
// Everything the page shows is rendered from `state` by render(), so switching language
// redraws all text at once. Protocol: signaling/PROTOCOL.md.
import { Connection } from './connection.js';
import { DEFAULT_LANG, LANGS, formatForumDate, t } from './i18n.js';

const MAX_FIELD_CHARS = 80; // PROTOCOL.md: name and institution are 1–80 characters
const LANG_KEY = 'kumis.lang';
const PROFILE_KEY = 'kumis.profile';

const $ = (id) => document.getElementById(id);

const state = {
  lang: loadLang(),
  conn: 'connecting', // connecting | open | closed
  retryAt: 0, // when the next reconnect happens (ms since epoch), while closed
  phase: 'start', // start (no welcome yet) | ready | joining | lobby | room
  forum: null,
  server: '',
  me: null, // our participant object once joined
  people: new Map(), // id -> participant, everyone the server lets us see
  errors: {}, // field -> {key, vars}, the form's validation messages
  alert: null, // {kind: 'error'|'info', key, detail}
  publishing: false,
  sharing: false,
};

let joinDetails = null; // {name, institution, password}: kept to join again after a reconnect
let rejoin = false; // the connection dropped while we were in: join again after the welcome
let requestId = 0;
let joinRequest = 0;
let media = null; // promise of a MediaSession, made when we enter the room

function loadLang() {
  try {
    const saved = localStorage.getItem(LANG_KEY);
    if (LANGS.includes(saved)) return saved;
  } catch {
    /* storage disabled: use the default */
  }
  return DEFAULT_LANG;
}

const tr = (key, vars) => t(state.lang, key, vars);
const charCount = (text) => [...text].length; // code points, as the server counts

const conn = new Connection(`${location.protocol === 'http:' ? 'ws' : 'wss'}://${location.host}/ws`, {
  onState(s, retryIn) {
    state.conn = s;
    state.retryAt = s === 'closed' ? Date.now() + retryIn : 0;
    if (s !== 'open' && state.phase !== 'start') {
      // The server forgets us with the connection; what we showed of the room is stale.
      rejoin = rejoin || (!!joinDetails && state.phase !== 'ready');
      leaveRoomLocally(true);
      if (rejoin) state.phase = 'joining';
    }
    render();
  },
  onOpen() {
    conn.send({ type: 'hello', version: 1, client: 'kumis-web/0.1', lang: state.lang });
  },
  onMessage(msg) {
    const handler = handlers[msg.type];
    if (handler) handler(msg);
  },
});

// One handler per server message type (STYLE.md: dispatch tables, not switches).
const handlers = {
  welcome(msg) {
    conn.resetBackoff();
    state.forum = msg.forum && typeof msg.forum === 'object' ? msg.forum : {};
    state.server = typeof msg.server === 'string' ? msg.server : '';
    if (state.phase === 'start') state.phase = 'ready';
    if (rejoin) {
      rejoin = false;
      sendJoin();
    }
    render();
  },
  joined: enter,
  admitted: enter,
  'participant-joined'(msg) {
    const p = msg.participant;
    if (p && typeof p.id === 'string') state.people.set(p.id, p);
    render();
  },
  'participant-left'(msg) {
    state.people.delete(msg.participant);
    render();
  },
  left() {
    joinDetails = null;
    state.alert = { kind: 'info', key: 'info.left' };
    leaveRoomLocally(false);
    render();
  },
  error(msg) {
    media?.then((session) => session?.handle(msg)); // a refused up offer is rolled back
    if (msg.id === joinRequest && state.phase === 'joining') {
      state.phase = 'ready';
      joinDetails = null;
    }
    const code = typeof msg.code === 'string' ? msg.code : '';
    const key = STRING_OF_ERROR[code] || 'error.generic';
    state.alert = { kind: 'error', key, detail: typeof msg.message === 'string' ? msg.message : '' };
    render();
    $('alert').focus();
  },
  offer: toMedia,
  answer: toMedia,
  candidate: toMedia,
  // Our browser cannot decode a speaker's codec (signaling/PROTOCOL.md): say so, and what helps.
  'track-unsupported'(msg) {
    const who = state.people.get(msg.participant)?.name || String(msg.participant ?? '');
    const key = msg.kind === 'audio' ? 'media.unsupported.audio' : 'media.unsupported.video';
    state.alert = { kind: 'info', key, vars: { name: who, codec: String(msg.codec ?? '') } };
    render();
  },
  // Too many speakers for our down connection: the track comes by itself once a place frees,
  // and the notice goes when it does (trackArrived).
  'track-waiting'(msg) {
    const who = state.people.get(msg.participant)?.name || String(msg.participant ?? '');
    const key = msg.kind === 'audio' ? 'media.waiting.audio' : 'media.waiting.video';
    state.alert = { kind: 'info', key, vars: { name: who }, stream: msg.stream, track: msg.kind };
    render();
  },
};

const STRING_OF_ERROR = {
  'not-allowed': 'error.not-allowed',
  'bad-field': 'error.bad-field',
  'missing-field': 'error.missing-field',
  unavailable: 'error.unavailable',
  internal: 'error.internal',
};

// joined / admitted: we are in the lobby or in the room.
function enter(msg) {
  const me = msg.participant;
  if (!me || typeof me !== 'object') return;
  state.me = me;
  state.people = new Map();
  for (const p of Array.isArray(msg.participants) ? msg.participants : [])
    if (p && typeof p.id === 'string') state.people.set(p.id, p);
  state.people.set(me.id, me);
  state.phase = me.state === 'lobby' ? 'lobby' : 'room';
  state.alert = null;
  render();
  if (state.phase === 'room') $('room-heading').focus();
}

function toMedia(msg) {
  if (state.phase !== 'room') return;
  mediaSession().then((session) => session?.handle(msg));
}

// The WebRTC side is loaded only by those who enter the room, to keep the first load small.
function mediaSession() {
  if (!media) {
    media = import('./media.js')
      .then(({ MediaSession }) => new MediaSession((m) => conn.send(m), {
        onStream: addVideo,
        onTrack: trackArrived,
        onStreamGone: (id) => document.querySelector(`video[data-stream="${CSS.escape(id)}"]`)?.remove(),
        onState: () => {},
        onScreenEnded: () => { state.sharing = false; render(); },
      }))
      .catch(() => null);
  }
  return media;
}

// A track we were told to wait for (track-waiting) has come: its notice is no longer true.
function trackArrived(streamId, kind) {
  if (state.alert?.stream === streamId && state.alert.track === kind) {
    state.alert = null;
    render();
  }
}

function addVideo(id, stream) {
  const video = document.createElement('video');
  video.dataset.stream = id;
  // A speaker's second stream is a screen share (signaling/PROTOCOL.md): shown large, first.
  if (id.endsWith('-screen')) video.classList.add('screen');
  video.autoplay = true;
  video.playsInline = true;
  video.srcObject = stream;
  if (video.classList.contains('screen')) $('videos').prepend(video);
  else $('videos').append(video);
  video.play().catch(() => {});
  render();
}

function leaveRoomLocally(keepDetails) {
  if (!keepDetails) joinDetails = null;
  media?.then((session) => session?.close());
  media = null;
  $('videos').replaceChildren();
  state.publishing = false;
  state.sharing = false;
  state.me = null;
  state.people = new Map();
  state.phase = state.forum ? 'ready' : 'start';
}

function sendJoin() {
  joinRequest = ++requestId;
  const msg = { type: 'join', id: joinRequest, name: joinDetails.name, institution: joinDetails.institution };
  if (joinDetails.password) msg.password = joinDetails.password;
  if (conn.send(msg)) state.phase = 'joining';
}

// Returns the validation errors of the join form: {field: {key, vars}}.
function validate() {
  const errors = {};
  for (const [field, label] of [['name', 'join.name'], ['institution', 'join.institution']]) {
    const value = $(field).value.trim();
    const n = charCount(value);
    if (n === 0) errors[field] = { key: 'valid.required', vars: { label } };
    else if (n > MAX_FIELD_CHARS) errors[field] = { key: 'valid.tooLong', vars: { label, max: MAX_FIELD_CHARS, n } };
  }
  return errors;
}

let validateLive = false; // after a first submit, messages follow the typing

function onSubmit(event) {
  event.preventDefault();
  validateLive = true;
  state.errors = validate();
  const invalid = Object.keys(state.errors);
  render();
  if (invalid.length) {
    $(invalid[0]).focus();
    return;
  }
  if (!conn.isOpen || state.phase !== 'ready') return;
  joinDetails = {
    name: $('name').value.trim(),
    institution: $('institution').value.trim(),
    password: $('moderator').open ? $('password').value : '',
  };
  try {
    localStorage.setItem(PROFILE_KEY, JSON.stringify({ name: joinDetails.name, institution: joinDetails.institution }));
  } catch {
    /* not remembered: fine */
  }
  state.alert = null;
  sendJoin();
  render();
}

function setLang(lang) {
  if (!LANGS.includes(lang) || lang === state.lang) return;
  state.lang = lang;
  try {
    localStorage.setItem(LANG_KEY, lang);
  } catch {
    /* not remembered: fine */
  }
  // Tell the server too, so the messages it writes come in this language.
  if (state.phase !== 'start') conn.send({ type: 'hello', version: 1, client: 'kumis-web/0.1', lang });
  render();
}

async function toggleCamera() {
  const session = await mediaSession();
  if (!session) return;
  try {
    if (state.publishing) await session.unpublish();
    else await session.publish();
    state.publishing = !state.publishing;
  } catch (e) {
    state.alert = { kind: 'error', key: 'error.media', vars: { message: e?.message || String(e) } };
  }
  render();
}

async function toggleScreen() {
  const session = await mediaSession();
  if (!session) return;
  try {
    if (state.sharing) await session.stopScreen();
    else await session.shareScreen();
    state.sharing = !state.sharing;
  } catch (e) {
    // The person closed the browser's picker: nothing to say.
    if (e?.name !== 'NotAllowedError' && e?.name !== 'AbortError') {
      state.alert = { kind: 'error', key: 'error.screen', vars: { message: e?.message || String(e) } };
    }
  }
  render();
}

// ---- rendering -------------------------------------------------------------------------

function render() {
  const root = document.documentElement;
  root.lang = state.lang;
  document.body.dataset.state = state.phase;
  document.body.dataset.conn = state.conn;
  for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = tr(el.dataset.i18n);
  for (const el of document.querySelectorAll('[data-i18n-label]')) el.setAttribute('aria-label', tr(el.dataset.i18nLabel));
  for (const b of document.querySelectorAll('[data-lang]')) b.setAttribute('aria-pressed', String(b.dataset.lang === state.lang));
  renderConnection();
  renderForum();
  renderAlert();
  renderForm();
  renderRoom();
  $('lobby').hidden = state.phase !== 'lobby';
}

function renderConnection() {
  let text = tr(`conn.${state.conn}`);
  if (state.conn === 'closed' && state.retryAt) {
    text = tr('conn.retry', { s: Math.max(0, Math.ceil((state.retryAt - Date.now()) / 1000)) });
  }
  $('conn-text').textContent = text;
  $('retry').hidden = state.conn !== 'closed';
}

function renderForum() {
  const forum = state.forum;
  document.title = forum?.title ? `${forum.title} — kumis` : tr('page.title');
  $('forum-title').textContent = forum?.title || tr('forum.loading');
  $('forum-description').textContent = forum?.description || '';
  $('forum-time').hidden = !forum;
  if (forum) {
    const now = new Date();
    $('forum-clock').dateTime = now.toISOString();
    $('forum-clock').textContent = formatForumDate(now, state.lang, forum.time_zone);
  }
  $('server-version').textContent = state.server ? tr('footer.server', { server: state.server }) : '';
}

function renderAlert() {
  const a = state.alert;
  $('alert').hidden = !a;
  if (!a) return;
  $('alert').dataset.kind = a.kind;
  $('alert-heading').textContent = tr(a.kind === 'info' ? 'info.heading' : 'error.heading');
  $('alert-text').textContent = tr(a.key, a.vars);
  $('alert-detail').textContent = a.detail ? tr('error.detail', { message: a.detail }) : '';
  $('alert-detail').hidden = !a.detail;
}

function renderForm() {
  // Shown before the welcome too (with a note), so a weak connection never means a blank page.
  $('join').hidden = !['start', 'ready', 'joining'].includes(state.phase);
  for (const field of ['name', 'institution']) {
    const e = state.errors[field];
    $(`${field}-error`).textContent = e ? tr(e.key, { ...e.vars, field: tr(e.vars.label) }) : '';
    $(field).setAttribute('aria-invalid', String(!!e));
  }
  const joining = state.phase === 'joining';
  $('join-submit').textContent = tr(joining ? 'join.sending' : 'join.submit');
  $('join-submit').disabled = joining || state.conn !== 'open';
  $('join-offline').hidden = state.conn === 'open';
}

function renderRoom() {
  $('room').hidden = state.phase !== 'room';
  if (state.phase !== 'room' || !state.me) return;
  const me = state.me;
  $('room-you').textContent = tr('room.you', { name: me.name, institution: me.institution });
  const mayPublish = me.role === 'moderator' || me.state === 'speaker';
  $('camera').hidden = !mayPublish;
  $('camera').textContent = tr(state.publishing ? 'room.cameraOff' : 'room.camera');
  $('screen').hidden = !mayPublish || !navigator.mediaDevices?.getDisplayMedia;
  $('screen').textContent = tr(state.sharing ? 'room.screenOff' : 'room.screen');
  $('no-video').hidden = $('videos').childElementCount > 0;
  const everyone = [...state.people.values()];
  const waiting = everyone.filter((p) => p.state === 'lobby' && p.id !== me.id);
  const inside = everyone.filter((p) => p.state !== 'lobby');
  $('waiting-box').hidden = waiting.length === 0;
  $('waiting-heading').textContent = tr('room.waiting', { n: waiting.length });
  $('waiting').replaceChildren(...waiting.map((p) => personItem(p, me.role === 'moderator')));
  $('people-heading').textContent = tr('room.people', { n: inside.length });
  $('people').replaceChildren(...inside.map((p) => personItem(p, false)));
}

function personItem(p, admittable) {
  const li = document.createElement('li');
  const who = document.createElement('span');
  who.className = 'who';
  const name = document.createElement('strong');
  name.textContent = String(p.name ?? '');
  const institution = document.createElement('span');
  institution.className = 'muted';
  institution.textContent = String(p.institution ?? '');
  who.append(name, institution);
  const badges = document.createElement('span');
  badges.className = 'badges';
  const labels = [tr(`state.${p.state}`)];
  if (p.role === 'moderator') labels.unshift(tr('role.moderator'));
  if (state.me && p.id === state.me.id) labels.push(tr('room.self'));
  for (const text of labels) {
    const badge = document.createElement('span');
    badge.className = 'badge';
    badge.textContent = text;
    badges.append(badge);
  }
  li.append(who, badges);
  if (admittable) {
    const button = document.createElement('button');
    button.type = 'button';
    button.textContent = tr('room.admit');
    button.setAttribute('aria-label', tr('room.admitWho', { name: p.name }));
    button.addEventListener('click', () => conn.send({ type: 'admit', id: ++requestId, participant: p.id }));
    li.append(button);
  }
  return li;
}

// ---- start -----------------------------------------------------------------------------

function start() {
  try {
    const profile = JSON.parse(localStorage.getItem(PROFILE_KEY) || 'null');
    if (profile) {
      $('name').value = typeof profile.name === 'string' ? profile.name : '';
      $('institution').value = typeof profile.institution === 'string' ? profile.institution : '';
    }
  } catch {
    /* nothing remembered */
  }
  $('join-form').addEventListener('submit', onSubmit);
  $('join-form').addEventListener('input', () => {
    if (!validateLive) return;
    state.errors = validate();
    renderForm();
  });
  for (const b of document.querySelectorAll('[data-lang]')) b.addEventListener('click', () => setLang(b.dataset.lang));
  $('retry').addEventListener('click', () => conn.connect());
  $('alert-close').addEventListener('click', () => {
    state.alert = null;
    render();
  });
  for (const b of document.querySelectorAll('.leave')) {
    b.addEventListener('click', () => {
      if (!conn.send({ type: 'leave' })) handlers.left();
    });
  }
  $('camera').addEventListener('click', toggleCamera);
  $('screen').addEventListener('click', toggleScreen);
  window.addEventListener('online', () => {
    if (state.conn === 'closed') conn.connect();
  });
  // The retry countdown and the forum clock move once a second; nothing else polls.
  let minute = 0;
  setInterval(() => {
    if (state.conn === 'closed') renderConnection();
    const now = Math.floor(Date.now() / 60000);
    if (state.forum && now !== minute) renderForum();
    minute = now;
  }, 1000);
  $('alert').tabIndex = -1;
  $('room-heading').tabIndex = -1;
  render();
  conn.connect();
}

start();

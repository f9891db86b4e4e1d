// kumis web client — every text the page shows, in two dictionaries: Bahasa Indonesia first
// (the forum's language), English second. Keys are the same in both; a test checks that.
// Placeholders are written {name} and filled by t().

export const LANGS = ['id', 'en'];
export const DEFAULT_LANG = 'id';

export const STRINGS = {
  id: {
    'page.title': 'Forum kumis',
    'lang.label': 'Bahasa',
    'conn.connecting': 'Menghubungkan…',
    'conn.open': 'Terhubung',
    'conn.closed': 'Terputus',
    'conn.retry': 'Terputus — coba lagi {s} dtk',
    'conn.retryNow': 'Coba sekarang',
    'forum.loading': 'Memuat forum…',
    'forum.time': 'Waktu forum',
    'join.heading': 'Ikuti forum',
    'join.intro': 'Isi nama dan instansi Anda. Nama ini terlihat oleh peserta lain.',
    'join.name': 'Nama',
    'join.institution': 'Instansi / Lembaga',
    'join.moderator': 'Saya moderator',
    'join.password': 'Kata sandi moderator',
    'join.submit': 'Masuk',
    'join.sending': 'Mengirim…',
    'join.offline': 'Belum terhubung ke server. Formulir dapat dikirim begitu terhubung kembali.',
    'valid.required': '{field} wajib diisi.',
    'valid.tooLong': '{field} paling banyak {max} karakter (sekarang {n}).',
    'lobby.heading': 'Ruang tunggu',
    'lobby.text': 'Menunggu diizinkan masuk oleh moderator',
    'lobby.hint': 'Biarkan halaman ini terbuka. Anda akan masuk otomatis begitu diizinkan.',
    'room.heading': 'Anda di dalam forum',
    'room.you': 'Anda masuk sebagai {name} ({institution})',
    'room.people': 'Peserta ({n})',
    'room.waiting': 'Di ruang tunggu ({n})',
    'room.admit': 'Izinkan masuk',
    'room.admitWho': 'Izinkan {name} masuk',
    'room.leave': 'Keluar',
    'room.camera': 'Nyalakan kamera & mikrofon',
    'room.cameraOff': 'Matikan kamera & mikrofon',
    'room.screen': 'Bagikan layar',
    'room.screenOff': 'Berhenti berbagi layar',
    'room.noVideo': 'Belum ada pembicara yang tampil.',
    'room.self': '(Anda)',
    'role.moderator': 'moderator',
    'role.attendee': 'peserta',
    'state.lobby': 'menunggu',
    'state.attendee': 'menyimak',
    'state.hand-raised': 'angkat tangan',
    'state.speaker': 'berbicara',
    'state.removed': 'dikeluarkan',
    'error.heading': 'Ada kendala',
    'error.dismiss': 'Tutup',
    'error.detail': 'Pesan server: {message}',
    'error.not-allowed': 'Permintaan ini tidak diizinkan.',
    'error.bad-field': 'Data yang dikirim tidak diterima server.',
    'error.missing-field': 'Ada data yang belum diisi.',
    'error.unavailable': 'Fitur ini belum tersedia di server.',
    'error.internal': 'Terjadi kesalahan di server. Silakan coba lagi.',
    'error.generic': 'Server menolak permintaan ini.',
    'error.media': 'Kamera atau mikrofon tidak dapat dipakai: {message}',
    'error.screen': 'Layar tidak dapat dibagikan: {message}',
    'footer.server': 'Server: {server}',
    'info.heading': 'Informasi',
    'info.left': 'Anda telah keluar dari forum.',
    'media.unsupported.video': 'Browser ini tidak dapat memutar video {name} (codec {codec}). Coba Chrome, Edge atau Firefox versi terbaru.',
    'media.unsupported.audio': 'Browser ini tidak dapat memutar suara {name} (codec {codec}). Coba Chrome, Edge atau Firefox versi terbaru.',
    'media.waiting.video': 'Sedang banyak yang berbicara: video {name} akan tampil begitu ada tempat.',
    'media.waiting.audio': 'Sedang banyak yang berbicara: suara {name} akan terdengar begitu ada tempat.',
  },
  en: {
    'page.title': 'kumis forum',
    'lang.label': 'Language',
    'conn.connecting': 'Connecting…',
    'conn.open': 'Connected',
    'conn.closed': 'Disconnected',
    'conn.retry': 'Disconnected — retry in {s} s',
    'conn.retryNow': 'Retry now',
    'forum.loading': 'Loading the forum…',
    'forum.time': 'Forum time',
    'join.heading': 'Join the forum',
    'join.intro': 'Enter your name and institution. Other participants will see your name.',
    'join.name': 'Name',
    'join.institution': 'Institution / Organisation',
    'join.moderator': 'I am a moderator',
    'join.password': 'Moderator password',
    'join.submit': 'Join',
    'join.sending': 'Sending…',
    'join.offline': 'Not connected to the server. You can send the form once connected again.',
    'valid.required': '{field} is required.',
    'valid.tooLong': '{field} must be at most {max} characters (now {n}).',
    'lobby.heading': 'Waiting room',
    'lobby.text': 'Waiting for a moderator to let you in',
    'lobby.hint': 'Keep this page open. You will enter automatically once admitted.',
    'room.heading': 'You are in the forum',
    'room.you': 'You joined as {name} ({institution})',
    'room.people': 'Participants ({n})',
    'room.waiting': 'In the waiting room ({n})',
    'room.admit': 'Let in',
    'room.admitWho': 'Let {name} in',
    'room.leave': 'Leave',
    'room.camera': 'Turn on camera & microphone',
    'room.cameraOff': 'Turn off camera & microphone',
    'room.screen': 'Share screen',
    'room.screenOff': 'Stop sharing screen',
    'room.noVideo': 'No speaker is on screen yet.',
    'room.self': '(you)',
    'role.moderator': 'moderator',
    'role.attendee': 'attendee',
    'state.lobby': 'waiting',
    'state.attendee': 'listening',
    'state.hand-raised': 'hand raised',
    'state.speaker': 'speaking',
    'state.removed': 'removed',
    'error.heading': 'Something went wrong',
    'error.dismiss': 'Close',
    'error.detail': 'Server message: {message}',
    'error.not-allowed': 'This request is not allowed.',
    'error.bad-field': 'The server did not accept the data sent.',
    'error.missing-field': 'Some information is missing.',
    'error.unavailable': 'This feature is not available on the server yet.',
    'error.internal': 'The server ran into a problem. Please try again.',
    'error.generic': 'The server refused this request.',
    'error.media': 'The camera or microphone cannot be used: {message}',
    'error.screen': 'The screen cannot be shared: {message}',
    'footer.server': 'Server: {server}',
    'info.heading': 'Notice',
    'info.left': 'You have left the forum.',
    'media.unsupported.video': 'This browser cannot play the video of {name} (codec {codec}). Try a recent Chrome, Edge or Firefox.',
    'media.unsupported.audio': 'This browser cannot play the audio of {name} (codec {codec}). Try a recent Chrome, Edge or Firefox.',
    'media.waiting.video': 'Many people are speaking: the video of {name} will appear as soon as there is room.',
    'media.waiting.audio': 'Many people are speaking: the audio of {name} will play as soon as there is room.',
  },
};

// Returns the text for @key in @lang with {placeholders} from @vars; falls back to Bahasa
// Indonesia, then to the key itself, so a missing string never blanks the page.
export function t(lang, key, vars = {}) {
  const text = STRINGS[lang]?.[key] ?? STRINGS[DEFAULT_LANG][key] ?? key;
  return text.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m));
}

// Short names of Indonesia's three time zones, which Intl spells "GMT+7" in English.
const ZONE_ABBREVIATIONS = {
  'Asia/Jakarta': 'WIB',
  'Asia/Pontianak': 'WIB',
  'Asia/Makassar': 'WITA',
  'Asia/Jayapura': 'WIT',
};

// Formats @date as the forum sees it: in its time zone @timeZone, with WIB/WITA/WIT named.
// An unknown or invalid zone falls back to the browser's own zone rather than throwing.
export function formatForumDate(date, lang, timeZone) {
  const locale = lang === 'en' ? 'en-GB' : 'id-ID';
  const options = { dateStyle: 'full', timeStyle: 'short' };
  let zone = timeZone;
  try {
    new Intl.DateTimeFormat(locale, { timeZone: zone });
  } catch {
    zone = undefined;
  }
  const text = new Intl.DateTimeFormat(locale, { ...options, timeZone: zone }).format(date);
  const abbreviation = ZONE_ABBREVIATIONS[zone];
  if (abbreviation) return `${text} ${abbreviation}`;
  const parts = new Intl.DateTimeFormat(locale, { timeZone: zone, timeZoneName: 'short' })
    .formatToParts(date);
  const name = parts.find((p) => p.type === 'timeZoneName');
  return name ? `${text} ${name.value}` : text;
}

// The web client's strings (server/web/i18n.js), checked in node without a browser: both
// languages have the same keys and placeholders, no text is empty, and dates come out in the
// forum's time zone with its Indonesian name (WIB, WITA, WIT).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { STRINGS, LANGS, DEFAULT_LANG, t, formatForumDate } from '../../server/web/i18n.js';

const placeholders = (text) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

test('Bahasa Indonesia is the default and both languages have the same keys', () => {
  assert.equal(DEFAULT_LANG, 'id');
  assert.deepEqual(LANGS, ['id', 'en']);
  assert.deepEqual(Object.keys(STRINGS.en).sort(), Object.keys(STRINGS.id).sort());
});

test('no string is empty, and both languages use the same placeholders', () => {
  for (const key of Object.keys(STRINGS.id)) {
    assert.ok(STRINGS.id[key].trim(), `id ${key}`);
    assert.ok(STRINGS.en[key].trim(), `en ${key}`);
    assert.deepEqual(placeholders(STRINGS.en[key]), placeholders(STRINGS.id[key]), key);
  }
});

test('t() fills placeholders and never returns nothing', () => {
  assert.equal(t('id', 'valid.required', { field: 'Nama' }), 'Nama wajib diisi.');
  assert.equal(t('en', 'valid.tooLong', { field: 'Name', max: 80, n: 81 }), 'Name must be at most 80 characters (now 81).');
  assert.equal(t('fr', 'join.name'), 'Nama', 'an unknown language falls back to Bahasa Indonesia');
  assert.equal(t('en', 'no.such.key'), 'no.such.key');
});

test('dates are shown in the forum time zone with WIB, WITA or WIT', () => {
  const instant = new Date('2026-11-28T13:30:00Z');
  assert.equal(formatForumDate(instant, 'id', 'Asia/Jakarta'), 'Sabtu, 28 November 2026 pukul 20.30 WIB');
  assert.match(formatForumDate(instant, 'id', 'Asia/Makassar'), /21\.30 WITA$/);
  assert.match(formatForumDate(instant, 'en', 'Asia/Jayapura'), /^Saturday, 28 November 2026 at 22:30 WIT$/);
  // Just before midnight UTC it is already the next day in Jayapura.
  assert.match(formatForumDate(new Date('2026-11-28T16:00:00Z'), 'id', 'Asia/Jayapura'), /^Minggu, 29 November 2026/);
  // A zone the browser does not know must not throw (never a blank page).
  assert.ok(formatForumDate(instant, 'id', 'Nowhere/Atlantis').length > 0);
  assert.match(formatForumDate(instant, 'en', 'Europe/Amsterdam'), /14:30/);
});

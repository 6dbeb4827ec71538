// @ts-check
// The status page: session and login, the live event stream (with a
// "disconnected" banner and reconnection across daemon restarts), and actions.
import { initCharts, pushSample, resizeCharts } from './charts.js';
import { $, renderBridge, renderOverview, renderSerial } from './render.js';
import { initSensors, renderSensors, setActionHandler } from './sensors.js';

const RETRY_MS = 2000;
let csrf = '';
/** @type {EventSource | undefined} */
let events;
/** @type {number | undefined} */
let retryTimer;

/** @param {boolean} on */
function banner(on) {
  $('banner').hidden = !on;
}

/** @param {'login' | 'main'} which */
function show(which) {
  $('login').hidden = which !== 'login';
  $('main').hidden = which !== 'main';
}

/** @param {string} path @param {any} [body] */
async function api(path, body) {
  const init = body === undefined ? {} : { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf }, body: JSON.stringify(body) };
  const res = await fetch(path, { credentials: 'same-origin', cache: 'no-store', ...init });
  const data = await res.json().catch(() => ({}));
  return { status: res.status, data };
}

function retrySoon() {
  banner(true);
  events?.close();
  events = undefined;
  clearTimeout(retryTimer);
  retryTimer = window.setTimeout(() => void connect(), RETRY_MS);
}

/** @param {any} status */
function render(status) {
  renderOverview(status.overview);
  renderSensors(status.sensors);
  renderBridge(status.bridge);
  renderSerial(status.serial, Date.parse(status.time));
}

async function connect() {
  try {
    const session = await api('/api/session');
    if (session.status !== 200) return retrySoon();
    csrf = session.data.csrf;
    $('who').textContent = session.data.subject ? `admin: ${session.data.subject}` : '';
    $('logout').hidden = !session.data.loggedIn;
    if (session.data.authRequired && !session.data.loggedIn) {
      banner(false);
      return show('login');
    }
    const samples = await api('/api/samples');
    if (samples.status === 401) return show('login');
    if (samples.status !== 200) return retrySoon();
    show('main');
    initCharts(samples.data);
    openEvents();
  } catch {
    retrySoon();
  }
}

function openEvents() {
  events?.close();
  const es = new EventSource('/api/events');
  events = es;
  es.addEventListener('status', (e) => {
    banner(false);
    render(JSON.parse(/** @type {MessageEvent} */ (e).data));
  });
  es.addEventListener('sample', (e) => pushSample(JSON.parse(/** @type {MessageEvent} */ (e).data)));
  // The daemon went away (or restarted: our session is then gone too): start over.
  es.onerror = () => {
    if (events === es) retrySoon();
  };
}

/** @param {string} text @returns {Promise<boolean>} */
function confirmAction(text) {
  const dialog = /** @type {HTMLDialogElement} */ ($('confirm'));
  $('confirm-text').textContent = text;
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
    dialog.returnValue = '';
    dialog.showModal();
  });
}

/** @param {string} action @param {any} s */
async function act(action, s) {
  const what = action === 'disconnect'
    ? { text: `Disconnect client "${s.clientId}"?`, path: '/api/clients/disconnect', body: { clientId: s.clientId } }
    : action === 'revoke-jti'
      ? { text: `Revoke the token (jti ${s.jti}) of "${s.clientId}"? It is refused from now on and the client is disconnected.`, path: '/api/revoke', body: { kind: 'jti', value: s.jti } }
      : { text: `Revoke EVERY token of subject "${s.subject}"? Its clients are disconnected and refused until unrevoked.`, path: '/api/revoke', body: { kind: 'sub', value: s.subject } };
  if (!(await confirmAction(what.text))) return;
  const res = await api(what.path, what.body);
  if (res.status === 401) return show('login');
  if (res.status === 403) return void connect();
  $('action-error').textContent = res.status >= 400 ? res.data.error ?? `failed (${res.status})` : '';
}

async function login(/** @type {SubmitEvent} */ e) {
  e.preventDefault();
  const input = /** @type {HTMLTextAreaElement} */ ($('login-token'));
  const res = await api('/api/login', { token: input.value.trim() });
  input.value = '';
  if (res.status !== 200) {
    $('login-error').textContent = res.data.error ?? `login failed (${res.status})`;
    if (res.status === 403 && /CSRF/.test(res.data.error ?? '')) void connect();
    return;
  }
  $('login-error').textContent = '';
  await connect();
}

async function logout() {
  await api('/api/logout', {});
  events?.close();
  events = undefined;
  await connect();
}

setActionHandler((action, s) => void act(action, s));
initSensors();
$('login-form').addEventListener('submit', (e) => void login(/** @type {SubmitEvent} */ (e)));
$('logout').addEventListener('click', () => void logout());
window.addEventListener('resize', () => resizeCharts());
void connect();

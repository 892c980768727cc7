// Vigil console: sign-in, camera list, live grid (MSE over WebSocket) and the evidence
// register; the playback page is playback.js, the users page users.js. Plain browser JavaScript, no build step, nothing from outside this server.
'use strict';

// `shown` counts what the evidence page was asked to show: a reply that arrives after a
// later request (another row clicked, a sign-out) is dropped, never drawn over it.
// `opening` counts pages opened: a page's reply that arrives after another was opened is dropped.
// `liveStreams`: live WebSockets open now (the wall's tests read it).
// `replay`: a live tile's "replay the last 30 s" on its way to the playback page; `secure`: a
// playback selection on its way to the evidence register's form.
// `events`: the server's push of camera statuses (`/api/events`); `pushes` counts what it sent.
const state = { me: null, cameras: [], csrf: null, exhibit: null, shown: 0, opening: 0, ptzFocus: null, liveStreams: 0, replay: null, secure: null, events: null, pushes: 0 };
const $ = (id) => document.getElementById(id);
// A WebSocket to this server's `path`, over TLS when the page is.
const openSocket = (path) => new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${path}`);

async function api(method, path, body) {
  const headers = { 'Accept': 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && state.csrf) headers['X-CSRF-Token'] = state.csrf;
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) throw Object.assign(new Error((data && data.error) || response.statusText), { status: response.status });
  return data;
}

function show(id) {
  for (const el of document.querySelectorAll('.panel, .view')) el.hidden = el.id !== id;
  $('nav').hidden = !state.me || state.me.mustChangePassword;
  if (id !== 'live') stopLive();
  // Footage left on another page neither plays on nor steps backward unseen.
  if (id !== 'playback') pausePlayback();
}

function signedIn(me) {
  state.me = me;
  state.csrf = me.csrfToken || state.csrf;
  $('who').textContent = `${me.user} (${me.roleTitle})`;
  if (me.mustChangePassword) { show('password'); return; }
  for (const b of document.querySelectorAll('nav [data-view]')) {
    const needs = { live: ['live'], playback: ['playback'], evidence: ['view-evidence', 'manage-evidence'], users: ['manage-users'], incidents: ['incidents', 'incident-statistics', 'manage-dispatch'] }[b.dataset.view];
    b.hidden = needs !== undefined && !needs.some(may);
  }
  resetNotifications();
  openEvents();
  openView('cameras');
}

const may = (permission) => state.me !== null && state.me.permissions.includes(permission);

async function start() {
  try { signedIn(await api('GET', '/api/session')); } catch { show('sign-in'); }
}

$('sign-in-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  $('sign-in-error').textContent = '';
  try {
    signedIn(await api('POST', '/api/session', { username: $('username').value, password: $('password').value }));
    $('password').value = '';
  } catch (err) { $('sign-in-error').textContent = err.message; }
});

$('password-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  $('password-error').textContent = '';
  try { signedIn(await api('POST', '/api/session/password', { current: $('current-password').value, new: $('new-password').value })); }
  catch (err) { $('password-error').textContent = err.message; }
});

$('sign-out').addEventListener('click', async () => {
  try { await api('DELETE', '/api/session'); } catch { /* already gone */ }
  signedOut('');
});

// Back to the sign-in page with nothing of the last user left; `why` says why, if it was not asked.
function signedOut(why) {
  state.me = null; state.csrf = null; state.exhibit = null; state.cameras = []; state.shown++;
  forgetUserData();
  show('sign-in');
  $('sign-in-error').textContent = why;
}

// What one user saw is not left in the page for the next one at the station.
function forgetUserData() {
  // The wall's streams, PTZ controls and the push close first: none may go on in the last user's name.
  stopLive();
  closeEvents();
  resetNotifications();
  resetDispatchSetup();
  state.ptzFocus = null;
  state.exhibitRequest = null;
  for (const id of ['request-rows', 'incident-requests']) $(id).replaceChildren();
  $('request-error').textContent = '';
  for (const id of ['camera-rows', 'found-rows', 'tour-rows', 'tour-steps', 'tour-windows', 'tour-presets', 'tour-camera', 'evidence-rows', 'exhibit-facts', 'custody-rows', 'exhibit-exports', 'evidence-cameras', 'playback-camera']) {
    $(id).replaceChildren();
  }
  for (const id of ['exhibit-title', 'exhibit-error', 'evidence-error', 'coverage-text', 'discover-status', 'camera-error', 'camera-added', 'tour-error']) {
    $(id).textContent = '';
  }
  $('found-table').hidden = true;
  $('camera-edit-form').hidden = true;
  editing = null;
  for (const id of ['camera-edited', 'camera-edit-error']) $(id).textContent = '';
  for (const id of ['grid', 'camera-tree', 'view-select']) $(id).replaceChildren();
  for (const id of ['page-text', 'keypad', 'wall-error']) $(id).textContent = '';
  $('camera-search').value = '';
  wall.closedAreas.clear();
  Object.assign(wall, { layout: '2x2', tiles: [], cells: [], selected: 0, page: 0, max: null, view: null, views: [], keypad: '', custom: false });
  $('view-form').hidden = true;
  state.tours = [];
  state.tour = tourDraft();
  drawTour();
  $('exhibit').hidden = true;
  for (const form of document.querySelectorAll('form')) form.reset();
  stopPlayback();
  Object.assign(people, { list: [], editing: null });
  $('user-rows').replaceChildren();
  $('user-grants').replaceChildren();
  $('user-edit').hidden = true;
  $('user-said').textContent = '';
  pb.extra = [];
  pb.rate = 1;
  $('playback-speed').value = '1';
  $('playback-chosen').replaceChildren();
  $('playback-add').replaceChildren();
  $('evidence-filled').textContent = '';
  $('gap-list').replaceChildren();
  for (const id of ['playback-error', 'playback-clock']) $(id).textContent = '';
  // The incident register is personal data: nothing of it stays on a signed-out page.
  Object.assign(inc, { list: [], categories: [], open: null, quick: null, pictureFor: null, picturing: false });
  for (const id of ['incident-rows', 'incident-timeline', 'incident-category', 'incident-camera', 'incident-pictures', 'incident-picture-camera']) $(id).replaceChildren();
  $('incident-picture-at').value = '';
  $('incident-picture-said').textContent = '';
  delete $('incident-pictures').dataset.key;
  inc.pictureNodes = new Map();
  const preview = $('incident-picture-preview');
  preview.getContext('2d').clearRect(0, 0, preview.width, preview.height);
  preview.hidden = true;
  for (const id of ['incident-said', 'incident-error', 'incident-detail-error', 'incident-detail-title', 'incident-detail-text', 'incident-detail-description', 'incident-filled']) $(id).textContent = '';
  $('incident-detail').hidden = true;
  if ($('incident-dialog').open) $('incident-dialog').close();
  $('incident-form').reset();
  inc.sending = false;
  unsay();
  for (const id of ['stats-charts']) $(id).replaceChildren();
  for (const id of ['stats-summary', 'stats-error']) $(id).textContent = '';
  $('stats-year').value = '';
}

for (const b of document.querySelectorAll('nav [data-view]')) b.addEventListener('click', () => openView(b.dataset.view));

async function openView(view) {
  show(view);
  const me = state.me, opening = ++state.opening;
  // A replay asked from a live tile is for this opening only, never a later visit.
  const replay = view === 'playback' ? state.replay : null;
  state.replay = null;
  // A selection from playback on its way to the evidence register's form, likewise.
  const secure = view === 'evidence' ? state.secure : null;
  state.secure = null;
  const cameras = await api('GET', '/api/cameras');
  // Another page opened meanwhile (or the user signed out): this one's reply is not drawn.
  if (state.me !== me || opening !== state.opening) return;
  state.cameras = cameras;
  if (view === 'cameras') renderCameras();
  if (view === 'live') startLive();
  if (view === 'playback') {
    preparePlayback();
    // "Replay the last 30 s" from a live tile: that camera and range, played at once.
    if (replay) {
      pb.extra = [];
      drawChosen();
      $('playback-camera').value = String(replay.camera);
      $('playback-from').value = localInput(new Date(replay.to - 30000));
      $('playback-to').value = localInput(new Date(replay.to));
      $('playback-form').requestSubmit();
    }
  }
  if (view === 'users') await openUsers();
  if (view === 'incidents') await openIncidents();
  if (view === 'evidence') {
    await openEvidence(state.exhibit);
    if (secure && state.me === me && opening === state.opening) secureFromPlayback(secure);
  }
}

// ---- The server's push: camera statuses as they change, for every list on the page ----

function openEvents() {
  if (state.events) return;
  const me = state.me;
  const socket = openSocket('/api/events');
  state.events = socket;
  socket.onmessage = (event) => {
    if (state.me !== me) return;
    const message = JSON.parse(event.data);
    if (message.type === 'cameras') { state.pushes++; applyStatuses(message.cameras); }
    else if (message.type === 'notifications') loadNotifications();
    else if (message.type === 'picture') pictureOutcome(message);
  };
  // Lost (a restart, the network): opened again after a pause while the same user is signed in.
  socket.onclose = (event) => {
    if (state.events !== socket) return;
    state.events = null;
    // The session timed out, or was ended elsewhere: say so now, not at the next click.
    if (event.reason === 'the session ended' && state.me === me) { signedOut('Your session ended (idle too long, or signed out elsewhere). Sign in again.'); return; }
    // A handshake refused for an ended session closes with no reason: asked, the server says.
    setTimeout(async () => {
      if (state.me !== me || !state.me || state.me.mustChangePassword) return;
      try { await api('GET', '/api/session'); } catch (err) {
        if (err.status === 401 && state.me === me) { signedOut('Your session ended (idle too long, or signed out elsewhere). Sign in again.'); return; }
      }
      if (state.me === me && !state.events) openEvents();
    }, 5000);
  };
}

function closeEvents() {
  const socket = state.events;
  state.events = null;
  if (socket) socket.close();
}

// New statuses: drawn where cameras are shown. A camera added, removed, renamed or switched
// on or off is read again in full (what the user may do with it comes with the list).
async function applyStatuses(list) {
  const known = new Map(state.cameras.map((c) => [c.id, c]));
  const same = list.length === state.cameras.length && list.every((x) => known.has(x.id) && known.get(x.id).name === x.name && known.get(x.id).enabled === x.enabled && known.get(x.id).removed === x.removed
    && known.get(x.id).subStream === x.subStream);
  if (same) {
    for (const x of list) {
      const c = known.get(x.id);
      Object.assign(c, { status: x.status, location: x.location, area: x.area, width: x.width ?? c.width, subWidth: x.subWidth ?? c.subWidth });
    }
  } else {
    const me = state.me;
    try {
      const cameras = await api('GET', '/api/cameras');
      if (state.me !== me) return;
      state.cameras = cameras;
    } catch { return; } // the next push tries again
  }
  if (!$('cameras').hidden) drawCameraRows();
  if (wall.open) { wall.cells.forEach((cell) => drawHead(cell)); drawTree(); }
}

function renderCameras() {
  drawCameraRows();
  const manager = may('manage-cameras');
  for (const th of document.querySelectorAll('#cameras .manage-only')) th.hidden = !manager;
  $('camera-add').hidden = !manager;
  $('tours').hidden = !may('ptz-history');
  const me = state.me;
  if (may('ptz-history')) {
    loadTours().catch((err) => { if (state.me === me) $('tour-error').textContent = `The tours could not be read: ${err.message}`; });
  }
}

function drawCameraRows() {
  const rows = $('camera-rows');
  // Redrawn as statuses arrive: the focus stays on the row's button it was on.
  const focused = rows.contains(document.activeElement) ? document.activeElement.closest('tr').dataset.camera : null;
  rows.replaceChildren();
  const manager = may('manage-cameras');
  for (const c of state.cameras) {
    const tr = document.createElement('tr');
    tr.dataset.camera = String(c.id);
    const s = c.status;
    const age = s.lastFrameMicros ? `${Math.max(0, Math.round((Date.now() * 1000 - s.lastFrameMicros) / 1e6))} s ago` : '—';
    // Why a camera does not record, in words and since when (the same as its live tile says).
    // A camera just switched off may still show its last seconds' meter: switched off wins.
    const recording = c.enabled && s.recording;
    const status = recording ? 'recording' : (downReason(c) || 'not recording');
    const cells = [String(c.id), c.name, c.location, c.area, status,
      s.framesPerSecond.toFixed(1), (s.bitsPerSecond / 1e6).toFixed(2), age, String(c.gapsToday)];
    cells.forEach((text, i) => {
      const td = document.createElement('td');
      td.textContent = text;
      if (i === 4) td.className = `reason ${recording ? 'status-ok' : 'status-bad'}`;
      tr.append(td);
    });
    if (manager && c.removed) {
      tr.append(cell('removed'));
      tr.classList.add('removed');
    } else if (manager) {
      const td = document.createElement('td');
      const b = document.createElement('button');
      b.type = 'button'; b.textContent = 'Edit'; b.setAttribute('aria-label', `Edit ${c.name}`);
      b.addEventListener('click', () => editCamera(c));
      td.append(b);
      tr.append(td);
    }
    rows.append(tr);
  }
  const again = focused && rows.querySelector(`tr[data-camera="${focused}"] button`);
  if (again) again.focus();
}

// ---- Adding a camera: found on the network (WS-Discovery), or by its address ----

$('discover-button').addEventListener('click', async () => {
  const me = state.me, button = $('discover-button'), status = $('discover-status');
  button.disabled = true;
  status.textContent = 'Listening for cameras for 3 seconds…';
  try {
    const found = await api('POST', '/api/cameras/discover', { seconds: 3 });
    if (state.me !== me) return; // signed out meanwhile: not the next user's to see
    $('found-rows').replaceChildren(...found.cameras.map((f) => {
      const tr = document.createElement('tr');
      const device = [f.name, f.hardware, f.location].filter(Boolean).join(' · ') || f.endpoint;
      const warnings = [];
      if (f.contested) warnings.push('another host answered as the same device: check which is the camera before adding');
      if (f.namesAnotherHost) warnings.push('its address names another host: check before adding');
      const from = cell([f.from, ...warnings].join('; '));
      if (warnings.length) from.className = 'status-bad';
      const inVigil = document.createElement('td');
      if (f.cameraID != null) {
        inVigil.textContent = `added as ${f.cameraName}`;
      } else if (f.address) {
        const use = document.createElement('button');
        use.type = 'button';
        use.textContent = warnings.length ? 'Use (see warning)' : 'Use';
        use.setAttribute('aria-label', `Use ${device} at ${f.address} in the form below${warnings.length ? ' (see its warning)' : ''}`);
        use.addEventListener('click', () => {
          $('camera-address').value = f.address;
          if (!$('camera-name').value && f.name) $('camera-name').value = f.name.slice(0, 64);
          if (!$('camera-location').value && f.location) $('camera-location').value = f.location.slice(0, 200);
          $('camera-user').focus();
        });
        inVigil.append(use);
      } else {
        inVigil.textContent = 'no http address given';
      }
      tr.append(cell(device), cell([f.address || '—', ...f.otherAddresses].join(' ')), from, inVigil);
      return tr;
    }));
    $('found-table').hidden = found.cameras.length === 0;
    const n = found.cameras.length;
    let text = n === 0
      ? 'No camera answered. A camera on another network segment is added by its address below.'
      : `${n} ${n === 1 ? 'device' : 'devices'} answered.`;
    if (found.unreadableCount > 0) text += ` ${found.unreadableCount} answers could not be read (${found.unreadable[0]}).`;
    if (found.failures.length > 0) text += ` Not probed: ${found.failures.join('; ')}.`;
    status.textContent = text;
  } catch (err) {
    if (state.me === me) status.textContent = `The search failed: ${err.message}`;
  } finally { button.disabled = false; }
});

$('camera-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const me = state.me;
  $('camera-error').textContent = '';
  $('camera-added').textContent = '';
  const address = $('camera-address').value.trim();
  const body = { name: $('camera-name').value.trim(), location: $('camera-location').value.trim() || undefined, area: $('camera-area').value.trim() || undefined };
  if ($('camera-user').value) body.username = $('camera-user').value;
  if ($('camera-password').value) body.password = $('camera-password').value;
  if ($('camera-sub').value.trim()) body.subStream = $('camera-sub').value.trim();
  if (/^https?:\/\//i.test(address)) body.onvif = address;
  else if (/^rtsp:\/\//i.test(address)) body.url = address;
  else { $('camera-error').textContent = 'The address starts with http:// (the camera\'s ONVIF device service) or rtsp:// (its stream).'; return; }
  $('camera-add-button').disabled = true;
  $('camera-added').textContent = body.onvif ? 'Asking the camera for its stream and PTZ…' : '';
  let added;
  try {
    added = await api('POST', '/api/cameras', body);
  } catch (err) {
    if (state.me === me) {
      $('camera-added').textContent = '';
      $('camera-error').textContent = `The camera was not added: ${err.message}`;
    }
    return;
  } finally { $('camera-add-button').disabled = false; }
  if (state.me !== me) return;
  $('camera-form').reset();
  $('camera-added').textContent = `Added ${added.name}${added.ptz ? ', with PTZ' : ''}${added.subStream ? ', with a sub-stream for small tiles' : ''}; recording starts within a few seconds.`;
  try {
    state.cameras = await api('GET', '/api/cameras');
    if (state.me === me) renderCameras();
  } catch (err) {
    if (state.me === me) $('camera-error').textContent = `The camera was added, but the list could not be refreshed: ${err.message}`;
  }
});

// ---- Editing a camera: its settings, and recording on or off ----

let editing = null;
function editCamera(c) {
  editing = c;
  $('camera-edit-title').textContent = `Edit camera ${c.id} · ${c.name}`;
  $('edit-name').value = c.name;
  $('edit-url').value = c.url || '';
  $('edit-user').value = c.username || '';
  $('edit-password').value = '';
  $('edit-password').placeholder = c.hasPassword ? 'unchanged' : 'none';
  $('edit-location').value = c.location;
  $('edit-area').value = c.area;
  $('edit-sub').value = c.subStreamURL || '';
  $('edit-retention').value = String(c.retentionDays);
  $('edit-enabled').checked = c.enabled;
  $('camera-edit-error').textContent = '';
  $('camera-edited').textContent = '';
  $('camera-remove-confirm').hidden = true;
  $('camera-remove').hidden = false;
  $('camera-edit-form').hidden = false;
  $('edit-name').focus();
}

$('camera-edit-cancel').addEventListener('click', () => { $('camera-edit-form').hidden = true; editing = null; });

// Removing asks once more, saying what it does; the footage stays to its retention.
$('camera-remove').addEventListener('click', () => {
  const c = editing;
  if (!c) return;
  const until = clockDate(Date.now() + c.retentionDays * 86400000);
  $('camera-remove-text').textContent = `Remove ${c.name} for good? It stops being recorded, shown live and steered, and its password is forgotten. ` +
    `Its footage stays until its retention ends (about ${until}); footage held as evidence stays longer. The name ${c.name} stays taken; ` +
    'to replace the camera\'s hardware, change its URL instead.';
  $('camera-remove').hidden = true;
  $('camera-remove-confirm').hidden = false;
  $('camera-remove-yes').focus();
});
$('camera-remove-no').addEventListener('click', () => {
  $('camera-remove-confirm').hidden = true;
  $('camera-remove').hidden = false;
  $('camera-remove').focus();
});
$('camera-remove-yes').addEventListener('click', async () => {
  const c = editing, me = state.me;
  if (!c) return;
  $('camera-remove-yes').disabled = true;
  try {
    const removed = await api('DELETE', `/api/cameras/${c.id}`);
    if (state.me !== me) return;
    $('camera-edit-form').hidden = true;
    editing = null;
    const said = `Removed ${removed.name}: it is no longer recorded; its footage is kept at most until ${clockDate(Date.parse(removed.footageUntil))}.`;
    try {
      state.cameras = await api('GET', '/api/cameras');
    } catch (err) {
      if (state.me === me) $('camera-edited').textContent = `${said} The list could not be refreshed: ${err.message}`;
      return;
    }
    if (state.me !== me) return;
    renderCameras();
    $('camera-edited').textContent = said;
    // The form and its buttons are gone: the focus goes to what says what happened.
    $('camera-edited').tabIndex = -1;
    $('camera-edited').focus();
  } catch (err) {
    if (state.me === me) $('camera-edit-error').textContent = `The camera was not removed: ${err.message}`;
  } finally { $('camera-remove-yes').disabled = false; }
});
$('camera-edit-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const c = editing, me = state.me;
  if (!c) return;
  // Only what changed is sent: the audit entry names those fields, and an edit made
  // meanwhile by someone else to another field is kept.
  const body = {};
  const text = (id) => $(id).value.trim();
  if (text('edit-name') !== c.name) body.name = text('edit-name');
  if (text('edit-url') !== (c.url || '')) body.url = text('edit-url');
  if ($('edit-user').value !== (c.username || '')) body.username = $('edit-user').value;
  if ($('edit-password').value) body.password = $('edit-password').value;
  if (text('edit-location') !== c.location) body.location = text('edit-location');
  if (text('edit-area') !== c.area) body.area = text('edit-area');
  if (text('edit-sub') !== (c.subStreamURL || '')) body.subStream = text('edit-sub');
  if (Number($('edit-retention').value) !== c.retentionDays) body.retentionDays = Number($('edit-retention').value);
  if ($('edit-enabled').checked !== c.enabled) body.enabled = $('edit-enabled').checked;
  if (!Object.keys(body).length) { $('camera-edit-error').textContent = 'Nothing was changed.'; return; }
  $('camera-edit-save').disabled = true;
  try {
    const saved = await api('PATCH', `/api/cameras/${c.id}`, body);
    if (state.me !== me) return;
    $('camera-edit-form').hidden = true;
    editing = null;
    const said = `Saved ${saved.name}${'enabled' in body ? (saved.enabled ? ': recording starts within a few seconds' : ': recording stopped; its footage is kept to its retention') : ''}.`;
    try {
      state.cameras = await api('GET', '/api/cameras');
    } catch (err) {
      if (state.me === me) $('camera-edited').textContent = `${said} The list could not be refreshed: ${err.message}`;
      return;
    }
    if (state.me !== me) return;
    renderCameras();
    // Said once the list shows the change.
    $('camera-edited').textContent = said;
  } catch (err) {
    if (state.me === me) $('camera-edit-error').textContent = `The camera was not changed: ${err.message}`;
  } finally { $('camera-edit-save').disabled = false; }
});

// ---- Tours: the supervisor's editor (routes are confidential: supervisors only) ----

const dayNames = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
const clockText = (minute) => `${String(Math.floor(minute / 60) % 24).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')}`;
const windowText = (w) => `${w.days.map((d) => dayNames[d - 1]).join(', ')} ${clockText(w.fromMinute)}–${w.toMinute === 1440 ? '24:00' : clockText(w.toMinute)}`;
const tourDraft = () => ({ id: null, steps: [], schedule: [], deleting: false });
state.tours = [];
state.tour = tourDraft();
for (const [i, name] of dayNames.entries()) {
  const label = document.createElement('label');
  const box = Object.assign(document.createElement('input'), { type: 'checkbox', value: String(i + 1), checked: i < 5, defaultChecked: i < 5 });
  label.append(box, ` ${name}`);
  $('tour-days').append(label);
}

async function loadTours() {
  const me = state.me;
  const tours = await api('GET', '/api/tours');
  if (state.me !== me) return;
  state.tours = tours;
  const names = new Map(state.cameras.map((c) => [c.id, c.name]));
  $('tour-rows').replaceChildren(...tours.map((t) => {
    const tr = document.createElement('tr');
    tr.tabIndex = 0;
    tr.dataset.tour = String(t.id);
    tr.setAttribute('aria-selected', String(t.id === state.tour.id));
    tr.setAttribute('aria-label', `Edit tour ${t.name}`);
    const cycle = t.steps.reduce((sum, s) => sum + s.dwellSeconds, 0);
    tr.append(cell(t.name), cell(names.get(t.cameraID) || `#${t.cameraID}`), cell(`${t.steps.length} (${cycle} s a round)`),
      cell(t.schedule.length ? t.schedule.map(windowText).join('; ') : 'always'), cell(t.enabled ? 'yes' : 'no'));
    const open = () => editTour(t);
    tr.addEventListener('click', open);
    tr.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); open(); } });
    return tr;
  }));
  const steerable = state.cameras.filter((c) => c.ptz);
  const chosen = $('tour-camera').value;
  $('tour-camera').replaceChildren(...steerable.map((c) => new Option(c.name, c.id)));
  if (chosen) $('tour-camera').value = chosen;
  $('tour-form').hidden = !may('manage-tours');
  if (may('manage-tours')) await loadPresets();
  drawTour();
}

// The camera's presets, offered as the step's choices (typed names work too). A reply
// for a camera no longer chosen (or after a sign-out) is dropped.
async function loadPresets() {
  const me = state.me, id = $('tour-camera').value;
  $('tour-presets').replaceChildren();
  if (!id) return;
  try {
    const view = await api('GET', `/api/cameras/${id}/ptz`);
    if (state.me !== me || $('tour-camera').value !== id) return;
    $('tour-presets').replaceChildren(...view.presets.map((p) => new Option(p.name)));
  } catch (err) {
    if (state.me !== me || $('tour-camera').value !== id) return;
    $('tour-error').textContent = `The camera's presets could not be read (${err.message}); type the preset's name.`;
  }
}

function editTour(t) {
  state.tour = { id: t.id, steps: t.steps.map((s) => ({ ...s })), schedule: t.schedule.map((w) => ({ ...w, days: [...w.days] })), deleting: false };
  $('tour-camera').value = String(t.cameraID);
  $('tour-name').value = t.name;
  $('tour-enabled').checked = t.enabled;
  $('tour-error').textContent = '';
  for (const tr of $('tour-rows').children) tr.setAttribute('aria-selected', String(tr.dataset.tour === String(t.id)));
  loadPresets();
  drawTour();
  $('tour-name').focus();
}

// Redraws the steps and windows; the button that had the focus (by its label) keeps it.
function drawTour() {
  const t = state.tour;
  const focused = document.activeElement && document.activeElement.closest('#tour-steps, #tour-windows')
    ? document.activeElement.getAttribute('aria-label') : null;
  $('tour-form-title').textContent = t.id === null ? 'New tour' : `Tour ${$('tour-name').value}`;
  $('tour-delete').hidden = t.id === null;
  $('tour-delete').textContent = t.deleting ? 'Press again to delete this tour' : 'Delete tour';
  const button = (text, label, action) => {
    const b = Object.assign(document.createElement('button'), { type: 'button', textContent: text });
    b.setAttribute('aria-label', label);
    b.addEventListener('click', () => { action(); drawTour(); });
    return b;
  };
  $('tour-steps').replaceChildren(...t.steps.map((s, i) => {
    const li = document.createElement('li');
    const text = Object.assign(document.createElement('span'), { textContent: `${i + 1}. ${s.preset}, ${s.dwellSeconds} s` });
    const move = (by) => { const [step] = t.steps.splice(i, 1); t.steps.splice(i + by, 0, step); };
    li.append(text,
      button('↑', `Move step ${i + 1} earlier`, () => { if (i > 0) move(-1); }),
      button('↓', `Move step ${i + 1} later`, () => { if (i < t.steps.length - 1) move(1); }),
      button('Remove', `Remove step ${i + 1}`, () => t.steps.splice(i, 1)));
    return li;
  }));
  $('tour-windows').replaceChildren(...t.schedule.map((w, i) => {
    const li = document.createElement('li');
    li.append(Object.assign(document.createElement('span'), { textContent: windowText(w) }),
      button('Remove', `Remove window ${i + 1}`, () => t.schedule.splice(i, 1)));
    return li;
  }));
  if (focused) {
    const again = document.querySelector(`#tour-steps [aria-label="${focused}"], #tour-windows [aria-label="${focused}"]`)
      || document.querySelector('#tour-steps button, #tour-windows button') || $('tour-step-preset');
    again.focus();
  }
}

$('tour-camera').addEventListener('change', () => { $('tour-error').textContent = ''; loadPresets(); });
for (const id of ['tour-step-preset', 'tour-step-dwell']) {
  $(id).addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); $('tour-step-add').click(); } });
}
for (const id of ['tour-window-from', 'tour-window-to']) {
  $(id).addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); $('tour-window-add').click(); } });
}
$('tour-step-add').addEventListener('click', () => {
  const preset = $('tour-step-preset').value.trim(), dwell = Number($('tour-step-dwell').value);
  if (!preset) { $('tour-error').textContent = 'Name the preset the step goes to.'; return; }
  if (!Number.isInteger(dwell) || dwell < 2 || dwell > 3600) { $('tour-error').textContent = 'A step dwells 2 to 3600 whole seconds.'; return; }
  if (state.tour.steps.length >= 64) { $('tour-error').textContent = 'A tour has at most 64 steps.'; return; }
  $('tour-error').textContent = '';
  state.tour.steps.push({ preset, dwellSeconds: dwell });
  $('tour-step-preset').value = '';
  drawTour();
  $('tour-step-preset').focus();
});
$('tour-window-add').addEventListener('click', () => {
  const days = [...$('tour-days').querySelectorAll('input:checked')].map((b) => Number(b.value));
  const minute = (text) => { const [h, m] = text.split(':').map(Number); return h * 60 + m; };
  const from = $('tour-window-from').value, to = $('tour-window-to').value;
  if (days.length === 0) { $('tour-error').textContent = 'Choose at least one day for the window.'; return; }
  if (!from || !to) { $('tour-error').textContent = 'Give the window\'s start and end times.'; return; }
  if (state.tour.schedule.length >= 14) { $('tour-error').textContent = 'A tour has at most 14 windows.'; return; }
  $('tour-error').textContent = '';
  const end = minute(to);
  state.tour.schedule.push({ days, fromMinute: minute(from), toMinute: end === 0 ? 1440 : end });
  drawTour();
});
$('tour-new').addEventListener('click', () => {
  state.tour = tourDraft();
  $('tour-name').value = '';
  $('tour-enabled').checked = true;
  $('tour-error').textContent = '';
  for (const tr of $('tour-rows').children) tr.setAttribute('aria-selected', 'false');
  drawTour();
  $('tour-camera').focus();
});
$('tour-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const me = state.me, t = state.tour;
  if (t.steps.length === 0) { $('tour-error').textContent = 'A tour needs at least one step: add a preset and its dwell.'; return; }
  $('tour-error').textContent = '';
  const body = { camera: Number($('tour-camera').value), name: $('tour-name').value.trim(), steps: t.steps, schedule: t.schedule,
    enabled: $('tour-enabled').checked };
  $('tour-save').disabled = true;
  let saved;
  try {
    saved = await api(t.id === null ? 'POST' : 'PUT', t.id === null ? '/api/tours' : `/api/tours/${t.id}`, body);
  } catch (err) {
    if (state.me === me) $('tour-error').textContent = `The tour was not saved: ${err.message}`;
    return;
  } finally { $('tour-save').disabled = false; }
  if (state.me !== me) return;
  t.id = saved.id;
  try { await loadTours(); } catch (err) { $('tour-error').textContent = `The tour was saved, but the list could not be refreshed: ${err.message}`; }
  if (state.me === me) $('tour-form-title').textContent = `Tour ${saved.name} (saved)`;
});
$('tour-delete').addEventListener('click', async () => {
  const me = state.me, t = state.tour;
  if (t.id === null) return;
  if (!t.deleting) { t.deleting = true; drawTour(); return; }
  try {
    await api('DELETE', `/api/tours/${t.id}`);
  } catch (err) {
    if (state.me !== me) return;
    t.deleting = false;
    drawTour();
    $('tour-error').textContent = `The tour was not deleted: ${err.message}`;
    return;
  }
  if (state.me !== me) return;
  state.tour = tourDraft();
  $('tour-form').reset();
  try { await loadTours(); } catch (err) { $('tour-error').textContent = `The tour was deleted, but the list could not be refreshed: ${err.message}`; }
  $('tour-new').focus();
});

// ---- Live: the video wall ----
// A layout of tiles, each showing any camera the user may watch: dragged from the camera
// tree, clicked there for the selected tile, or typed by number as on a CCTV keyboard
// (digits, then Enter). Pages and timed sequences step through every camera; views are
// saved per user or shared. One MSE player per tile, kept within about 0.1 s of the newest
// frame it has; each fragment's `prft` gives Vigil's time of the frame, shown on the tile
// with the delay from then to the screen. A hidden tab closes its streams: nothing decodes.

const LAYOUTS = { '1': 1, '2x2': 4, '3x3': 9, '4x4': 16, '1+5': 6, '1+7': 8 };
// `custom`: tiles the user chose one by one (kept across a change of layout), not a page.
// `closedAreas`: the camera tree's groups the user folded, kept across its redraws.
const wall = { layout: '2x2', tiles: [], cells: [], selected: 0, page: 0, max: null, view: null, views: [], keypad: '', custom: false, sequence: null, open: false, closedAreas: new Set() };

// Live latency: the player aims `target` seconds behind the newest frame it holds, plays a
// little faster when it is further behind, a little slower when closer, and seeks past
// `jump`. Like any jitter buffer it adapts: each wait for a late frame moves its aim back
// by `step` (to at most `most`), and ten quiet seconds bring it forward again.
const LIVE = { target: 0.1, most: 0.14, step: 0.01, jump: 0.5 };

// An NTP timestamp (RFC 5905: seconds since 1900, era 0 wrapping in 2036) as Unix ms.
function ntpToUnixMillis(seconds, fraction) {
  let unix = seconds - 2208988800;
  if (unix < -1e9) unix += 2 ** 32; // era 1 (after 2036-02-07)
  return unix * 1000 + (fraction / 2 ** 32) * 1000;
}

// A `prft` box at the start of a fragment (ISO/IEC 14496-12 §8.16.5): its size, and the
// media time (s) paired with Vigil's UTC time (ms) for the frame; null when there is none.
function readPrft(bytes) {
  if (bytes.length < 32) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (String.fromCharCode(bytes[4], bytes[5], bytes[6], bytes[7]) !== 'prft') return null;
  const size = view.getUint32(0), version = bytes[8];
  if (size > bytes.length || size < (version === 1 ? 32 : 28)) return null;
  const utc = ntpToUnixMillis(view.getUint32(16), view.getUint32(20));
  const media = version === 1 ? view.getUint32(24) * 2 ** 32 + view.getUint32(28) : view.getUint32(24);
  return { size, media: media / 90000, utc };
}

// `options.sub`: ask for the camera's sub-stream (a small tile); `options.onStream(stream,
// reason)` hears which stream comes ('sub' or 'main') and, when the main one came instead,
// why.
function livePlayer(video, camera, report, options = {}) {
  const source = new MediaSource();
  video.src = URL.createObjectURL(source);
  const queue = [], times = [];
  let buffer = null, socket = null, closed = false, started = false, aim = LIVE.target, quietSince = performance.now();
  // Stalls: the picture waited for data after it had started (count, and time spent waiting).
  // `longestGapMs`: the longest wait between two fragments arriving (a late source shows here).
  const stats = { stalls: 0, stalledMs: 0, longestStallMs: 0, longestGapMs: 0 };
  let lastArrival = null;
  let waitingSince = null;
  video.addEventListener('waiting', () => {
    if (!started || closed) return;
    stats.stalls++;
    waitingSince = quietSince = performance.now();
    aim = Math.min(LIVE.most, aim + LIVE.step);
  });
  video.addEventListener('playing', () => {
    if (waitingSince === null) return;
    const ms = performance.now() - waitingSince;
    stats.stalledMs += ms;
    stats.longestStallMs = Math.max(stats.longestStallMs, ms);
    waitingSince = null;
  });
  const pump = () => {
    if (!buffer || buffer.updating || closed) return;
    const b = video.buffered;
    if (b.length && video.currentTime - b.start(0) > 30) { buffer.remove(b.start(0), video.currentTime - 10); return; }
    if (queue.length) { buffer.appendBuffer(queue.shift()); return; }
    steer();
  };
  // Keeps the picture just behind the newest frame: a new stream starts at the key frame
  // that opens its group of pictures (up to a second old), so it seeks to the edge first.
  function steer() {
    const b = video.buffered;
    if (!b.length || closed) return;
    const end = b.end(b.length - 1), lag = end - video.currentTime;
    if (performance.now() - quietSince > 10000) { aim = Math.max(LIVE.target, aim - LIVE.step); quietSince = performance.now(); }
    if (!started || lag > LIVE.jump || video.currentTime < b.start(0)) {
      if (end - b.start(b.length - 1) >= aim) {
        video.currentTime = end - aim;
        video.playbackRate = 1;
        started = true;
      }
    } else if (lag > aim + 0.04) {
      video.playbackRate = 1.1;
    } else if (lag < aim - 0.05) {
      video.playbackRate = 0.9;
    } else {
      video.playbackRate = 1;
    }
  }
  const steering = setInterval(steer, 100);
  // Vigil's time of the frame on screen, from the nearest `prft` at or before it.
  function frameTime() {
    const t = video.currentTime;
    for (let i = times.length - 1; i >= 0; i--) if (times[i].media <= t + 1e-3) return times[i].utc + (t - times[i].media) * 1000;
    return null;
  }
  const ticking = setInterval(() => { if (!closed && started) report(frameTime()); }, 250);
  source.addEventListener('sourceopen', () => {
    if (closed) return;
    socket = openSocket(`/api/cameras/${camera.id}/live${options.sub ? '?stream=sub' : ''}`);
    socket.binaryType = 'arraybuffer';
    state.liveStreams++;
    // The server ends a stream whose viewer may no longer watch (signed out elsewhere, account
    // disabled, grant withdrawn) with its reason: say so on the tile, never leave a frozen picture.
    socket.onclose = (event) => {
      state.liveStreams--;
      if (closed) return;
      closed = true;
      // 1006: no close frame. Before any picture that is a refused handshake (signed out,
      // no permission, a page served from an origin the server does not know); after, a
      // lost connection. The browser hides which, so say both.
      const why = event.reason || (event.code === 1006
        ? 'the server refused it or the connection was lost; reload the page, and if it persists ask the administrator (the audit log says why)'
        : `closed (${event.code})`);
      report(null, `Live view ended: ${why}`);
      video.pause();
    };
    socket.onmessage = (event) => {
      if (typeof event.data === 'string') {
        const message = JSON.parse(event.data);
        if (message.type === 'stream' && options.onStream) options.onStream(message.stream, message.reason);
        if (message.type !== 'init') return;
        if (options.onStream) options.onStream(message.stream || 'main', null);
        const type = `video/mp4; codecs="${message.codec}"`;
        if (!MediaSource.isTypeSupported(type)) {
          // e.g. H.265 in a browser without an HEVC decoder: say so instead of a black tile.
          report(null, `This browser cannot decode ${message.codec}; use playback export`);
          closed = true; socket.close();
          return;
        }
        if (!buffer) {
          buffer = source.addSourceBuffer(type);
          buffer.mode = 'segments';
          buffer.addEventListener('updateend', pump);
        } else if (buffer.changeType) {
          buffer.changeType(type);
        }
        return;
      }
      const now = performance.now();
      if (lastArrival !== null && started) stats.longestGapMs = Math.max(stats.longestGapMs, now - lastArrival);
      lastArrival = now;
      let bytes = new Uint8Array(event.data);
      const prft = readPrft(bytes);
      if (prft) {
        times.push(prft);
        if (times.length > 300) times.splice(0, times.length - 300);
        bytes = bytes.subarray(prft.size);
      }
      queue.push(bytes);
      if (queue.length > 200) queue.splice(0, queue.length - 200);
      pump();
      if (video.paused) video.play().catch(() => {});
    };
  });
  return {
    stats,
    get aim() { return aim; },
    close() {
      closed = true; clearInterval(steering); clearInterval(ticking);
      if (socket) socket.close();
      URL.revokeObjectURL(video.src);
      video.removeAttribute('src');
      video.load();
    },
  };
}

const cameraById = (id) => state.cameras.find((c) => c.id === id);
const watchable = () => state.cameras.filter((c) => c.mayLive).sort((a, b) => a.id - b.id);
// The centre's clock is read in 24 hours, whatever the station's locale.
const clock = (ms) => new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
const fromMicros = (us) => clock(us / 1000);

// Why a camera shows no picture, in words, or null while it records.
function downReason(c) {
  if (c.removed) return `Removed on ${clockDate(Date.parse(c.removed))}: its footage is kept at most until ${clockDate(Date.parse(c.footageUntil))}`;
  if (!c.enabled) return 'Recording is switched off for this camera';
  const s = c.status;
  if (s.recording) return null;
  const since = s.downSinceMicros ? ` since ${fromMicros(s.downSinceMicros)}` : '';
  return `Camera down${since}: ${s.lastError || 'no pictures have arrived yet'}`;
}

function stopLive() {
  for (const cell of wall.cells) closeCell(cell);
  wall.open = false;
  setSequence(0);
}

function closeCell(cell) {
  if (cell.player) cell.player.close();
  if (cell.ptz) cell.ptz.close();
  cell.player = cell.ptz = null;
}

function startLive() {
  stopLive();
  wall.open = true;
  $('layout').value = wall.layout;
  if (wall.tiles.length !== LAYOUTS[wall.layout]) showPage(wall.page); else drawWall();
  drawTree();
  loadViews();
}

function drawWall() {
  for (const cell of wall.cells) closeCell(cell);
  const grid = $('grid');
  grid.dataset.layout = wall.layout;
  grid.classList.toggle('maximised', wall.max !== null);
  if (wall.max !== null && wall.max >= wall.tiles.length) wall.max = null;
  grid.classList.toggle('maximised', wall.max !== null);
  wall.cells = wall.tiles.map((id, i) => makeCell(i));
  wall.cells.forEach((cell) => cell.el.classList.toggle('max', cell.index === wall.max));
  grid.replaceChildren(...wall.cells.map((c) => c.el));
  wall.cells.forEach((cell) => fillCell(cell, wall.tiles[cell.index]));
  selectTile(Math.min(wall.selected, wall.cells.length - 1), false);
  drawPager();
}

function drawPager() {
  const list = watchable(), n = LAYOUTS[wall.layout], pages = Math.max(1, Math.ceil(list.length / n));
  $('page-text').textContent = wall.view ? `View: ${wall.view.name}` : `Page ${wall.page + 1} of ${pages} (${list.length} camera${list.length === 1 ? '' : 's'})`;
}

function makeCell(index) {
  const el = document.createElement('div');
  el.className = 'tile';
  el.tabIndex = 0;
  el.dataset.index = String(index);
  const head = document.createElement('div');
  head.className = 'tile-head';
  const picture = document.createElement('div');
  picture.className = 'picture';
  el.append(head, picture);
  const cell = { index, el, head, picture, camera: null, player: null, ptz: null, frame: null, notice: null };
  el.addEventListener('focusin', () => selectTile(index, false));
  el.addEventListener('pointerdown', () => selectTile(index, false));
  el.addEventListener('dblclick', (e) => { if (e.target.closest('.ptz')) return; toggleMax(index); });
  el.addEventListener('keydown', (e) => {
    if (e.target !== el) return;
    if (e.key === 'm' || e.key === 'M') { e.preventDefault(); toggleMax(index); }
    if ((e.key === 'r' || e.key === 'R') && cell.camera && cell.camera.mayPlayback) { e.preventDefault(); replayLast(cell.camera); }
    if ((e.key === 'i' || e.key === 'I') && cell.camera && !cell.camera.missing && may('incidents') && (cell.camera.mayLive || cell.camera.mayPlayback)) {
      e.preventDefault(); quickReport(cell);
    }
    if (e.key === 'Delete') { e.preventDefault(); assign(index, null); }
  });
  el.addEventListener('dragover', (e) => { if (e.dataTransfer.types.includes('application/x-vigil-camera')) { e.preventDefault(); el.classList.add('drop'); } });
  el.addEventListener('dragleave', () => el.classList.remove('drop'));
  el.addEventListener('drop', (e) => {
    el.classList.remove('drop');
    const id = Number(e.dataTransfer.getData('application/x-vigil-camera'));
    if (id) { e.preventDefault(); assign(index, id); }
  });
  return cell;
}

function fillCell(cell, id) {
  closeCell(cell);
  cell.picture.replaceChildren();
  cell.camera = id ? cameraById(id) || { id, name: `camera ${id}`, missing: true } : null;
  cell.headKey = null;
  cell.frame = null;
  cell.notice = null;
  const c = cell.camera;
  if (!c) {
    cell.notice = 'Empty: drag a camera here, or type its number and press Enter';
  } else if (c.missing) {
    cell.notice = `Camera ${id} is not in Vigil any more`;
  } else if (c.removed) {
    cell.notice = `${c.name} was removed: it has no live view (its footage plays back until its retention ends)`;
  } else if (!c.mayLive) {
    cell.notice = `You may not watch ${c.name}`;
  } else if (document.hidden) {
    cell.notice = 'Paused while this tab is hidden';
  } else {
    const video = document.createElement('video');
    video.muted = true; video.autoplay = true; video.playsInline = true;
    video.dataset.camera = String(c.id);
    cell.picture.append(video);
    cell.el.setAttribute('aria-label', `Tile ${cell.index + 1}: ${c.name}. M maximises, Delete empties`);
    const sub = wantsSub(cell, c);
    cell.stream = { name: sub ? 'sub' : 'main', reason: null, asked: sub };
    video.dataset.stream = cell.stream.name;
    cell.player = livePlayer(video, c, (frameMillis, ended) => {
      if (ended) { cell.notice = ended; cell.frame = null; } else { cell.frame = frameMillis; }
      drawHead(cell);
    }, {
      sub,
      onStream: (name, reason) => {
        if (name === 'main' && !reason && cell.stream.reason) return; // the main stream's init after a fallback
        cell.stream = { name, reason: reason || null, asked: sub };
        video.dataset.stream = name;
        drawHead(cell);
      },
    });
    if (c.ptz && c.mayPTZ) cell.ptz = ptzControl(cell.el, video, c);
  }
  if (!cell.player) cell.el.setAttribute('aria-label', c ? `Tile ${cell.index + 1}: ${c.name}` : `Tile ${cell.index + 1}: empty`);
  drawHead(cell);
}

// Whether a tile shows its camera's sub-stream: where it has one, when the tile is at most
// half again as wide as the sub-stream's picture (its width once seen, else 640, a common
// sub-stream) and narrower than the main one. Larger tiles, a maximised one among them,
// show the main stream.
function wantsSub(cell, c) {
  if (!c.subStream) return false;
  const wide = cell.picture.clientWidth * (window.devicePixelRatio || 1);
  return wide <= 1.5 * (c.subWidth || 640) && (!c.width || wide < c.width);
}

// Tiles whose size no longer suits the stream they asked for (maximised, returned, the
// window resized) open the other one.
function restream() {
  for (const cell of wall.cells) {
    const c = cell.camera && cameraById(cell.camera.id);
    // Tiles hidden behind a maximised one keep what they have.
    if (cell.player && c && cell.stream && cell.picture.clientWidth > 0 && wantsSub(cell, c) !== cell.stream.asked) fillCell(cell, c.id);
  }
}
let restreamTimer = null;
window.addEventListener('resize', () => { clearTimeout(restreamTimer); restreamTimer = setTimeout(() => { if (wall.open) restream(); }, 500); });

// The tile's line above its picture: number and name, place, Vigil's time of the frame
// on screen with its delay to the screen, and whether the camera records.
function drawHead(cell) {
  const c = cell.camera && cameraById(cell.camera.id) || cell.camera;
  // Built once per camera in the tile, then only its texts change: the time is redrawn four
  // times a second, and a button rebuilt as often would lose the clicks aimed at it.
  const key = c ? `${c.id}|${c.name}|${c.location}|${c.area}|${!!c.mayPlayback}` : `empty ${cell.index}`;
  if (cell.headKey !== key) {
    cell.headKey = key;
    const parts = [];
    const span = (cls, text) => { const s = document.createElement('span'); s.className = cls; s.textContent = text; parts.push(s); return s; };
    if (c) {
      span('cam-name', `${c.id} · ${c.name}`);
      span('cam-place', [c.location, c.area].filter(Boolean).join(' — '));
      cell.timeEl = span('tile-time', '');
      cell.timeEl.title = 'Vigil\'s time of the frame on screen, and how long ago that was (camera to screen; needs the station\'s clock in step with the server\'s)';
      if (c.mayPlayback) {
        const b = document.createElement('button');
        b.type = 'button'; b.className = 'replay'; b.textContent = '↺ 30 s';
        b.title = 'Replay the last 30 seconds (R)'; b.setAttribute('aria-label', `Replay the last 30 seconds of ${c.name}`);
        b.addEventListener('click', () => replayLast(c));
        parts.push(b);
      }
      if (may('incidents') && !c.missing && (c.mayLive || c.mayPlayback)) {
        const b = document.createElement('button');
        b.type = 'button'; b.className = 'replay report'; b.textContent = '⚠ Report';
        b.title = 'Report an incident seen here (I)'; b.setAttribute('aria-label', `Report an incident seen on ${c.name}`);
        b.addEventListener('click', () => quickReport(cell));
        parts.push(b);
      }
      cell.streamEl = span('tile-stream', '');
      cell.recEl = span('rec', '');
    } else {
      span('cam-name', `Tile ${cell.index + 1}`);
      cell.timeEl = cell.recEl = cell.streamEl = null;
    }
    cell.head.replaceChildren(...parts);
  }
  if (cell.timeEl) {
    const delay = cell.frame ? Math.max(0, (Date.now() - cell.frame) / 1000) : null;
    const text = cell.frame ? `${clock(cell.frame)} · ${delay.toFixed(2)} s` : '';
    if (cell.timeEl.textContent !== text) cell.timeEl.textContent = text;
  }
  if (cell.streamEl) {
    // Which of the camera's streams the tile shows: the sub-stream is marked, and so is a
    // fallback to the main one (with why, on hover).
    const s = cell.player && cell.stream;
    const text = !s ? '' : s.name === 'sub' ? 'SUB' : s.reason ? 'MAIN' : '';
    if (cell.streamEl.textContent !== text) cell.streamEl.textContent = text;
    cell.streamEl.title = !s ? '' : s.name === 'sub' ? 'The camera\'s sub-stream: a smaller picture for this tile size (M maximises the tile, in the main stream)'
      : s.reason ? `The main stream: the sub-stream is not available (${s.reason})` : '';
  }
  if (cell.recEl) {
    const known = !c.missing && c.status, rec = known && c.enabled && c.status.recording;
    cell.recEl.className = known ? (rec ? 'rec on' : 'rec off') : 'rec';
    cell.recEl.textContent = known ? (rec ? '● REC' : '○ not recording') : '';
    cell.recEl.title = rec ? 'recording' : 'not recording';
  }
  const down = c && !c.missing && c.status ? downReason(c) : null;
  const text = cell.notice || down;
  let notice = cell.picture.querySelector('.notice');
  if (text) {
    if (!notice) { notice = document.createElement('div'); notice.className = 'notice'; notice.setAttribute('role', 'status'); cell.picture.append(notice); }
    notice.textContent = text;
  } else if (notice) {
    notice.remove();
  }
  cell.el.dataset.notice = text || '';
}

// "Report an incident" from a live tile: the report's dialog over the wall (which plays on),
// filled in with the tile's camera and Vigil's time of the frame on screen (now, when none
// is shown).
function quickReport(cell) {
  openReport({ camera: cell.camera.id, at: cell.frame || Date.now(), video: cell.el.querySelector('video') });
}

function replayLast(camera) {
  state.replay = { camera: camera.id, to: Date.now() };
  openView('playback');
}

function selectTile(index, focus = true) {
  if (index < 0 || index >= wall.cells.length) return;
  wall.selected = index;
  wall.cells.forEach((cell) => { cell.el.classList.toggle('selected', cell.index === index); cell.el.setAttribute('aria-selected', String(cell.index === index)); });
  if (focus) wall.cells[index].el.focus();
}

function assign(index, id) {
  wall.tiles[index] = id;
  wall.custom = true;
  fillCell(wall.cells[index], id);
  setSequence(0);
}

function toggleMax(index) {
  wall.max = wall.max === index ? null : index;
  wall.cells.forEach((cell) => cell.el.classList.toggle('max', cell.index === wall.max));
  $('grid').classList.toggle('maximised', wall.max !== null);
  restream();
}

// Page `p` of every camera the user may watch, in number order, as many as the layout holds.
function showPage(p) {
  const list = watchable(), n = LAYOUTS[wall.layout], pages = Math.max(1, Math.ceil(list.length / n));
  wall.page = ((p % pages) + pages) % pages;
  wall.view = null;
  $('view-select').value = '';
  $('view-delete').hidden = true;
  wall.max = null;
  wall.custom = false;
  const tiles = Array.from({ length: n }, (_, i) => (list[wall.page * n + i] || {}).id || null);
  if (wall.cells.length === n && $('grid').dataset.layout === wall.layout) {
    // The same layout: only the tiles whose camera changes open a new stream (a sequence
    // over a single page reopens nothing).
    wall.cells.forEach((cell, i) => { if (wall.tiles[i] !== tiles[i]) fillCell(cell, tiles[i]); });
    wall.tiles = tiles;
    wall.cells.forEach((cell) => cell.el.classList.remove('max'));
    $('grid').classList.remove('maximised');
    drawPager();
  } else {
    wall.tiles = tiles;
    drawWall();
  }
}

function setSequence(seconds) {
  clearInterval(wall.sequence);
  wall.sequence = null;
  $('sequence').value = String(seconds);
  if (seconds > 0) wall.sequence = setInterval(() => showPage(wall.page + 1), seconds * 1000);
}

$('layout').addEventListener('change', () => {
  const n = LAYOUTS[$('layout').value];
  wall.layout = $('layout').value;
  // Cameras chosen one by one (or from a view) stay, in order; pages start again from the first.
  if (wall.view || wall.custom) {
    wall.tiles = [...wall.tiles.filter((id) => id), ...Array(n).fill(null)].slice(0, n);
    wall.max = null;
    drawWall();
  } else {
    showPage(0);
  }
});
$('page-prev').addEventListener('click', () => showPage(wall.page - 1));
$('page-next').addEventListener('click', () => showPage(wall.page + 1));
$('sequence').addEventListener('change', () => { const s = Number($('sequence').value); if (s > 0) showPage(wall.page); setSequence(s); });
$('wall-fullscreen').addEventListener('click', () => {
  const grid = $('grid');
  if (document.fullscreenElement) document.exitFullscreen();
  else if (grid.requestFullscreen) grid.requestFullscreen().catch((err) => { $('wall-error').textContent = `Full screen was refused: ${err.message}`; });
});

// The camera tree: every camera, grouped by area, filtered by what is typed.
function drawTree() {
  const filter = $('camera-search').value.trim().toLowerCase();
  const groups = new Map();
  for (const c of [...state.cameras].sort((a, b) => a.id - b.id)) {
    if (c.removed) continue;
    const text = `${c.id} ${c.name} ${c.location} ${c.area}`.toLowerCase();
    if (filter && !text.includes(filter)) continue;
    const area = c.area || 'No area';
    if (!groups.has(area)) groups.set(area, []);
    groups.get(area).push(c);
  }
  const tree = $('camera-tree');
  // Redrawn as statuses change: the folded groups stay folded and the focus stays on its camera.
  const focused = document.activeElement && tree.contains(document.activeElement) ? document.activeElement.dataset.camera : null;
  tree.replaceChildren(...[...groups.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([area, cameras]) => {
    const group = document.createElement('details');
    group.open = !wall.closedAreas.has(area);
    group.addEventListener('toggle', () => { if (group.open) wall.closedAreas.delete(area); else wall.closedAreas.add(area); });
    const summary = document.createElement('summary');
    summary.textContent = `${area} (${cameras.length})`;
    const list = document.createElement('ul');
    list.append(...cameras.map((c) => {
      const li = document.createElement('li');
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'tree-camera';
      b.dataset.camera = String(c.id);
      b.disabled = !c.mayLive;
      b.draggable = c.mayLive;
      const down = downReason(c);
      b.textContent = `${c.id} · ${c.name}`;
      b.title = [c.location, down || 'recording', c.mayLive ? 'drag onto a tile, or click to show it in the selected tile' : 'you may not watch it'].filter(Boolean).join('\n');
      if (down) b.classList.add('down');
      b.addEventListener('dragstart', (e) => { e.dataTransfer.setData('application/x-vigil-camera', String(c.id)); e.dataTransfer.effectAllowed = 'copy'; });
      b.addEventListener('click', () => { assign(wall.selected, c.id); });
      li.append(b);
      return li;
    }));
    group.append(summary, list);
    return group;
  }));
  if (!groups.size) tree.textContent = filter ? 'No camera matches.' : 'No cameras.';
  const again = focused && tree.querySelector(`[data-camera="${focused}"]`);
  if (again) again.focus();
}
$('camera-search').addEventListener('input', drawTree);
$('camera-search').addEventListener('keydown', (e) => {
  if (e.key !== 'Enter') return;
  e.preventDefault();
  const first = document.querySelector('#camera-tree .tree-camera:not(:disabled)');
  if (first) first.click();
});

// The CCTV keypad: digits typed on the wall (not into a field, nor on a steerable tile,
// whose digits call presets) make a camera number; Enter shows it in the selected tile.
$('live').addEventListener('keydown', (e) => {
  if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey) return;
  if (e.target.closest('input, select, textarea, .ptz') || (e.target.closest('.tile') && /^[0-9]$/.test(e.key) && wall.cells[wall.selected] && wall.cells[wall.selected].ptz)) return;
  if (/^[0-9]$/.test(e.key)) { wall.keypad = (wall.keypad + e.key).slice(-6); e.preventDefault(); }
  else if (e.key === 'Backspace' && wall.keypad) { wall.keypad = wall.keypad.slice(0, -1); e.preventDefault(); }
  else if (e.key === 'Escape' && wall.keypad) { wall.keypad = ''; e.preventDefault(); }
  else if (e.key === 'Enter' && wall.keypad) {
    e.preventDefault();
    const id = Number(wall.keypad), c = cameraById(id);
    wall.keypad = '';
    if (!c) $('wall-error').textContent = `There is no camera ${id}.`;
    else if (c.removed) $('wall-error').textContent = `Camera ${id} (${c.name}) was removed: it has no live view.`;
    else if (!c.mayLive) $('wall-error').textContent = `You may not watch camera ${id} (${c.name}).`;
    else { $('wall-error').textContent = ''; assign(wall.selected, id); }
  } else if (e.key === 'PageDown' || e.key === 'PageUp') { e.preventDefault(); showPage(wall.page + (e.key === 'PageDown' ? 1 : -1)); }
  else return;
  $('keypad').textContent = wall.keypad ? `Camera ${wall.keypad}_` : '';
});

// Saved views: the user's own and the shared ones.
async function loadViews() {
  const me = state.me;
  try {
    const views = await api('GET', '/api/views');
    if (state.me !== me) return;
    wall.views = views;
    const select = $('view-select');
    select.replaceChildren(new Option('All cameras, page by page', ''), ...views.map((v) => new Option(v.mine ? `${v.name}${v.shared ? ' (shared)' : ''}` : `${v.name} (shared by ${v.owner})`, String(v.id))));
    select.value = wall.view ? String(wall.view.id) : '';
  } catch (err) { if (state.me === me) $('wall-error').textContent = `The saved views could not be read: ${err.message}`; }
}

$('view-select').addEventListener('change', () => {
  const v = wall.views.find((x) => String(x.id) === $('view-select').value);
  if (!v) { showPage(0); return; }
  setSequence(0);
  wall.view = v;
  wall.layout = v.layout;
  $('layout').value = v.layout;
  wall.tiles = [...v.tiles];
  wall.max = null;
  wall.custom = true;
  $('view-delete').hidden = !v.mine;
  drawWall();
});
$('view-save').addEventListener('click', () => {
  const form = $('view-form');
  form.hidden = false;
  $('view-name').value = wall.view && wall.view.mine ? wall.view.name : '';
  $('view-shared').checked = !!(wall.view && wall.view.mine && wall.view.shared);
  $('view-name').focus();
});
$('view-cancel').addEventListener('click', () => { $('view-form').hidden = true; });
$('view-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const me = state.me, name = $('view-name').value.trim();
  const body = { name, shared: $('view-shared').checked, layout: wall.layout, tiles: wall.tiles.map((id) => id || null) };
  try {
    // The user's own view under the same name is replaced; any other name saves a new one.
    const same = wall.views.find((v) => v.mine && v.name === name);
    const saved = same ? await api('PUT', `/api/views/${same.id}`, body) : await api('POST', '/api/views', body);
    if (state.me !== me) return;
    wall.view = saved;
    $('view-form').hidden = true;
    $('wall-error').textContent = '';
    $('view-delete').hidden = false;
    await loadViews();
    drawWall();
  } catch (err) { $('wall-error').textContent = `The view was not saved: ${err.message}`; }
});
$('view-delete').addEventListener('click', async () => {
  const v = wall.view;
  if (!v || !v.mine) return;
  try {
    await api('DELETE', `/api/views/${v.id}`);
    await loadViews();
    showPage(0);
  } catch (err) { $('wall-error').textContent = `The view was not deleted: ${err.message}`; }
});

// A hidden tab decodes nothing: its streams close, and open again when it is shown.
document.addEventListener('visibilitychange', () => {
  if (!wall.open) return;
  wall.cells.forEach((cell) => fillCell(cell, wall.tiles[cell.index]));
});

// ---- PTZ: steering a live tile's camera ----
// Drag on the picture (the further from where the drag began, the faster), the arrow keys
// and +/− on a focused tile, digits for presets, Space or Escape to stop, the wheel to
// zoom, or a USB joystick (the Gamepad API) for the tile last used. Moves go to the server,
// one at a time: a newer velocity replaces one not yet sent, and a held velocity is sent
// again each second (the camera stops by itself two seconds after the last one).

const clampAxis = (x) => Math.max(-1, Math.min(1, Math.round(x * 100) / 100));
const timeOfDay = (iso) => clock(Date.parse(iso));

function ptzControl(tile, video, camera) {
  const base = `/api/cameras/${camera.id}/ptz`;
  let velocity = { pan: 0, tilt: 0, zoom: 0 }, sending = false, dirty = false, moving = false, closed = false;
  let presets = [], wheelTimer = null;
  // The tile outlives its camera (the wall puts another in it): what this control adds to the
  // tile goes with it when it closes.
  const listening = new AbortController(), bound = { signal: listening.signal };
  tile.tabIndex = 0;
  tile.setAttribute('aria-label', `${camera.name}: arrows pan and tilt, + and − zoom, digits go to presets, Space stops`);
  const bar = document.createElement('div');
  bar.className = 'ptz';
  bar.setAttribute('role', 'group');
  bar.setAttribute('aria-label', `PTZ control of ${camera.name}`);
  const button = (text, title, onPress, onRelease) => {
    const b = document.createElement('button');
    b.type = 'button'; b.textContent = text; b.title = title; b.setAttribute('aria-label', title);
    if (onRelease) {
      b.addEventListener('pointerdown', (e) => { e.preventDefault(); onPress(); });
      for (const end of ['pointerup', 'pointerleave', 'pointercancel']) b.addEventListener(end, onRelease);
      b.addEventListener('keydown', (e) => { if (e.key === 'Enter' && !e.repeat) { e.stopPropagation(); onPress(); } });
      b.addEventListener('keyup', (e) => { if (e.key === 'Enter') { e.stopPropagation(); onRelease(); } });
    } else {
      b.addEventListener('click', onPress);
    }
    return b;
  };
  const hold = (v) => [() => set(v), () => set({ pan: 0, tilt: 0, zoom: 0 })];
  const select = document.createElement('select');
  select.setAttribute('aria-label', `Presets of ${camera.name}`);
  const name = document.createElement('input');
  name.placeholder = 'preset name'; name.maxLength = 64; name.setAttribute('aria-label', `New preset name for ${camera.name}`);
  const status = document.createElement('span');
  status.className = 'ptz-status'; status.setAttribute('role', 'status');
  bar.append(
    button('◀', 'Pan left', ...hold({ pan: -0.5, tilt: 0, zoom: 0 })), button('▲', 'Tilt up', ...hold({ pan: 0, tilt: 0.5, zoom: 0 })),
    button('▼', 'Tilt down', ...hold({ pan: 0, tilt: -0.5, zoom: 0 })), button('▶', 'Pan right', ...hold({ pan: 0.5, tilt: 0, zoom: 0 })),
    button('+', 'Zoom in', ...hold({ pan: 0, tilt: 0, zoom: 0.5 })), button('−', 'Zoom out', ...hold({ pan: 0, tilt: 0, zoom: -0.5 })),
    button('■', 'Stop', () => set({ pan: 0, tilt: 0, zoom: 0 })),
    select, button('Go', 'Go to the chosen preset', () => gotoPreset(select.value)),
    name, button('Save', 'Save where the camera points as a preset', () => savePreset(name.value.trim())),
    button('Release', 'Give control back', release), status);
  tile.append(bar);

  const say = (text) => { status.textContent = text; };
  const holderText = (reply) => reply.holder ? `${reply.holder} until ${timeOfDay(reply.until)}` : '';
  async function refresh() {
    try {
      const view = await api('GET', base);
      if (closed) return;
      presets = view.presets;
      select.replaceChildren(...presets.map((p, i) => new Option(`${i + 1}. ${p.name}`, p.name)));
      say(view.control ? (view.control.yours ? `You control it until ${timeOfDay(view.control.until)}` : `Held by ${view.control.shown} until ${timeOfDay(view.control.until)}`) : 'Free');
    } catch (err) { say(`PTZ unavailable: ${err.message}`); }
  }
  // The control channel: velocities go over a WebSocket (the server sends the newest to
  // the camera, one at a time); without it, over plain requests.
  let socket = null;
  function openChannel() {
    const ws = openSocket(`${base}/ws`);
    ws.onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (message.type === 'control') say(`You control it until ${timeOfDay(message.until)}`);
      else if (message.type === 'error') say(message.message); // a stop still follows when the user lets go
      else if (message.type === 'released') { say('Released'); refresh(); }
    };
    ws.onclose = () => { if (socket === ws) socket = null; };
    socket = ws;
  }
  // Sends the latest velocity; one request in flight at a time.
  async function flush() {
    if (socket && socket.readyState === WebSocket.OPEN) {
      const v = velocity, stop = !v.pan && !v.tilt && !v.zoom;
      dirty = false;
      if (stop && !moving) return;
      socket.send(JSON.stringify(v));
      moving = !stop;
      return;
    }
    if (sending || closed) return;
    sending = true;
    while (dirty && !closed) {
      dirty = false;
      const v = velocity, stop = !v.pan && !v.tilt && !v.zoom;
      try {
        if (stop && !moving) break;
        const reply = await api('POST', `${base}/${stop ? 'stop' : 'move'}`, stop ? undefined : v);
        moving = !stop;
        say(`You control it until ${timeOfDay(reply.until)}`);
      } catch (err) {
        moving = false;
        say(err.message);
      }
    }
    sending = false;
  }
  function set(v) {
    const next = { pan: clampAxis(v.pan), tilt: clampAxis(v.tilt), zoom: clampAxis(v.zoom) };
    // The same velocity again (a joystick polled 20 times a second) is not sent again;
    // the keep-alive below repeats a held one once a second.
    if (next.pan === velocity.pan && next.tilt === velocity.tilt && next.zoom === velocity.zoom) return;
    velocity = next; dirty = true; flush();
  }
  const keepAlive = setInterval(() => { if (velocity.pan || velocity.tilt || velocity.zoom) { dirty = true; flush(); } }, 1000);
  async function command(method, path, done) {
    if (closed) return;
    try { await api(method, path); say(done); await refresh(); } catch (err) { say(err.message); }
  }
  const gotoPreset = (preset) => preset && command('POST', `${base}/presets/${encodeURIComponent(preset)}/goto`, `Going to ${preset}`);
  function savePreset(preset) {
    if (!preset) { say('Type a name for the preset first'); name.focus(); return; }
    command('PUT', `${base}/presets/${encodeURIComponent(preset)}`, `Saved ${preset}`).then(() => { name.value = ''; });
  }
  async function release() {
    velocity = { pan: 0, tilt: 0, zoom: 0 };
    // Over the channel, after any stop it carries (the server stops, then gives control back).
    if (socket && socket.readyState === WebSocket.OPEN) { socket.send(JSON.stringify({ type: 'release' })); moving = false; return; }
    if (moving) { try { await api('POST', `${base}/stop`); } catch { /* said below if the release fails too */ } moving = false; }
    await command('POST', `${base}/release`, 'Released');
  }

  // Keyboard, on the focused tile (not while typing a preset's name).
  const keys = { ArrowLeft: { pan: -0.5 }, ArrowRight: { pan: 0.5 }, ArrowUp: { tilt: 0.5 }, ArrowDown: { tilt: -0.5 }, '+': { zoom: 0.5 }, '=': { zoom: 0.5 }, '-': { zoom: -0.5 } };
  tile.addEventListener('keydown', (e) => {
    if (e.target === name || e.target === select) return;
    const k = keys[e.key];
    if (k) { e.preventDefault(); if (!e.repeat) set({ pan: 0, tilt: 0, zoom: 0, ...k }); return; }
    if (e.key === ' ' || e.key === 'Escape') { e.preventDefault(); set({ pan: 0, tilt: 0, zoom: 0 }); return; }
    if (/^[1-9]$/.test(e.key) && presets[Number(e.key) - 1]) { e.preventDefault(); gotoPreset(presets[Number(e.key) - 1].name); }
  }, bound);
  tile.addEventListener('keyup', (e) => { if (keys[e.key]) set({ pan: 0, tilt: 0, zoom: 0 }); }, bound);
  tile.addEventListener('focusin', () => { state.ptzFocus = control; }, bound);

  // Dragging on the picture: velocity by the distance from where the drag began.
  let drag = null;
  video.addEventListener('pointerdown', (e) => { drag = { x: e.clientX, y: e.clientY }; video.setPointerCapture(e.pointerId); tile.focus(); });
  video.addEventListener('pointermove', (e) => {
    if (!drag) return;
    const r = video.getBoundingClientRect();
    set({ pan: (e.clientX - drag.x) / (r.width / 2), tilt: -(e.clientY - drag.y) / (r.height / 2), zoom: 0 });
  });
  for (const end of ['pointerup', 'pointercancel']) video.addEventListener(end, () => { if (drag) { drag = null; set({ pan: 0, tilt: 0, zoom: 0 }); } });
  // The wheel zooms while it turns.
  video.addEventListener('wheel', (e) => {
    e.preventDefault();
    set({ pan: 0, tilt: 0, zoom: e.deltaY < 0 ? 0.5 : -0.5 });
    clearTimeout(wheelTimer);
    wheelTimer = setTimeout(() => set({ pan: 0, tilt: 0, zoom: 0 }), 400);
  }, { passive: false });

  const control = {
    set,
    close() {
      closed = true; clearInterval(keepAlive); clearTimeout(wheelTimer);
      listening.abort();
      bar.remove();
      if (socket) socket.close(); // the server stops a camera its channel leaves moving
      else if (moving) api('POST', `${base}/stop`).catch(() => {});
      if (state.ptzFocus === control) state.ptzFocus = null;
    },
  };
  refresh();
  openChannel();
  return control;
}

// A USB joystick steers the tile last focused: the first stick pans and tilts, a third axis
// (or buttons 6/7, the triggers) zooms. Polled while any pad is connected.
let gamepadLoop = null;
function pollGamepads() {
  const pad = [...(navigator.getGamepads ? navigator.getGamepads() : [])].find((p) => p);
  if (!pad) { gamepadLoop = null; return; }
  const dead = (x) => (Math.abs(x) < 0.15 ? 0 : x);
  const zoomButtons = (pad.buttons[7] ? pad.buttons[7].value : 0) - (pad.buttons[6] ? pad.buttons[6].value : 0);
  const zoom = pad.axes.length > 3 ? dead(-pad.axes[3]) : dead(zoomButtons);
  if (state.ptzFocus) state.ptzFocus.set({ pan: dead(pad.axes[0] || 0), tilt: dead(-(pad.axes[1] || 0)), zoom });
  gamepadLoop = setTimeout(pollGamepads, 50);
}
window.addEventListener('gamepadconnected', () => { if (!gamepadLoop) pollGamepads(); });

// ---- Times as the station reads them (the playback page is in playback.js) ----

const localInput = (date) => new Date(date.getTime() - date.getTimezoneOffset() * 60000).toISOString().slice(0, 19);
const timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone || 'local time';
const clockDate = (ms) => new Date(ms).toLocaleString([], { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });

// ---- Evidence register ----

const cell = (text) => { const td = document.createElement('td'); td.textContent = text ?? ''; return td; };
const when = (iso) => new Date(iso).toLocaleString();

async function openEvidence(selected) {
  const me = state.me, request = ++state.shown;
  const items = await api('GET', '/api/evidence');
  if (state.me !== me) return;
  const rows = $('evidence-rows');
  rows.replaceChildren(...items.map((e) => {
    const tr = document.createElement('tr');
    tr.dataset.exhibit = e.exhibit;
    tr.append(cell(e.exhibit), cell(e.requestingBody), cell(e.caseReference), cell(e.purpose),
      cell(e.ranges.map((r) => r.cameraName || `#${r.camera}`).join(', ')), cell(when(e.created)), cell(e.held ? 'held' : 'released'));
    tr.addEventListener('click', () => showExhibit(e.exhibit));
    return tr;
  }));
  $('evidence-new').hidden = !may('manage-evidence');
  loadExhibitRequests();
  if (may('manage-evidence')) {
    const exportable = state.cameras.filter((c) => c.mayRegisterEvidence);
    $('evidence-cameras').replaceChildren(...exportable.map((c) => new Option(c.name, c.id)));
    $('evidence-no-cameras').hidden = exportable.length > 0;
    $('evidence-create').disabled = exportable.length === 0;
    if (!$('evidence-from').value) {
      const now = new Date();
      $('evidence-from').value = localInput(new Date(now.getTime() - 15 * 60000));
      $('evidence-to').value = localInput(new Date(now.getTime() - 60000));
    }
  }
  if (request !== state.shown) return; // a row clicked meanwhile is what to show
  if (selected) await showExhibit(selected); else $('exhibit').hidden = true;
}

// Footage asked for from incidents, for investigators: fill the evidence form from one (its
// cameras, from the first range's start to the last one's end), or refuse it with a reason.
async function loadExhibitRequests() {
  $('request-list').hidden = !may('manage-evidence');
  if (!may('manage-evidence')) return;
  const me = state.me;
  let list;
  try { list = await api('GET', '/api/exhibit-requests'); } catch (err) {
    if (state.me === me) $('request-error').textContent = `The requests could not be read: ${err.message}`;
    return;
  }
  if (state.me !== me) return;
  $('request-error').textContent = '';
  $('request-list').hidden = list.length === 0;
  $('request-rows').replaceChildren(...list.map((q) => {
    const tr = document.createElement('tr');
    const cell = (text) => { const td = document.createElement('td'); td.textContent = text; return td; };
    tr.append(cell(`${q.number} · ${q.category}`),
      cell(q.cameras.map((c) => `${c.name} ${clockDate(Date.parse(c.from))}–${clock(Date.parse(c.to))}`).join('; ')),
      cell(q.reason), cell(`${q.requestedBy}, ${clockDate(Date.parse(q.requested))}`));
    const td = document.createElement('td');
    const fill = document.createElement('button');
    fill.type = 'button';
    fill.textContent = 'Register the exhibit';
    fill.addEventListener('click', () => {
      const from = Math.min(...q.cameras.map((c) => Date.parse(c.from))), to = Math.max(...q.cameras.map((c) => Date.parse(c.to)));
      secureFromPlayback({ cameras: q.cameras.map((c) => c.camera), from, to });
      state.exhibitRequest = q.id;
      const barred = q.cameras.filter((c) => !(cameraById(c.camera) || {}).mayRegisterEvidence).map((c) => c.name);
      $('evidence-filled').textContent = `Filled in from incident ${q.number}'s request: ${$('evidence-filled').textContent.replace(/^Filled in from playback: /, '')}` +
        (barred.length ? ` You may not register evidence over ${barred.join(', ')}: ask an administrator for register-evidence on them first, or the request cannot be marked.` : '');
    });
    const reason = document.createElement('input');
    reason.maxLength = 1000;
    reason.placeholder = 'why it is refused';
    reason.setAttribute('aria-label', `Why incident ${q.number}'s request is refused`);
    const refuse = document.createElement('button');
    refuse.type = 'button';
    refuse.textContent = 'Refuse';
    refuse.addEventListener('click', async () => {
      if (!reason.value.trim()) { $('request-error').textContent = 'Say why the request is refused.'; reason.focus(); return; }
      try { await api('POST', `/api/exhibit-requests/${q.id}/decide`, { refusal: reason.value.trim() }); } catch (err) {
        if (state.me === me) $('request-error').textContent = `Not refused: ${err.message}`;
        return;
      }
      if (state.me === me) await loadExhibitRequests();
    });
    td.append(fill, reason, refuse);
    tr.append(td);
    return tr;
  }));
}

// The evidence form, filled in from a selection on the playback page: its cameras (those
// the user may register), its start and end; the case and purpose are the user's to give.
function secureFromPlayback(secure) {
  if ($('evidence-new').hidden) return;
  state.exhibitRequest = null; // filled from elsewhere: no incident's request goes with it
  for (const o of $('evidence-cameras').options) o.selected = secure.cameras.includes(Number(o.value));
  $('evidence-from').value = localInput(new Date(secure.from));
  $('evidence-to').value = localInput(new Date(secure.to));
  $('evidence-new').open = true;
  const names = secure.cameras.map((id) => (cameraById(id) || { name: `camera ${id}` }).name).join(', ');
  $('evidence-filled').textContent = `Filled in from playback: ${names}, ${clockDate(secure.from)} – ${clock(secure.to)}. Give the case and the purpose.`;
  $('evidence-case').focus();
}

async function showExhibit(number) {
  const me = state.me, request = ++state.shown;
  $('exhibit-error').textContent = '';
  const e = await api('GET', `/api/evidence/${encodeURIComponent(number)}`);
  if (state.me !== me || request !== state.shown) return;
  state.exhibit = e.exhibit;
  $('exhibit-title').textContent = `${e.exhibit} — ${e.held ? 'footage held' : 'hold released'}`;
  const facts = [['Requested by', e.requestingBody], ['Case', e.caseReference], ['Legal basis', e.legalBasis], ['Purpose', e.purpose],
    ['Registered', `${when(e.created)} by ${e.createdBy}`],
    ...e.ranges.map((r) => ['Range', `${r.cameraName || '#' + r.camera}: ${when(r.from)} – ${when(r.to)}`]),
    ['Segments', `${e.segments} covered, ${e.heldSegments} held`]];
  if (e.released) facts.push(['Released', `${when(e.released.at)} by ${e.released.by}: ${e.released.reason}`]);
  $('exhibit-facts').replaceChildren(...facts.flatMap(([k, v]) => {
    const dt = document.createElement('dt'); dt.textContent = k;
    const dd = document.createElement('dd'); dd.textContent = v;
    return [dt, dd];
  }));
  $('custody-rows').replaceChildren(...e.custody.map((c) => {
    const tr = document.createElement('tr');
    tr.append(cell(when(c.at)), cell(c.kind), cell(c.actor), cell(c.counterpart), cell(c.purpose), cell(c.detail));
    return tr;
  }));
  $('exhibit-shares').replaceChildren(...e.sharedWith.map((sh) => {
    const li = document.createElement('li');
    li.append(`${sh.user} (shared by ${sh.by}, ${when(sh.at)})`);
    if (e.mayShare) {
      const b = document.createElement('button');
      b.type = 'button'; b.textContent = 'Unshare'; b.className = 'link';
      b.setAttribute('aria-label', `Stop sharing with ${sh.user}`);
      b.addEventListener('click', () => exhibitAction((n) =>
        api('DELETE', `/api/evidence/${encodeURIComponent(n)}/shares/${encodeURIComponent(sh.user)}`)));
      li.append(' ', b);
    }
    return li;
  }));
  $('exhibit-shares-none').hidden = e.sharedWith.length > 0;
  $('share-form').hidden = !e.mayShare;
  $('exhibit-exports').replaceChildren(...e.exports.map((x) => {
    const li = document.createElement('li');
    li.append(`${x.id}: `);
    x.files.forEach((f, i) => {
      const a = document.createElement('a');
      a.href = f.url; a.download = f.name; a.textContent = f.name; a.title = `${f.bytes} bytes`;
      li.append(...(i ? [', ', a] : [a]));
    });
    return li;
  }));
  for (const el of document.querySelectorAll('#exhibit [data-needs]')) el.hidden = !may(el.dataset.needs);
  $('release-form').hidden = !may('release-hold') || !e.held;
  $('exhibit').hidden = false;
}

// Runs an exhibit action, then shows the exhibit again (or the error).
async function exhibitAction(action) {
  $('exhibit-error').textContent = '';
  try { await action(state.exhibit); await openEvidence(state.exhibit); }
  catch (err) { $('exhibit-error').textContent = err.message; }
}

// Closed or reset: the form no longer stands for an incident's request.
$('evidence-new').addEventListener('toggle', () => { if (!$('evidence-new').open) state.exhibitRequest = null; });
$('evidence-form').addEventListener('reset', () => { state.exhibitRequest = null; });

$('evidence-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  $('evidence-error').textContent = '';
  const from = new Date($('evidence-from').value).toISOString(), to = new Date($('evidence-to').value).toISOString();
  const ranges = [...$('evidence-cameras').selectedOptions].map((o) => ({ camera: Number(o.value), from, to }));
  try {
    const created = await api('POST', '/api/evidence', { ranges, requestingBody: $('evidence-body').value, caseReference: $('evidence-case').value,
      legalBasis: $('evidence-basis').value || undefined, purpose: $('evidence-purpose').value });
    // Registered for an incident's request: the request is decided with it.
    const asked = state.exhibitRequest;
    state.exhibitRequest = null;
    if (asked) {
      try { await api('POST', `/api/exhibit-requests/${asked}/decide`, { exhibit: created.exhibit }); } catch (err) {
        $('evidence-error').textContent = `Exhibit ${created.exhibit} registered, but its request was not marked: ${err.message}`;
      }
    }
    $('evidence-form').reset(); $('evidence-new').open = false; $('evidence-filled').textContent = '';
    await openEvidence(created.exhibit);
  } catch (err) { $('evidence-error').textContent = err.message; }
});

$('exhibit-export').addEventListener('click', () => exhibitAction(async (n) => {
  $('exhibit-export').disabled = true;
  try { await api('POST', `/api/evidence/${encodeURIComponent(n)}/exports`, {}); } finally { $('exhibit-export').disabled = false; }
}));
$('handover-form').addEventListener('submit', (e) => { e.preventDefault(); exhibitAction((n) =>
  api('POST', `/api/evidence/${encodeURIComponent(n)}/handover`, { to: $('handover-to').value, purpose: $('handover-purpose').value })
    .then(() => $('handover-form').reset())); });
$('acknowledge-form').addEventListener('submit', (e) => { e.preventDefault(); exhibitAction((n) =>
  api('POST', `/api/evidence/${encodeURIComponent(n)}/acknowledge`, { note: $('acknowledge-note').value || undefined })
    .then(() => $('acknowledge-form').reset())); });
$('share-form').addEventListener('submit', (e) => { e.preventDefault(); exhibitAction((n) =>
  api('POST', `/api/evidence/${encodeURIComponent(n)}/shares`, { user: $('share-user').value.trim() })
    .then(() => $('share-form').reset())); });
$('release-form').addEventListener('submit', (e) => { e.preventDefault(); exhibitAction((n) =>
  api('POST', `/api/evidence/${encodeURIComponent(n)}/release`, { reason: $('release-reason').value })
    .then(() => $('release-form').reset())); });

// Started once playback.js and users.js, loaded after this file, have run too.
document.addEventListener('DOMContentLoaded', start);

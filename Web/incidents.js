// Vigil console: the incident register (issue 17). The operator team reports what the
// cameras show in the city's categories, from this page or in one key from a live tile
// (I, or ⚠ Report: the camera and the frame's time filled in), follows each incident
// through its statuses and notes, and sees its timeline; the server checks and audits each
// read and change. Loaded after app.js, whose helpers it uses.
'use strict';

const inc = { list: [], categories: [], open: null };
const statusWords = { open: 'open', notified: 'services notified', acknowledged: 'acknowledged', 'on-scene': 'service on scene', closed: 'closed' };
const statusOrder = ['open', 'notified', 'acknowledged', 'on-scene', 'closed'];
const priorityWords = { 1: '1 · urgent', 2: '2 · high', 3: '3 · normal' };

async function openIncidents(quick) {
  const me = state.me;
  $('incident-zone').textContent = timeZone;
  $('incident-error').textContent = $('incident-said').textContent = '';
  try {
    inc.categories = await api('GET', '/api/incident-categories');
  } catch (err) {
    if (state.me === me) $('incident-said').textContent = `The categories could not be read: ${err.message}`;
    return;
  }
  if (state.me !== me) return;
  const groups = { safety: 'Safety', 'public-order': 'Public order', other: 'Other' };
  $('incident-category').replaceChildren(...Object.entries(groups).map(([key, label]) => {
    const g = document.createElement('optgroup');
    g.label = label;
    g.append(...inc.categories.filter((c) => c.group === key && !c.retired).map((c) => new Option(c.name, String(c.id))));
    return g;
  }));
  const seeable = state.cameras.filter((c) => c.mayLive || c.mayPlayback);
  $('incident-camera').replaceChildren(new Option('none', ''), ...seeable.map((c) => new Option(`${c.id} · ${c.name}`, String(c.id))));
  if (quick) reportForm(quick); else $('incident-form').hidden = true;
  await loadIncidents();
}

// The report form, empty or filled in from a live tile; the category is focused, so a quick
// report is a category, Tab, a few words and Enter.
function reportForm(quick) {
  const f = $('incident-form');
  f.reset();
  f.hidden = false;
  $('incident-error').textContent = '';
  const at = quick ? quick.at : Date.now();
  $('incident-observed').value = localInput(new Date(at));
  $('incident-camera').value = quick ? String(quick.camera) : '';
  const c = quick && cameraById(quick.camera);
  $('incident-filled').textContent = c ? `From the live tile of ${c.name}: its footage from 30 s before to 30 s after ${clock(at)} is marked on its timeline.` : '';
  $('incident-category').focus();
}

$('incident-new').addEventListener('click', () => reportForm(null));
$('incident-cancel').addEventListener('click', () => { $('incident-form').hidden = true; });
$('incident-filter').addEventListener('change', () => loadIncidents());
$('incident-description').addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); $('incident-form').requestSubmit(); }
});

$('incident-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const me = state.me;
  $('incident-error').textContent = '';
  const observed = new Date($('incident-observed').value);
  const description = $('incident-description').value.trim();
  if (Number.isNaN(observed.getTime())) { $('incident-error').textContent = 'Say when it was seen.'; return; }
  if (!description) { $('incident-error').textContent = 'Say what is seen, in a few words.'; $('incident-description').focus(); return; }
  const body = { category: Number($('incident-category').value), priority: Number($('incident-priority').value), observed: observed.toISOString(), description };
  const camera = Number($('incident-camera').value);
  if (camera) body.cameras = [{ camera, from: new Date(observed.getTime() - 30000).toISOString(), to: new Date(observed.getTime() + 30000).toISOString() }];
  if ($('incident-location').value.trim()) body.location = $('incident-location').value.trim();
  if ($('incident-address').value.trim()) body.address = $('incident-address').value.trim();
  $('incident-submit').disabled = true;
  let filed;
  try {
    filed = await api('POST', '/api/incidents', body);
  } catch (err) {
    if (state.me === me) $('incident-error').textContent = `The incident was not reported: ${err.message}`;
    return;
  } finally { $('incident-submit').disabled = false; }
  if (state.me !== me) return;
  $('incident-form').hidden = true;
  $('incident-said').textContent = `Incident ${filed.number} reported (${filed.category ? filed.category.name : 'no category'}), open.`;
  await loadIncidents();
});

async function loadIncidents() {
  const me = state.me, status = $('incident-filter').value;
  try {
    inc.list = await api('GET', `/api/incidents${status ? `?status=${encodeURIComponent(status)}` : ''}`);
  } catch (err) {
    if (state.me === me) $('incident-said').textContent = `The incidents could not be read: ${err.message}`;
    return;
  }
  if (state.me !== me) return;
  $('incident-none').hidden = inc.list.length > 0;
  $('incident-rows').replaceChildren(...inc.list.map((i) => {
    const tr = document.createElement('tr');
    tr.dataset.incident = String(i.id);
    tr.tabIndex = 0;
    const cells = [i.number, clockDate(Date.parse(i.observed)), i.category ? i.category.name : '', priorityWords[i.priority] || String(i.priority),
      [i.location, i.address].filter(Boolean).join(', '), i.cameras.map((c) => c.name).join(', '), statusWords[i.status] || i.status, i.reporter];
    tr.replaceChildren(...cells.map((text) => { const td = document.createElement('td'); td.textContent = text; return td; }));
    tr.classList.toggle('urgent', i.priority === 1 && i.status !== 'closed');
    tr.addEventListener('click', () => showIncident(i.id));
    tr.addEventListener('keydown', (e) => { if (e.key === 'Enter') showIncident(i.id); });
    return tr;
  }));
  if (inc.open) await showIncident(inc.open, false);
}

async function showIncident(id, focus = true) {
  const me = state.me;
  $('incident-detail-error').textContent = '';
  let i;
  try { i = await api('GET', `/api/incidents/${id}`); } catch (err) {
    if (state.me === me) $('incident-said').textContent = `Incident ${id} could not be read: ${err.message}`;
    return;
  }
  if (state.me !== me) return;
  inc.open = id;
  $('incident-detail').hidden = false;
  $('incident-detail-title').textContent = `Incident ${i.number} · ${i.category ? i.category.name : ''} · ${statusWords[i.status] || i.status}`;
  $('incident-detail-text').textContent = `Seen ${clockDate(Date.parse(i.observed))}${i.location ? ` at ${i.location}` : ''}${i.address ? `, ${i.address}` : ''}; ` +
    `priority ${priorityWords[i.priority]}; reported by ${i.reporter}` +
    (i.cameras.length ? `; on ${i.cameras.map((c) => `${c.name} ${clock(Date.parse(c.from))}–${clock(Date.parse(c.to))}`).join(', ')}.` : '.');
  $('incident-detail-description').textContent = i.description;
  $('incident-timeline').replaceChildren(...(i.updates || []).map((u) => {
    const li = document.createElement('li');
    li.textContent = `${clockDate(Date.parse(u.at))} · ${u.user} · ${u.kind === 'note' ? 'note: ' : ''}${u.text}`;
    return li;
  }));
  // Forward only: the statuses after this one, and closed.
  const later = i.status === 'closed' ? [] : statusOrder.slice(statusOrder.indexOf(i.status) + 1);
  $('incident-next').replaceChildren(new Option(i.status === 'closed' ? 'closed: notes only' : 'no change', ''), ...later.map((s) => new Option(statusWords[s], s)));
  if (focus) $('incident-next').focus();
}

$('incident-update-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const me = state.me, id = inc.open;
  const body = {};
  if ($('incident-next').value) body.status = $('incident-next').value;
  if ($('incident-note').value.trim()) body.note = $('incident-note').value.trim();
  if (!Object.keys(body).length) { $('incident-detail-error').textContent = 'Choose a status or write a note.'; return; }
  try {
    await api('PATCH', `/api/incidents/${id}`, body);
  } catch (err) {
    if (state.me === me) $('incident-detail-error').textContent = `Not saved: ${err.message}`;
    return;
  }
  if (state.me !== me) return;
  $('incident-note').value = '';
  await loadIncidents();
});
$('incident-close-detail').addEventListener('click', () => { inc.open = null; $('incident-detail').hidden = true; });

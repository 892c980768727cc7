// Vigil console: the incident register (issue 17). The operator team reports what the
// cameras show in the city's categories, from this page or in one key from a live tile
// (I, or ⚠ Report: the camera and the frame's time filled in), follows each incident
// through its statuses and notes, and sees its timeline; the server checks and audits each
// read and change. Loaded after app.js, whose helpers it uses.
'use strict';

const inc = { list: [], categories: [], open: null, sending: false, quick: null, pictureFor: null, picturing: false, pictureNodes: new Map(), showing: 0 };
const statusWords = { open: 'open', notified: 'services notified', acknowledged: 'acknowledged', 'on-scene': 'service on scene', closed: 'closed' };
const statusOrder = ['open', 'notified', 'acknowledged', 'on-scene', 'closed'];
const priorityWords = { 1: '1 · urgent', 2: '2 · high', 3: '3 · normal' };

async function openIncidents() {
  // The register is for the operator team; the figures for them and the administrators.
  $('incident-register').hidden = !may('incidents');
  openFigures();
  openDispatchSetup();
  if (!may('incidents')) return;
  $('incident-zone').textContent = timeZone;
  $('incident-said').textContent = '';
  await loadIncidents();
}

// The report's choices: the categories in use by group, after an empty "choose" that the form
// refuses (no category is picked by default), and the cameras the user may see.
async function fillReportChoices() {
  const me = state.me;
  const categories = await api('GET', '/api/incident-categories');
  if (state.me !== me) return false;
  inc.categories = categories;
  const groups = { safety: 'Safety', 'public-order': 'Public order', other: 'Other' };
  $('incident-category').replaceChildren(new Option('choose…', ''), ...Object.entries(groups).map(([key, label]) => {
    const g = document.createElement('optgroup');
    g.label = label;
    g.append(...inc.categories.filter((c) => c.group === key && !c.retired).map((c) => new Option(c.name, String(c.id))));
    return g;
  }));
  const seeable = state.cameras.filter((c) => c.mayLive || c.mayPlayback);
  $('incident-camera').replaceChildren(new Option('none', ''), ...seeable.map((c) => new Option(`${c.id} · ${c.name}`, String(c.id))));
  return true;
}

// The report, a dialog over whatever page is open (the live wall goes on playing under it),
// empty or filled in from a live tile. The category is focused and the description follows
// it: a category, Tab, a few words and Enter file it.
async function openReport(quick) {
  const me = state.me;
  try {
    if (!await fillReportChoices()) return;
  } catch (err) {
    if (state.me === me) say(`The incident form could not be opened: the categories could not be read (${err.message})`);
    return;
  }
  $('incident-form').reset();
  $('incident-error').textContent = '';
  const at = quick ? quick.at : Date.now();
  $('incident-observed').value = localInput(new Date(at));
  $('incident-camera').value = quick ? String(quick.camera) : '';
  // The picture is made by Vigil from the recording at this moment (to the millisecond while
  // the time and camera stay as filled in); the preview is the tile's frame on screen.
  inc.quick = quick ? { camera: quick.camera, at, observed: $('incident-observed').value } : null;
  drawPreview(quick && quick.video);
  const c = quick && cameraById(quick.camera);
  $('incident-filled').textContent = c ? `From the live tile of ${c.name}: its footage from 30 s before to 30 s after ${clock(at)} is marked on its timeline.` : '';
  if (!$('incident-dialog').open) $('incident-dialog').showModal();
  $('incident-category').focus();
}

// The tile's frame on screen as the report opens: a preview only (the picture kept is
// Vigil's own, from the recording). Nothing to show when the tile plays nothing yet.
function drawPreview(video) {
  const canvas = $('incident-picture-preview');
  canvas.hidden = true;
  if (!video || video.readyState < 2 || !video.videoWidth) return;
  canvas.width = 320;
  canvas.height = Math.max(1, Math.round(320 * video.videoHeight / video.videoWidth));
  try {
    canvas.getContext('2d').drawImage(video, 0, 0, canvas.width, canvas.height);
    canvas.hidden = false;
  } catch { /* a frame the browser will not hand over: no preview, the picture is still made */ }
}

// The preview shows the tile's frame: once the camera or the time is changed, or no picture
// is asked for, it is no longer the picture that will be made.
for (const id of ['incident-camera', 'incident-observed', 'incident-picture']) {
  $(id).addEventListener('change', () => {
    const q = inc.quick;
    if (!q || !$('incident-picture').checked || Number($('incident-camera').value) !== q.camera || $('incident-observed').value !== q.observed) {
      $('incident-picture-preview').hidden = true;
    }
  });
}

// When the report's picture is of: the tile's moment while the time and camera are as filled
// in, else the time typed; nil without a camera or when not asked for.
function pictureAsked(camera, observed) {
  if (!camera || !$('incident-picture').checked) return null;
  const q = inc.quick;
  const at = q && q.camera === camera && q.observed === $('incident-observed').value ? q.at : observed.getTime();
  return { camera, at: new Date(at).toISOString() };
}

// A word that outlives the dialog: shown for a few seconds over any page, the full-screen
// wall too (a popover is drawn in the top layer).
let sayTimer = null;
function say(text) {
  const toast = $('report-said');
  toast.textContent = text;
  if (toast.matches(':popover-open')) toast.hidePopover();
  toast.showPopover();
  clearTimeout(sayTimer);
  sayTimer = setTimeout(unsay, 6000);
}
function unsay() {
  clearTimeout(sayTimer);
  const toast = $('report-said');
  if (toast.matches(':popover-open')) toast.hidePopover();
  toast.textContent = '';
}

$('incident-new').addEventListener('click', () => openReport(null));
$('incident-cancel').addEventListener('click', () => $('incident-dialog').close());
// Closed (filed, Cancel or Escape): nothing typed stays in the page for the next person.
$('incident-dialog').addEventListener('close', () => {
  if (!inc.sending) $('incident-form').reset();
  // The tile's frame goes with it.
  const canvas = $('incident-picture-preview');
  canvas.getContext('2d').clearRect(0, 0, canvas.width, canvas.height);
  canvas.hidden = true;
});
$('incident-filter').addEventListener('change', () => loadIncidents());
$('incident-description').addEventListener('keydown', (e) => {
  if (e.key !== 'Enter' || e.shiftKey || e.isComposing) return;
  e.preventDefault();
  if (!e.repeat) $('incident-form').requestSubmit();
});

$('incident-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  // One report at a time: Enter pressed twice files it once.
  if (inc.sending) return;
  const me = state.me;
  $('incident-error').textContent = '';
  const observed = new Date($('incident-observed').value);
  const description = $('incident-description').value.trim();
  if (!$('incident-category').value) { $('incident-error').textContent = 'Choose the category.'; $('incident-category').focus(); return; }
  if (Number.isNaN(observed.getTime())) { $('incident-error').textContent = 'Say when it was seen.'; return; }
  if (!description) { $('incident-error').textContent = 'Say what is seen, in a few words.'; $('incident-description').focus(); return; }
  const body = { category: Number($('incident-category').value), priority: Number($('incident-priority').value), observed: observed.toISOString(), description };
  const camera = Number($('incident-camera').value);
  if (camera) body.cameras = [{ camera, from: new Date(observed.getTime() - 30000).toISOString(), to: new Date(observed.getTime() + 30000).toISOString() }];
  const picture = pictureAsked(camera, observed);
  if (picture) body.snapshots = [picture];
  if ($('incident-location').value.trim()) body.location = $('incident-location').value.trim();
  if ($('incident-address').value.trim()) body.address = $('incident-address').value.trim();
  $('incident-submit').disabled = true;
  inc.sending = true;
  let filed;
  try {
    filed = await api('POST', '/api/incidents', body);
  } catch (err) {
    if (state.me !== me) return;
    const words = `The incident was not reported: ${err.message}`;
    // Said where it is seen: in the dialog, or over the page when the dialog was closed meanwhile.
    if ($('incident-dialog').open) $('incident-error').textContent = words; else say(words);
    return;
  } finally { $('incident-submit').disabled = false; inc.sending = false; }
  if (state.me !== me) return;
  $('incident-dialog').close();
  $('incident-form').reset();
  // Who Vigil tells, and who it cannot (a service not set up): those are for the telephone.
  const told = (filed.notifications || []).filter((n) => n.ready).map((n) => n.recipientName);
  const phone = (filed.notifications || []).filter((n) => !n.ready).map((n) => n.recipientName);
  const words = `Incident ${filed.number} reported (${filed.category ? filed.category.name : 'no category'}), open. ` +
    (told.length ? `Vigil tells ${told.join(', ')}.` : 'Vigil tells no service of this category.') +
    (phone.length ? ` Not set up in Vigil, telephone them: ${phone.join(', ')}.` : '') +
    (filed.snapshotsPending ? ' Its picture is being made from the recording; you are told when it is done.' : '') +
    ((filed.snapshotsLeftOut || []).length ? ` Left out: ${filed.snapshotsLeftOut.join('; ')}.` : '');
  say(words);
  if (!$('incidents').hidden) { $('incident-said').textContent = words; await loadIncidents(); }
});

async function loadIncidents() {
  const me = state.me, status = $('incident-filter').value;
  let list;
  try {
    list = await api('GET', `/api/incidents${status ? `?status=${encodeURIComponent(status)}` : ''}`);
  } catch (err) {
    if (state.me === me) $('incident-said').textContent = `The incidents could not be read: ${err.message}`;
    return;
  }
  // Signed out meanwhile: the reply is dropped, never kept on the page.
  if (state.me !== me) return;
  inc.list = list;
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
  const me = state.me, asked = ++inc.showing;
  $('incident-detail-error').textContent = '';
  let i;
  try { i = await api('GET', `/api/incidents/${id}`); } catch (err) {
    if (state.me === me && asked === inc.showing) $('incident-said').textContent = `Incident ${id} could not be read: ${err.message}`;
    return;
  }
  // Only the latest reading is drawn: an older one answered late never replaces it.
  if (state.me !== me || asked !== inc.showing) return;
  if (inc.open !== id) $('incident-request-reason').value = ''; // a reason is for the incident it was typed on
  inc.open = id;
  $('incident-detail').hidden = false;
  $('incident-detail-title').textContent = `Incident ${i.number} · ${i.category ? i.category.name : ''} · ${statusWords[i.status] || i.status}`;
  $('incident-detail-text').textContent = `Seen ${clockDate(Date.parse(i.observed))}${i.location ? ` at ${i.location}` : ''}${i.address ? `, ${i.address}` : ''}; ` +
    `priority ${priorityWords[i.priority]}; reported by ${i.reporter}` +
    (i.cameras.length ? `; on ${i.cameras.map((c) => `${c.name} ${clock(Date.parse(c.from))}–${clock(Date.parse(c.to))}`).join(', ')}.` : '.');
  $('incident-detail-description').textContent = i.anonymised
    ? `Its personal data (description, reporter, address, notes) was removed on ${clockDate(Date.parse(i.anonymised))} at the end of its retention.`
    : i.description;
  $('incident-timeline').replaceChildren(...(i.updates || []).map((u) => {
    const li = document.createElement('li');
    li.textContent = `${clockDate(Date.parse(u.at))} · ${u.user} · ${u.kind === 'note' ? 'note: ' : ''}${u.text}`;
    return li;
  }));
  drawIncidentPictures(i);
  drawIncidentNotifications(i.notifications);
  drawIncidentRequests(i);
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
$('incident-close-detail').addEventListener('click', () => {
  inc.open = null;
  $('incident-detail').hidden = true;
  // Its pictures go with it: opened again, they are fetched (and the look audited) again.
  $('incident-pictures').replaceChildren();
  delete $('incident-pictures').dataset.key;
  inc.pictureNodes = new Map();
});

// What became of a picture a report of this user asked for (pushed): said over the page,
// after what the report's own words said, and shown on the incident when it is open.
function pictureOutcome(m) {
  const toast = $('report-said');
  say(toast.matches(':popover-open') && toast.textContent ? `${toast.textContent} ${m.text}` : m.text);
  if (inc.open === m.incident) showIncident(m.incident, false);
}

// ---- An incident's pictures: made by Vigil from the recordings, each look audited ----

function drawIncidentPictures(i) {
  const pictures = i.snapshots || [];
  $('incident-pictures-none').hidden = pictures.length > 0;
  // Each look at a picture is audited: the same pictures are not fetched again when the
  // incident is redrawn (another's note, a status).
  const key = `${i.id}:${pictures.map((p) => p.id).join(',')}`;
  if ($('incident-pictures').dataset.key !== key) {
    // Another incident: none of the drawn pictures is kept.
    if (!($('incident-pictures').dataset.key || '').startsWith(`${i.id}:`)) inc.pictureNodes = new Map();
    $('incident-pictures').dataset.key = key;
    drawPictureList(pictures);
  }
  // Another picture: of one of its cameras, while its personal data is kept.
  const form = $('incident-picture-form');
  form.hidden = Boolean(i.anonymised) || !i.cameras.length;
  if (inc.pictureFor !== i.id) {
    inc.pictureFor = i.id;
    $('incident-picture-said').textContent = '';
    $('incident-picture-camera').replaceChildren(...i.cameras.map((c) => new Option(`${c.name} (${clock(Date.parse(c.from))}–${clock(Date.parse(c.to))})`, String(c.camera))));
    $('incident-picture-at').value = localInput(new Date(Date.parse(i.observed)));
  }
}

// Each picture already drawn keeps its element (and so is not fetched again); new ones are added.
function drawPictureList(pictures) {
  const nodes = new Map();
  $('incident-pictures').replaceChildren(...pictures.map((p) => {
    const li = inc.pictureNodes.get(p.id) || pictureItem(p);
    nodes.set(p.id, li);
    return li;
  }));
  inc.pictureNodes = nodes;
}

function pictureItem(p) {
  const li = document.createElement('li');
  const figure = document.createElement('figure');
  const link = document.createElement('a');
  link.href = p.url;
  link.target = '_blank';
  link.rel = 'noopener';
  link.title = 'Open the picture full size';
  const img = document.createElement('img');
  img.src = p.url;
  img.alt = `${p.name} at ${clockDate(Date.parse(p.at))}`;
  img.width = 240;
  img.height = Math.round(240 * p.height / p.width);
  img.addEventListener('error', () => {
    figure.querySelector('figcaption').textContent += ' — the picture could not be loaded (open it for the server\'s words).';
  }, { once: true });
  link.append(img);
  const caption = document.createElement('figcaption');
  caption.textContent = `${p.name} · ${clockDate(Date.parse(p.at))} · ${p.width}×${p.height} · by ${p.takenBy || 'a removed name'}`;
  figure.append(link, caption);
  li.append(figure);
  return li;
}

$('incident-picture-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const me = state.me, id = inc.open;
  // One at a time; the button keeps its focus (a disabled button would drop it).
  if (inc.picturing) { $('incident-picture-said').textContent = 'A picture is still being made: wait for it.'; return; }
  const at = new Date($('incident-picture-at').value);
  $('incident-detail-error').textContent = '';
  if (Number.isNaN(at.getTime())) { $('incident-detail-error').textContent = 'Say the moment of the picture.'; $('incident-picture-at').focus(); return; }
  inc.picturing = true;
  $('incident-picture-button').setAttribute('aria-busy', 'true');
  $('incident-picture-said').textContent = 'Making the picture from the recording…';
  let words = '';
  try {
    await api('POST', `/api/incidents/${id}/snapshots`, { camera: Number($('incident-picture-camera').value), at: at.toISOString() });
  } catch (err) {
    words = `No picture was added: ${err.message}`;
  } finally {
    inc.picturing = false;
    $('incident-picture-button').removeAttribute('aria-busy');
  }
  // Said on the incident it was asked for only, and not to the next person signed in.
  if (state.me !== me || inc.open !== id) return;
  $('incident-picture-said').textContent = words;
  if (!words) await showIncident(id, false);
});

// ---- The city's figures: counts and times only, drawn here as SVG bar charts ----

const monthNames = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
$('stats-month').append(...monthNames.map((m, i) => new Option(m, String(i + 1))));

function openFigures() {
  $('incident-stats').hidden = !may('incident-statistics');
  if ($('incident-stats').hidden) return;
  const now = new Date();
  if (!$('stats-year').value) { $('stats-year').value = String(now.getFullYear()); $('stats-month').value = String(now.getMonth() + 1); }
  showFigures();
}

function figuresQuery() {
  const month = $('stats-month').value;
  return `year=${encodeURIComponent($('stats-year').value)}${month ? `&month=${month}` : ''}`;
}

async function showFigures() {
  const me = state.me;
  $('stats-error').textContent = '';
  let f;
  try { f = await api('GET', `/api/incident-statistics?${figuresQuery()}`); } catch (err) {
    if (state.me === me) $('stats-error').textContent = `The figures could not be read: ${err.message}`;
    return;
  }
  if (state.me !== me) return;
  const month = $('stats-month').value;
  $('stats-title').textContent = `Incidents in ${month ? `${monthNames[Number(month) - 1]} ` : ''}${$('stats-year').value}`;
  $('stats-csv').href = `/api/incident-statistics?${figuresQuery()}&format=csv`;
  const seconds = (s) => s == null ? '—' : s < 120 ? `${Math.round(s)} s` : `${Math.round(s / 60)} min`;
  $('stats-summary').textContent = `${f.total} incident(s), hours and months in ${f.timeZone}. ` +
    `Report to the services' notification: median ${seconds(f.toNotification.medianSeconds)}, 90 % within ${seconds(f.toNotification.p90Seconds)} (${f.toNotification.count} notified); ` +
    `to their acknowledgement: median ${seconds(f.toAcknowledgement.medianSeconds)}, 90 % within ${seconds(f.toAcknowledgement.p90Seconds)} (${f.toAcknowledgement.count} acknowledged).` +
    f.byRecipient.map((r) => ` ${r.name}: ${r.count} sent, acknowledged ${r.toAcknowledgement.count}, median ${seconds(r.toAcknowledgement.medianSeconds)}.`).join('');
  const charts = [
    barChart('By category', f.byCategory.map((c) => [c.name, c.count])),
    barChart('By area (the first camera\'s)', f.byArea.map((c) => [c.name, c.count])),
    barChart('By hour of the day', f.byHour.map((n, h) => [`${String(h).padStart(2, '0')}`, n]), true),
    barChart('By status', f.byStatus.map((c) => [c.name, c.count])),
    barChart('By priority', f.byPriority.map((c) => [c.name, c.count])),
    barChart('By service told', f.byRecipient.map((r) => [r.name, r.count])),
  ];
  if (f.byMonth.length === 12) charts.splice(3, 0, barChart('By month', f.byMonth.map((n, m) => [monthNames[m].slice(0, 3), n]), true));
  $('stats-charts').replaceChildren(...charts);
}

// A bar chart of [label, count] pairs: horizontal bars with their labels and counts, or
// columns (`columns`) for the hours and months. Drawn with the page's own SVG, nothing fetched.
function barChart(title, items, columns = false) {
  const ns = 'http://www.w3.org/2000/svg';
  const el = (name, attrs, text) => {
    const e = document.createElementNS(ns, name);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const most = Math.max(1, ...items.map(([, n]) => n));
  const figure = document.createElement('figure');
  figure.className = 'chart';
  const caption = document.createElement('figcaption');
  caption.textContent = title;
  figure.append(caption);
  if (!items.length) { const p = document.createElement('p'); p.className = 'muted'; p.textContent = 'None.'; figure.append(p); return figure; }
  let svg;
  if (columns) {
    const w = 22, h = 120;
    svg = el('svg', { viewBox: `0 0 ${items.length * w} ${h + 30}`, width: items.length * w, height: h + 30, role: 'img', 'aria-label': title });
    items.forEach(([label, n], i) => {
      const bh = Math.round((n / most) * h);
      svg.append(el('rect', { x: i * w + 3, y: h - bh + 12, width: w - 6, height: Math.max(bh, n ? 1 : 0), class: 'bar' }));
      if (n) svg.append(el('text', { x: i * w + w / 2, y: h - bh + 9, 'text-anchor': 'middle', class: 'count' }, n));
      svg.append(el('text', { x: i * w + w / 2, y: h + 26, 'text-anchor': 'middle', class: 'label' }, label));
    });
  } else {
    const row = 20, labelW = 330, barW = 260;
    svg = el('svg', { viewBox: `0 0 ${labelW + barW + 50} ${items.length * row}`, width: labelW + barW + 50, height: items.length * row, role: 'img', 'aria-label': title });
    items.forEach(([label, n], i) => {
      svg.append(el('text', { x: labelW - 8, y: i * row + 14, 'text-anchor': 'end', class: 'label' }, label.length > 52 ? `${label.slice(0, 51)}…` : label));
      svg.append(el('rect', { x: labelW, y: i * row + 3, width: Math.max(1, Math.round((n / most) * barW)), height: row - 6, class: 'bar' }));
      svg.append(el('text', { x: labelW + Math.round((n / most) * barW) + 6, y: i * row + 14, class: 'count' }, n));
    });
  }
  figure.append(svg);
  return figure;
}

$('stats-show').addEventListener('click', () => showFigures());
// Printed alone while the report is asked for; the class goes when printing is over, whether
// or not the browser's print() waits for it.
$('stats-print').addEventListener('click', () => { document.body.classList.add('printing-report'); window.print(); });
window.addEventListener('afterprint', () => document.body.classList.remove('printing-report'));

// ---- Securing an incident's footage as an exhibit: asked here, decided by an investigator ----

function requestWords(q) {
  const asked = `asked by ${q.requestedBy} ${clockDate(Date.parse(q.requested))}: ${q.reason}`;
  if (q.pending) return `${asked} · held, waiting for an investigator`;
  if (q.outcome === 'registered') return `${asked} · registered as exhibit ${q.exhibit} by ${q.decidedBy}`;
  return `${asked} · refused by ${q.decidedBy}: ${q.refusal}`;
}

function drawIncidentRequests(i) {
  const list = i.exhibitRequests || [];
  $('incident-requests').replaceChildren(...list.map((q) => { const li = document.createElement('li'); li.textContent = requestWords(q); return li; }));
  // One request at a time, for an incident that names a camera and still holds its data.
  $('incident-request-form').hidden = !i.cameras.length || !!i.anonymised || list.some((q) => q.pending);
}

$('incident-request-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const me = state.me, id = inc.open, reason = $('incident-request-reason').value.trim();
  if (!reason) { $('incident-detail-error').textContent = 'Say why the footage is wanted.'; return; }
  try { await api('POST', `/api/incidents/${id}/exhibit-request`, { reason }); } catch (err) {
    if (state.me === me) $('incident-detail-error').textContent = `Not asked: ${err.message}`;
    return;
  }
  if (state.me !== me) return;
  $('incident-request-reason').value = '';
  await showIncident(id, false);
});

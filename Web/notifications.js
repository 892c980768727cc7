// Vigil console: the services' notifications (issue 17, docs/design/dispatch.md). A duty
// officer's console hears each report sent to its role: a sound, the panel opened over any
// page (the full-screen wall too: it is drawn in the top layer) and an Acknowledge button;
// one left unacknowledged past its wait escalates and sounds again, louder, on the duty
// console and the supervisors'. The operator team sees every recipient's notifications,
// which are waiting and why, and records a service's confirmation taken by telephone. The
// server's push (`{"type":"notifications"}` on /api/events) says when the list changed.
// Loaded after app.js, whose helpers it uses.
'use strict';

// `heard`: what already sounded (a notification's id and whether escalated); `chimes`
// counts the sounds played, for the tests; `audio` is made on the sign-in click, since
// browsers start sound only after one.
const notes = { list: [], heard: new Set(), audio: null, chimes: 0, played: 0, seq: 0 };

function noteAudio() {
  try {
    if (!notes.audio) notes.audio = new AudioContext();
    if (notes.audio.state === 'suspended') notes.audio.resume().then(() => { $('notify-sound').hidden = true; }, () => {});
    else $('notify-sound').hidden = true;
  } catch { notes.audio = null; }
}
document.addEventListener('pointerdown', noteAudio, { once: true });
document.addEventListener('keydown', noteAudio, { once: true });

// Two short tones, or three higher and louder for an escalation; generated, nothing fetched.
// `chimes` counts the calls, `played` those the browser let sound; the panel says when it
// did not (no click or key on the page yet).
function chime(loud) {
  notes.chimes += 1;
  const ctx = notes.audio;
  $('notify-sound').hidden = !!ctx && ctx.state === 'running';
  if (!ctx || ctx.state !== 'running') return;
  notes.played += 1;
  for (let i = 0; i < (loud ? 3 : 2); i++) {
    const o = ctx.createOscillator(), g = ctx.createGain(), t = ctx.currentTime + i * 0.3;
    o.frequency.value = loud ? 1320 : 880;
    g.gain.setValueAtTime(0, t);
    g.gain.linearRampToValueAtTime(loud ? 0.6 : 0.25, t + 0.02);
    g.gain.linearRampToValueAtTime(0, t + 0.22);
    o.connect(g).connect(ctx.destination);
    o.start(t);
    o.stop(t + 0.25);
  }
}

// Whether this console should be called to a notification: a report delivered to its own
// duty role and not yet acknowledged; an escalation (a report unacknowledged past its wait,
// or never delivered) on the duty console, the supervisors' and the operators' (who
// telephone the service).
function calls(n) {
  if (n.acknowledged || n.event !== 'reported') return false;
  if (n.escalated) return n.mine || state.me.role === 'supervisor' || state.me.role === 'operator';
  return n.mine && !!n.delivered;
}

async function loadNotifications() {
  if (!state.me || !may('incidents')) return;
  const me = state.me, seq = ++notes.seq;
  let list;
  try { list = await api('GET', '/api/notifications'); } catch (err) {
    if (state.me === me) $('notify-error').textContent = `The notifications could not be read: ${err.message}`;
    return;
  }
  if (state.me !== me || seq !== notes.seq) return;
  $('notify-error').textContent = '';
  notes.list = list;
  const fresh = list.filter((n) => calls(n) && !notes.heard.has(`${n.id}:${n.escalated ? 'e' : 'd'}`));
  for (const n of fresh) notes.heard.add(`${n.id}:${n.escalated ? 'e' : 'd'}`);
  drawNotifications();
  if (fresh.length) {
    chime(fresh.some((n) => n.escalated));
    if (!$('notify-panel').matches(':popover-open')) $('notify-panel').showPopover();
    // The duty console's Acknowledge within reach of the keyboard, unless the user is typing
    // or in a dialog: a key meant for a field must never acknowledge (nor is a telephone
    // confirmation ever focused by itself: it records a call someone must have taken).
    const busy = document.activeElement && document.activeElement.closest('input, textarea, select, [contenteditable], dialog');
    const ack = [...$('notify-list').querySelectorAll('li.due button, li.escalated button')].find((b) => b.dataset.how === 'console');
    if (ack && !busy) ack.focus();
  }
}

function notificationState(n) {
  if (n.acknowledged) return `acknowledged ${clock(Date.parse(n.acknowledged))} by ${n.acknowledgedBy}`;
  if (n.escalated && n.delivered) return `NOT ACKNOWLEDGED: escalated ${clock(Date.parse(n.escalated))}`;
  if (n.delivered) return n.event === 'reported' ? `delivered ${clock(Date.parse(n.delivered))}, waiting for acknowledgement` : `delivered ${clock(Date.parse(n.delivered))}`;
  const why = `${n.attempts} attempts${n.lastError ? `: ${n.lastError}` : ''}`;
  if (n.escalated) return `NOT DELIVERED: escalated ${clock(Date.parse(n.escalated))} (${why}); telephone the service`;
  if (!n.ready) return `NOT SET UP in Vigil: telephone the service (${why})`;
  return `not delivered yet (${why})`;
}

const channelWords = { console: 'duty console', email: 'e-mail', webhook: 'webhook' };
const eventWords = { reported: 'report', updated: 'update', reminder: 'reminder' };

// One notification as a list item, with the buttons of what this user may do with it.
function notificationItem(n) {
  const li = document.createElement('li');
  li.dataset.id = String(n.id);
  if (calls(n)) li.classList.add(n.escalated ? 'escalated' : 'due');
  const title = document.createElement('strong');
  title.textContent = n.subject;
  const who = document.createElement('span');
  who.textContent = `${eventWords[n.event] || n.event} to ${n.recipientName} (${channelWords[n.channel] || n.channel}), ${clock(Date.parse(n.created))}`;
  const st = document.createElement('span');
  st.className = 'state';
  st.textContent = notificationState(n);
  li.append(title, who, st);
  const actions = document.createElement('div');
  actions.className = 'actions';
  if (n.actions.includes('console')) actions.append(ackButton(n, 'console', 'Acknowledge'));
  if (n.actions.includes('telephone')) actions.append(ackButton(n, 'telephone', 'Confirmed by telephone'));
  const open = document.createElement('button');
  open.type = 'button';
  open.textContent = `Open ${n.number}`;
  open.addEventListener('click', async () => { $('notify-panel').hidePopover(); await openView('incidents'); await showIncident(n.incident); });
  if (may('incidents')) actions.append(open);
  li.append(actions);
  return li;
}

function ackButton(n, how, label) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = label;
  b.dataset.how = how;
  b.addEventListener('click', async () => {
    const me = state.me;
    b.disabled = true;
    try { await api('POST', `/api/notifications/${n.id}/ack`, { how }); } catch (err) {
      if (state.me === me) { $('notify-error').textContent = `Not acknowledged: ${err.message}`; b.disabled = false; }
      return;
    }
    if (state.me !== me) return;
    await loadNotifications();
    if (inc.open === n.incident && !$('incident-detail').hidden) await showIncident(n.incident, false);
  });
  return b;
}

function drawNotifications() {
  $('notify-list').replaceChildren(...notes.list.map(notificationItem));
  $('notify-empty').hidden = notes.list.length > 0;
  const waiting = notes.list.filter(calls).length;
  $('notify-count').textContent = waiting ? String(waiting) : '';
  $('notify-button').setAttribute('aria-label', `Notifications${waiting ? `, ${waiting} waiting for you` : ''}`);
}

function toggleNotifications() {
  const panel = $('notify-panel');
  if (panel.matches(':popover-open')) { panel.hidePopover(); return; }
  panel.showPopover();
  const first = $('notify-list').querySelector('button') || $('notify-close');
  first.focus();
}
$('notify-button').addEventListener('click', toggleNotifications);
$('notify-close').addEventListener('click', () => { $('notify-panel').hidePopover(); $('notify-button').focus(); });
$('notify-panel').addEventListener('keydown', (e) => { if (e.key === 'Escape') { $('notify-panel').hidePopover(); $('notify-button').focus(); } });
document.addEventListener('keydown', (e) => {
  if (e.key !== 'N' && e.key !== 'n') return;
  if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || !state.me || !may('incidents')) return;
  if (e.target.closest('input, textarea, select, [contenteditable], dialog')) return;
  e.preventDefault();
  toggleNotifications();
});

// The incident's own notifications, on its page: who was told, when, who acknowledged.
function drawIncidentNotifications(list) {
  $('incident-notified-title').hidden = !list || !list.length;
  $('incident-notified').replaceChildren(...(list || []).map(notificationItem));
}

// A new user: the button for the team, and nothing of the last one's notifications.
function resetNotifications() {
  notes.list = [];
  notes.heard.clear();
  notes.seq++;
  $('notify-list').replaceChildren();
  $('incident-notified').replaceChildren();
  $('incident-notified-title').hidden = true;
  $('notify-count').textContent = '';
  $('notify-error').textContent = '';
  if ($('notify-panel').matches(':popover-open')) $('notify-panel').hidePopover();
  $('notify-button').hidden = !state.me || !may('incidents');
}

// Vigil console: setting up dispatch (issue 17, docs/server.md "Dispatch"), for
// administrators (permission manage-dispatch): each service's channel, address, webhook
// secret (written, never shown) and wait before escalation, and which categories go to
// whom. The server checks every value and audits every change. Loaded after app.js and
// incidents.js, whose helpers it uses.
'use strict';

const disp = { recipients: [], routes: {}, categories: [], editing: null };
const dispChannels = { console: 'duty console', email: 'e-mail', webhook: 'webhook' };

async function openDispatchSetup() {
  $('dispatch-setup').hidden = !may('manage-dispatch');
  if ($('dispatch-setup').hidden) return;
  await loadDispatch();
}

async function loadDispatch() {
  const me = state.me;
  let answer, categories;
  try {
    [answer, categories] = await Promise.all([api('GET', '/api/dispatch/recipients'), api('GET', '/api/incident-categories')]);
  } catch (err) {
    if (state.me === me) $('dispatch-said').textContent = `The services could not be read: ${err.message}`;
    return;
  }
  if (state.me !== me) return;
  Object.assign(disp, { recipients: answer.recipients, routes: answer.routes, categories });
  drawDispatch();
}

const waitWords = (s) => s < 120 ? `${s} s` : s < 7200 ? `${Math.round(s / 60)} min` : `${Math.round(s / 3600)} h`;

function drawDispatch() {
  $('dispatch-rows').replaceChildren(...disp.recipients.map((r) => {
    const tr = document.createElement('tr');
    const cells = [r.name, dispChannels[r.channel] || r.channel, r.address || 'NOT SET UP', waitWords(r.escalateAfter),
      r.retired ? 'retired' : r.ready ? 'ready' : 'not set up: told by telephone'];
    tr.append(...cells.map((text) => { const td = document.createElement('td'); td.textContent = text; return td; }));
    if (!r.ready) tr.classList.add('status-bad');
    const td = document.createElement('td');
    const edit = document.createElement('button');
    edit.type = 'button';
    edit.textContent = 'Edit';
    edit.setAttribute('aria-label', `Edit ${r.name}`);
    edit.addEventListener('click', () => editRecipient(r));
    td.append(edit);
    tr.append(td);
    return tr;
  }));
  // The routes: a row per category in use, a box per service (checked: told of it).
  const shown = disp.recipients.filter((r) => !r.retired);
  const head = document.createElement('th');
  head.textContent = 'Category';
  $('route-head').replaceChildren(head, ...shown.map((r) => { const th = document.createElement('th'); th.textContent = r.key; th.title = r.name; return th; }));
  $('route-rows').replaceChildren(...disp.categories.filter((c) => !c.retired).map((c) => {
    const tr = document.createElement('tr');
    const name = document.createElement('td');
    name.textContent = c.name;
    tr.append(name, ...shown.map((r) => {
      const td = document.createElement('td');
      const box = document.createElement('input');
      box.type = 'checkbox';
      box.checked = (disp.routes[String(c.id)] || []).includes(r.key);
      box.setAttribute('aria-label', `${c.name} to ${r.name}`);
      box.addEventListener('change', () => saveRoute(c, tr));
      box.dataset.key = r.key;
      td.append(box);
      return td;
    }));
    return tr;
  }));
}

function editRecipient(r) {
  disp.editing = r;
  $('dispatch-edit').hidden = false;
  $('dispatch-edit-title').textContent = `${r.name} (${r.key})${r.hasSecret ? ' · a webhook secret is set' : ''}`;
  $('dispatch-channel').value = r.channel;
  $('dispatch-address').value = r.address;
  $('dispatch-secret').value = '';
  $('dispatch-wait').value = String(r.escalateAfter);
  $('dispatch-retired').checked = r.retired;
  $('dispatch-error').textContent = '';
  $('dispatch-address').focus();
}

$('dispatch-edit').addEventListener('submit', async (e) => {
  e.preventDefault();
  const r = disp.editing, me = state.me;
  if (!r) return;
  // Only what changed is sent (the secret only when one is typed).
  const body = {};
  if ($('dispatch-channel').value !== r.channel) body.channel = $('dispatch-channel').value;
  if ($('dispatch-address').value.trim() !== r.address) body.address = $('dispatch-address').value.trim();
  if ($('dispatch-secret').value) body.secret = $('dispatch-secret').value;
  if (Number($('dispatch-wait').value) !== r.escalateAfter) body.escalateAfter = Number($('dispatch-wait').value);
  if ($('dispatch-retired').checked !== r.retired) body.retired = $('dispatch-retired').checked;
  if (!Object.keys(body).length) { $('dispatch-error').textContent = 'Nothing was changed.'; return; }
  try { await api('PATCH', `/api/dispatch/recipients/${r.id}`, body); } catch (err) {
    if (state.me === me) $('dispatch-error').textContent = `Not saved: ${err.message}`;
    return;
  }
  if (state.me !== me) return;
  $('dispatch-secret').value = '';
  $('dispatch-edit').hidden = true;
  disp.editing = null;
  $('dispatch-said').textContent = `${r.name}: saved.`;
  await loadDispatch();
  focusEdit(r);
});
$('dispatch-cancel').addEventListener('click', () => {
  const r = disp.editing;
  $('dispatch-edit').hidden = true; $('dispatch-secret').value = ''; disp.editing = null;
  if (r) focusEdit(r);
});

// Back to the service's Edit button: the keyboard goes on from where it was.
function focusEdit(r) {
  const b = $('dispatch-rows').querySelector(`button[aria-label="Edit ${CSS.escape(r.name)}"]`);
  if (b) b.focus();
}

async function saveRoute(category, tr) {
  const me = state.me;
  const keys = [...tr.querySelectorAll('input[type=checkbox]')].filter((b) => b.checked).map((b) => b.dataset.key);
  try { await api('PUT', `/api/dispatch/routes/${category.id}`, { recipients: keys }); } catch (err) {
    if (state.me === me) { $('dispatch-said').textContent = `${category.name}: not saved: ${err.message}`; await loadDispatch(); }
    return;
  }
  if (state.me !== me) return;
  disp.routes[String(category.id)] = keys;
  $('dispatch-said').textContent = `${category.name} goes to ${keys.length ? keys.join(', ') : 'no one'}.`;
}

// Nothing of the set-up stays for the next user (the secret field above all).
function resetDispatchSetup() {
  Object.assign(disp, { recipients: [], routes: {}, categories: [], editing: null });
  for (const id of ['dispatch-rows', 'route-head', 'route-rows']) $(id).replaceChildren();
  for (const id of ['dispatch-said', 'dispatch-error']) $(id).textContent = '';
  $('dispatch-edit').reset();
  $('dispatch-edit').hidden = true;
  $('dispatch-setup').hidden = true;
}

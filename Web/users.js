// Vigil console: the administrator's users page. Accounts (add with a one-time password,
// change the role, disable, reset the password) and grants beyond a role, on one camera or
// all, through /api/users; the server checks and audits each change. Loaded after app.js,
// whose helpers it uses.
'use strict';

const roleTitles = {
  operator: 'operator', 'guard-duty': 'municipal-guard duty officer', 'police-duty': 'police duty officer',
  investigator: 'investigator', prosecutor: 'prosecutor', court: 'court', 'media-officer': 'media officer',
  supervisor: 'supervisor', admin: 'administrator',
};
// Permissions a grant may give (tour routes, steering history and the incident register stay
// with their roles).
const grantable = ['live', 'playback', 'export', 'ptz', 'register-evidence', 'manage-evidence', 'view-evidence', 'release-hold',
  'media-release', 'manage-cameras', 'manage-users', 'manage-incident-categories', 'manage-dispatch', 'incident-statistics', 'view-audit', 'view-metrics'];
const people = { list: [], editing: null };

for (const select of [$('user-role'), $('new-user-role')]) {
  select.replaceChildren(...Object.entries(roleTitles).map(([value, title]) => new Option(title, value)));
}
$('new-user-role').value = 'operator';
$('grant-permission').replaceChildren(...grantable.map((p) => new Option(p, p)));

const grantText = (g) => `${g.permission} on ${g.camera == null ? 'all cameras' : (cameraById(g.camera) || { name: `camera ${g.camera}` }).name}`;
const userState = (u) => [u.disabled ? 'disabled' : 'active', u.locked ? 'locked after failed sign-ins' : '', u.mustChangePassword ? 'must change password' : '']
  .filter(Boolean).join(', ');

async function openUsers() {
  const me = state.me;
  let list;
  try {
    list = await api('GET', '/api/users');
  } catch (err) {
    if (state.me === me) $('user-said').textContent = `The users could not be read: ${err.message}`;
    return;
  }
  if (state.me !== me) return;
  people.list = list;
  drawUsers();
  $('grant-camera').replaceChildren(new Option('all cameras', ''), ...state.cameras.filter((c) => !c.removed).map((c) => new Option(`${c.id} · ${c.name}`, c.id)));
}

function drawUsers() {
  const rows = $('user-rows');
  const focused = rows.contains(document.activeElement) ? document.activeElement.closest('tr').dataset.user : null;
  rows.replaceChildren(...people.list.map((u) => {
    const tr = document.createElement('tr');
    tr.dataset.user = String(u.id);
    tr.append(cell(u.name), cell(roleTitles[u.role] || u.role), cell(userState(u)), cell(u.grants.map(grantText).join('; ') || '—'));
    const td = document.createElement('td');
    if (u.name !== state.me.user) {
      const b = document.createElement('button');
      b.type = 'button'; b.textContent = 'Edit'; b.setAttribute('aria-label', `Edit ${u.name}`);
      b.addEventListener('click', () => editUser(u.id));
      td.append(b);
    } else {
      td.textContent = 'you';
      td.title = 'Another administrator changes your account; your password is changed under Session.';
    }
    tr.append(td);
    if (u.disabled) tr.classList.add('removed');
    return tr;
  }));
  const again = focused && rows.querySelector(`tr[data-user="${focused}"] button`);
  if (again) again.focus();
  if (people.editing !== null) drawGrants();
}

function editUser(id) {
  const u = people.list.find((x) => x.id === id);
  if (!u) return;
  people.editing = id;
  $('user-edit-title').textContent = `Edit ${u.name}`;
  $('user-role').value = u.role;
  $('user-disabled').checked = u.disabled;
  $('user-password').value = '';
  $('user-edit-error').textContent = '';
  $('user-said').textContent = '';
  $('user-edit').hidden = false;
  drawGrants();
  $('user-role').focus();
}

function drawGrants() {
  const u = people.list.find((x) => x.id === people.editing);
  if (!u) return;
  $('user-grants-none').hidden = u.grants.length > 0;
  $('user-grants').replaceChildren(...u.grants.map((g) => {
    const li = document.createElement('li');
    const b = document.createElement('button');
    b.type = 'button'; b.className = 'link'; b.textContent = 'Withdraw';
    b.setAttribute('aria-label', `Withdraw ${grantText(g)} from ${u.name}`);
    b.addEventListener('click', () => changeGrant('DELETE', { permission: g.permission, camera: g.camera ?? undefined }));
    li.append(`${grantText(g)} `, b);
    return li;
  }));
}

// A change to the account being edited: the list is drawn again from the server's answer.
async function changeUser(method, path, body, said) {
  const me = state.me, u = people.list.find((x) => x.id === people.editing);
  if (!u) return;
  $('user-edit-error').textContent = '';
  try {
    const changed = await api(method, `/api/users/${u.id}${path}`, body);
    if (state.me !== me) return;
    people.list = people.list.map((x) => (x.id === changed.id ? changed : x));
    drawUsers();
    $('user-said').textContent = said(changed);
  } catch (err) {
    if (state.me === me) $('user-edit-error').textContent = `${u.name} was not changed: ${err.message}`;
  }
}

function changeGrant(method, grant) {
  changeUser(method, '/grants', grant, (u) => `${method === 'POST' ? 'Granted' : 'Withdrew'} ${grantText(grant)} ${method === 'POST' ? 'to' : 'from'} ${u.name}.`);
}

$('grant-add').addEventListener('click', () => {
  const camera = $('grant-camera').value;
  changeGrant('POST', { permission: $('grant-permission').value, camera: camera ? Number(camera) : undefined });
});

$('user-edit').addEventListener('submit', (e) => {
  e.preventDefault();
  const u = people.list.find((x) => x.id === people.editing);
  if (!u) return;
  const body = {};
  if ($('user-role').value !== u.role) body.role = $('user-role').value;
  if ($('user-disabled').checked !== u.disabled) body.disabled = $('user-disabled').checked;
  if ($('user-password').value) body.password = $('user-password').value;
  if (!Object.keys(body).length) { $('user-edit-error').textContent = 'Nothing was changed.'; return; }
  changeUser('PATCH', '', body, (x) => {
    $('user-password').value = '';
    const what = [body.role ? `role ${roleTitles[x.role]}` : '', 'disabled' in body ? (x.disabled ? 'disabled and signed out' : 'enabled') : '',
      body.password ? 'a one-time password set (to be changed at the next sign-in)' : ''].filter(Boolean).join(', ');
    return `Saved ${x.name}: ${what}.`;
  });
});
$('user-edit-cancel').addEventListener('click', () => { $('user-edit').hidden = true; people.editing = null; });

$('user-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const me = state.me;
  $('user-error').textContent = '';
  try {
    const added = await api('POST', '/api/users', { name: $('new-user-name').value.trim(), role: $('new-user-role').value, password: $('new-user-password').value });
    if (state.me !== me) return;
    $('user-form').reset();
    $('new-user-role').value = 'operator';
    people.list = [...people.list, added].sort((a, b) => a.name.localeCompare(b.name));
    drawUsers();
    $('user-said').textContent = `Added ${added.name} as ${roleTitles[added.role]}; the password given is to be changed at the first sign-in.`;
  } catch (err) {
    if (state.me === me) $('user-error').textContent = `The user was not added: ${err.message}`;
  }
});

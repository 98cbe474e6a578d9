// The account pages' only script. It holds no rules: every action is a call to the REST API with
// the session cookie, and the API's answer (its message, or meta.errors next to each field) is
// what the page shows.
'use strict';

const page = document.body.dataset.page;
const params = new URLSearchParams(location.search);

async function api(method, path, body) {
  const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    return { ok: false, status: 0, body: { message: 'The server could not be reached.' } };
  }
  const json = await res.json().catch(() => null);
  return { ok: res.ok, status: res.status, body: json || { message: `Unexpected answer (${res.status}).` } };
}

/// A same-origin path from ?next=, or the fallback. Resolved as the browser would resolve it,
/// so `//host`, `/\\host` or a control character inside cannot lead elsewhere.
function safeNext(fallback) {
  const next = params.get('next');
  if (!next || !next.startsWith('/')) return fallback;
  try {
    const url = new URL(next, location.origin);
    if (url.origin === location.origin) return url.pathname + url.search + url.hash;
  } catch {}
  return fallback;
}

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

function when(ts) {
  return ts ? new Date(ts).toLocaleString() : '—';
}

function notice(text, ok) {
  const n = document.getElementById('notice');
  n.textContent = text;
  n.hidden = !text;
  n.classList.toggle('ok', !!ok);
}

/// Clears a form's errors, then shows the API's: each field error next to its field, the message
/// in the form's general error slot.
function showErrors(scope, body) {
  scope.querySelectorAll('.field-error').forEach((e) => (e.textContent = ''));
  const general = scope.querySelector('.form-error');
  if (general) general.textContent = '';
  if (!body) return;
  const errors = (body.meta && body.meta.errors) || [];
  let placed = 0;
  for (const err of errors) {
    const slot = scope.querySelector(`[data-error-for="${CSS.escape(err.field)}"]`) || scope.querySelector(`[data-error-for="${CSS.escape(err.field.split('[')[0])}"]`);
    if (slot) {
      slot.textContent = err.error;
      placed++;
    }
  }
  if (general && (placed < errors.length || errors.length === 0)) general.textContent = body.message || 'Something went wrong.';
}

/// The form's fields as an object: checkboxes as booleans, or arrays when several share a name.
function fields(form) {
  const out = {};
  for (const input of form.querySelectorAll('input[name], select[name]')) {
    const name = input.name;
    if (input.type === 'checkbox') {
      const group = form.querySelectorAll(`input[type=checkbox][name="${name}"]`);
      if (group.length > 1) {
        out[name] = out[name] || [];
        if (input.checked) out[name].push(input.value);
      } else out[name] = input.checked;
    } else out[name] = input.value.trim();
  }
  return out;
}

/// Wires a form: on submit, `send(values)` makes the API call; errors are shown in the form, and
/// `done(body)` runs on success.
function onSubmit(form, send, done) {
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const button = form.querySelector('button[type=submit]');
    if (button) button.disabled = true;
    try {
      const r = await send(fields(form));
      if (r === null) return; // the page refused before asking the API
      showErrors(form, r.ok ? null : r.body);
      if (r.ok) await done(r.body);
    } finally {
      if (button) button.disabled = false;
    }
  });
}

/// A button that calls the API and reports a refusal in `errorSlot`.
function action(label, cls, errorSlot, call, after) {
  return el('button', {
    type: 'button',
    class: cls,
    text: label,
    onclick: async () => {
      const r = await call();
      errorSlot.textContent = r.ok ? '' : r.body.message || 'Refused.';
      if (r.ok && after) await after(r.body);
    },
  });
}

const signOut = document.getElementById('sign-out');
if (signOut) {
  signOut.addEventListener('click', async () => {
    await api('POST', '/api/auth/sign-out');
    location.href = '/sign-in';
  });
}

// Keep ?next= across the sign-in/sign-up links.
for (const a of document.querySelectorAll('a[data-keep-next]')) {
  if (params.get('next')) a.href += `?next=${encodeURIComponent(params.get('next'))}`;
}

const notices = {
  'check-email': 'Account created. Check your email to verify your address, then sign in.',
  'password-reset': 'Your password has been changed. Sign in with the new one.',
};

const pages = {
  'sign-up'() {
    onSubmit(document.getElementById('sign-up-form'), (v) => api('POST', '/api/auth/sign-up/email', v), () => {
      const next = params.get('next') ? `&next=${encodeURIComponent(safeNext('/account'))}` : '';
      location.href = `/sign-in?notice=check-email${next}`;
    });
  },

  'sign-in'() {
    if (notices[params.get('notice')]) notice(notices[params.get('notice')], true);
    onSubmit(document.getElementById('sign-in-form'), (v) => api('POST', '/api/auth/sign-in/email', v), () => {
      location.href = safeNext('/account');
    });
  },

  async 'verify-email'() {
    const token = document.body.dataset.token;
    if (!token) return;
    const r = await api('GET', `/api/auth/verify-email?token=${encodeURIComponent(token)}`);
    document.getElementById('verify-result').textContent = r.ok ? 'Your email address is verified.' : r.body.message;
  },

  'forgot-password'() {
    const form = document.getElementById('forgot-form');
    onSubmit(form, (v) => api('POST', '/api/auth/request-password-reset', v), () => {
      notice('If an account exists for that address, we have sent it a link. It is valid for one hour.', true);
      form.reset();
    });
  },

  'reset-password'() {
    const form = document.getElementById('reset-form');
    onSubmit(
      form,
      async (v) => {
        if (v.newPassword !== v.confirm) {
          showErrors(form, { message: 'The two passwords differ.', meta: { errors: [{ field: 'confirm', error: 'The two passwords differ.' }] } });
          return null;
        }
        return api('POST', '/api/auth/reset-password', { token: document.body.dataset.token, newPassword: v.newPassword });
      },
      () => (location.href = '/sign-in?notice=password-reset'),
    );
  },

  async invite() {
    const token = document.body.dataset.token;
    const offer = document.getElementById('offer');
    if (!offer) return; // not signed in: the page shows the way in
    const error = document.querySelector('.form-error');
    const r = await api('GET', `/api/user/invites/${encodeURIComponent(token)}`);
    if (!r.ok) {
      offer.textContent = '';
      error.textContent = r.body.message;
      return;
    }
    const o = r.body.data;
    offer.textContent = `You are invited to join ${o.organization.name} as ${o.role}.`;
    const accept = document.getElementById('accept');
    accept.hidden = false;
    accept.addEventListener('click', async () => {
      const a = await api('POST', `/api/user/invites/${encodeURIComponent(token)}/accept`, {});
      if (a.ok) location.href = `/orgs/${o.organization.id}`;
      else error.textContent = a.body.message;
    });
  },

  account() {
    const resend = document.getElementById('resend');
    if (resend) {
      resend.addEventListener('click', async () => {
        const r = await api('POST', '/api/auth/send-verification-email', { email: document.body.dataset.email });
        notice(r.ok ? 'A new verification email is on its way.' : r.body.message, r.ok);
      });
    }
    onSubmit(document.getElementById('profile-form'), (v) => api('PUT', '/api/user/me', v), () => notice('Profile saved.', true));
    const pw = document.getElementById('password-form');
    onSubmit(pw, (v) => api('POST', '/api/auth/change-password', v), () => {
      pw.reset();
      notice('Password changed.', true);
    });
  },

  async sessions() {
    const error = document.querySelector('.form-error');
    const body = document.getElementById('sessions');
    async function load() {
      const r = await api('GET', '/api/auth/list-sessions');
      if (!r.ok) return (error.textContent = r.body.message);
      body.replaceChildren(
        ...r.body.data.map((s) =>
          el(
            'tr',
            { 'data-session': s.id },
            el('td', { text: `${s.userAgent || 'Unknown device'}${s.current ? ' (this session)' : ''}` }),
            el('td', { text: s.ipAddress || '—' }),
            el('td', { text: when(s.createdAt) }),
            el('td', { text: when(s.expiresAt) }),
            el('td', {}, s.current ? null : action('Revoke', 'danger', error, () => api('POST', '/api/auth/revoke-session', { id: s.id }), load)),
          ),
        ),
      );
    }
    document.getElementById('revoke-others').addEventListener('click', async () => {
      const r = await api('POST', '/api/auth/revoke-other-sessions', {});
      error.textContent = r.ok ? '' : r.body.message;
      if (r.ok) notice('Every other session is signed out.', true);
      await load();
    });
    await load();
  },

  async 'api-keys'() {
    const error = document.getElementById('keys-error');
    const body = document.getElementById('keys');
    const orgSelect = document.getElementById('key-org');
    const names = {};
    const orgs = await api('GET', '/api/user/organizations?limit=100');
    if (orgs.ok) {
      for (const o of orgs.body.data) {
        names[o.id] = o.name;
        orgSelect.append(el('option', { value: o.id, text: o.name }));
      }
    }
    async function load() {
      const r = await api('GET', '/api/auth/api-key/list?limit=100');
      if (!r.ok) return (error.textContent = r.body.message);
      body.replaceChildren(
        ...r.body.data.map((k) =>
          el(
            'tr',
            { 'data-key': k.id },
            el('td', { text: k.name }),
            el('td', {}, el('code', { text: `${k.start}…` })),
            el('td', {}, ...(k.scopes.length ? k.scopes.map((s) => el('span', { class: 'tag', text: s })) : [el('span', { class: 'muted', text: 'none' })])),
            el('td', { text: k.organizationId ? names[k.organizationId] || k.organizationId : 'any' }),
            el('td', { text: k.expiresAt ? when(k.expiresAt) : 'never' }),
            el('td', { text: k.lastUsedAt ? when(k.lastUsedAt) : 'never' }),
            el('td', { text: k.enabled ? 'enabled' : 'disabled' }),
            el(
              'td',
              {},
              action(k.enabled ? 'Disable' : 'Enable', 'secondary', error, () => api('POST', '/api/auth/api-key/update', { keyId: k.id, enabled: !k.enabled }), load),
              action('Delete', 'danger', error, () => api('POST', '/api/auth/api-key/delete', { keyId: k.id }), load),
            ),
          ),
        ),
      );
    }
    const form = document.getElementById('key-form');
    onSubmit(
      form,
      (v) => {
        const body = { name: v.name, scopes: v.scopes || [] };
        if (v.expiresIn) body.expiresIn = Number(v.expiresIn);
        if (v.organizationId) body.metadata = { organizationId: v.organizationId };
        return api('POST', '/api/auth/api-key/create', body);
      },
      async (res) => {
        document.getElementById('new-key-value').textContent = res.data.key;
        document.getElementById('new-key').hidden = false;
        form.reset();
        await load();
      },
    );
    document.getElementById('copy-key').addEventListener('click', async () => {
      const key = document.getElementById('new-key-value').textContent;
      try {
        await navigator.clipboard.writeText(key);
        notice('Copied to the clipboard.', true);
      } catch {
        notice('Select the key and copy it yourself: the browser refused the clipboard.');
      }
    });
    await load();
  },

  async organizations() {
    const body = document.getElementById('orgs');
    async function load() {
      const r = await api('GET', '/api/user/organizations?limit=100');
      if (!r.ok) return notice(r.body.message);
      body.replaceChildren(
        ...r.body.data.map((o) => el('tr', {}, el('td', {}, el('a', { href: `/orgs/${o.id}`, text: o.name })), el('td', { text: o.role }), el('td', { text: String(o.memberCount) }))),
      );
    }
    const form = document.getElementById('org-form');
    onSubmit(
      form,
      (v) => api('POST', '/api/user/organizations', v.slug ? v : { name: v.name }),
      async () => {
        form.reset();
        await load();
      },
    );
    await load();
  },

  async org() {
    const id = document.body.dataset.org;
    const base = `/api/user/organizations/${id}`;
    const [org, mine] = await Promise.all([api('GET', base), api('GET', `${base}/my-membership`)]);
    if (!org.ok) {
      document.getElementById('org-error').textContent = org.body.message;
      document.querySelectorAll('section').forEach((s) => (s.hidden = true));
      return;
    }
    document.querySelector('h1').textContent = org.body.data.name;
    document.title = `${org.body.data.name} · Gatehouse`;
    const me = mine.body.data;
    const can = (p) => me.permissions.includes(p);
    document.getElementById('org-summary').textContent = `You are ${me.role} here. ${org.body.data.memberCount} member(s).`;

    // Projects: everyone in the organization may work on them (projects:read/write).
    const projects = document.getElementById('projects');
    const projectsError = document.getElementById('projects-error');
    const search = document.getElementById('project-search');
    async function loadProjects() {
      const q = new URLSearchParams({ limit: '100' });
      const f = fields(search);
      if (f.q) q.set('q', f.q);
      if (f.status) q.set('status', f.status);
      const r = await api('GET', `${base}/projects?${q}`);
      if (!r.ok) return (projectsError.textContent = r.body.message);
      projects.replaceChildren(
        ...r.body.data.map((p) => {
          const name = el('input', { value: p.name, 'aria-label': `Name of ${p.name}` });
          const status = el('select', { 'aria-label': `Status of ${p.name}` }, ...['draft', 'active', 'paused'].map((s) => el('option', { value: s, text: s, selected: s === p.status })));
          return el(
            'tr',
            { 'data-project': p.id },
            el('td', {}, name),
            el('td', {}, status),
            el('td', { text: p.website || '—' }),
            el('td', { text: p.createdByUser ? p.createdByUser.fullName : '—' }),
            el(
              'td',
              {},
              action('Save', 'secondary', projectsError, () => api('PUT', `${base}/projects/${p.id}`, { name: name.value, status: status.value }), loadProjects),
              action('Delete', 'danger', projectsError, () => api('DELETE', `${base}/projects/${p.id}`), loadProjects),
            ),
          );
        }),
      );
    }
    search.addEventListener('submit', (ev) => {
      ev.preventDefault();
      loadProjects();
    });
    const projectForm = document.getElementById('project-form');
    onSubmit(
      projectForm,
      (v) => api('POST', `${base}/projects`, v.website ? v : { name: v.name, status: v.status }),
      async () => {
        projectForm.reset();
        await loadProjects();
      },
    );

    // Members: role changes and removal only for those who may manage members; leaving for all.
    const members = document.getElementById('members');
    const membersError = document.getElementById('members-error');
    async function loadMembers() {
      const r = await api('GET', `${base}/members?limit=100`);
      if (!r.ok) return (membersError.textContent = r.body.message);
      members.replaceChildren(
        ...r.body.data.map((m) => {
          const self = m.id === me.id;
          let roleCell = el('td', { text: m.role });
          const controls = el('td', {});
          if (can('organization:manage-members') && !self && (me.role === 'owner' || m.role !== 'owner')) {
            const roles = me.role === 'owner' ? ['owner', 'admin', 'member'] : ['admin', 'member'];
            const select = el('select', { 'aria-label': `Role of ${m.email}` }, ...roles.map((r) => el('option', { value: r, text: r, selected: r === m.role })));
            roleCell = el('td', {}, select);
            controls.append(
              action('Change role', 'secondary', membersError, () => api('PUT', `${base}/members/${m.id}/role`, { role: select.value }), loadMembers),
              action('Remove', 'danger', membersError, () => api('DELETE', `${base}/members/${m.id}`), loadMembers),
            );
          }
          if (self) controls.append(action('Leave', 'danger', membersError, () => api('DELETE', `${base}/members/${m.id}`), () => (location.href = '/account/organizations')));
          return el('tr', { 'data-member': m.id }, el('td', { text: `${m.fullName} <${m.email}>` }), roleCell, controls);
        }),
      );
    }

    // Invitations: only for those who may manage members.
    if (can('organization:manage-members')) {
      document.getElementById('invites-section').hidden = false;
      if (me.role !== 'owner') document.querySelector('[data-owner-only]').remove();
      const invites = document.getElementById('invites');
      const inviteForm = document.getElementById('invite-form');
      const inviteError = inviteForm.querySelector('.form-error');
      async function loadInvites() {
        const r = await api('GET', `${base}/invites?limit=100`);
        if (!r.ok) return (inviteError.textContent = r.body.message);
        invites.replaceChildren(
          ...r.body.data.map((i) =>
            el(
              'tr',
              { 'data-invite': i.id },
              el('td', { text: i.email }),
              el('td', { text: i.role }),
              el('td', { text: i.status }),
              el('td', { text: when(i.expiresAt) }),
              el(
                'td',
                {},
                i.status === 'pending' || i.status === 'expired' ? action('Resend', 'secondary', inviteError, () => api('POST', `${base}/invites/${i.id}/resend`, {}), loadInvites) : null,
                i.status === 'pending' || i.status === 'expired' ? action('Cancel', 'danger', inviteError, () => api('DELETE', `${base}/invites/${i.id}`), loadInvites) : null,
              ),
            ),
          ),
        );
      }
      onSubmit(
        inviteForm,
        (v) => api('POST', `${base}/invites`, { emails: v.emails.split(',').map((e) => e.trim()).filter(Boolean), role: v.role }),
        async () => {
          inviteForm.reset();
          notice('Invitations sent.', true);
          await loadInvites();
        },
      );
      await loadInvites();
    }
    await Promise.all([loadProjects(), loadMembers()]);
  },
};

if (pages[page]) pages[page]();

// The example page: a login form, who-am-I, the session list, logout and logout everywhere,
// all through clients/js/jwtd.js. Settings come from the query string:
//   api    jwtd's base URL (default: this host, port 8000)
//   mode   cookie (default) or body
//   paths  jwtd (default) or simplejwt (the four simplejwt views only)
import { createClient, SIMPLEJWT_PATHS } from '/clients/js/jwtd.js';

const query = new URLSearchParams(location.search);
const api = query.get('api') ?? `${location.protocol}//${location.hostname}:8000`;
const cookieMode = (query.get('mode') ?? 'cookie') === 'cookie';
const simplejwt = query.get('paths') === 'simplejwt';

const client = createClient({
  baseUrl: new URL(api, location.href).href,
  cookieMode,
  paths: simplejwt ? SIMPLEJWT_PATHS : undefined,
});
// For the browser tests and for poking at it from the console.
window.jwtdClient = client;

const $ = (selector) => document.querySelector(selector);
const status = (text) => {
  $('#status').textContent = text;
};

function show(loggedIn) {
  $('#login-view').hidden = loggedIn;
  $('#app-view').hidden = !loggedIn;
  document.body.dataset.state = loggedIn ? 'in' : 'out';
}

function when(iso) {
  return iso ? new Date(iso).toLocaleString() : '';
}

async function renderSessions() {
  if (simplejwt) {
    $('#sessions').hidden = true;
    return;
  }
  const rows = [];
  for (const session of await client.sessions()) {
    const row = document.createElement('tr');
    row.dataset.sessionId = session.id;
    if (session.current) row.className = 'current';
    for (const text of [
      when(session.created_at),
      when(session.last_used_at),
      when(session.expires_at),
      session.user_agent ?? '',
      session.ip ?? '',
    ]) {
      const cell = document.createElement('td');
      cell.textContent = text;
      row.append(cell);
    }
    const action = document.createElement('td');
    const end = document.createElement('button');
    end.type = 'button';
    end.className = 'end-session';
    end.textContent = session.current ? 'end this session (this tab)' : 'end this session';
    end.addEventListener('click', async () => {
      await client.endSession(session.id);
      status(`session ${session.id} ended`);
      await render();
    });
    action.append(end);
    row.append(action);
    rows.push(row);
  }
  // All at once: two renders in flight (a click and another tab's login) cannot mix rows.
  $('#sessions tbody').replaceChildren(...rows);
}

async function render() {
  const response = await client.fetch(simplejwt ? '/token/verify/' : '/me', simplejwt
    ? {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ token: await client.accessToken() }),
    }
    : {});
  if (!response.ok) {
    show(false);
    return;
  }
  const me = await response.json();
  $('#whoami').textContent = simplejwt ? 'logged in (simplejwt paths: no /me)' : `${me.username} (user ${me.id})`;
  show(true);
  await renderSessions();
}

async function guarded(action) {
  try {
    await action();
  } catch (error) {
    status(error.message);
  }
}

$('#server').textContent = `jwtd at ${api}, ${cookieMode ? 'cookie' : 'body'} mode`;

$('#login-form').addEventListener('submit', (event) => {
  event.preventDefault();
  guarded(async () => {
    await client.login($('#username').value, $('#password').value);
    $('#password').value = '';
    await render();
    status('logged in');
  });
});
$('#refresh-view').addEventListener('click', () => guarded(render));
$('#logout').addEventListener('click', () =>
  guarded(async () => {
    await client.logout();
    status('logged out');
    show(false);
  }));
$('#logout-all').addEventListener('click', () =>
  guarded(async () => {
    await client.logoutAll();
    status('logged out everywhere');
    show(false);
  }));
// Another tab logged in or out.
client.onChange(({ loggedIn }) => {
  if (!loggedIn) show(false);
  else if (document.body.dataset.state !== 'in') guarded(render);
});

guarded(async () => {
  // A reload in cookie mode keeps the session: the HttpOnly cookie refreshes it.
  if (await client.accessToken()) await render();
  else show(false);
  document.body.dataset.ready = 'yes';
});

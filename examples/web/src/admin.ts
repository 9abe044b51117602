/**
 * The admin page (/admin): lists users with their usage, disables and enables them, and shows
 * provider health. It signs in with the chat page's stored tokens; every number and action goes
 * through /api/admin/*, which refuses anyone but an admin — the page itself holds no secret.
 */
import { ApiClient, ApiError, formatUsd, type Paged, type UsageReport } from './api.js';

interface AdminUser {
  id: string;
  email: string;
  role: 'user' | 'admin';
  is_active: boolean;
  usage: {
    sessions: number;
    messages: number;
    prompt_tokens: number;
    completion_tokens: number;
    tokens_today: number;
    cost_usd_this_month: number;
    cost_unknown_requests_this_month: number;
  };
}

interface KeyHealth {
  alias: string;
  circuit: 'closed' | 'open' | 'half_open';
  disabled: boolean;
  cooldown_ms: number;
  ready: boolean;
  recent: { attempts: number; errors: number; error_rate: number };
}

interface ProviderHealthList {
  items: { provider: string; keys: KeyHealth[] }[];
  window_seconds: number;
}

const api = new ApiClient();
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

function cell(text: string | number, className?: string): HTMLTableCellElement {
  const td = document.createElement('td');
  td.textContent = String(text);
  if (className) td.className = className;
  return td;
}

function showError(message: string): void {
  const box = $('admin-error');
  box.textContent = message;
  box.hidden = false;
}

async function loadUsers(): Promise<void> {
  const query = $<HTMLInputElement>('user-query').value.trim();
  const params = new URLSearchParams({ page: '1', per_page: '100' });
  if (query) params.set('q', query);
  const page = await api.request<Paged<AdminUser>>('GET', `/api/admin/users?${params}`);
  const body = $<HTMLTableElement>('users-table').tBodies[0];
  body.replaceChildren(...page.items.map(userRow));
  $('users-total').textContent = `${page.total} account(s)`;
}

function userRow(user: AdminUser): HTMLTableRowElement {
  const row = document.createElement('tr');
  row.dataset.userId = user.id;
  row.classList.toggle('disabled', !user.is_active);
  const tokens = user.usage.prompt_tokens + user.usage.completion_tokens;
  row.append(
    cell(user.email),
    cell(user.role),
    cell(user.is_active ? 'active' : 'disabled', 'state'),
    cell(user.usage.sessions, 'number'),
    cell(user.usage.messages, 'number'),
    cell(tokens, 'number'),
    cell(user.usage.tokens_today, 'number'),
    cell(
      formatUsd(user.usage.cost_usd_this_month, user.usage.cost_unknown_requests_this_month),
      'number cost',
    ),
  );
  const action = document.createElement('td');
  const button = document.createElement('button');
  button.type = 'button';
  button.className = user.is_active ? 'danger' : 'secondary';
  button.textContent = user.is_active ? 'Disable' : 'Enable';
  button.addEventListener('click', () => {
    button.disabled = true;
    void api
      .request('PATCH', `/api/admin/users/${encodeURIComponent(user.id)}`, {
        is_active: !user.is_active,
      })
      .then(loadUsers)
      .catch((error: unknown) => {
        button.disabled = false;
        showError(error instanceof Error ? error.message : String(error));
      });
  });
  action.append(button);
  row.append(action);
  return row;
}

/** This month's usage of every user per model, from GET /api/admin/usage. */
async function loadUsage(): Promise<void> {
  const report = await api.request<UsageReport>('GET', '/api/admin/usage?group_by=model');
  const row = (label: string, figures: UsageReport['totals']) => {
    const tr = document.createElement('tr');
    tr.append(
      cell(label),
      cell(figures.requests, 'number'),
      cell(figures.failed_requests, 'number'),
      cell(figures.prompt_tokens, 'number'),
      cell(figures.completion_tokens, 'number'),
      cell(formatUsd(figures.cost_usd, figures.cost_unknown_requests), 'number cost'),
    );
    return tr;
  };
  const table = $<HTMLTableElement>('usage-table');
  table.tBodies[0].replaceChildren(...report.items.map((item) => row(item.model ?? '', item)));
  table.tFoot!.replaceChildren(row('All models', report.totals));
  $('usage-range').textContent = `All users, ${report.from} to ${report.to} (UTC).`;
}

async function loadProviders(): Promise<void> {
  const health = await api.request<ProviderHealthList>('GET', '/api/admin/providers');
  const rows = health.items.flatMap(({ keys }) =>
    keys.map((key) => {
      const row = document.createElement('tr');
      row.append(
        cell(key.alias),
        cell(key.disabled ? 'refused' : key.circuit.replace('_', '-')),
        cell(key.ready ? 'yes' : 'no'),
        cell(key.cooldown_ms > 0 ? `${Math.ceil(key.cooldown_ms / 1000)} s` : '—'),
        cell(key.recent.attempts, 'number'),
        cell(`${(key.recent.error_rate * 100).toFixed(1)} %`, 'number'),
      );
      return row;
    }),
  );
  $<HTMLTableElement>('providers-table').tBodies[0].replaceChildren(...rows);
  $('providers-window').textContent =
    `Recent outcomes over the last ${health.window_seconds / 60} minutes, as this instance sees them.`;
}

async function start(): Promise<void> {
  if (!api.signedIn) {
    showError('Sign in on the chat page first, with an admin account.');
    return;
  }
  try {
    const me = await api.me();
    $('admin-who').textContent = me.email;
    // Every load settles before the page shows anything (or the first error).
    const loads = await Promise.allSettled([loadUsers(), loadUsage(), loadProviders()]);
    const failed = loads.find((load) => load.status === 'rejected');
    if (failed) throw failed.reason;
    $('admin-main').hidden = false;
  } catch (error) {
    if (error instanceof ApiError && error.status === 403) {
      showError('This page is for administrators; your account is not one.');
    } else {
      showError(error instanceof Error ? error.message : String(error));
    }
  }
}

$('user-search').addEventListener('submit', (event) => {
  event.preventDefault();
  void loadUsers().catch((error: unknown) =>
    showError(error instanceof Error ? error.message : String(error)),
  );
});
void start();

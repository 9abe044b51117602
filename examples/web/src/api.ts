/**
 * The REST half of the browser client: JSON requests with the bearer token, one transparent
 * token refresh on 401, and `{detail}` error bodies turned into readable messages.
 */

export interface Tokens {
  access_token: string;
  refresh_token: string;
  token_type: string;
  expires_in: number;
}

export interface UserProfile {
  id: string;
  email: string;
  is_active: boolean;
  email_verified: boolean;
  created_at: string;
}

export interface ModelItem {
  id: string;
  provider: string;
  context_window?: number;
  /** Attachments it takes besides text files: `image`, `pdf`. */
  inputs?: string[];
  default: boolean;
}

/** A file of the user (POST /api/files), or a message's reference to one. */
export interface FileRef {
  id: string;
  name: string;
  media_type: string;
}

export interface SessionSummary {
  session_id: string;
  title: string | null;
  last_message: string | null;
  message_count: number;
  updated_at: string;
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  tokens: number;
}

export interface HistoryMessage {
  id: string;
  /** The message this one follows in the conversation's tree; null for a first message. */
  parent_id: string | null;
  /** 0-based position among the parent's children ("< 2/3 >" shows sibling_index + 1). */
  sibling_index: number;
  sibling_count: number;
  sibling_ids: string[];
  feedback: { rating: 'up' | 'down'; comment: string | null } | null;
  role: 'system' | 'user' | 'assistant';
  content: string;
  status: 'pending' | 'complete' | 'error' | 'aborted';
  model: string | null;
  usage: Usage | null;
  /** Only on a `pending` reply: still being generated, its stream can be resumed. */
  resumable?: true;
  /** Files a user message attached. */
  attachments?: FileRef[];
  /** The tool calls of a reply, with their results once there are some. */
  tool_calls?: ToolCallView[];
  created_at: string;
}

/** A tool call of a reply as history and the chat events describe it. */
export interface ToolCallView {
  id: string;
  name: string;
  /** JSON text, as the model wrote it. */
  arguments: string;
  result: { content: string; is_error: boolean } | null;
}

/** A conversation's own chat settings (null: the app's default). */
export interface ChatSettings {
  system_prompt: string | null;
  model: string | null;
  temperature: number | null;
  max_tokens: number | null;
}

/** Named chat settings of the user (`/api/presets`). */
export interface Preset extends ChatSettings {
  id: string;
  name: string;
  created_at: string;
  updated_at: string;
}

export interface SessionDetail {
  session_id: string;
  title: string | null;
  created_at: string;
  updated_at: string;
  settings: ChatSettings;
  messages: HistoryMessage[];
  page: number;
  per_page: number;
  total: number;
}

export interface Paged<T> {
  items: T[];
  page: number;
  per_page: number;
  total: number;
}

/** Figures of GET /api/usage and GET /api/admin/usage (a day, a model, a user or the total). */
export interface UsageFigures {
  requests: number;
  failed_requests: number;
  prompt_tokens: number;
  completion_tokens: number;
  tokens: number;
  cost_usd: number;
  cost_unknown_requests: number;
}

export interface UsageReport {
  from: string;
  to: string;
  group_by: string;
  totals: UsageFigures;
  items: (UsageFigures & { day?: string; model?: string; provider?: string; user?: string })[];
}

/**
 * A cost in USD: cents from $1 up ($12.34), below that to the micro-dollar without trailing zeros
 * ($0.0123, $0.00), with a note when calls without a price are left out of it.
 */
export function formatUsd(usd: number, unknownCalls = 0): string {
  const amount = usd >= 1 ? usd.toFixed(2) : usd.toFixed(6).replace(/0{1,4}$/, '');
  return unknownCalls > 0 ? `$${amount} + ${unknownCalls} unpriced` : `$${amount}`;
}

/** A failed request: the HTTP status and the server's `detail` (plus field errors). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const STORAGE_KEY = 'nest-chatbot.tokens';

export class ApiClient {
  private tokens: Tokens | null = ApiClient.loadTokens();
  private refreshing: Promise<boolean> | null = null;

  /** Called when the session ends (logout, or a refresh that failed). */
  onSignedOut: () => void = () => undefined;

  get accessToken(): string | null {
    return this.tokens?.access_token ?? null;
  }

  get signedIn(): boolean {
    return this.tokens !== null;
  }

  /** When the access token expires (epoch ms, from its `exp` claim), or null if unknown. */
  get accessTokenExpiresAt(): number | null {
    const payload = this.tokens?.access_token.split('.')[1];
    if (!payload) return null;
    try {
      const base64 = payload.replace(/-/g, '+').replace(/_/g, '/');
      const claims = JSON.parse(atob(base64.padEnd(Math.ceil(base64.length / 4) * 4, '='))) as {
        exp?: unknown;
      };
      return typeof claims.exp === 'number' ? claims.exp * 1000 : null;
    } catch {
      return null;
    }
  }

  async register(email: string, password: string): Promise<void> {
    await this.request('POST', '/api/auth/register', { email, password }, false);
  }

  async login(email: string, password: string): Promise<void> {
    this.setTokens(
      await this.request<Tokens>('POST', '/api/auth/login', { email, password }, false),
    );
  }

  /** Revokes the refresh-token family on the server, then forgets the tokens locally. */
  async logout(): Promise<void> {
    const refreshToken = this.tokens?.refresh_token;
    try {
      if (this.tokens) {
        await this.request('POST', '/api/auth/logout', { refresh_token: refreshToken });
      }
    } finally {
      this.setTokens(null);
    }
  }

  /** Exchanges the refresh token for a new pair; false (and signed out) when that fails. */
  refresh(): Promise<boolean> {
    this.refreshing ??= this.doRefresh().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  me(): Promise<UserProfile> {
    return this.request<UserProfile>('GET', '/api/users/me');
  }

  /** The caller's usage from the first of this month (UTC) to today, from GET /api/usage. */
  usageThisMonth(): Promise<UsageReport> {
    return this.request('GET', '/api/usage?group_by=model');
  }

  models(): Promise<{ items: ModelItem[] }> {
    return this.request('GET', '/api/models');
  }

  sessions(perPage = 50): Promise<Paged<SessionSummary>> {
    return this.request('GET', `/api/history?page=1&per_page=${perPage}`);
  }

  session(id: string, page = 1, perPage = 100): Promise<SessionDetail> {
    return this.request(
      'GET',
      `/api/history/${encodeURIComponent(id)}?page=${page}&per_page=${perPage}`,
    );
  }

  renameSession(id: string, title: string): Promise<SessionSummary> {
    return this.request('PATCH', `/api/history/${encodeURIComponent(id)}`, { title });
  }

  /** Makes the branch of `messageId` the conversation's active one. */
  async switchBranch(id: string, messageId: string): Promise<void> {
    await this.request('PATCH', `/api/history/${encodeURIComponent(id)}`, {
      active_message_id: messageId,
    });
  }

  /** Saves the conversation's settings; with `presetId`, the preset's replace them first. */
  async saveSettings(
    id: string,
    settings: Partial<ChatSettings>,
    presetId?: string,
  ): Promise<void> {
    await this.request('PATCH', `/api/history/${encodeURIComponent(id)}`, {
      ...settings,
      ...(presetId ? { preset_id: presetId } : {}),
    });
  }

  presets(): Promise<{ items: Preset[] }> {
    return this.request('GET', '/api/presets');
  }

  createPreset(name: string, settings: ChatSettings): Promise<Preset> {
    return this.request('POST', '/api/presets', { name, ...settings });
  }

  renamePreset(id: string, name: string): Promise<Preset> {
    return this.request('PATCH', `/api/presets/${encodeURIComponent(id)}`, { name });
  }

  async deletePreset(id: string): Promise<void> {
    await this.request('DELETE', `/api/presets/${encodeURIComponent(id)}`);
  }

  /** Rates a reply (`up`/`down`), or with null removes the rating. */
  async rate(id: string, messageId: string, rating: 'up' | 'down' | null): Promise<void> {
    const path = `/api/history/${encodeURIComponent(id)}/messages/${encodeURIComponent(messageId)}/feedback`;
    if (rating) await this.request('PUT', path, { rating });
    else await this.request('DELETE', path);
  }

  async deleteSession(id: string): Promise<void> {
    await this.request('DELETE', `/api/history/${encodeURIComponent(id)}`);
  }

  /** Uploads a file (multipart); its type is decided by the server from the content. */
  async upload(file: File): Promise<FileRef> {
    const response = await this.withRefresh(() => {
      const form = new FormData();
      form.append('file', file, file.name);
      return fetch('/api/files', { method: 'POST', headers: this.authHeader(), body: form });
    });
    return this.parse<FileRef>(response);
  }

  /** A file's bytes (for thumbnails: `URL.createObjectURL`), read with the bearer token. */
  async fileBlob(id: string): Promise<Blob> {
    const response = await this.withRefresh(() =>
      fetch(`/api/files/${encodeURIComponent(id)}`, { headers: this.authHeader() }),
    );
    if (!response.ok) return this.parse<never>(response);
    return response.blob();
  }

  /** One JSON request; on a 401 with a refresh token, refreshes once and retries. */
  async request<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    auth = true,
  ): Promise<T> {
    const response = await this.send(method, path, body, auth);
    if (response.status === 401 && auth && this.tokens && (await this.refresh())) {
      return this.parse<T>(await this.send(method, path, body, auth));
    }
    if (response.status === 401 && auth) this.setTokens(null);
    return this.parse<T>(response);
  }

  /** Runs `call`; after a 401, refreshes the token once and runs it again. */
  private async withRefresh(call: () => Promise<Response>): Promise<Response> {
    const response = await call();
    if (response.status === 401 && this.tokens && (await this.refresh())) return call();
    if (response.status === 401) this.setTokens(null);
    return response;
  }

  private authHeader(): Record<string, string> {
    return this.tokens ? { Authorization: `Bearer ${this.tokens.access_token}` } : {};
  }

  private send(method: string, path: string, body: unknown, auth: boolean): Promise<Response> {
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (auth && this.tokens) headers.Authorization = `Bearer ${this.tokens.access_token}`;
    return fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  }

  private async parse<T>(response: Response): Promise<T> {
    if (response.status === 204) return undefined as T;
    const text = await response.text();
    let payload: unknown = undefined;
    try {
      payload = text ? JSON.parse(text) : undefined;
    } catch {
      payload = undefined;
    }
    if (!response.ok) throw new ApiError(response.status, describeError(response, payload));
    return payload as T;
  }

  private async doRefresh(): Promise<boolean> {
    const refreshToken = this.tokens?.refresh_token;
    if (!refreshToken) return false;
    try {
      const response = await this.send(
        'POST',
        '/api/auth/refresh',
        { refresh_token: refreshToken },
        false,
      );
      if (!response.ok) throw new Error(`refresh failed with ${response.status}`);
      this.setTokens((await response.json()) as Tokens);
      return true;
    } catch {
      this.setTokens(null);
      return false;
    }
  }

  private setTokens(tokens: Tokens | null): void {
    const wasSignedIn = this.tokens !== null;
    this.tokens = tokens;
    if (tokens) localStorage.setItem(STORAGE_KEY, JSON.stringify(tokens));
    else localStorage.removeItem(STORAGE_KEY);
    if (wasSignedIn && !tokens) this.onSignedOut();
  }

  private static loadTokens(): Tokens | null {
    try {
      const stored = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? 'null') as Tokens | null;
      return stored && typeof stored.access_token === 'string' ? stored : null;
    } catch {
      return null;
    }
  }
}

function describeError(response: Response, payload: unknown): string {
  const body = payload as { detail?: unknown; errors?: { field: string; message: string }[] };
  let message = typeof body?.detail === 'string' ? body.detail : `HTTP ${response.status}`;
  if (Array.isArray(body?.errors) && body.errors.length) {
    message += `: ${body.errors.map((e) => `${e.field} ${e.message}`).join('; ')}`;
  }
  const retryAfter = response.headers.get('Retry-After');
  if (response.status === 429 && retryAfter) message += ` (retry in ${retryAfter}s)`;
  return message;
}

/**
 * The browser chat page: sign in, pick a model, chat with replies streamed over Socket.IO
 * (namespace /chat), stop a reply, browse and reload past conversations. Model text only ever
 * reaches the page through `renderMarkdown` (escape first) or `textContent`.
 */
import type { Socket } from 'socket.io-client';
import {
  ApiClient,
  ApiError,
  type HistoryMessage,
  type SessionSummary,
  type Usage,
} from './api.js';
import { renderMarkdown } from './markdown.js';

/** The global from /web/vendor/socket.io.min.js (the socket.io-client browser bundle). */
declare const io: typeof import('socket.io-client').io;

interface StartEvent {
  session_id: string;
  message_id: string;
  model: string;
  client_id?: string;
}
interface DeltaEvent {
  text: string;
  client_id?: string;
}
interface DoneEvent {
  message_id: string;
  model?: string;
  usage?: Usage;
  finish_reason?: string;
  client_id?: string;
}
interface ErrorEvent {
  detail: string;
  status?: number;
  client_id?: string;
}

/** `chat:send` acknowledgement: the session and message ids, or why it was refused. */
interface SendAck {
  ok: boolean;
  session_id?: string;
  message_id?: string;
  detail?: string;
  status?: number;
}

/** The reply being streamed right now (one at a time). */
interface Generation {
  clientId: string;
  sessionId: string | null;
  model: string;
  text: string;
  bubble: MessageView;
  stopRequested: boolean;
}

interface MessageView {
  root: HTMLElement;
  content: HTMLElement;
  meta: HTMLElement;
}

function byId<T extends HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`#${id} is missing from index.html`);
  return element as T;
}

const ui = {
  authView: byId<HTMLElement>('auth-view'),
  authForm: byId<HTMLFormElement>('auth-form'),
  email: byId<HTMLInputElement>('email'),
  password: byId<HTMLInputElement>('password'),
  authError: byId<HTMLElement>('auth-error'),
  registerBtn: byId<HTMLButtonElement>('register-btn'),
  chatView: byId<HTMLElement>('chat-view'),
  newChat: byId<HTMLButtonElement>('new-chat'),
  sessionList: byId<HTMLUListElement>('session-list'),
  userEmail: byId<HTMLElement>('user-email'),
  logout: byId<HTMLButtonElement>('logout'),
  model: byId<HTMLSelectElement>('model'),
  connection: byId<HTMLElement>('connection'),
  messages: byId<HTMLElement>('messages'),
  emptyHint: byId<HTMLElement>('empty-hint'),
  chatError: byId<HTMLElement>('chat-error'),
  composer: byId<HTMLFormElement>('composer'),
  input: byId<HTMLTextAreaElement>('input'),
  send: byId<HTMLButtonElement>('send'),
  stop: byId<HTMLButtonElement>('stop'),
};

const api = new ApiClient();
let socket: Socket | null = null;
let currentSessionId: string | null = null;
let generation: Generation | null = null;
let renderScheduled = false;
let sending = false;

/** Refresh the access token this long before it expires (it is checked on every socket event). */
const TOKEN_REFRESH_MARGIN_MS = 30_000;

// ---------------------------------------------------------------------------------------------
// Views

function showError(target: HTMLElement, message: string | null): void {
  target.textContent = message ?? '';
  target.hidden = !message;
}

function errorMessage(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}

function showAuth(): void {
  disconnectSocket();
  generation = null;
  currentSessionId = null;
  ui.chatView.hidden = true;
  ui.authView.hidden = false;
  ui.password.value = '';
  ui.email.focus();
}

async function showChat(): Promise<void> {
  const me = await api.me();
  ui.userEmail.textContent = me.email;
  ui.authView.hidden = true;
  ui.chatView.hidden = false;
  showError(ui.chatError, null);
  startNewChat();
  connectSocket();
  await Promise.all([loadModels(), loadSessions()]);
  ui.input.focus();
}

function setBusy(busy: boolean): void {
  ui.send.hidden = busy;
  ui.stop.hidden = !busy;
  ui.stop.disabled = false;
  ui.model.disabled = busy;
}

// ---------------------------------------------------------------------------------------------
// Auth

async function submitAuth(mode: 'login' | 'register'): Promise<void> {
  showError(ui.authError, null);
  if (!ui.authForm.reportValidity()) return;
  const email = ui.email.value.trim();
  const password = ui.password.value;
  ui.registerBtn.disabled = true;
  try {
    if (mode === 'register') await api.register(email, password);
    await api.login(email, password);
    await showChat();
  } catch (error) {
    showError(ui.authError, errorMessage(error));
  } finally {
    ui.registerBtn.disabled = false;
  }
}

// ---------------------------------------------------------------------------------------------
// Models and sessions

async function loadModels(): Promise<void> {
  try {
    const { items } = await api.models();
    const previous = ui.model.value;
    ui.model.replaceChildren(
      ...items.map((item) => {
        const option = document.createElement('option');
        option.value = item.id;
        option.textContent = item.default ? `${item.id} (default)` : item.id;
        option.selected = previous ? item.id === previous : item.default;
        return option;
      }),
    );
  } catch (error) {
    showError(ui.chatError, `Could not load models: ${errorMessage(error)}`);
  }
}

async function loadSessions(): Promise<void> {
  try {
    const { items } = await api.sessions();
    ui.sessionList.replaceChildren(...items.map(sessionItem));
  } catch (error) {
    showError(ui.chatError, `Could not load history: ${errorMessage(error)}`);
  }
}

function sessionItem(session: SessionSummary): HTMLLIElement {
  const item = document.createElement('li');
  item.className = 'session';
  item.dataset.sessionId = session.session_id;
  if (session.session_id === currentSessionId) item.classList.add('active');

  const open = document.createElement('button');
  open.type = 'button';
  open.className = 'session-open';
  const title = document.createElement('span');
  title.className = 'session-title';
  title.textContent = session.title || session.last_message || 'New chat';
  const meta = document.createElement('span');
  meta.className = 'muted small';
  meta.textContent = `${session.message_count} messages · ${new Date(session.updated_at).toLocaleString()}`;
  open.append(title, meta);
  open.addEventListener('click', () => void openSession(session.session_id));

  const remove = document.createElement('button');
  remove.type = 'button';
  remove.className = 'session-delete';
  remove.title = 'Delete this conversation';
  remove.setAttribute('aria-label', 'Delete conversation');
  remove.textContent = '×';
  remove.addEventListener('click', () => void deleteSession(session.session_id));

  item.append(open, remove);
  return item;
}

async function openSession(sessionId: string): Promise<void> {
  if (generation) return;
  showError(ui.chatError, null);
  try {
    let detail = await api.session(sessionId);
    const lastPage = Math.max(1, Math.ceil(detail.total / detail.per_page));
    if (lastPage > 1) detail = await api.session(sessionId, lastPage, detail.per_page);
    currentSessionId = detail.session_id;
    clearMessages();
    detail.messages.filter((m) => m.role !== 'system').forEach(showStoredMessage);
    markActiveSession();
    scrollToEnd();
  } catch (error) {
    showError(ui.chatError, `Could not open the conversation: ${errorMessage(error)}`);
  }
}

async function deleteSession(sessionId: string): Promise<void> {
  if (generation?.sessionId === sessionId) return;
  try {
    await api.deleteSession(sessionId);
    if (currentSessionId === sessionId) startNewChat();
    await loadSessions();
  } catch (error) {
    showError(ui.chatError, `Could not delete: ${errorMessage(error)}`);
  }
}

function markActiveSession(): void {
  for (const item of Array.from(ui.sessionList.children) as HTMLElement[]) {
    item.classList.toggle('active', item.dataset.sessionId === currentSessionId);
  }
}

function startNewChat(): void {
  if (generation) return;
  currentSessionId = null;
  clearMessages();
  markActiveSession();
  ui.input.focus();
}

// ---------------------------------------------------------------------------------------------
// Messages

function clearMessages(): void {
  ui.messages.replaceChildren(ui.emptyHint);
  ui.emptyHint.hidden = false;
}

function addMessage(role: 'user' | 'assistant'): MessageView {
  ui.emptyHint.hidden = true;
  const root = document.createElement('article');
  root.className = `msg ${role}`;
  const content = document.createElement('div');
  content.className = 'content';
  const meta = document.createElement('div');
  meta.className = 'meta muted small';
  root.append(content, meta);
  ui.messages.append(root);
  return { root, content, meta };
}

function setUserText(view: MessageView, text: string): void {
  view.content.textContent = text;
}

/** The only way reply text reaches the DOM as HTML: rendered by the escape-first renderer. */
function setReplyText(view: MessageView, text: string): void {
  view.content.innerHTML = renderMarkdown(text);
}

function setStatus(
  view: MessageView,
  status: string,
  model?: string | null,
  usage?: Usage | null,
  note?: string,
) {
  view.root.dataset.status = status;
  const parts: string[] = [];
  if (model) parts.push(model);
  if (usage) parts.push(`${usage.tokens} tokens`);
  if (status === 'aborted') parts.push('stopped');
  if (status === 'error') parts.push('failed');
  if (note) parts.push(note);
  view.meta.textContent = parts.join(' · ');
}

function showStoredMessage(message: HistoryMessage): void {
  const view = addMessage(message.role === 'user' ? 'user' : 'assistant');
  if (message.role === 'user') setUserText(view, message.content);
  else setReplyText(view, message.content);
  setStatus(view, message.status, message.role === 'user' ? null : message.model, message.usage);
}

function scrollToEnd(): void {
  ui.messages.scrollTop = ui.messages.scrollHeight;
}

// ---------------------------------------------------------------------------------------------
// Streaming over Socket.IO

function setConnection(state: 'online' | 'offline' | 'connecting'): void {
  ui.connection.dataset.state = state;
  ui.connection.textContent = state;
}

function connectSocket(): void {
  if (socket) return;
  if (typeof io !== 'function') {
    showError(ui.chatError, 'The Socket.IO client did not load (/web/vendor/socket.io.min.js).');
    return;
  }
  setConnection('connecting');
  // `auth` as a function is re-read on every (re)connect, so a refreshed token is picked up.
  const s = io('/chat', { auth: (cb) => cb({ token: api.accessToken ?? '' }) });
  socket = s;

  s.on('connect', () => {
    setConnection('online');
    showError(ui.chatError, null);
  });
  s.on('disconnect', () => {
    setConnection('offline');
    if (generation) finishGeneration('error', undefined, 'connection lost');
  });
  s.on('connect_error', (error: Error) => {
    setConnection('offline');
    if (error.message !== 'unauthorized') return; // transport trouble: the client retries itself
    // A rejected handshake is not retried automatically: refresh the token, then reconnect.
    void api.refresh().then((ok) => {
      if (ok && socket === s) s.connect();
    });
  });

  s.on('chat:start', (event: StartEvent) => {
    if (!generation || event.client_id !== generation.clientId) return;
    const abortPending = generation.stopRequested && !generation.sessionId;
    generation.sessionId = event.session_id;
    currentSessionId = event.session_id;
    generation.model = event.model;
    setStatus(generation.bubble, 'pending', event.model);
    if (abortPending) s.emit('chat:abort', { session_id: event.session_id });
  });
  s.on('chat:delta', (event: DeltaEvent) => {
    if (!generation || event.client_id !== generation.clientId) return;
    generation.text += event.text;
    scheduleRender();
  });
  s.on('chat:done', (event: DoneEvent) => {
    if (!generation || event.client_id !== generation.clientId) return;
    const status = event.finish_reason === 'aborted' ? 'aborted' : 'complete';
    if (event.model) generation.model = event.model; // differs from chat:start after a fallback
    finishGeneration(status, event.usage);
  });
  s.on('chat:error', (event: ErrorEvent) => {
    if (generation && event.client_id === generation.clientId) {
      finishGeneration('error', undefined, event.detail);
    } else if (!event.client_id) {
      // Not tied to a message (e.g. a refused chat:abort); events of other tabs carry their id.
      showError(ui.chatError, event.detail);
    }
  });
}

/** Reconnects so that the server sees the current token; resolves once it is settled. */
function reconnectSocket(): Promise<void> {
  const s = socket;
  if (!s) return Promise.resolve();
  return new Promise((resolve) => {
    const settled = () => {
      s.off('connect', settled);
      s.off('connect_error', settled);
      resolve();
    };
    s.on('connect', settled);
    s.on('connect_error', settled);
    s.disconnect().connect();
  });
}

/**
 * The socket was authenticated with the token of its handshake, and the server refuses events
 * once that token expires: refresh it shortly before, then reconnect with the new one.
 */
async function ensureFreshToken(): Promise<boolean> {
  const expiresAt = api.accessTokenExpiresAt;
  if (expiresAt === null || expiresAt - Date.now() > TOKEN_REFRESH_MARGIN_MS) return true;
  if (!(await api.refresh())) return false; // signed out: onSignedOut shows the login form
  await reconnectSocket();
  return true;
}

function disconnectSocket(): void {
  socket?.disconnect();
  socket = null;
  setConnection('offline');
}

function scheduleRender(): void {
  if (renderScheduled) return;
  renderScheduled = true;
  requestAnimationFrame(() => {
    renderScheduled = false;
    if (!generation) return;
    setReplyText(generation.bubble, generation.text);
    scrollToEnd();
  });
}

async function sendMessage(): Promise<void> {
  const text = ui.input.value.trim();
  if (!text || generation || sending) return;
  sending = true;
  try {
    if (!(await ensureFreshToken())) return;
  } finally {
    sending = false;
  }
  if (!socket?.connected) {
    showError(ui.chatError, 'Not connected to the chat server yet; try again in a moment.');
    return;
  }
  showError(ui.chatError, null);
  ui.input.value = '';

  setUserText(addMessage('user'), text);
  const bubble = addMessage('assistant');
  bubble.root.classList.add('streaming');
  setStatus(bubble, 'pending', ui.model.value, null, 'thinking…');
  scrollToEnd();

  const clientId =
    typeof crypto.randomUUID === 'function'
      ? crypto.randomUUID()
      : `${Date.now()}-${Math.random().toString(36).slice(2)}`;
  generation = {
    clientId,
    sessionId: currentSessionId,
    model: ui.model.value,
    text: '',
    bubble,
    stopRequested: false,
  };
  setBusy(true);

  const payload: Record<string, string> = { message: text, client_id: clientId };
  if (currentSessionId) payload.session_id = currentSessionId;
  if (ui.model.value) payload.model = ui.model.value;
  socket.emit('chat:send', payload, (ack: SendAck) => {
    if (generation?.clientId !== clientId) return;
    if (ack?.ok && ack.session_id) {
      // Known before chat:start arrives, so Stop works from the first moment.
      generation.sessionId = ack.session_id;
      currentSessionId = ack.session_id;
      if (generation.stopRequested) socket?.emit('chat:abort', { session_id: ack.session_id });
    } else if (ack && !ack.ok) {
      finishGeneration('error', undefined, ack.detail ?? 'The message was refused');
    }
  });
}

function stopGeneration(): void {
  if (!generation || !socket) return;
  generation.stopRequested = true;
  ui.stop.disabled = true;
  // Before chat:start there is no session id yet; the start handler sends the abort then.
  if (generation.sessionId) socket.emit('chat:abort', { session_id: generation.sessionId });
}

function finishGeneration(status: string, usage?: Usage, note?: string): void {
  if (!generation) return;
  const current = generation;
  generation = null;
  setReplyText(current.bubble, current.text);
  current.bubble.root.classList.remove('streaming');
  setStatus(current.bubble, status, current.model, usage, note);
  setBusy(false);
  scrollToEnd();
  void loadSessions();
  ui.input.focus();
}

// ---------------------------------------------------------------------------------------------
// Wiring

ui.authForm.addEventListener('submit', (event) => {
  event.preventDefault();
  void submitAuth('login');
});
ui.registerBtn.addEventListener('click', () => void submitAuth('register'));
// Logging out clears the tokens, which calls onSignedOut (showAuth) even if the request failed.
ui.logout.addEventListener('click', () => void api.logout().catch(() => undefined));
ui.newChat.addEventListener('click', startNewChat);
ui.composer.addEventListener('submit', (event) => {
  event.preventDefault();
  void sendMessage();
});
ui.input.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    void sendMessage();
  }
});
ui.stop.addEventListener('click', stopGeneration);
api.onSignedOut = showAuth;

if (api.signedIn) {
  showChat().catch(() => showAuth());
} else {
  showAuth();
}

/**
 * The browser chat page: sign in, pick a model, chat with replies streamed over Socket.IO
 * (namespace /chat), stop a reply, browse, rename and delete past conversations; a reload
 * reopens the last one. A reply survives a lost connection or a reload: the page resumes it
 * (`chat:resume` from the last event it saw) and says so. Stored messages offer their other
 * versions (‹ 2/3 ›), Regenerate, 👍/👎 and Edit-and-resend (a new branch of the message tree).
 * Images and files are attached with the Attach button or by dropping them on the composer, and
 * shown in the conversation.
 * The Settings panel (settings.ts) holds the conversation's model, system prompt, temperature,
 * max tokens and the user's presets.
 * Model text only ever reaches the page through `renderMarkdown`
 * (escape first) or `textContent`.
 */
import type { Socket } from 'socket.io-client';
import {
  ApiClient,
  ApiError,
  formatUsd,
  type FileRef,
  type HistoryMessage,
  type ToolCallView,
  type Usage,
} from './api.js';
import { AttachmentTray, showAttachments } from './attachments.js';
import { renderMarkdown } from './markdown.js';
import { byId } from './dom.js';
import { LastSessionMemory, SessionList } from './sessions.js';
import { SettingsPanel } from './settings.js';

/** The global from /web/vendor/socket.io.min.js (the socket.io-client browser bundle). */
declare const io: typeof import('socket.io-client').io;

/** What every event of a reply carries: its sequence number, session and sending tab. */
interface ReplyEvent {
  seq?: number;
  session_id?: string;
  client_id?: string;
}
interface StartEvent extends ReplyEvent {
  session_id: string;
  message_id: string;
  model: string;
}
interface DeltaEvent extends ReplyEvent {
  text: string;
}
interface DoneEvent extends ReplyEvent {
  message_id: string;
  model?: string;
  usage?: Usage;
  finish_reason?: string;
}
interface ToolCallEvent extends ReplyEvent {
  id: string;
  name: string;
  arguments: string;
}
interface ToolResultEvent extends ReplyEvent {
  tool_call_id: string;
  name: string;
  content: string;
  is_error: boolean;
}
interface ErrorEvent extends ReplyEvent {
  detail: string;
  status?: number;
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
  /** The reply's message id (from the ack), what a resume asks for. */
  messageId: string | null;
  /** The sequence number of the last event shown; a resume continues after it. */
  lastSeq: number;
  /** True once the reply is streamed by `chat:resume` (its events carry no client_id). */
  resumed: boolean;
  model: string;
  text: string;
  bubble: MessageView;
  stopRequested: boolean;
  /** A regeneration or an edit: the conversation is read again when it ends (new branch). */
  reloadWhenDone?: boolean;
}

interface MessageView {
  root: HTMLElement;
  content: HTMLElement;
  meta: HTMLElement;
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
  sidebarToggle: byId<HTMLButtonElement>('sidebar-toggle'),
  sidebarBackdrop: byId<HTMLElement>('sidebar-backdrop'),
  sessionList: byId<HTMLUListElement>('session-list'),
  sessionsEmpty: byId<HTMLElement>('sessions-empty'),
  userEmail: byId<HTMLElement>('user-email'),
  usageMonth: byId<HTMLElement>('usage-month'),
  logout: byId<HTMLButtonElement>('logout'),
  connection: byId<HTMLElement>('connection'),
  messages: byId<HTMLElement>('messages'),
  emptyHint: byId<HTMLElement>('empty-hint'),
  chatError: byId<HTMLElement>('chat-error'),
  composer: byId<HTMLFormElement>('composer'),
  input: byId<HTMLTextAreaElement>('input'),
  attachments: byId<HTMLUListElement>('attachments'),
  attach: byId<HTMLButtonElement>('attach'),
  fileInput: byId<HTMLInputElement>('file-input'),
  send: byId<HTMLButtonElement>('send'),
  stop: byId<HTMLButtonElement>('stop'),
};

const api = new ApiClient();
const tray = new AttachmentTray(api, ui.attachments, (message) => showError(ui.chatError, message));
const settings = new SettingsPanel(api, () => currentSessionId);
let socket: Socket | null = null;
let currentSessionId: string | null = null;
let lastSession: LastSessionMemory | null = null;
let generation: Generation | null = null;
let renderScheduled = false;
let sending = false;

/**
 * The usage ledger is written in batches (USAGE__FLUSH_MS, 1 s by default): the month's usage is
 * reloaded this long after a reply so that the reply is in it.
 */
const USAGE_RELOAD_DELAY_MS = 1_500;
let usageReload: ReturnType<typeof setTimeout> | undefined;

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
  clearTimeout(usageReload);
  ui.usageMonth.textContent = '';
  generation = null;
  currentSessionId = null;
  lastSession = null;
  setSidebarOpen(false);
  ui.chatView.hidden = true;
  ui.authView.hidden = false;
  ui.password.value = '';
  ui.email.focus();
}

async function showChat(): Promise<void> {
  const me = await api.me();
  ui.userEmail.textContent = me.email;
  ui.userEmail.title = me.email;
  lastSession = new LastSessionMemory(me.id);
  ui.authView.hidden = true;
  ui.chatView.hidden = false;
  showError(ui.chatError, null);
  showBlankChat();
  connectSocket();
  const remembered = lastSession.get();
  await Promise.all([
    loadModels(),
    loadSessions(),
    loadUsage(),
    settings
      .loadPresets()
      .catch((error) => showError(ui.chatError, `Could not load presets: ${errorMessage(error)}`)),
    remembered ? openSession(remembered, { forgetIfGone: true }) : Promise.resolve(),
  ]);
  ui.input.focus();
}

/** The sidebar is a drawer on narrow screens (see style.css); on wide ones this only sets a class. */
function setSidebarOpen(open: boolean): void {
  ui.chatView.classList.toggle('sidebar-open', open);
  ui.sidebarToggle.setAttribute('aria-expanded', String(open));
}

/** The conversation shown now; remembered so that a reload reopens it. */
function setCurrentSession(sessionId: string | null): void {
  currentSessionId = sessionId;
  lastSession?.set(sessionId);
}

function setBusy(busy: boolean): void {
  ui.send.hidden = busy;
  ui.stop.hidden = !busy;
  ui.stop.disabled = false;
  settings.setBusy(busy);
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

/** Shows this month's tokens and cost (GET /api/usage) in the account area. */
async function loadUsage(): Promise<void> {
  try {
    const { totals } = await api.usageThisMonth();
    ui.usageMonth.textContent =
      `This month: ${totals.tokens.toLocaleString('en-US')} tokens · ` +
      formatUsd(totals.cost_usd, totals.cost_unknown_requests);
  } catch {
    ui.usageMonth.textContent = 'This month: usage unavailable';
  }
}

function reloadUsageSoon(): void {
  clearTimeout(usageReload);
  usageReload = setTimeout(() => void loadUsage(), USAGE_RELOAD_DELAY_MS);
}

async function loadModels(): Promise<void> {
  try {
    const { items } = await api.models();
    settings.setModels(items);
  } catch (error) {
    showError(ui.chatError, `Could not load models: ${errorMessage(error)}`);
  }
}

const sessionList = new SessionList(ui.sessionList, ui.sessionsEmpty, {
  open: (sessionId) => void openSession(sessionId),
  rename: async (sessionId, title) => {
    await api.renameSession(sessionId, title);
  },
  remove: deleteSession,
  isBusy: (sessionId) => generation?.sessionId === sessionId,
  showError: (message) => showError(ui.chatError, message),
});

async function loadSessions(): Promise<void> {
  try {
    const { items } = await api.sessions();
    sessionList.render(items, currentSessionId);
  } catch (error) {
    showError(ui.chatError, `Could not load history: ${errorMessage(error)}`);
  }
}

/**
 * Shows a stored conversation (its last page). `forgetIfGone`: a remembered id that was
 * deleted meanwhile (404) silently leaves a new chat instead of an error.
 */
async function openSession(
  sessionId: string,
  { forgetIfGone = false }: { forgetIfGone?: boolean } = {},
): Promise<void> {
  if (generation) return;
  showError(ui.chatError, null);
  setSidebarOpen(false);
  try {
    let detail = await api.session(sessionId);
    const lastPage = Math.max(1, Math.ceil(detail.total / detail.per_page));
    if (lastPage > 1) detail = await api.session(sessionId, lastPage, detail.per_page);
    if (generation) return; // a message was sent while this loaded: that chat wins
    setCurrentSession(detail.session_id);
    settings.show(detail.settings);
    clearMessages();
    const shown = detail.messages.filter((m) => m.role !== 'system');
    const running = shown[shown.length - 1]?.resumable ? shown.pop() : undefined;
    shown.forEach(showStoredMessage);
    if (running) resumeStoredReply(running, detail.session_id);
    sessionList.markActive(currentSessionId);
    scrollToEnd();
  } catch (error) {
    if (forgetIfGone && error instanceof ApiError && error.status === 404) {
      lastSession?.set(null);
      return;
    }
    showError(ui.chatError, `Could not open the conversation: ${errorMessage(error)}`);
  }
}

/** Called once the user confirmed in the list; rejects so the list can show the failure. */
async function deleteSession(sessionId: string): Promise<void> {
  await api.deleteSession(sessionId);
  if (currentSessionId === sessionId) startNewChat();
  await loadSessions();
}

/** "New chat": a blank conversation, and a reload no longer reopens the previous one. */
function startNewChat(): void {
  if (generation) return;
  setCurrentSession(null);
  showBlankChat();
  setSidebarOpen(false);
  ui.input.focus();
}

function showBlankChat(): void {
  currentSessionId = null;
  settings.show(null);
  clearMessages();
  sessionList.markActive(null);
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

/**
 * Shows one tool call of a reply as a line above its text — `name(arguments) → result` — or
 * updates the line of that call (its result arrived). Text only: arguments and results are data.
 */
function setToolCall(view: MessageView, call: ToolCallView): void {
  let list = view.root.querySelector<HTMLUListElement>('.tool-calls');
  if (!list) {
    list = document.createElement('ul');
    list.className = 'tool-calls small';
    view.root.insertBefore(list, view.content);
  }
  let item = [...list.children].find(
    (child): child is HTMLLIElement => (child as HTMLElement).dataset.call === call.id,
  );
  if (!item) {
    item = document.createElement('li');
    item.dataset.call = call.id;
    item.dataset.arguments = call.arguments;
    list.append(item);
  }
  const result = call.result
    ? `${call.result.is_error ? 'error: ' : ''}${call.result.content}`
    : 'waiting for the result';
  item.classList.toggle('failed', Boolean(call.result?.is_error));
  item.textContent = `🔧 ${call.name}(${item.dataset.arguments ?? ''}) → ${result}`;
}

function showStoredMessage(message: HistoryMessage): void {
  const view = addMessage(message.role === 'user' ? 'user' : 'assistant');
  if (message.role === 'user') setUserText(view, message.content);
  else setReplyText(view, message.content);
  for (const call of message.tool_calls ?? []) setToolCall(view, call);
  showAttachments(api, view.content, message.attachments ?? []);
  setStatus(view, message.status, message.role === 'user' ? null : message.model, message.usage);
  view.root.dataset.id = message.id;
  view.root.append(messageControls(message));
}

/** "‹ 2/3 ›" between versions, Regenerate and 👍/👎 on replies, Edit on the user's messages. */
function messageControls(message: HistoryMessage): HTMLElement {
  const bar = document.createElement('div');
  bar.className = 'controls small';
  const button = (label: string, title: string, onClick: () => void, className = '') => {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = `link ${className}`.trim();
    b.textContent = label;
    b.title = title;
    b.setAttribute('aria-label', title);
    b.addEventListener('click', onClick);
    bar.append(b);
    return b;
  };
  if (message.sibling_count > 1) {
    const at = message.sibling_index;
    button(
      '‹',
      'Previous version',
      () => void switchTo(message.sibling_ids[at - 1]),
      'prev',
    ).disabled = at === 0;
    const position = document.createElement('span');
    position.className = 'position muted';
    position.textContent = `${at + 1}/${message.sibling_count}`;
    bar.append(position);
    button('›', 'Next version', () => void switchTo(message.sibling_ids[at + 1]), 'next').disabled =
      at === message.sibling_count - 1;
  }
  if (message.role === 'user') {
    button('Edit', 'Edit and resend', () => startEdit(message), 'edit');
    return bar;
  }
  button('Regenerate', 'Regenerate this reply', () => void regenerate(message.id), 'regenerate');
  const thumbs = (['up', 'down'] as const).map((rating) =>
    button(
      rating === 'up' ? '👍' : '👎',
      rating === 'up' ? 'Good reply' : 'Bad reply',
      () => {
        const on = thumbs[rating === 'up' ? 0 : 1].getAttribute('aria-pressed') !== 'true';
        void rate(message.id, on ? rating : null, thumbs);
      },
      `thumb ${rating}`,
    ),
  );
  thumbs.forEach((b, i) =>
    b.setAttribute('aria-pressed', String(message.feedback?.rating === (i ? 'down' : 'up'))),
  );
  return bar;
}

/** Shows another version of a message: its branch becomes the conversation's active one. */
async function switchTo(messageId: string | undefined): Promise<void> {
  if (!messageId || !currentSessionId || generation) return;
  try {
    await api.switchBranch(currentSessionId, messageId);
    await openSession(currentSessionId);
  } catch (error) {
    showError(ui.chatError, `Could not switch versions: ${errorMessage(error)}`);
  }
}

async function rate(
  messageId: string,
  rating: 'up' | 'down' | null,
  thumbs: HTMLButtonElement[],
): Promise<void> {
  if (!currentSessionId) return;
  try {
    await api.rate(currentSessionId, messageId, rating);
    thumbs[0].setAttribute('aria-pressed', String(rating === 'up'));
    thumbs[1].setAttribute('aria-pressed', String(rating === 'down'));
  } catch (error) {
    showError(ui.chatError, `Could not save the rating: ${errorMessage(error)}`);
  }
}

/** The user message being edited: the next send becomes its sibling (under the same parent). */
let editing: { parentId: string | null } | null = null;

function startEdit(message: HistoryMessage): void {
  if (generation) return;
  editing = { parentId: message.parent_id };
  ui.input.value = message.content;
  ui.input.focus();
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
    // Back after a network drop: continue the reply that was streaming.
    if (generation?.messageId && generation.bubble.root.dataset.resume === 'waiting') {
      resumeGeneration(generation);
    }
  });
  s.on('disconnect', () => {
    setConnection('offline');
    if (!generation) return;
    if (!generation.messageId) {
      finishGeneration('error', undefined, 'connection lost');
      return;
    }
    // The server keeps the reply running for a while (CHAT__RESUME_WINDOW_MS): resume it on
    // reconnect instead of giving up.
    generation.bubble.root.dataset.resume = 'waiting';
    setStatus(
      generation.bubble,
      'pending',
      generation.model,
      null,
      'connection lost, reconnecting…',
    );
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
    if (!generation || !isCurrent(event)) return;
    const abortPending = generation.stopRequested && !generation.sessionId;
    generation.sessionId = event.session_id;
    setCurrentSession(event.session_id);
    generation.model = event.model;
    setStatus(generation.bubble, 'pending', event.model, null, resumedNote(generation));
    if (abortPending) s.emit('chat:abort', { session_id: event.session_id });
  });
  s.on('chat:delta', (event: DeltaEvent) => {
    if (!generation || !isCurrent(event)) return;
    generation.text += event.text;
    scheduleRender();
  });
  s.on('chat:tool_call', (event: ToolCallEvent) => {
    if (!generation || !isCurrent(event)) return;
    const { id, name, arguments: args } = event;
    setToolCall(generation.bubble, { id, name, arguments: args, result: null });
  });
  s.on('chat:tool_result', (event: ToolResultEvent) => {
    if (!generation || !isCurrent(event)) return;
    setToolCall(generation.bubble, {
      id: event.tool_call_id,
      name: event.name,
      arguments: '',
      result: { content: event.content, is_error: event.is_error },
    });
  });
  s.on('chat:done', (event: DoneEvent) => {
    if (!generation || !isCurrent(event)) return;
    const status = event.finish_reason === 'aborted' ? 'aborted' : 'complete';
    if (event.model) generation.model = event.model; // differs from chat:start after a fallback
    finishGeneration(status, event.usage, resumedNote(generation));
  });
  s.on('chat:error', (event: ErrorEvent) => {
    if (generation && (event.client_id || event.seq) && isCurrent(event)) {
      finishGeneration('error', undefined, event.detail);
    } else if (!event.client_id) {
      // Not tied to a message (e.g. a refused chat:abort); events of other tabs carry their id.
      showError(ui.chatError, event.detail);
    }
  });
}

/**
 * True for an event of the reply on screen, counted as seen: the tab's own events (its
 * client_id), or once resumed, the resume's events of that session. Events at or below the last
 * sequence number shown are repeats and are dropped.
 */
function isCurrent(event: ReplyEvent): boolean {
  if (!generation) return false;
  const own = generation.resumed
    ? event.client_id === undefined && event.session_id === generation.sessionId
    : event.client_id === generation.clientId;
  if (!own) return false;
  if (typeof event.seq === 'number') {
    if (event.seq <= generation.lastSeq) return false;
    generation.lastSeq = event.seq;
  }
  return true;
}

/** Says on the reply that it was resumed (after a reload or a lost connection). */
function resumedNote(current: Generation): string | undefined {
  return current.resumed ? 'resumed' : undefined;
}

/** Asks the server for the rest of the reply after the last event shown. */
function resumeGeneration(current: Generation): void {
  if (!socket || !current.messageId) return;
  current.resumed = true;
  delete current.bubble.root.dataset.resume;
  setStatus(current.bubble, 'pending', current.model, null, 'resuming…');
  socket.emit(
    'chat:resume',
    { message_id: current.messageId, after: current.lastSeq },
    (ack: SendAck) => {
      if (generation !== current) return;
      if (ack?.ok) {
        setStatus(current.bubble, 'pending', current.model, null, 'resumed');
        return;
      }
      // Finished too long ago, or lost: show what the history has.
      const sessionId = current.sessionId;
      finishGeneration('error', undefined, 'could not resume');
      if (sessionId) void openSession(sessionId);
    },
  );
}

/**
 * After a reload: a reply still being generated (`resumable`) is shown with its text so far and
 * streamed on from its start, so the text on screen ends exactly as stored.
 */
function resumeStoredReply(message: HistoryMessage, sessionId: string): void {
  if (!socket) return;
  const bubble = addMessage('assistant');
  bubble.root.classList.add('streaming');
  setReplyText(bubble, message.content);
  setStatus(bubble, 'pending', message.model, null, 'resuming…');
  generation = {
    clientId: '',
    sessionId,
    messageId: message.id,
    lastSeq: 0,
    resumed: true,
    model: message.model ?? settings.model,
    text: '',
    bubble,
    stopRequested: false,
  };
  setBusy(true);
  if (socket.connected) resumeGeneration(generation);
  else bubble.root.dataset.resume = 'waiting';
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

/**
 * Before a turn: a fresh token, the settings edited in the panel stored on the conversation so
 * the turn uses them, and the uploads still running finished (a refused one is reported and left
 * out). The attached files, or null (with the reason shown) when the turn cannot go out.
 */
async function prepareTurn(): Promise<FileRef[] | null> {
  sending = true;
  try {
    if (!(await ensureFreshToken())) return null;
    try {
      await settings.saveIfChanged();
    } catch (error) {
      showError(ui.chatError, `Could not save the settings: ${errorMessage(error)}`);
      return null;
    }
    return await tray.ready();
  } finally {
    sending = false;
  }
}

async function sendMessage(): Promise<void> {
  const text = ui.input.value.trim();
  if (!text || generation || sending) return;
  const files = await prepareTurn();
  if (!files) return;
  if (!socket?.connected) {
    showError(ui.chatError, 'Not connected to the chat server yet; try again in a moment.');
    return;
  }
  showError(ui.chatError, null);
  ui.input.value = '';
  tray.clear();
  const edit = editing;
  editing = null;

  const view = addMessage('user');
  setUserText(view, text);
  showAttachments(api, view.content, files);
  const fields: Record<string, unknown> = edit
    ? { message: text, parent_id: edit.parentId }
    : { message: text };
  if (files.length) fields.attachments = files.map((file) => file.id);
  startGeneration(fields);
}

/** Sends a new reply of the stored reply `messageId`'s user message (a new version of it). */
async function regenerate(messageId: string): Promise<void> {
  if (generation || sending || !currentSessionId) return;
  if (!(await prepareTurn()) || !socket?.connected) return;
  showError(ui.chatError, null);
  startGeneration({ regenerate_of: messageId });
}

/**
 * Streams a reply of `fields` into a new bubble, with the session and client id; a new chat's
 * first message also carries the panel's settings (an open one has them stored already).
 */
function startGeneration(fields: Record<string, unknown>): void {
  if (!socket) return;
  const bubble = addMessage('assistant');
  bubble.root.classList.add('streaming');
  setStatus(bubble, 'pending', settings.model, null, 'thinking…');
  scrollToEnd();

  const clientId =
    typeof crypto.randomUUID === 'function'
      ? crypto.randomUUID()
      : `${Date.now()}-${Math.random().toString(36).slice(2)}`;
  generation = {
    clientId,
    sessionId: currentSessionId,
    messageId: null,
    lastSeq: 0,
    resumed: false,
    model: settings.model,
    text: '',
    bubble,
    stopRequested: false,
    reloadWhenDone: 'regenerate_of' in fields || 'parent_id' in fields,
  };
  setBusy(true);

  const payload: Record<string, unknown> = currentSessionId
    ? { ...fields, session_id: currentSessionId }
    : { ...fields, ...settings.firstRequestFields() };
  payload.client_id = clientId;
  socket.emit('chat:send', payload, (ack: SendAck) => {
    if (generation?.clientId !== clientId) return;
    if (ack?.ok && ack.session_id) {
      if (!currentSessionId) settings.markStored();
      // Known before chat:start arrives, so Stop works from the first moment.
      generation.sessionId = ack.session_id;
      generation.messageId = ack.message_id ?? null;
      setCurrentSession(ack.session_id);
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
  delete current.bubble.root.dataset.resume;
  setReplyText(current.bubble, current.text);
  current.bubble.root.classList.remove('streaming');
  setStatus(current.bubble, status, current.model, usage, note);
  setBusy(false);
  scrollToEnd();
  void loadSessions();
  reloadUsageSoon();
  // A new branch: show the conversation as stored, with the new version's "‹ n/m ›".
  if (current.reloadWhenDone && currentSessionId) void openSession(currentSessionId);
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
ui.sidebarToggle.addEventListener('click', () =>
  setSidebarOpen(!ui.chatView.classList.contains('sidebar-open')),
);
ui.sidebarBackdrop.addEventListener('click', () => setSidebarOpen(false));
document.addEventListener('keydown', (event) => {
  if (event.key === 'Escape' && ui.chatView.classList.contains('sidebar-open')) {
    setSidebarOpen(false);
  }
});
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
ui.attach.addEventListener('click', () => ui.fileInput.click());
ui.fileInput.addEventListener('change', () => {
  tray.add(ui.fileInput.files ?? []);
  ui.fileInput.value = '';
});
ui.composer.addEventListener('dragover', (event) => {
  if (!event.dataTransfer?.types.includes('Files')) return;
  event.preventDefault();
  ui.composer.classList.add('dragging');
});
ui.composer.addEventListener('dragleave', () => ui.composer.classList.remove('dragging'));
ui.composer.addEventListener('drop', (event) => {
  ui.composer.classList.remove('dragging');
  if (!event.dataTransfer?.files.length) return;
  event.preventDefault();
  tray.add(event.dataTransfer.files);
});
api.onSignedOut = showAuth;

if (api.signedIn) {
  showChat().catch(() => showAuth());
} else {
  showAuth();
}

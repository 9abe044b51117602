/**
 * The conversation list in the sidebar: open, rename in place, delete after an inline
 * confirmation, and "No conversations yet" when there are none. Titles only reach the DOM
 * through `textContent`.
 */
import type { SessionSummary } from './api.js';

/** What the list asks the page to do; rename and remove reject with a readable error. */
export interface SessionListActions {
  open(sessionId: string): void;
  rename(sessionId: string, title: string): Promise<void>;
  remove(sessionId: string): Promise<void>;
  /** True while this session streams a reply: it cannot be deleted then. */
  isBusy(sessionId: string): boolean;
  showError(message: string): void;
}

/** The most characters PATCH /api/history/{id} accepts for a title. */
const MAX_TITLE_CHARS = 200;

export class SessionList {
  constructor(
    private readonly list: HTMLUListElement,
    private readonly empty: HTMLElement,
    private readonly actions: SessionListActions,
  ) {}

  render(sessions: SessionSummary[], activeId: string | null): void {
    this.list.replaceChildren(...sessions.map((session) => this.item(session)));
    this.empty.hidden = sessions.length > 0;
    this.markActive(activeId);
  }

  markActive(activeId: string | null): void {
    for (const item of Array.from(this.list.children) as HTMLElement[]) {
      item.classList.toggle('active', item.dataset.sessionId === activeId);
    }
  }

  private item(session: SessionSummary): HTMLLIElement {
    const item = document.createElement('li');
    item.className = 'session';
    item.dataset.sessionId = session.session_id;
    this.showSummary(item, session);
    return item;
  }

  private showSummary(item: HTMLLIElement, session: SessionSummary): void {
    const name = displayTitle(session);
    const open = button('session-open', '', () => this.actions.open(session.session_id));
    open.title = name;
    const title = span('session-title', name);
    const meta = span(
      'session-meta muted small',
      `${session.message_count} messages · ${new Date(session.updated_at).toLocaleString()}`,
    );
    open.append(title, meta);

    const rename = button('session-action session-rename', '✎', () =>
      this.showRename(item, session),
    );
    rename.title = 'Rename this conversation';
    rename.setAttribute('aria-label', `Rename conversation ${name}`);
    const remove = button('session-action session-delete', '×', () =>
      this.confirmDelete(item, session),
    );
    remove.title = 'Delete this conversation';
    remove.setAttribute('aria-label', `Delete conversation ${name}`);
    item.replaceChildren(open, rename, remove);
  }

  private showRename(item: HTMLLIElement, session: SessionSummary): void {
    const form = document.createElement('form');
    form.className = 'session-form session-rename-form';
    const input = document.createElement('input');
    input.type = 'text';
    input.required = true;
    input.maxLength = MAX_TITLE_CHARS;
    input.value = session.title ?? displayTitle(session);
    input.setAttribute('aria-label', 'New title');
    const save = document.createElement('button');
    save.type = 'submit';
    save.textContent = 'Save';
    const cancel = button('secondary', 'Cancel', () => this.showSummary(item, session));
    form.append(input, save, cancel);
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const title = input.value.trim();
      if (!title) return;
      save.disabled = true;
      this.actions.rename(session.session_id, title).then(
        () => this.showSummary(item, { ...session, title }),
        (error: unknown) => {
          save.disabled = false;
          this.actions.showError(`Could not rename: ${messageOf(error)}`);
        },
      );
    });
    input.addEventListener('keydown', (event) => {
      if (event.key !== 'Escape') return;
      event.stopPropagation(); // closes the form, not the drawer around it
      this.showSummary(item, session);
    });
    item.replaceChildren(form);
    input.focus();
    input.select();
  }

  private confirmDelete(item: HTMLLIElement, session: SessionSummary): void {
    if (this.actions.isBusy(session.session_id)) {
      this.actions.showError('Stop the reply before deleting this conversation.');
      return;
    }
    const form = document.createElement('div');
    form.className = 'session-form session-confirm';
    form.setAttribute('role', 'group');
    const prompt = span('prompt small', `Delete “${displayTitle(session)}”?`);
    prompt.classList.add('session-title');
    const confirm = button('danger session-confirm-delete', 'Delete', () => {
      confirm.disabled = true;
      this.actions.remove(session.session_id).catch((error: unknown) => {
        this.actions.showError(`Could not delete: ${messageOf(error)}`);
        this.showSummary(item, session);
      });
    });
    const cancel = button('secondary session-confirm-cancel', 'Cancel', () =>
      this.showSummary(item, session),
    );
    form.append(prompt, confirm, cancel);
    item.replaceChildren(form);
    cancel.focus();
  }
}

function displayTitle(session: SessionSummary): string {
  return session.title || session.last_message || 'New chat';
}

function button(className: string, text: string, onClick: () => void): HTMLButtonElement {
  const element = document.createElement('button');
  element.type = 'button';
  element.className = className;
  element.textContent = text;
  element.addEventListener('click', onClick);
  return element;
}

function span(className: string, text: string): HTMLSpanElement {
  const element = document.createElement('span');
  element.className = className;
  element.textContent = text;
  return element;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Which conversation was open, per user, so that a reload reopens it. Cleared by "New chat"
 * and when that conversation is deleted or no longer exists.
 */
export class LastSessionMemory {
  private static readonly PREFIX = 'nest-chatbot.last-session.';

  constructor(private readonly userId: string) {}

  get(): string | null {
    try {
      return localStorage.getItem(LastSessionMemory.PREFIX + this.userId);
    } catch {
      return null; // storage disabled: nothing to reopen
    }
  }

  set(sessionId: string | null): void {
    try {
      if (sessionId) localStorage.setItem(LastSessionMemory.PREFIX + this.userId, sessionId);
      else localStorage.removeItem(LastSessionMemory.PREFIX + this.userId);
    } catch {
      // storage disabled or full: the page works, a reload just starts a new chat
    }
  }
}

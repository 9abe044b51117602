/**
 * The conversation settings panel: model, system prompt, temperature and max reply tokens of the
 * conversation shown, and the user's presets (apply, save as new, rename, delete). An open
 * conversation keeps its settings on the server (PATCH /api/history/{id}); a new chat has none
 * yet, so its first message carries them (and the applied preset's id). Names only reach the DOM
 * through `textContent`.
 */
import { ApiClient, type ChatSettings, type ModelItem, type Preset } from './api.js';
import { byId } from './dom.js';

const BLANK: ChatSettings = {
  system_prompt: null,
  model: null,
  temperature: null,
  max_tokens: null,
};

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class SettingsPanel {
  private readonly el = {
    toggle: byId<HTMLButtonElement>('settings-toggle'),
    summary: byId<HTMLElement>('settings-summary'),
    form: byId<HTMLFormElement>('settings-panel'),
    model: byId<HTMLSelectElement>('model'),
    systemPrompt: byId<HTMLTextAreaElement>('system-prompt'),
    temperature: byId<HTMLInputElement>('temperature'),
    maxTokens: byId<HTMLInputElement>('max-tokens'),
    save: byId<HTMLButtonElement>('settings-save'),
    status: byId<HTMLElement>('settings-status'),
    error: byId<HTMLElement>('settings-error'),
    presetSelect: byId<HTMLSelectElement>('preset-select'),
    presetApply: byId<HTMLButtonElement>('preset-apply'),
    presetDelete: byId<HTMLButtonElement>('preset-delete'),
    presetConfirm: byId<HTMLElement>('preset-confirm'),
    presetConfirmText: byId<HTMLElement>('preset-confirm-text'),
    presetConfirmDelete: byId<HTMLButtonElement>('preset-confirm-delete'),
    presetConfirmCancel: byId<HTMLButtonElement>('preset-confirm-cancel'),
    presetName: byId<HTMLInputElement>('preset-name'),
    presetSave: byId<HTMLButtonElement>('preset-save'),
    presetRename: byId<HTMLButtonElement>('preset-rename'),
  };
  private defaultModel = '';
  private presets: Preset[] = [];
  /** The conversation's settings as stored; the fields differ from them when there are edits. */
  private stored: ChatSettings = BLANK;
  /** A preset applied to a new chat: its first message names it (`preset_id`). */
  private pendingPreset: Preset | null = null;

  /** `currentSession`: the conversation shown, or null for a new chat. */
  constructor(
    private readonly api: ApiClient,
    private readonly currentSession: () => string | null,
  ) {
    const { el } = this;
    el.toggle.addEventListener('click', () => this.setOpen(el.form.hidden));
    el.form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.run(() => this.save());
    });
    el.form.addEventListener('input', () => this.showStatus(this.dirty ? 'Not saved yet' : ''));
    el.presetApply.addEventListener('click', () => void this.run(() => this.applyPreset()));
    el.presetSave.addEventListener('click', () => void this.run(() => this.savePreset()));
    el.presetRename.addEventListener('click', () => void this.run(() => this.renamePreset()));
    el.presetDelete.addEventListener('click', () => this.confirmDelete(true));
    el.presetConfirmCancel.addEventListener('click', () => this.confirmDelete(false));
    el.presetConfirmDelete.addEventListener(
      'click',
      () => void this.run(() => this.deletePreset()),
    );
    el.presetSelect.addEventListener('change', () => this.confirmDelete(false));
  }

  setOpen(open: boolean): void {
    this.el.form.hidden = !open;
    this.el.toggle.setAttribute('aria-expanded', String(open));
    if (open) this.el.model.focus();
  }

  /** No changes while a reply streams: it was started with the settings shown. */
  setBusy(busy: boolean): void {
    for (const control of this.el.form.querySelectorAll<HTMLInputElement>(
      'input, select, textarea, button',
    )) {
      control.disabled = busy;
    }
  }

  setModels(items: ModelItem[]): void {
    this.defaultModel = items.find((item) => item.default)?.id ?? items[0]?.id ?? '';
    const shown = this.el.model.value;
    this.el.model.replaceChildren(
      ...items.map((item) => {
        const option = document.createElement('option');
        option.value = item.id;
        option.textContent = item.default ? `${item.id} (default)` : item.id;
        return option;
      }),
    );
    this.el.model.value = shown || this.stored.model || this.defaultModel;
    this.updateSummary();
  }

  /** Shows a conversation's stored settings, or with null the blank settings of a new chat. */
  show(settings: ChatSettings | null): void {
    this.stored = settings ?? BLANK;
    this.pendingPreset = null;
    this.fill(this.stored);
    this.showStatus('');
    this.showError(null);
  }

  /** The model replies will come from (for the reply's label before the server names it). */
  get model(): string {
    return this.el.model.value;
  }

  /** True when the fields differ from the conversation's stored settings. */
  get dirty(): boolean {
    return !sameSettings(this.normalized(this.values()), this.normalized(this.stored));
  }

  /** Before a turn of an open conversation: stores edited settings so the turn uses them. */
  async saveIfChanged(): Promise<void> {
    if (this.currentSession() && this.dirty) await this.save();
  }

  /**
   * What the first message of a new chat carries: the settings shown, or the applied preset's
   * id plus only the fields changed since (so the new conversation gets the preset's settings).
   */
  firstRequestFields(): Record<string, string | number> {
    const values = this.values();
    const fields: Record<string, string | number> = {};
    const base = this.pendingPreset;
    for (const key of Object.keys(values) as (keyof ChatSettings)[]) {
      const value = values[key];
      if (value === null) continue;
      if (base && this.normalized(base)[key] === this.normalized(values)[key]) continue;
      fields[key] = value;
    }
    if (base) fields.preset_id = base.id;
    return fields;
  }

  /** The first message of a new chat was accepted: what it carried is now the stored settings. */
  markStored(): void {
    this.stored = this.pendingPreset
      ? settingsOf({ ...this.pendingPreset, ...this.changedSincePreset() })
      : this.values();
    this.pendingPreset = null;
    this.showStatus('');
  }

  async loadPresets(selectId?: string): Promise<void> {
    const { items } = await this.api.presets();
    this.presets = items;
    const select = this.el.presetSelect;
    const previous = selectId ?? select.value;
    const placeholder = document.createElement('option');
    placeholder.value = '';
    placeholder.textContent = items.length ? 'Choose a preset…' : 'No presets yet';
    select.replaceChildren(
      placeholder,
      ...items.map((preset) => {
        const option = document.createElement('option');
        option.value = preset.id;
        option.textContent = preset.name;
        return option;
      }),
    );
    select.value = items.some((preset) => preset.id === previous) ? previous : '';
  }

  private async save(): Promise<string> {
    if (!this.el.form.reportValidity()) throw new Error('Check the highlighted setting');
    const sessionId = this.currentSession();
    const values = this.values();
    this.updateSummary();
    // A new chat has nothing to store them in yet: its first message carries them.
    if (!sessionId) return 'Used from the first message';
    await this.api.saveSettings(sessionId, values);
    this.stored = values;
    return 'Saved';
  }

  private async applyPreset(): Promise<string> {
    const preset = this.selectedPreset();
    const sessionId = this.currentSession();
    if (!sessionId) {
      this.fill(preset);
      this.pendingPreset = preset;
      return `“${preset.name}” applied; used from the first message`;
    }
    await this.api.saveSettings(sessionId, {}, preset.id);
    const { settings } = await this.api.session(sessionId, 1, 1);
    this.show(settings);
    return `“${preset.name}” applied`;
  }

  private async savePreset(): Promise<string> {
    if (!this.el.form.reportValidity()) throw new Error('Check the highlighted setting');
    const preset = await this.api.createPreset(this.presetName(), this.values());
    await this.loadPresets(preset.id);
    this.el.presetName.value = '';
    return `Saved as “${preset.name}”`;
  }

  private async renamePreset(): Promise<string> {
    const preset = this.selectedPreset();
    const renamed = await this.api.renamePreset(preset.id, this.presetName());
    await this.loadPresets(renamed.id);
    this.el.presetName.value = '';
    return `Renamed to “${renamed.name}”`;
  }

  private async deletePreset(): Promise<string> {
    const preset = this.selectedPreset();
    await this.api.deletePreset(preset.id);
    this.confirmDelete(false);
    if (this.pendingPreset?.id === preset.id) this.pendingPreset = null;
    await this.loadPresets();
    return `Deleted “${preset.name}”`;
  }

  private confirmDelete(open: boolean): void {
    const preset = this.presets.find((p) => p.id === this.el.presetSelect.value);
    if (open && !preset) {
      this.showError('Choose a preset first');
      return;
    }
    this.el.presetConfirm.hidden = !open;
    if (open && preset) {
      this.el.presetConfirmText.textContent = `Delete the preset “${preset.name}”?`;
      this.el.presetConfirmCancel.focus();
    }
  }

  /** Runs a panel action, showing its outcome (or `done`) in the status line, or its error. */
  private async run(action: () => Promise<string>): Promise<void> {
    this.showError(null);
    try {
      this.showStatus(await action());
    } catch (error) {
      this.showError(errorText(error));
    }
  }

  private selectedPreset(): Preset {
    const preset = this.presets.find((p) => p.id === this.el.presetSelect.value);
    if (!preset) throw new Error('Choose a preset first');
    return preset;
  }

  private presetName(): string {
    const name = this.el.presetName.value.trim();
    if (!name) {
      this.el.presetName.focus();
      throw new Error('Type a name for the preset');
    }
    return name;
  }

  private changedSincePreset(): Partial<ChatSettings> {
    const { preset_id: _presetId, ...changed } = this.firstRequestFields();
    return changed;
  }

  private values(): ChatSettings {
    const number = (input: HTMLInputElement) =>
      input.value.trim() === '' || Number.isNaN(input.valueAsNumber) ? null : input.valueAsNumber;
    return {
      system_prompt: this.el.systemPrompt.value.trim() || null,
      model: this.el.model.value || null,
      temperature: number(this.el.temperature),
      max_tokens: number(this.el.maxTokens),
    };
  }

  /** Compared as the server applies them: no model means the default one. */
  private normalized(settings: ChatSettings): ChatSettings {
    return { ...settings, model: settings.model ?? (this.defaultModel || null) };
  }

  private fill(settings: ChatSettings): void {
    this.el.model.value = settings.model ?? this.defaultModel;
    this.el.systemPrompt.value = settings.system_prompt ?? '';
    this.el.temperature.value = settings.temperature === null ? '' : String(settings.temperature);
    this.el.maxTokens.value = settings.max_tokens === null ? '' : String(settings.max_tokens);
    this.updateSummary();
  }

  private updateSummary(): void {
    const { model, system_prompt: prompt } = this.values();
    this.el.summary.textContent = [model, prompt ? 'system prompt' : '']
      .filter(Boolean)
      .join(' · ');
  }

  private showStatus(message: string): void {
    this.el.status.textContent = message;
  }

  private showError(message: string | null): void {
    this.el.error.textContent = message ?? '';
    this.el.error.hidden = !message;
  }
}

function settingsOf(from: ChatSettings): ChatSettings {
  const { system_prompt, model, temperature, max_tokens } = from;
  return { system_prompt, model, temperature, max_tokens };
}

function sameSettings(a: ChatSettings, b: ChatSettings): boolean {
  return (
    a.system_prompt === b.system_prompt &&
    a.model === b.model &&
    a.temperature === b.temperature &&
    a.max_tokens === b.max_tokens
  );
}

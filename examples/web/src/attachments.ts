/**
 * Attachments on the chat page: the tray of files attached to the message being written
 * (uploaded as soon as they are picked or dropped) and the thumbnails of a sent message's files.
 * Files are read with the bearer token and shown from blob: URLs (an <img src> cannot send it).
 */
import type { ApiClient, FileRef } from './api.js';

interface TrayItem {
  element: HTMLLIElement;
  ref?: FileRef;
  upload: Promise<void>;
}

/** The files attached to the next message, with a remove button each. */
export class AttachmentTray {
  private items: TrayItem[] = [];

  constructor(
    private readonly api: ApiClient,
    private readonly list: HTMLUListElement,
    private readonly onError: (message: string) => void,
  ) {}

  /** Uploads each file and lists it; a refused one (type, size, quota) is reported and dropped. */
  add(files: Iterable<File>): void {
    for (const file of files) {
      const element = document.createElement('li');
      element.className = 'attachment';
      element.dataset.state = 'uploading';
      element.textContent = file.name;
      const item: TrayItem = { element, upload: Promise.resolve() };
      item.upload = this.api.upload(file).then(
        (ref) => {
          item.ref = ref;
          element.dataset.state = 'ready';
          element.dataset.id = ref.id;
          const remove = document.createElement('button');
          remove.type = 'button';
          remove.className = 'secondary remove';
          remove.title = `Remove ${ref.name}`;
          remove.textContent = '×';
          remove.addEventListener('click', () => this.remove(item));
          element.append(remove);
        },
        (error: unknown) => {
          this.remove(item);
          this.onError(`${file.name}: ${error instanceof Error ? error.message : String(error)}`);
        },
      );
      this.items.push(item);
      this.list.append(element);
    }
    this.list.hidden = this.items.length === 0;
  }

  /** The attached files once every upload has ended (failed ones are left out). */
  async ready(): Promise<FileRef[]> {
    await Promise.all(this.items.map((item) => item.upload));
    return this.items.flatMap((item) => (item.ref ? [item.ref] : []));
  }

  clear(): void {
    this.items = [];
    this.list.replaceChildren();
    this.list.hidden = true;
  }

  private remove(item: TrayItem): void {
    this.items = this.items.filter((other) => other !== item);
    item.element.remove();
    this.list.hidden = this.items.length === 0;
  }
}

/** Appends a message's files to its bubble: images as thumbnails, other files by name. */
export function showAttachments(api: ApiClient, bubble: HTMLElement, refs: FileRef[]): void {
  if (refs.length === 0) return;
  const list = document.createElement('ul');
  list.className = 'attachments';
  for (const ref of refs) {
    const item = document.createElement('li');
    item.className = 'attachment';
    item.dataset.id = ref.id;
    item.title = ref.name;
    if (ref.media_type.startsWith('image/')) {
      const img = document.createElement('img');
      img.className = 'thumb';
      img.alt = ref.name;
      item.append(img);
      api.fileBlob(ref.id).then(
        (blob) => {
          img.src = URL.createObjectURL(blob);
        },
        () => {
          item.textContent = `${ref.name} (no longer available)`;
        },
      );
    } else {
      item.textContent = ref.name;
    }
    list.append(item);
  }
  bubble.append(list);
}

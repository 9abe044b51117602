import { InvalidInputError } from '@app/common';
import type { LoadedFile } from '../files/files.service';
import type { MessageAttachment, MessageRole } from '../history/history-store.interface';
import type { BinaryInput, ProviderMessage } from '../providers/chat-provider.interface';
import type { ListedModel, ResolvedModel } from '../providers/generation.types';
import type { BinaryInputKind } from '../providers/model-catalog';

const KIND_NAMES: Record<BinaryInputKind, string> = { image: 'images', pdf: 'PDF files' };

/**
 * A message as the model receives it: text files inlined after the text, each in a `<file>`
 * block with its name; images and PDFs as `inputs` when the model takes them, else a note in
 * the text (an earlier turn's image, sent to a model chosen later). A file deleted since it was
 * attached leaves a note too.
 */
export function promptMessage(
  role: MessageRole,
  content: string,
  attachments: readonly MessageAttachment[],
  files: ReadonlyMap<string, LoadedFile>,
  accepts: readonly BinaryInputKind[],
): ProviderMessage {
  let text = content;
  const inputs: BinaryInput[] = [];
  for (const attachment of attachments) {
    const file = files.get(attachment.id);
    if (!file) {
      text += `\n\n[Attached file "${attachment.name}" is no longer available]`;
    } else if (file.kind === 'text') {
      const body = file.bytes.toString('utf8');
      const name = attachment.name.replace(/"/g, "'");
      text += `\n\n<file name="${name}" type="${file.mediaType}">\n${body}\n</file>`;
    } else if (accepts.includes(file.kind)) {
      inputs.push({
        kind: file.kind,
        mediaType: file.mediaType,
        name: file.name,
        data: file.bytes.toString('base64'),
      });
    } else {
      text += `\n\n[Attached ${file.kind === 'image' ? 'image' : 'PDF'} "${attachment.name}" omitted: this model cannot read it]`;
    }
  }
  return inputs.length > 0 ? { role, content: text, inputs } : { role, content: text };
}

/**
 * 400 when the message attaches images or PDFs the model cannot read, naming the configured
 * models that can.
 */
export function checkModelTakes(
  model: ResolvedModel,
  attachments: readonly { name: string; mediaType: string; kind: string }[],
  models: readonly ListedModel[],
): void {
  for (const kind of ['image', 'pdf'] as const) {
    const refused = attachments.filter((file) => file.kind === kind);
    if (refused.length === 0 || model.inputs.includes(kind)) continue;
    const able = models.filter((candidate) => candidate.inputs.includes(kind)).map((m) => m.id);
    const names = refused.map((file) => file.name).join(', ');
    const alternatives = able.length
      ? `models that can: ${able.join(', ')}`
      : 'no configured model can';
    throw new InvalidInputError(
      `Model ${model.id} cannot read ${KIND_NAMES[kind]} (${names}); ${alternatives}`,
      [{ field: 'attachments', message: `${model.id} cannot read ${KIND_NAMES[kind]}` }],
    );
  }
}

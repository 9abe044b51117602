import { ApiProperty } from '@nestjs/swagger';
import { IsDefined, ValidateBy } from 'class-validator';

/** Most conversations one import request may carry. */
export const MAX_IMPORT_CONVERSATIONS = 100;

/** Body of `POST /api/history/import`. */
export class ImportHistoryDto {
  @ApiProperty({
    oneOf: [
      { type: 'object', additionalProperties: true },
      { type: 'array', items: { type: 'object', additionalProperties: true } },
    ],
    example: [
      {
        title: 'Trip to Lisbon',
        create_time: 1732550400.5,
        update_time: 1732550460.1,
        current_node: 'b',
        mapping: {
          a: {
            id: 'a',
            parent: null,
            children: ['b'],
            message: {
              author: { role: 'user' },
              content: { content_type: 'text', parts: ['Plan two days in Lisbon'] },
              create_time: 1732550400.5,
            },
          },
          b: {
            id: 'b',
            parent: 'a',
            children: [],
            message: {
              author: { role: 'assistant' },
              content: { content_type: 'text', parts: ['Day 1: Alfama…'] },
              create_time: 1732550460.1,
              metadata: { model_slug: 'gpt-4o' },
            },
          },
        },
      },
    ],
    description:
      "The file's JSON as it is: this service's JSON export of a session (one object, or a list of them), " +
      `or a ChatGPT data export's \`conversations.json\` (a list). At most ${MAX_IMPORT_CONVERSATIONS} ` +
      'conversations of at most 10,000 messages each; the whole body is bounded by BODY_LIMIT.',
  })
  @IsDefined({ message: 'data is required' })
  @ValidateBy({
    name: 'isConversationFile',
    validator: {
      validate: (value: unknown) =>
        typeof value === 'object' &&
        value !== null &&
        (!Array.isArray(value) || value.length <= MAX_IMPORT_CONVERSATIONS),
      defaultMessage: () =>
        `data must be an export object or a list of at most ${MAX_IMPORT_CONVERSATIONS} conversations`,
    },
  })
  data: unknown;
}

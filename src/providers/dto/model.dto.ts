import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type { ListedModel } from '../generation.types';

export class ModelDto {
  @ApiProperty({
    example: 'groq/llama-3.1-8b-instant',
    description: '`provider/model`, the value of `model` in chat requests',
  })
  id: string;

  @ApiProperty({ example: 'groq', description: 'Provider prefix of the id' })
  provider: string;

  @ApiPropertyOptional({
    type: 'integer',
    example: 131072,
    description: 'Context window in tokens, when known',
  })
  context_window?: number;

  @ApiProperty({
    type: [String],
    enum: ['image', 'pdf'],
    example: ['image', 'pdf'],
    description:
      'Chat `attachments` it takes besides text files (which every model takes, inlined as text)',
  })
  inputs: string[];

  @ApiProperty({
    example: true,
    description:
      'It can call the functions of a request’s `tools`; false (the offline `local` provider): ' +
      'it answers in text and the tools are ignored',
  })
  tools: boolean;

  @ApiProperty({ example: true, description: 'Used when a chat request names no model' })
  default: boolean;
}

export class ModelListDto {
  @ApiProperty({ type: [ModelDto] })
  items: ModelDto[];
}

export function mapModel(model: ListedModel): ModelDto {
  return {
    id: model.id,
    provider: model.provider,
    context_window: model.contextWindow,
    inputs: [...model.inputs],
    tools: model.tools,
    default: model.default,
  };
}

import { DomainError, NotFoundError } from '@app/common';

/** A model id that no configured provider serves (OpenAI answers 404 `model_not_found`). */
export class ModelNotFoundError extends NotFoundError {
  readonly openAiCode = 'model_not_found';
}

/** A prompt longer than the model's context window (400 `context_length_exceeded`). */
export class ContextLengthExceededError extends DomainError {
  readonly kind = 'validation';
  readonly openAiCode = 'context_length_exceeded';
}

import type { NextFunction, Request, Response } from 'express';
import { InvalidInputError } from '../errors/domain-errors';

/**
 * Deepest nesting of objects and arrays accepted in a JSON body or socket payload. Our DTOs are
 * at most two levels deep; the limit only has to stop a body that would overflow the stack of
 * class-transformer and class-validator (both recurse), which happens in the thousands.
 */
export const MAX_JSON_DEPTH = 32;

/** The 400 detail of a body or payload nested deeper than MAX_JSON_DEPTH. */
export const JSON_TOO_DEEP_DETAIL = `JSON nested deeper than ${MAX_JSON_DEPTH} levels`;

/**
 * True when `value` nests objects/arrays more than `limit` levels (`{}` is one level). Walks
 * with an explicit stack, so the check itself cannot overflow; stops at the first too-deep node.
 */
export function isNestedDeeperThan(value: unknown, limit: number): boolean {
  const stack: { node: unknown; depth: number }[] = [{ node: value, depth: 0 }];
  while (stack.length) {
    const { node, depth } = stack.pop()!;
    if (node === null || typeof node !== 'object') continue;
    if (depth + 1 > limit) return true;
    for (const child of Object.values(node)) {
      if (child !== null && typeof child === 'object') {
        stack.push({ node: child, depth: depth + 1 });
      }
    }
  }
  return false;
}

/** Throws the 400 of a payload nested deeper than MAX_JSON_DEPTH. */
export function assertJsonDepth(value: unknown): void {
  if (isNestedDeeperThan(value, MAX_JSON_DEPTH)) throw new InvalidInputError(JSON_TOO_DEEP_DETAIL);
}

/**
 * Express middleware placed right after the body parsers: a too-deep body is refused with 400
 * before the validation pipe recurses into it. (Form bodies are parsed flat, `extended: false`.)
 */
export function rejectDeepJsonBodies(request: Request, _response: Response, next: NextFunction) {
  try {
    assertJsonDepth(request.body);
    next();
  } catch (error) {
    next(error);
  }
}

import { ExecutionContext, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';

const AUTH_RATE_LIMIT = 'chatbot:auth-rate-limit';
const reflector = new Reflector();

/**
 * Puts a route under the strict per-IP `auth` limit (`RATE_LIMIT__AUTH_PER_MINUTE`), shared by
 * all routes that carry it: login, register, refresh and password reset.
 */
export const AuthRateLimit = (): MethodDecorator & ClassDecorator =>
  SetMetadata(AUTH_RATE_LIMIT, true);

export function hasAuthRateLimit(context: ExecutionContext): boolean {
  return (
    reflector.getAllAndOverride<boolean | undefined>(AUTH_RATE_LIMIT, [
      context.getHandler(),
      context.getClass(),
    ]) === true
  );
}

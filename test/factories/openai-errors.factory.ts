/**
 * A `/v1` 400 body: OpenAI's `invalid_request_error` envelope naming the field, whose message
 * contains `message`, and the project's `detail` repeating it.
 */
export function expectInvalidRequestBody(body: unknown, message: string): void {
  const { error, detail } = body as { error: { message: string }; detail: unknown };
  expect(error).toEqual({
    message: expect.stringContaining(message),
    type: 'invalid_request_error',
    param: expect.any(String),
    code: null,
  });
  expect(detail).toBe(error.message);
}

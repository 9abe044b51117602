import { randomBytes } from 'node:crypto';

export interface LoggedInUser {
  id: string;
  email: string;
  password: string;
  /** Access token for `Authorization: Bearer`. */
  token: string;
  refreshToken: string;
}

/**
 * Registers a fresh account through the real API and logs it in (JSON login). Throws with the
 * response text when either call fails, so a broken auth flow is obvious in any suite.
 */
export async function registerAndLogin(
  baseUrl: string,
  email = `user-${randomBytes(6).toString('hex')}@example.com`,
  password = 'correct horse battery staple',
): Promise<LoggedInUser> {
  const register = await fetch(new URL('/api/auth/register', baseUrl), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  if (register.status !== 201) {
    throw new Error(`register failed: ${register.status} ${await register.text()}`);
  }
  const account = (await register.json()) as { id: string; email: string };
  const login = await fetch(new URL('/api/auth/login', baseUrl), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  if (login.status !== 200) {
    throw new Error(`login failed: ${login.status} ${await login.text()}`);
  }
  const tokens = (await login.json()) as { access_token: string; refresh_token: string };
  return {
    id: String(account.id),
    email: account.email,
    password,
    token: tokens.access_token,
    refreshToken: tokens.refresh_token,
  };
}

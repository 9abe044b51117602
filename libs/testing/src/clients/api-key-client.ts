/**
 * Creates a personal API key through the real API (`POST /api/keys` with the user's access
 * token) and returns the key itself; throws with the response text when that fails.
 */
export async function createApiKey(
  baseUrl: string,
  token: string,
  scopes: string[],
  name = 'test key',
): Promise<string> {
  const res = await fetch(new URL('/api/keys', baseUrl), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
    body: JSON.stringify({ name, scopes }),
  });
  if (res.status !== 201) throw new Error(`key creation failed: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { key: string }).key;
}

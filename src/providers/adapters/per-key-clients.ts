/**
 * One SDK client per API key, created on first use and reused (each keeps its connection pool).
 * Adapters never pick keys; the key pool hands them one per call.
 */
export class PerKeyClients<Client> {
  private readonly clients = new Map<string, Client>();

  constructor(private readonly create: (apiKey: string | undefined) => Client) {}

  get(apiKey: string | undefined): Client {
    const cacheKey = apiKey ?? '';
    let client = this.clients.get(cacheKey);
    if (!client) {
      client = this.create(apiKey);
      this.clients.set(cacheKey, client);
    }
    return client;
  }
}

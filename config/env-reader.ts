/** A configuration problem that stops start-up; its message is one line naming the variable. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Typed, validating reads of environment variables. Empty strings count as unset. */
export class EnvReader {
  constructor(private readonly env: NodeJS.ProcessEnv) {}

  optional(name: string): string | undefined {
    const value = this.env[name]?.trim();
    return value ? value : undefined;
  }

  str(name: string, fallback: string): string {
    return this.optional(name) ?? fallback;
  }

  int(
    name: string,
    fallback: number,
    min = Number.MIN_SAFE_INTEGER,
    max = Number.MAX_SAFE_INTEGER,
  ): number {
    const raw = this.optional(name);
    if (raw === undefined) return fallback;
    if (!/^-?\d+$/.test(raw)) {
      throw new ConfigError(`${name} must be a whole number (got "${raw}")`);
    }
    const value = Number(raw);
    if (value < min || value > max) {
      throw new ConfigError(`${name} must be between ${min} and ${max} (got ${value})`);
    }
    return value;
  }

  bool(name: string, fallback: boolean): boolean {
    const raw = this.optional(name)?.toLowerCase();
    if (raw === undefined) return fallback;
    if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
    if (['0', 'false', 'no', 'off'].includes(raw)) return false;
    throw new ConfigError(`${name} must be true or false (got "${raw}")`);
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const raw = this.optional(name);
    if (raw === undefined) return fallback;
    if (!(allowed as readonly string[]).includes(raw)) {
      throw new ConfigError(`${name} must be one of ${allowed.join(', ')} (got "${raw}")`);
    }
    return raw as T;
  }

  match(name: string, pattern: RegExp, fallback: string, expected: string): string {
    const raw = this.optional(name);
    if (raw === undefined) return fallback;
    if (!pattern.test(raw)) throw new ConfigError(`${name} must be ${expected} (got "${raw}")`);
    return raw;
  }

  url(name: string): string | undefined {
    const raw = this.optional(name);
    if (raw === undefined) return undefined;
    try {
      const parsed = new URL(raw);
      if (!['http:', 'https:'].includes(parsed.protocol)) throw new Error('protocol');
    } catch {
      throw new ConfigError(`${name} must be an http(s) URL`);
    }
    return raw.replace(/\/+$/, '');
  }

  /** Comma-separated list; blanks dropped. */
  list(name: string): string[] {
    return (this.optional(name) ?? '')
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean);
  }

  /** `NAME` plus `NAME_1`, `NAME_2`, … in numeric order, de-duplicated. */
  numberedList(name: string): string[] {
    const numbered = Object.keys(this.env)
      .map((key) => ({ key, match: new RegExp(`^${name}_(\\d+)$`).exec(key) }))
      .filter((entry) => entry.match)
      .sort((a, b) => Number(a.match![1]) - Number(b.match![1]))
      .map((entry) => this.optional(entry.key))
      .filter((value): value is string => Boolean(value));
    const single = this.optional(name);
    return [...new Set(single ? [single, ...numbered] : numbered)];
  }
}

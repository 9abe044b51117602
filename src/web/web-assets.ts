import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/** File names the page may ask for: one path segment, no dots except the extension. */
const SAFE_NAME = /^[A-Za-z0-9_-]+\.(?:js|css)$/;

/**
 * Where the browser chat page lives on disk. The static files are committed in
 * `examples/web/public/`; `npm run build` compiles `examples/web/src/*.ts` into `public/js/`.
 * Found by walking up from this file, so it works from `src/` (ts-jest, ts-node) and `dist/src/`.
 */
export class WebAssets {
  readonly publicDir: string;

  constructor(startDir: string = __dirname) {
    this.publicDir = WebAssets.findPublicDir(startDir);
  }

  get indexHtml(): string {
    return join(this.publicDir, 'index.html');
  }

  /** The admin page; static, its data comes from the admin API, which enforces the role. */
  get adminHtml(): string {
    return join(this.publicDir, 'admin.html');
  }

  /** True when the compiled page script exists (it does not before the first build). */
  get isBuilt(): boolean {
    return existsSync(join(this.publicDir, 'js', 'app.js'));
  }

  /** A file directly in `public/` or `public/js/`, or null for anything else. */
  file(folder: '' | 'js', name: string): string | null {
    if (!SAFE_NAME.test(name)) return null;
    const path = join(this.publicDir, folder, name);
    return existsSync(path) ? path : null;
  }

  /**
   * The socket.io-client browser bundle: from `socket.io-client` (a dev dependency) when installed,
   * else the identical bundle the `socket.io` server package ships, so production installs
   * without dev dependencies still serve it.
   */
  socketIoBundle(): string | null {
    // Resolved through package.json: the packages' `exports` maps do not list the min bundle.
    const candidates = [
      () =>
        join(dirname(require.resolve('socket.io-client/package.json')), 'dist/socket.io.min.js'),
      () =>
        join(dirname(require.resolve('socket.io/package.json')), 'client-dist/socket.io.min.js'),
    ];
    for (const candidate of candidates) {
      try {
        const path = candidate();
        if (existsSync(path)) return path;
      } catch {
        // not installed; try the next one
      }
    }
    return null;
  }

  private static findPublicDir(startDir: string): string {
    let dir = resolve(startDir);
    for (;;) {
      const candidate = join(dir, 'examples', 'web', 'public');
      if (existsSync(join(dir, 'package.json')) && existsSync(join(candidate, 'index.html'))) {
        return candidate;
      }
      const parent = dirname(dir);
      if (parent === dir) return join(process.cwd(), 'examples', 'web', 'public');
      dir = parent;
    }
  }
}

import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..');
const SRC = join(ROOT, 'examples/web/src');
const OUT = join(ROOT, 'examples/web/public/js');

/**
 * Compiles the browser page (examples/web/src → public/js) when any output is missing or older
 * than its source, exactly as `npm run build` does, so the web suites also run before a build.
 */
export function ensureWebClientBuilt(): void {
  const stale = readdirSync(SRC)
    .filter((name) => name.endsWith('.ts'))
    .some((name) => {
      const output = join(OUT, name.replace(/\.ts$/, '.js'));
      return !existsSync(output) || statSync(output).mtimeMs < statSync(join(SRC, name)).mtimeMs;
    });
  if (!stale) return;
  execFileSync(
    process.execPath,
    [require.resolve('typescript/bin/tsc'), '-p', 'examples/web/tsconfig.json'],
    { cwd: ROOT, stdio: 'inherit' },
  );
}

const { mkdtempSync, readFileSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join, relative } = require('node:path');

/** Must match SKIP_NOTICES_ENV in libs/testing/src/skipped-suites.ts. */
const SKIP_NOTICES_ENV = 'JEST_SKIP_NOTICES';

/**
 * Prints, after the run, one summary of what was skipped and why, with the command that runs
 * it. jest shows nothing of a suite whose tests are all skipped (not even its console output),
 * so suites record their reason through `announceSkip` (libs/testing) into a file named by
 * JEST_SKIP_NOTICES, which this reporter sets before the test workers start.
 */
class SkipSummaryReporter {
  constructor(globalConfig) {
    this.rootDir = globalConfig.rootDir;
    this.dir = mkdtempSync(join(tmpdir(), 'jest-skips-'));
    this.file = join(this.dir, 'notices.jsonl');
    process.env[SKIP_NOTICES_ENV] = this.file;
  }

  onRunComplete(_contexts, results) {
    const notices = this.readNotices();
    rmSync(this.dir, { recursive: true, force: true });
    const lines = summarize(notices, results, (path) => relative(this.rootDir, path));
    if (lines.length) process.stderr.write(`\n${lines.join('\n')}\n`);
  }

  readNotices() {
    try {
      return readFileSync(this.file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line));
    } catch {
      return []; // nothing was skipped
    }
  }
}

/** The jest project a notice came from: e2e suites say their database, others are unique. */
function projectOf(result) {
  const name = result.displayName?.name ?? result.displayName;
  return typeof name === 'string' ? name : undefined;
}

/** The skipped files (per project) with everything their suites said about why. */
function skippedFiles(notices, results, rel) {
  const byKey = new Map(
    results.testResults.map((result) => [
      `${result.testFilePath}|${projectOf(result)?.replace(/^e2e-/, '') ?? ''}`,
      result,
    ]),
  );
  const files = new Map();
  for (const notice of notices) {
    const result =
      byKey.get(`${notice.testPath}|${notice.database ?? ''}`) ??
      results.testResults.find((candidate) => candidate.testFilePath === notice.testPath);
    const project = result ? projectOf(result) : undefined;
    const key = `${notice.testPath}|${project ?? ''}`;
    const file = files.get(key) ?? {
      path: rel(notice.testPath),
      project,
      tests: result ? result.numPendingTests + result.numTodoTests : 0,
      reasons: new Set(),
      missing: new Set(),
      setups: new Set(),
      byDesign: true,
    };
    file.byDesign &&= Boolean(notice.byDesign);
    if (!notice.byDesign) {
      // A suite on missing services can announce twice (e.g. Postgres, then Redis inside it).
      if (notice.missing) notice.missing.forEach((name) => file.missing.add(name));
      else file.reasons.add(notice.reason);
      if (notice.setup) file.setups.add(notice.setup);
    }
    files.set(key, file);
  }
  return [...files.values()];
}

function reasonOf(file) {
  const reasons = [...file.reasons].sort();
  if (file.missing.size) {
    const names = [...file.missing].sort();
    reasons.unshift(`${names.join(', ')} ${names.length > 1 ? 'are' : 'is'} not set`);
  }
  return reasons.join('; ');
}

/** Summary lines: one group per reason, with its files, test counts and the command. */
function summarize(notices, results, rel) {
  const files = skippedFiles(notices, results, rel);
  const byDesign = files.filter((file) => file.byDesign);
  const groups = new Map();
  for (const file of files.filter((candidate) => !candidate.byDesign)) {
    const reason = reasonOf(file);
    const setup = [...file.setups].join(' && ');
    const key = `${reason}|${setup}`;
    const group = groups.get(key) ?? { reason, setup, files: [] };
    group.files.push(file);
    groups.set(key, group);
  }
  if (groups.size === 0 && byDesign.length === 0) return [];

  const lines = [];
  const skipped = files.filter((file) => !file.byDesign);
  if (skipped.length) {
    lines.push(
      `Skipped here: ${plural(sum(skipped), 'test')} in ${plural(skipped.length, 'file')}, ` +
        'for want of something this machine lacks:',
    );
  }
  for (const group of groups.values()) {
    lines.push('', `  ${group.reason}: ${plural(sum(group.files), 'test')}`);
    const names = group.files.map((file) =>
      file.project ? `${file.path} [${file.project}]` : file.path,
    );
    lines.push(...wrap(names.join(', '), '    '));
    lines.push(`    run: ${command(group)}`);
  }
  if (byDesign.length) {
    lines.push(
      '',
      `  (${plural(sum(byDesign), 'test')} in ${plural(byDesign.length, 'file')} ` +
        'run in the e2e-sqlite project only and skip in e2e-postgres by design.)',
    );
  }
  return lines[0] === '' ? lines.slice(1) : lines;
}

function sum(files) {
  return files.reduce((total, file) => total + file.tests, 0);
}

/** The command that runs a group: its files when they are few, else its whole projects. */
function command(group) {
  const paths = [...new Set(group.files.map((file) => file.path))];
  const projects = [...new Set(group.files.map((file) => file.project).filter(Boolean))].sort();
  const jest = [
    'npx jest',
    paths.length <= 4 ? paths.join(' ') : '',
    projects.length ? `--selectProjects ${projects.join(' ')}` : '',
  ]
    .filter(Boolean)
    .join(' ');
  return group.setup ? `${group.setup} && ${jest}` : jest;
}

function plural(count, word) {
  return `${count} ${word}${count === 1 ? '' : 's'}`;
}

/** Breaks a long comma list into lines of about 100 characters. */
function wrap(text, indent) {
  const lines = [];
  let line = '';
  for (const part of text.split(', ')) {
    const next = line ? `${line}, ${part}` : part;
    if (next.length > 100 && line) {
      lines.push(`${indent}${line},`);
      line = part;
    } else {
      line = next;
    }
  }
  if (line) lines.push(`${indent}${line}`);
  return lines;
}

module.exports = SkipSummaryReporter;

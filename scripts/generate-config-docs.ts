/**
 * Writes the configuration table in README.md from `.env.example` (the one list of variables),
 * between the `config-table` markers. Descriptions come from the comment lines above each
 * variable, else from the doc comment in config/app-config.ts that names it.
 *
 *   npm run docs:config             rewrite the table
 *   npm run docs:config -- --check  exit 1 when README.md is stale (CI)
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KNOWN_PLACEHOLDER_SECRETS } from '../config/app-config';

const ROOT = join(__dirname, '..');
export const START_MARKER =
  '<!-- config-table:start (generated from .env.example by `npm run docs:config`; do not edit) -->';
export const END_MARKER = '<!-- config-table:end -->';

export interface ConfigVariable {
  name: string;
  example: string;
  description: string;
}

export interface ConfigSection {
  title: string;
  variables: ConfigVariable[];
}

/** Splits `.env.example` into its `# --- Title ---` sections and their documented variables. */
export function parseEnvExample(text: string, fallbackDocs: Map<string, string>): ConfigSection[] {
  const sections: ConfigSection[] = [];
  let comments: string[] = [];
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    const section = /^#\s*---\s*(.+?)\s*-*\s*$/.exec(line);
    if (section) {
      sections.push({ title: section[1], variables: [] });
      comments = [];
    } else if (line.startsWith('#')) {
      comments.push(line.replace(/^#\s?/, ''));
    } else if (line === '') {
      comments = [];
    } else {
      const variable = /^([A-Z0-9_]+)=(.*)$/.exec(line);
      if (!variable || sections.length === 0) continue;
      const [, name, example] = variable;
      const description = comments.join(' ') || fallbackDocs.get(name) || '';
      sections[sections.length - 1].variables.push({ name, example, description });
      comments = [];
    }
  }
  return sections;
}

/**
 * `/** Some text (`VAR_A`, `VAR_B`). *\/` in app-config.ts → VAR_A, VAR_B: "Some text".
 * Only used for variables `.env.example` lists without a comment of their own.
 */
export function docsFromAppConfig(source: string): Map<string, string> {
  const docs = new Map<string, string>();
  for (const match of source.matchAll(/\/\*\*\s*([\s\S]*?)\s*\*\//g)) {
    const text = match[1].replace(/\s*\n\s*\*\s?/g, ' ').trim();
    const names = [...text.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1]);
    const sentence = text
      .replace(/\s*\((?:[^()]*`[A-Z][A-Z0-9_]+`[^()]*)\)/g, '')
      .replace(/`[A-Z][A-Z0-9_]+`:?\s*/g, '')
      .replace(/^[:\s]+/, '')
      .trim();
    for (const name of names) if (!docs.has(name) && sentence) docs.set(name, sentence);
  }
  return docs;
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\s+/g, ' ').trim();
}

function defaultCell(variable: ConfigVariable): string {
  if (KNOWN_PLACEHOLDER_SECRETS.includes(variable.example)) {
    return '**required** (`npm run setup` generates one)';
  }
  return variable.example === '' ? '—' : `\`${cell(variable.example)}\``;
}

/** The Markdown that goes between the markers. */
export function renderConfigTable(sections: ConfigSection[]): string {
  const parts: string[] = [];
  for (const section of sections) {
    if (section.variables.length === 0) continue;
    parts.push(
      `**${section.title}**`,
      '',
      '| Variable | Default | What it does |',
      '|---|---|---|',
    );
    for (const variable of section.variables) {
      parts.push(
        `| \`${variable.name}\` | ${defaultCell(variable)} | ${cell(variable.description)} |`,
      );
    }
    parts.push('');
  }
  return parts.join('\n');
}

/** README text with the table between the markers replaced. */
export function updateReadme(readme: string, table: string): string {
  const start = readme.indexOf(START_MARKER);
  const end = readme.indexOf(END_MARKER);
  if (start < 0 || end < start) {
    throw new Error(`README.md needs the markers:\n${START_MARKER}\n${END_MARKER}`);
  }
  return `${readme.slice(0, start + START_MARKER.length)}\n\n${table}\n${readme.slice(end)}`;
}

function main(): void {
  const check = process.argv.includes('--check');
  const readmePath = join(ROOT, 'README.md');
  const sections = parseEnvExample(
    readFileSync(join(ROOT, '.env.example'), 'utf8'),
    docsFromAppConfig(readFileSync(join(ROOT, 'config/app-config.ts'), 'utf8')),
  );
  const readme = readFileSync(readmePath, 'utf8');
  const updated = updateReadme(readme, renderConfigTable(sections));
  const count = sections.reduce((sum, section) => sum + section.variables.length, 0);
  if (check) {
    if (updated !== readme) {
      console.error(
        'README.md configuration table is stale: run "npm run docs:config" and commit.',
      );
      process.exit(1);
    }
    console.log(`README.md configuration table is up to date (${count} variables).`);
    return;
  }
  writeFileSync(readmePath, updated);
  console.log(`README.md configuration table: ${count} variables from .env.example.`);
}

if (require.main === module) main();

import { Injectable } from '@nestjs/common';
import type { ServerTool } from './server-tool';

/** Longest expression the calculator reads. */
const MAX_EXPRESSION_CHARS = 1000;

/**
 * Example server-side tool: evaluates an arithmetic expression (`+ - * / % ^`, parentheses,
 * decimals and exponents like `1e3`) with a small recursive-descent parser; nothing is `eval`ed.
 */
@Injectable()
export class CalculatorTool implements ServerTool {
  readonly definition = {
    name: 'calculator',
    description:
      'Evaluates an arithmetic expression exactly as written, e.g. "(1.5 + 2) * 3^2 / 7". ' +
      'Supports + - * / % ^ and parentheses.',
    parameters: {
      type: 'object',
      properties: {
        expression: { type: 'string', description: 'The arithmetic expression to evaluate.' },
      },
      required: ['expression'],
      additionalProperties: false,
    },
  };

  async execute(args: unknown): Promise<string> {
    const expression =
      args && typeof args === 'object' ? (args as { expression?: unknown }).expression : undefined;
    if (typeof expression !== 'string' || !expression.trim()) {
      throw new Error('expression must be a non-empty string');
    }
    if (expression.length > MAX_EXPRESSION_CHARS) {
      throw new Error(`expression must be at most ${MAX_EXPRESSION_CHARS} characters`);
    }
    return formatNumber(new ArithmeticParser(expression).parse());
  }
}

/** Up to 12 significant digits, without a binary-fraction tail (0.1 + 0.2 → 0.3). */
function formatNumber(value: number): string {
  return String(Number(value.toPrecision(12)));
}

/**
 * expression := term (('+' | '-') term)*
 * term       := unary (('*' | '/' | '%') unary)*
 * unary      := ('+' | '-') unary | power    (so -2^2 is -(2^2))
 * power      := primary ('^' unary)?         (right-associative: 2^3^2 is 2^9)
 * primary    := number | '(' expression ')'
 */
class ArithmeticParser {
  private position = 0;
  private depth = 0;

  constructor(private readonly text: string) {}

  parse(): number {
    const value = this.expression();
    this.skipSpaces();
    if (this.position < this.text.length) {
      throw new Error(`unexpected "${this.text[this.position]}" at position ${this.position + 1}`);
    }
    return value;
  }

  private expression(): number {
    let value = this.term();
    for (let op = this.operator('+-'); op; op = this.operator('+-')) {
      const right = this.term();
      value = op === '+' ? value + right : value - right;
    }
    return value;
  }

  private term(): number {
    let value = this.unary();
    for (let op = this.operator('*/%'); op; op = this.operator('*/%')) {
      const right = this.unary();
      if ((op === '/' || op === '%') && right === 0) throw new Error('division by zero');
      value = op === '*' ? value * right : op === '/' ? value / right : value % right;
    }
    return finite(value);
  }

  private power(): number {
    const base = this.primary();
    if (!this.operator('^')) return base;
    return finite(base ** this.nested(() => this.unary()));
  }

  private unary(): number {
    const sign = this.operator('+-');
    if (!sign) return this.power();
    const value = this.nested(() => this.unary());
    return sign === '-' ? -value : value;
  }

  private primary(): number {
    this.skipSpaces();
    if (this.text[this.position] === '(') {
      this.position++;
      const value = this.nested(() => this.expression());
      if (!this.operator(')')) throw new Error('missing ")"');
      return value;
    }
    const match = /^(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?/.exec(this.text.slice(this.position));
    if (!match) {
      const found = this.text[this.position];
      throw new Error(
        found === undefined
          ? 'the expression ends too early'
          : `unexpected "${found}" at position ${this.position + 1}`,
      );
    }
    this.position += match[0].length;
    return finite(Number(match[0]));
  }

  /** Parentheses and signs nest; a bound keeps a hostile expression off the stack limit. */
  private nested(parse: () => number): number {
    if (++this.depth > 100) throw new Error('the expression nests too deeply');
    try {
      return parse();
    } finally {
      this.depth--;
    }
  }

  /** The next character when it is one of `chars` (consumed), else undefined. */
  private operator(chars: string): string | undefined {
    this.skipSpaces();
    const char = this.text[this.position];
    if (char === undefined || !chars.includes(char)) return undefined;
    this.position++;
    return char;
  }

  private skipSpaces(): void {
    while (/\s/.test(this.text[this.position] ?? '')) this.position++;
  }
}

function finite(value: number): number {
  if (!Number.isFinite(value)) throw new Error('the result is too large');
  return value;
}

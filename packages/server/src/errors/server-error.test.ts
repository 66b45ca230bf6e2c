import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, isServerError, ServerError } from './server-error.js';

const DOCS = readFileSync(new URL('../../../../docs/errors.md', import.meta.url), 'utf8');

describe('server errors', () => {
  it('documents every code in docs/errors.md with its status', () => {
    const missing = Object.entries(ERROR_CODES).filter(
      ([code, status]) => !DOCS.includes(`| \`${code}\` | ${status} |`),
    );
    expect(missing).toEqual([]);
  });

  it('codes are snake_case', () => {
    for (const code of Object.keys(ERROR_CODES)) expect(code).toMatch(/^[a-z][a-z0-9]*(_[a-z0-9]+)*$/);
  });

  it('carries code, status, expose and cause', () => {
    const cause = new Error('inner');
    const error = new ServerError('upstream_unreachable', 'the IdP is down', { cause });
    expect(error).toMatchObject({
      code: 'upstream_unreachable',
      status: 502,
      statusCode: 502,
      expose: false,
    });
    expect(error.cause).toBe(cause);
    expect(new ServerError('duplicate', 'x').expose).toBe(true);
    expect(isServerError(error, 'upstream_unreachable')).toBe(true);
    expect(isServerError(error, 'duplicate')).toBe(false);
    expect(isServerError(new Error('x'))).toBe(false);
  });
});

import { readFile } from 'node:fs/promises';
import * as oauth from 'oauth4webapi';
import { expect, it } from 'vitest';
import {
  ErrorCode,
  NetworkError,
  OAuthError,
  toLatchkeyError,
  UnexpectedResponseError,
  UserCancelledError,
} from './errors.js';

it('documents every error code in the README', async () => {
  const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
  for (const code of Object.values(ErrorCode))
    expect(readme, code).toMatch(new RegExp(`\\|\\s*\`${code}\`\\s*\\|`));
});

it('separates network failure, unexpected response and OAuth error', () => {
  expect(
    toLatchkeyError(new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } }), 'x'),
  ).toBeInstanceOf(NetworkError);
  expect(
    toLatchkeyError(
      new oauth.OperationProcessingError('bad', { code: oauth.JSON_ATTRIBUTE_COMPARISON }),
      'x',
    ),
  ).toMatchObject({
    code: 'unexpected_response',
    reason: 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED',
  });
  const params = new URLSearchParams({ error: 'access_denied' });
  expect(
    toLatchkeyError(new oauth.AuthorizationResponseError('denied', { cause: params }), 'x'),
  ).toBeInstanceOf(OAuthError);
  expect(toLatchkeyError(Object.assign(new Error('aborted'), { name: 'AbortError' }), 'x')).toBeInstanceOf(
    UserCancelledError,
  );
  expect(toLatchkeyError(Object.assign(new Error('slow'), { name: 'TimeoutError' }), 'x')).toBeInstanceOf(
    NetworkError,
  );
  expect(toLatchkeyError(new Error('weird'), 'x')).toBeInstanceOf(UnexpectedResponseError);
});

import { describe, expect, it } from 'vitest';
import {
  checkRedirectUri,
  isLoopbackRedirect,
  isPrivateUseScheme,
  redirectUriMatches,
} from './redirect-uris.js';

describe('checkRedirectUri: native clients (RFC 8252)', () => {
  it.each([
    'com.acme.desktop:/oauth2redirect',
    'com.acme.desktop://callback',
    'http://127.0.0.1/callback',
    'http://127.0.0.1:51234/callback',
    'http://[::1]/callback',
    'http://[::1]:8080/cb',
    'https://app.acme.com/oauth/callback',
  ])('accepts %s', (uri) => {
    expect(checkRedirectUri(uri, 'native', 'development')).toBeUndefined();
    expect(checkRedirectUri(uri, 'native', 'production')).toBeUndefined();
  });

  it('refuses localhost and says to use 127.0.0.1 (§8.3)', () => {
    const message = checkRedirectUri('http://localhost:8080/callback', 'native', 'development');
    expect(message).toMatch(/127\.0\.0\.1/);
    expect(message).toMatch(/localhost/);
    expect(message).toMatch(/8\.3/);
  });

  it('refuses a private-use scheme that is not reverse-DNS (§7.1)', () => {
    expect(checkRedirectUri('acme:/callback', 'native', 'development')).toMatch(/reverse-DNS/);
    expect(checkRedirectUri('myapp://callback', 'native', 'development')).toMatch(/reverse-DNS/);
    expect(checkRedirectUri('javascript:alert(1)', 'native', 'development')).toMatch(/reverse-DNS/);
  });

  it('refuses http to a non-loopback host', () => {
    expect(checkRedirectUri('http://app.acme.com/cb', 'native', 'development')).toMatch(/loopback/);
    expect(checkRedirectUri('http://10.0.0.1/cb', 'native', 'development')).toMatch(/loopback/);
  });

  it('refuses fragments, wildcards, relative URIs and credentials', () => {
    expect(checkRedirectUri('com.acme.app:/cb#x', 'native', 'development')).toMatch(/fragment/);
    expect(checkRedirectUri('http://127.0.0.1/cb#', 'native', 'development')).toMatch(/fragment/);
    expect(checkRedirectUri('https://*.acme.com/cb', 'native', 'development')).toMatch(/wildcard/);
    expect(checkRedirectUri('https://acme.com/*', 'web', 'development')).toMatch(/wildcard/);
    expect(checkRedirectUri('/callback', 'native', 'development')).toMatch(/absolute/);
    expect(checkRedirectUri('', 'native', 'development')).toMatch(/empty/);
    expect(checkRedirectUri('https://u:p@acme.com/cb', 'web', 'development')).toMatch(/user/);
  });
});

describe('checkRedirectUri: web clients', () => {
  it('accepts https', () => {
    expect(checkRedirectUri('https://app.acme.com/cb', 'web', 'production')).toBeUndefined();
  });

  it('accepts http on loopback only in development', () => {
    expect(checkRedirectUri('http://localhost:3000/cb', 'web', 'development')).toBeUndefined();
    expect(checkRedirectUri('http://127.0.0.1:3000/cb', 'web', 'development')).toBeUndefined();
    expect(checkRedirectUri('http://app.acme.com/cb', 'web', 'development')).toMatch(/https/);
    expect(checkRedirectUri('http://127.0.0.1:3000/cb', 'web', 'production')).toMatch(/production/);
  });

  it('refuses private-use schemes', () => {
    expect(checkRedirectUri('com.acme.app:/cb', 'web', 'development')).toMatch(/https/);
  });
});

describe('helpers', () => {
  it('isLoopbackRedirect recognises the loopback IP literals only', () => {
    expect(isLoopbackRedirect('http://127.0.0.1:1234/cb')).toBe(true);
    expect(isLoopbackRedirect('http://[::1]/cb')).toBe(true);
    expect(isLoopbackRedirect('http://localhost/cb')).toBe(false);
    expect(isLoopbackRedirect('https://127.0.0.1/cb')).toBe(false);
    expect(isLoopbackRedirect('not a uri')).toBe(false);
  });

  it('isPrivateUseScheme recognises reverse-DNS schemes', () => {
    expect(isPrivateUseScheme('com.acme.desktop:/oauth2redirect')).toBe(true);
    expect(isPrivateUseScheme('myapp:/cb')).toBe(false);
    expect(isPrivateUseScheme('https://acme.com')).toBe(false);
  });

  it('redirectUriMatches ignores only the port of a loopback redirect (§7.3)', () => {
    expect(redirectUriMatches('http://127.0.0.1/callback', 'http://127.0.0.1:49152/callback')).toBe(true);
    expect(redirectUriMatches('http://[::1]:1/cb', 'http://[::1]:2/cb')).toBe(true);
    expect(redirectUriMatches('http://127.0.0.1/callback', 'http://127.0.0.1:49152/other')).toBe(false);
    expect(redirectUriMatches('http://127.0.0.1/callback', 'http://[::1]:49152/callback')).toBe(false);
    expect(redirectUriMatches('https://acme.com/cb', 'https://acme.com:8443/cb')).toBe(false);
    expect(redirectUriMatches('com.acme.app:/cb', 'com.acme.app:/cb')).toBe(true);
    expect(redirectUriMatches('com.acme.app:/cb', 'com.acme.app:/cb/')).toBe(false);
  });
});

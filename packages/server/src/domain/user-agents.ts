/**
 * A short, fixed-vocabulary summary of a User-Agent ("Chrome on Linux", "curl", "an unknown program")
 * for the device confirmation page. The User-Agent of a device authorization request is written by
 * whoever started it — an attacker phishing with a device code writes "Latchkey Support: this is
 * safe" there — so the page never shows it: only words from the lists below can come out.
 */
const PROGRAMS: [RegExp, string][] = [
  [/\bEdg(e|A|iOS)?\//, 'Edge'],
  [/\b(OPR|Opera)\//, 'Opera'],
  [/\bFirefox\/|\bFxiOS\//, 'Firefox'],
  [/\bChrom(e|ium)\/|\bCriOS\//, 'Chrome'],
  [/\bVersion\/[\d.]+.*\bSafari\//, 'Safari'],
  [/^curl\//, 'curl'],
  [/^Wget\//, 'Wget'],
  [/^(node|undici)\b|\bNode\.js\b/i, 'Node.js'],
  [/^python-requests\/|^Python-urllib\/|^python-httpx\//i, 'Python'],
  [/^Go-http-client\//, 'Go'],
  [/^okhttp\//i, 'OkHttp'],
  [/\bElectron\//, 'Electron'],
];

const SYSTEMS: [RegExp, string][] = [
  [/\b(iPhone|iPad|iPod)\b/, 'iOS'],
  [/\bAndroid\b/, 'Android'],
  [/\bCrOS\b/, 'ChromeOS'],
  [/\bWindows\b/, 'Windows'],
  [/\bMac OS X\b|\bMacintosh\b|\bDarwin\b/, 'macOS'],
  [/\bLinux\b|\bX11\b/, 'Linux'],
];

export const UNKNOWN_PROGRAM = 'an unknown program';

export function summarizeUserAgent(userAgent: string | undefined): string {
  const ua = (userAgent ?? '').slice(0, 512);
  const program = PROGRAMS.find(([pattern]) => pattern.test(ua))?.[1];
  const system = SYSTEMS.find(([pattern]) => pattern.test(ua))?.[1];
  if (program && system) return `${program} on ${system}`;
  if (program) return program;
  if (system) return `${UNKNOWN_PROGRAM} on ${system}`;
  return UNKNOWN_PROGRAM;
}

/** A product token an app puts first in its User-Agent: `Acme Desktop/2.1`, `AcmeDesktop/2.1.0`. */
const APP_PRODUCT = /^([A-Za-z][A-Za-z0-9 ._-]{0,39})\/\d[\w.-]{0,20}(\s|$)/;
const GENERIC_PRODUCTS = new Set(['Mozilla', 'node', 'undici', 'curl', 'Wget', 'okhttp']);

/**
 * What a session listing calls the device a session or an app's sign-in came from: a browser and
 * system from the fixed lists above ("Chrome on Linux"), or what an app says it is in its first
 * product token ("Acme Desktop on Windows"). The app's name is kept to letters, digits and a few
 * separators (forty at most), so it reads as a name and nothing else; the person reading it is
 * looking at their own sessions, signed by their own apps.
 */
export function describeDevice(userAgent: string | null | undefined): string {
  const ua = (userAgent ?? '').slice(0, 512);
  const summary = summarizeUserAgent(ua);
  if (!summary.startsWith(UNKNOWN_PROGRAM)) return summary;
  const product = APP_PRODUCT.exec(ua)?.[1]?.trim();
  if (!product || GENERIC_PRODUCTS.has(product)) return summary;
  const system = SYSTEMS.find(([pattern]) => pattern.test(ua))?.[1];
  return system ? `${product} on ${system}` : product;
}

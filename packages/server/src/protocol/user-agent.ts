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

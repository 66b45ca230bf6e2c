const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,253}\.[^\s@]{2,}$/;

/**
 * A work email as a person typed it, checked and canonical (trimmed, lower-case), or undefined when
 * it is not an email address. Its domain decides the organization (home-realm discovery).
 */
export function parseWorkEmail(input: string): string | undefined {
  const email = input.trim().toLowerCase();
  if (email.length > 320 || !EMAIL.test(email)) return undefined;
  return email;
}

export function emailDomain(email: string): string {
  return email.slice(email.lastIndexOf('@') + 1);
}

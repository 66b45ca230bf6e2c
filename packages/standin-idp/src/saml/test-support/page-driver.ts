/**
 * Drives the stand-in's sign-in page over plain HTTP, as a browser would without running scripts:
 * follow the redirect URL, fill in the form, and read the auto-submitting HTTP-POST form it returns.
 */

export interface SignInPage {
  status: number;
  login: string;
  /** The email the page prefilled (from the AuthnRequest's Subject hint). */
  prefilledEmail: string;
  html: string;
}

export interface PostedForm {
  action: string;
  fields: Record<string, string>;
}

export async function openSignInPage(redirectUrl: string): Promise<SignInPage> {
  const response = await fetch(redirectUrl, { redirect: 'manual' });
  const html = await response.text();
  return {
    status: response.status,
    login: inputValue(html, 'login') ?? '',
    prefilledEmail: inputValue(html, 'email') ?? '',
    html,
  };
}

export async function submitSignInPage(
  redirectUrl: string,
  page: SignInPage,
  credentials: { email?: string; password: string },
): Promise<{ status: number; html: string; form: PostedForm | undefined }> {
  const response = await fetch(new URL('/saml/sso', redirectUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      login: page.login,
      email: credentials.email ?? page.prefilledEmail,
      password: credentials.password,
    }),
  });
  const html = await response.text();
  const action = /<form method="post" action="([^"]*)">/.exec(html)?.[1];
  const form =
    action && html.includes('name="SAMLResponse"')
      ? {
          action: htmlUnescape(action),
          fields: Object.fromEntries(
            [...html.matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)">/g)].map((m) => [
              htmlUnescape(m[1]!),
              htmlUnescape(m[2]!),
            ]),
          ),
        }
      : undefined;
  return { status: response.status, html, form };
}

function inputValue(html: string, name: string): string | undefined {
  const match = new RegExp(`<input[^>]*name="${name}" value="([^"]*)"`).exec(html);
  return match ? htmlUnescape(match[1]!) : undefined;
}

function htmlUnescape(value: string): string {
  return value
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

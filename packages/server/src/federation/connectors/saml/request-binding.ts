import { SAML, type SamlConfig } from '@node-saml/node-saml';
import { signAuthnRequestPost } from '@node-saml/node-saml/lib/saml-post-signing.js';
import { redirectBindingUrl } from './authn-request.js';

/** How the AuthnRequest travels to the IdP (SAML Bindings §3.4 HTTP-Redirect, §3.5 HTTP-POST). */
export type AuthnRequestBinding = 'redirect' | 'post';

/** What the browser is sent to: a URL (redirect binding) or a form to post (POST binding). */
export type OutgoingRequest =
  | { url: string; form?: undefined }
  | { url: string; form: { action: string; fields: Record<string, string> } };

export interface SendAuthnRequestInput {
  /** The AuthnRequest XML Latchkey built (`buildAuthnRequest`). */
  xml: string;
  /** The IdP's SingleSignOnService location for the binding. */
  ssoUrl: string;
  relayState: string;
  /** Extra query parameters or form fields (Entra's `login_hint`); never signed. */
  extra: Record<string, string>;
  binding: AuthnRequestBinding;
  /** PKCS#8 PEM: when given, the request is signed (RSA-SHA256). */
  signingKey?: string | undefined;
  /** The IdP's certificates; node-saml wants them even though nothing is verified here. */
  idpCert: string[];
  spEntityId: string;
  callbackUrl: string;
}

/**
 * node-saml, handed the AuthnRequest Latchkey built: it has no option for the `<Subject>` login hint,
 * so its request generator is replaced by ours, and node-saml does the bindings and the signatures —
 * `SigAlg` and `Signature` over `SAMLRequest`, `RelayState`, `SigAlg` for HTTP-Redirect (SAML
 * Bindings §3.4.4.1), an enveloped XML signature inside the request for HTTP-POST (§3.5.4).
 */
class PreparedAuthnRequest extends SAML {
  readonly #xml: string;
  constructor(config: SamlConfig, xml: string) {
    super(config);
    this.#xml = xml;
  }
  protected override async generateAuthorizeRequestAsync(
    _isPassive: boolean,
    isHttpPostBinding: boolean,
  ): Promise<string> {
    if (isHttpPostBinding && this.options.privateKey) {
      return signAuthnRequestPost(this.#xml, this.options as Parameters<typeof signAuthnRequestPost>[1]);
    }
    return this.#xml;
  }
}

export async function sendAuthnRequest(input: SendAuthnRequestInput): Promise<OutgoingRequest> {
  // Unsigned redirect: the plain binding, as before (no node-saml needed).
  if (input.binding === 'redirect' && !input.signingKey) {
    return { url: redirectBindingUrl(input.ssoUrl, input.xml, input.relayState, input.extra) };
  }
  if (Buffer.byteLength(input.relayState) > 80) throw new Error('RelayState longer than 80 bytes');
  const saml = new PreparedAuthnRequest(
    {
      entryPoint: input.ssoUrl,
      issuer: input.spEntityId,
      callbackUrl: input.callbackUrl,
      idpCert: input.idpCert,
      ...(input.signingKey ? { privateKey: input.signingKey, signatureAlgorithm: 'sha256' as const } : {}),
      // HTTP-POST carries the request base64-encoded, not deflated (SAML Bindings §3.5.4).
      skipRequestCompression: input.binding === 'post',
    },
    input.xml,
  );
  if (input.binding === 'redirect') {
    return {
      url: await saml.getAuthorizeUrlAsync(input.relayState, undefined, { additionalParams: input.extra }),
    };
  }
  const message = await saml.getAuthorizeMessageAsync(input.relayState, undefined, {
    additionalParams: input.extra,
  });
  const fields: Record<string, string> = {};
  for (const [name, value] of Object.entries(message)) if (typeof value === 'string') fields[name] = value;
  return { url: input.ssoUrl, form: { action: input.ssoUrl, fields } };
}

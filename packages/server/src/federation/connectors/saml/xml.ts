import { DOMParser } from '@xmldom/xmldom';
import { ServerError } from '../../../errors/server-error.js';

export const NS = {
  protocol: 'urn:oasis:names:tc:SAML:2.0:protocol',
  assertion: 'urn:oasis:names:tc:SAML:2.0:assertion',
  metadata: 'urn:oasis:names:tc:SAML:2.0:metadata',
  dsig: 'http://www.w3.org/2000/09/xmldsig#',
} as const;

export class XmlRefusedError extends ServerError {
  override readonly name = 'XmlRefusedError';
  constructor(message: string) {
    super('xml_refused', message);
  }
}

const ELEMENT_NODE = 1;
const TEXT_NODE = 3;
const CDATA_SECTION_NODE = 4;
const PROCESSING_INSTRUCTION_NODE = 7;
const COMMENT_NODE = 8;

/**
 * Parses XML from an untrusted party. No SAML message or metadata needs a DTD, so any DOCTYPE or
 * entity declaration is refused before a parser sees it: that shuts out external entities (XXE) and
 * entity expansion ("billion laughs") whatever the parsers downstream would do with them.
 */
export function parseUntrustedXml(xml: string): Document {
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) throw new XmlRefusedError('a DOCTYPE or entity declaration');
  const errors: string[] = [];
  const doc = new DOMParser({
    locator: {},
    errorHandler: {
      warning: () => {},
      error: (message) => errors.push(message),
      fatalError: (message) => errors.push(message),
    },
  }).parseFromString(xml, 'text/xml') as unknown as Document;
  if (errors.length > 0 || !doc?.documentElement) throw new XmlRefusedError('malformed XML');
  if ((doc as { doctype?: unknown }).doctype) throw new XmlRefusedError('a DOCTYPE');
  return doc;
}

/**
 * Refuses comments and processing instructions anywhere under `root`. Exclusive canonicalization
 * drops comments, so a comment added inside a signed value leaves the signature valid; a consumer
 * that reads the first text node then sees a truncated value (the 2018 "comment truncation"
 * attack on NameID). Nothing legitimate puts comments inside a SAML response, so none is accepted.
 */
export function assertNoCommentsOrInstructions(root: Node): void {
  const stack: Node[] = [root];
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (node.nodeType === COMMENT_NODE) throw new XmlRefusedError('a comment');
    if (node.nodeType === PROCESSING_INSTRUCTION_NODE) throw new XmlRefusedError('a processing instruction');
    for (let child = node.firstChild; child; child = child.nextSibling) stack.push(child);
  }
}

export function isElement(node: Node | null | undefined, ns: string, localName: string): node is Element {
  return (
    !!node &&
    node.nodeType === ELEMENT_NODE &&
    (node as Element).localName === localName &&
    (node as Element).namespaceURI === ns
  );
}

export function childElements(parent: Node, ns: string, localName: string): Element[] {
  const found: Element[] = [];
  for (let child = parent.firstChild; child; child = child.nextSibling) {
    if (isElement(child, ns, localName)) found.push(child);
  }
  return found;
}

/** The only child element with that name; `undefined` when absent, an error when repeated. */
export function onlyChild(parent: Node, ns: string, localName: string): Element | undefined {
  const found = childElements(parent, ns, localName);
  if (found.length > 1) throw new XmlRefusedError(`more than one ${localName}`);
  return found[0];
}

/**
 * The text of an element that may hold only text. Anything else inside (an element, a comment) is
 * refused rather than skipped, so no reading can disagree with what was signed.
 */
export function textOf(element: Element): string {
  let text = '';
  for (let child = element.firstChild; child; child = child.nextSibling) {
    if (child.nodeType === TEXT_NODE || child.nodeType === CDATA_SECTION_NODE) text += child.nodeValue ?? '';
    else throw new XmlRefusedError(`unexpected content in ${element.localName}`);
  }
  return text.trim();
}

export function attributeOf(element: Element, name: string): string | undefined {
  return element.hasAttribute(name) ? element.getAttribute(name)! : undefined;
}

/** An `xs:dateTime` (UTC, SAML Core §1.3.3) as epoch ms; `undefined` when absent, an error when invalid. */
export function instantOf(element: Element, name: string): number | undefined {
  const value = attributeOf(element, name);
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(value) || Number.isNaN(ms)) {
    throw new XmlRefusedError(`an invalid ${name}`);
  }
  return ms;
}

export function escapeXml(value: string): string {
  return value
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

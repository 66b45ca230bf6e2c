import { clientAllowed } from '../../domain/directory.js';
import { emailDomain, parseWorkEmail } from '../../domain/emails.js';
import { format } from '../../pages/index.js';
import { messages } from '../../pages/messages.js';
import type { Step } from '../flow.js';

/**
 * Home-realm discovery: the email's domain names the organization, whose connection decides the
 * next step (a local password, or the organization's IdP). An unknown email walks the same path as
 * a known one, so nothing reveals which accounts exist.
 */
export const routeStep: Step = {
  async enter(flow, s) {
    const { organizations, users, defaultOrganization } = flow.deps;
    const typed = s.state.email ?? '';
    const email = parseWorkEmail(typed);
    if (!email) {
      // Back to the email page with what was typed, so a typo is visible.
      await flow.save(s, { step: 'email', switching: s.state.switching, email: typed });
      return flow.showCurrent(s, { message: messages.emailInvalid, status: 400 });
    }
    const domain = emailDomain(email);
    const org =
      organizations.forDomain(domain) ??
      (defaultOrganization ? organizations.byId(defaultOrganization) : undefined);
    if (!org) {
      await flow.audit(s, {
        action: 'route_email',
        outcome: 'failure',
        details: { domain, reason: 'unknown_domain' },
      });
      // Back on the email page with the email as typed, so a typo in the domain is visible and fixable.
      await flow.save(s, { step: 'email', switching: s.state.switching, email: typed });
      return flow.showCurrent(s, { message: format(messages.noOrganization, { domain }), status: 404 });
    }
    // Said before any credential is asked for; the policy step enforces it for every path.
    if (!clientAllowed(org, s.clientId)) {
      return flow.message(s, {
        message: format(messages.clientNotAllowed, { app: await flow.appName(s) }),
        status: 403,
      });
    }
    const user = await users.byEmail(email);
    const next = {
      switching: s.state.switching,
      email,
      organizationId: org.id,
      userId: user && user.organizationId === org.id ? user.id : undefined,
      amr: [],
    };
    return flow.go(s, org.connection.type === 'local' ? 'password' : 'upstream', next);
  },
};

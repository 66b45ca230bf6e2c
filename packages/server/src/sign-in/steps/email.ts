import { emailPage } from '../../pages/sign-in-pages.js';
import type { Step } from '../flow.js';

/** The first page: the work email (home-realm discovery starts from its domain), or a passkey. */
export const emailStep: Step = {
  enter: (flow, s) => emailStep.show!(flow, s),
  async show(flow, s, problem) {
    const hint = typeof s.details.params.login_hint === 'string' ? s.details.params.login_hint : undefined;
    return flow.page(
      s,
      emailPage({
        brand: flow.brand(s),
        action: flow.url(s, '/email'),
        csrf: flow.csrfToken(s),
        appName: await flow.appName(s),
        email: s.state.email ?? (s.state.switching ? undefined : hint),
        error: problem?.message,
        passkeyAction: flow.url(s, '/passkey'),
      }),
      problem,
    );
  },
  routes: [
    {
      method: 'POST',
      path: '/email',
      at: 'any',
      handle: (flow, s, { body }) =>
        flow.go(s, 'route', { switching: s.state.switching, email: String(body.email ?? '') }),
    },
    {
      // "Not you?": forget the typed email (and, on the launch page, the session's user).
      method: 'GET',
      path: '/switch',
      at: 'any',
      handle: (flow, s) => flow.restart(s, { switching: true }),
    },
  ],
};

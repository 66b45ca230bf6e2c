import { recoveryCodesPage } from '../../pages/two-step-pages.js';
import { recoveryCodesDownload } from '../../pages/two-step-text.js';
import type { Step } from '../flow.js';
import { notPastFirstFactor, pastFirstFactor, sealPurpose } from '../two-step-common.js';

/** The recovery codes of a fresh enrollment, shown once (sealed in the state until "I saved them"). */
export const recoveryCodesStep: Step = {
  enter: (flow, s) => recoveryCodesStep.show!(flow, s),
  async show(flow, s) {
    const sealed = s.state.data?.codes;
    if (!pastFirstFactor(s) || typeof sealed !== 'string') return flow.restart(s, s.state);
    const codes = JSON.parse(flow.deps.secretBox.decrypt(sealed, sealPurpose(s.uid))) as string[];
    return flow.page(
      s,
      recoveryCodesPage({
        brand: flow.brand(s),
        codes,
        downloadHref: recoveryCodesDownload(s.state.email ?? '', codes),
        doneAction: flow.url(s, '/2sv/codes-saved'),
        csrf: flow.csrfToken(s),
      }),
    );
  },
  routes: [
    {
      method: 'POST',
      path: '/2sv/codes-saved',
      async handle(flow, s) {
        if (!pastFirstFactor(s)) return notPastFirstFactor(flow, s);
        return flow.go(s, 'policy', { ...s.state, data: undefined });
      },
    },
  ],
};

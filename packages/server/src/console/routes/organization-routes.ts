import { AdminError } from '../../admin/errors.js';
import type { DomainSummary, OrganizationSummary } from '../../admin/organizations.js';
import { html } from '../../pages/html.js';
import { type ConsoleKit, field, type PageContext, type PageResult, withFormErrors } from '../kit.js';
import { mayUse } from '../operations.js';
import {
  type ConnectionTestView,
  type ConnectionView,
  organizationBody,
  organizationsBody,
} from '../pages/organization-pages.js';
import { confirmBody } from '../pages/user-pages.js';
import {
  addOrganizationForm,
  organizationForms,
  type ScimTokenView,
  scimSection,
} from '../pages/write-forms.js';

type OrgParams = { organization: string };
type DomainParams = OrgParams & { domain: string };

const orgPath = (id: string) => `/admin/organizations/${encodeURIComponent(id)}`;

/** Results shown after an action's redirect: a fixed set, so nothing from the URL reaches the page. */
const NOTICES: Record<string, string> = {
  added: 'The organization is added.',
  policy: 'The policy is saved.',
  'domain-added': 'The domain is added.',
  'domain-verified': 'The domain is verified.',
  'domain-removed': 'The domain is removed.',
  connection: 'The connection is saved.',
  removed: 'The organization is removed.',
  'scim-revoked': 'The SCIM token is revoked: the directory can no longer provision with it.',
};
const notice = (done: string | undefined) =>
  done && Object.hasOwn(NOTICES, done) ? NOTICES[done] : undefined;

/** A form's JSON field, or a readable refusal the form shows. */
function json(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new AdminError(
      'invalid',
      `${what}: not valid JSON (${text.length === 0 ? 'empty' : 'check quotes and commas'})`,
    );
  }
}

export function registerOrganizationRoutes(kit: ConsoleKit): void {
  async function list(ctx: PageContext, error?: string): Promise<PageResult> {
    const { organizations } = await ctx.run<{ organizations: OrganizationSummary[] }>('listOrganizations');
    const done = (ctx.request.query as { done?: string }).done;
    return {
      title: 'Organizations',
      section: '/admin/organizations',
      notice: error ? undefined : notice(done),
      error,
      body: html`${organizationsBody(organizations)}${mayUse('addOrganization', ctx.caller) ? addOrganizationForm(ctx.session.csrf) : ''}`,
    };
  }
  kit.page('/admin/organizations', (ctx) => list(ctx));

  kit.action('/admin/organizations', (ctx) =>
    withFormErrors(
      async () => {
        const b = ctx.request.body;
        const domains = field(b, 'domains')
          .split(',')
          .map((d) => d.trim())
          .filter(Boolean);
        const org = await ctx.run<OrganizationSummary>('addOrganization', {
          body: {
            id: field(b, 'id').trim(),
            name: field(b, 'name').trim(),
            ...(domains.length ? { domains } : {}),
          },
        });
        return ctx.reply.redirect(`${orgPath(org.id)}?done=added`, 303);
      },
      (error) => list(ctx, error),
    ),
  );

  async function render(
    ctx: PageContext<OrgParams>,
    test?: ConnectionTestView,
    error?: string,
    created?: { token: string; label: string | null },
  ): Promise<PageResult> {
    const params = { organization: ctx.request.params.organization };
    const org = await ctx.run<OrganizationSummary>('getOrganization', { params });
    const [domains, connection, scim] = await Promise.all([
      ctx.run<{ domains: DomainSummary[] }>('listDomains', { params }),
      ctx.run<ConnectionView>('getConnection', { params }),
      ctx.run<{ url: string; tokens: ScimTokenView[] }>('listScimTokens', { params }),
    ]);
    return {
      title: org.name,
      section: '/admin/organizations' as const,
      notice: error ? undefined : notice((ctx.request.query as { done?: string }).done),
      error,
      body: html`${organizationBody({ org, domains: domains.domains, connection, csrf: ctx.session.csrf, test })}${organizationForms(
        {
          org,
          domains: domains.domains,
          connection,
          csrf: ctx.session.csrf,
          instance: mayUse('setOrganizationPolicy', ctx.caller),
        },
      )}${scimSection({ organizationId: org.id, url: scim.url, tokens: scim.tokens, csrf: ctx.session.csrf, created })}`,
    };
  }

  /** An organization form: runs, then back to the page with its notice, or the page with the error. */
  function orgAction<P extends OrgParams>(
    path: string,
    work: (ctx: PageContext<P>, organization: string) => Promise<string | PageResult>,
  ) {
    kit.action<P>(path, (ctx) =>
      withFormErrors(
        async () => {
          const organization = (ctx.request.params as OrgParams).organization;
          const outcome = await work(ctx, organization);
          if (typeof outcome !== 'string') return outcome;
          const to = outcome === 'removed' ? '/admin/organizations' : orgPath(organization);
          return ctx.reply.redirect(`${to}?done=${outcome}`, 303);
        },
        (error) => render(ctx as unknown as PageContext<OrgParams>, undefined, error),
      ),
    );
  }

  /** Destructive: the confirmation page until `confirmed=yes` comes back. */
  function confirmation(
    ctx: PageContext<OrgParams>,
    consequence: string,
    button: string,
  ): PageResult | undefined {
    if (field(ctx.request.body, 'confirmed') === 'yes') return undefined;
    return {
      title: button,
      section: '/admin/organizations',
      body: confirmBody({
        action: ctx.request.url.split('?')[0] ?? '',
        csrf: ctx.session.csrf,
        consequence,
        button,
        cancelHref: orgPath(ctx.request.params.organization),
      }),
    };
  }

  orgAction('/admin/organizations/:organization/policy', async (ctx, organization) => {
    await ctx.run('setOrganizationPolicy', {
      params: { organization },
      body: json(field(ctx.request.body, 'policy'), 'policy'),
    });
    return 'policy';
  });
  orgAction('/admin/organizations/:organization/connection', async (ctx, organization) => {
    await ctx.run('setConnection', {
      params: { organization },
      body: json(field(ctx.request.body, 'connection'), 'connection'),
    });
    return 'connection';
  });
  orgAction('/admin/organizations/:organization/domains', async (ctx, organization) => {
    const verify = field(ctx.request.body, 'verify') === 'yes';
    await ctx.run('addDomain', {
      params: { organization },
      body: { domain: field(ctx.request.body, 'domain').trim(), ...(verify ? { verify: true } : {}) },
    });
    return 'domain-added';
  });
  orgAction<DomainParams>(
    '/admin/organizations/:organization/domains/:domain/verify',
    async (ctx, organization) => {
      await ctx.run('verifyDomain', { params: { organization, domain: ctx.request.params.domain } });
      return 'domain-verified';
    },
  );
  orgAction<DomainParams>(
    '/admin/organizations/:organization/domains/:domain/remove',
    async (ctx, organization) => {
      const domain = ctx.request.params.domain;
      const ask = confirmation(
        ctx,
        `Remove ${domain} from ${organization}? Its people are no longer routed to this organization by their email.`,
        `Remove ${domain}`,
      );
      if (ask) return ask;
      await ctx.run('removeDomain', { params: { organization, domain } });
      return 'domain-removed';
    },
  );
  orgAction('/admin/organizations/:organization/remove', async (ctx, organization) => {
    const ask = confirmation(
      ctx,
      `Remove the organization ${organization}? It is refused while the organization has users.`,
      'Remove organization',
    );
    if (ask) return ask;
    await ctx.run('removeOrganization', { params: { organization } });
    return 'removed';
  });

  // The new token's value is the answer to the POST (never in a URL, never stored): shown once.
  kit.action<OrgParams>('/admin/organizations/:organization/scim-tokens', (ctx) =>
    withFormErrors(
      async () => {
        const label = field(ctx.request.body, 'label').trim();
        const made = await ctx.run<{ token: string; summary: { label: string | null } }>('createScimToken', {
          params: { organization: ctx.request.params.organization },
          body: label ? { label } : {},
        });
        ctx.reply.header('cache-control', 'no-store');
        return render(ctx, undefined, undefined, { token: made.token, label: made.summary.label });
      },
      (error) => render(ctx, undefined, error),
    ),
  );
  orgAction<OrgParams & { token: string }>(
    '/admin/organizations/:organization/scim-tokens/:token/revoke',
    async (ctx, organization) => {
      const ask = confirmation(
        ctx,
        `Revoke this SCIM token of ${organization}? The directory's provisioning stops until it has a new one.`,
        'Revoke SCIM token',
      );
      if (ask) return ask;
      await ctx.run('revokeScimToken', { params: { organization, token: ctx.request.params.token } });
      return 'scim-revoked';
    },
  );

  kit.page<OrgParams>('/admin/organizations/:organization', (ctx) => render(ctx));

  // The test result is the answer to the POST: it is about this moment, and changes nothing.
  kit.action<OrgParams>('/admin/organizations/:organization/test-connection', async (ctx) => {
    const test = await ctx.run<ConnectionTestView>('testConnection', {
      params: { organization: ctx.request.params.organization },
    });
    return render(ctx, test);
  });
}

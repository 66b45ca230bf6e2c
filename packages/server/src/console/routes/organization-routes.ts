import type { DomainSummary, OrganizationSummary } from '../../admin/organizations.js';
import type { ConsoleKit, PageContext } from '../kit.js';
import {
  type ConnectionTestView,
  type ConnectionView,
  organizationBody,
  organizationsBody,
} from '../pages/organization-pages.js';

type OrgParams = { organization: string };

export function registerOrganizationRoutes(kit: ConsoleKit): void {
  kit.page('/admin/organizations', async (ctx) => {
    const { organizations } = await ctx.run<{ organizations: OrganizationSummary[] }>('listOrganizations');
    return {
      title: 'Organizations',
      section: '/admin/organizations',
      body: organizationsBody(organizations),
    };
  });

  async function render(ctx: PageContext<OrgParams>, test?: ConnectionTestView) {
    const params = { organization: ctx.request.params.organization };
    const org = await ctx.run<OrganizationSummary>('getOrganization', { params });
    const [domains, connection] = await Promise.all([
      ctx.run<{ domains: DomainSummary[] }>('listDomains', { params }),
      ctx.run<ConnectionView>('getConnection', { params }),
    ]);
    return {
      title: org.name,
      section: '/admin/organizations' as const,
      body: organizationBody({ org, domains: domains.domains, connection, csrf: ctx.session.csrf, test }),
    };
  }

  kit.page<OrgParams>('/admin/organizations/:organization', (ctx) => render(ctx));

  // The test result is the answer to the POST: it is about this moment, and changes nothing.
  kit.action<OrgParams>('/admin/organizations/:organization/test-connection', async (ctx) => {
    const test = await ctx.run<ConnectionTestView>('testConnection', {
      params: { organization: ctx.request.params.organization },
    });
    return render(ctx, test);
  });
}

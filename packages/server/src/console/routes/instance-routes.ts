import type { AdminGrant } from '../../admin/admins.js';
import type { ListedAuditEvent } from '../../admin/audit.js';
import type { ClientSummary } from '../../admin/clients.js';
import type { KeySummary } from '../../admin/keys.js';
import type { OrganizationSummary } from '../../admin/organizations.js';
import { html } from '../../pages/html.js';
import { type ConsoleKit, field, type PageContext, type PageResult, withFormErrors } from '../kit.js';
import { type AuditFilters, auditBody } from '../pages/audit-page.js';
import { appsBody, keysBody } from '../pages/instance-pages.js';
import { confirmBody } from '../pages/user-pages.js';
import { administratorsBody, appForms } from '../pages/write-forms.js';

/** `datetime-local` values are read as UTC (the page says so), like every time the console shows. */
function utc(value: string | undefined): string | undefined {
  if (!value) return undefined;
  return /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/.test(value) ? `${value}Z` : value;
}

/** Apps, signing keys and the audit log: instance administrators only (the operations say so). */
export function registerInstanceRoutes(kit: ConsoleKit): void {
  async function apps(ctx: PageContext, error?: string): Promise<PageResult> {
    const { clients } = await ctx.run<{ clients: ClientSummary[] }>('listClients');
    const done = (ctx.request.query as { done?: string }).done;
    return {
      title: 'Apps',
      section: '/admin/apps',
      error,
      notice: error
        ? undefined
        : done === 'added'
          ? 'The app is added.'
          : done === 'removed'
            ? 'The app is removed.'
            : undefined,
      body: html`${appsBody(clients)}${appForms(ctx.session.csrf, clients)}`,
    };
  }
  kit.page('/admin/apps', (ctx) => apps(ctx));

  kit.action('/admin/apps', (ctx) =>
    withFormErrors(
      async () => {
        const b = ctx.request.body;
        const redirects = field(b, 'redirect_uris')
          .split(/\r?\n/)
          .map((u) => u.trim())
          .filter(Boolean);
        await ctx.run('addClient', {
          body: {
            id: field(b, 'id').trim(),
            ...(field(b, 'name') ? { name: field(b, 'name') } : {}),
            ...(field(b, 'kind') ? { kind: field(b, 'kind') } : {}),
            redirect_uris: redirects,
            ...(field(b, 'device_flow') === 'yes' ? { device_flow: true } : {}),
            ...(field(b, 'secret') ? { secret: field(b, 'secret') } : {}),
          },
        });
        return ctx.reply.redirect('/admin/apps?done=added', 303);
      },
      (error) => apps(ctx, error),
    ),
  );

  kit.action<{ client: string }>('/admin/apps/:client/remove', (ctx) =>
    withFormErrors(
      async () => {
        const client = ctx.request.params.client;
        if (field(ctx.request.body, 'confirmed') !== 'yes') {
          return {
            title: 'Remove app',
            section: '/admin/apps',
            body: confirmBody({
              action: `/admin/apps/${encodeURIComponent(client)}/remove`,
              csrf: ctx.session.csrf,
              consequence: `Remove the app ${client}? Its sign-ins stop working: it can no longer get or refresh tokens.`,
              button: 'Remove app',
              cancelHref: '/admin/apps',
            }),
          };
        }
        await ctx.run('removeClient', { params: { client } });
        return ctx.reply.redirect('/admin/apps?done=removed', 303);
      },
      (error) => apps(ctx as unknown as PageContext, error),
    ),
  );

  async function administrators(ctx: PageContext, error?: string): Promise<PageResult> {
    const [{ admins }, { organizations }] = await Promise.all([
      ctx.run<{ admins: AdminGrant[] }>('listAdmins'),
      ctx.run<{ organizations: OrganizationSummary[] }>('listOrganizations'),
    ]);
    const done = (ctx.request.query as { done?: string }).done;
    return {
      title: 'Administrators',
      section: '/admin/administrators',
      error,
      notice: error
        ? undefined
        : done === 'granted'
          ? 'The role is granted.'
          : done === 'revoked'
            ? 'The role is taken away.'
            : undefined,
      body: administratorsBody(ctx.session.csrf, admins, organizations),
    };
  }
  kit.page('/admin/administrators', (ctx) => administrators(ctx));

  kit.action('/admin/administrators', (ctx) =>
    withFormErrors(
      async () => {
        const organization = field(ctx.request.body, 'organization');
        await ctx.run('grantAdmin', {
          body: { user: field(ctx.request.body, 'user').trim(), ...(organization ? { organization } : {}) },
        });
        return ctx.reply.redirect('/admin/administrators?done=granted', 303);
      },
      (error) => administrators(ctx, error),
    ),
  );

  kit.action<{ user: string }, { organization?: string }>('/admin/administrators/:user/revoke', (ctx) =>
    withFormErrors(
      async () => {
        const user = ctx.request.params.user;
        const organization = ctx.request.query.organization || undefined;
        if (field(ctx.request.body, 'confirmed') !== 'yes') {
          // listAdmins first: the page names the person, and an organization administrator gets 403 here.
          const { admins } = await ctx.run<{ admins: AdminGrant[] }>('listAdmins');
          const who = admins.find((a) => a.userId === user)?.email ?? user;
          const role = organization ? `administrator of ${organization}` : 'instance administrator';
          return {
            title: 'Revoke administrator',
            section: '/admin/administrators',
            body: confirmBody({
              action: ctx.request.url,
              csrf: ctx.session.csrf,
              consequence: `Take the role ${role} away from ${who}? They can no longer use what the role allowed.`,
              button: 'Revoke',
              cancelHref: '/admin/administrators',
            }),
          };
        }
        await ctx.run('revokeAdmin', { params: { user }, query: { organization } });
        return ctx.reply.redirect('/admin/administrators?done=revoked', 303);
      },
      (error) => administrators(ctx as unknown as PageContext, error),
    ),
  );

  kit.page<Record<string, string>, { done?: string }>('/admin/keys', async (ctx) => {
    const { keys } = await ctx.run<{ keys: KeySummary[] }>('listKeys');
    return {
      title: 'Signing keys',
      section: '/admin/keys',
      notice:
        ctx.request.query.done === 'rotated'
          ? 'New keys are published; they sign after the activation delay.'
          : undefined,
      body: keysBody(keys, ctx.session.csrf),
    };
  });

  kit.action('/admin/keys/rotate', async (ctx) => {
    await ctx.run('rotateKeys', {
      body: {
        activate_in: field(ctx.request.body, 'activate_in') || undefined,
        keep_old_for: field(ctx.request.body, 'keep_old_for') || undefined,
      },
    });
    return ctx.reply.redirect('/admin/keys?done=rotated', 303);
  });

  kit.page<Record<string, string>, Partial<AuditFilters> & { cursor?: string }>(
    '/admin/audit',
    async (ctx) => {
      const q = ctx.request.query;
      const filters: AuditFilters = {
        actor: q.actor?.trim() ?? '',
        user: q.user?.trim() ?? '',
        action: q.action?.trim() ?? '',
        since: q.since ?? '',
        until: q.until ?? '',
      };
      const page = await ctx.run<{ events: ListedAuditEvent[]; next?: string }>('searchAudit', {
        query: {
          actor: filters.actor || undefined,
          user: filters.user || undefined,
          action: filters.action || undefined,
          since: utc(filters.since),
          until: utc(filters.until),
          cursor: q.cursor || undefined,
          limit: '50',
        },
      });
      const next = page.next
        ? `/admin/audit?${new URLSearchParams({
            ...Object.fromEntries(Object.entries(filters).filter(([, v]) => v !== '')),
            cursor: page.next,
          }).toString()}`
        : undefined;
      return {
        title: 'Audit log',
        section: '/admin/audit',
        body: auditBody({ filters, events: page.events, nextHref: next }),
      };
    },
  );
}

import type { ListedAuditEvent } from '../../admin/audit.js';
import type { ClientSummary } from '../../admin/clients.js';
import type { KeySummary } from '../../admin/keys.js';
import { type ConsoleKit, field } from '../kit.js';
import { type AuditFilters, auditBody } from '../pages/audit-page.js';
import { appsBody, keysBody } from '../pages/instance-pages.js';

/** `datetime-local` values are read as UTC (the page says so), like every time the console shows. */
function utc(value: string | undefined): string | undefined {
  if (!value) return undefined;
  return /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/.test(value) ? `${value}Z` : value;
}

/** Apps, signing keys and the audit log: instance administrators only (the operations say so). */
export function registerInstanceRoutes(kit: ConsoleKit): void {
  kit.page('/admin/apps', async (ctx) => {
    const { clients } = await ctx.run<{ clients: ClientSummary[] }>('listClients');
    return { title: 'Apps', section: '/admin/apps', body: appsBody(clients) };
  });

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

import type { ListedAuditEvent } from '../../admin/audit.js';
import type { OrganizationSummary } from '../../admin/organizations.js';
import type { UserDetails, UserSummary } from '../../admin/users.js';
import type { SessionListing } from '../../domain/session-list.js';
import { html } from '../../pages/html.js';
import { type ConsoleKit, field, type PageContext, type PageResult, withFormErrors } from '../kit.js';
import { confirmBody, resetLinkBody, userBody, userSearchBody } from '../pages/user-pages.js';
import { addUserForm, setPasswordForm } from '../pages/write-forms.js';

type UserParams = { user: string };

/** Results shown after an action's redirect: a fixed set, so nothing from the URL reaches the page. */
const NOTICES: Record<string, string> = {
  disabled:
    'The user is disabled; everything they held is revoked. Their apps are refused at the next refresh.',
  enabled: 'The user is enabled.',
  revoked: 'Every session, grant and token of the user is revoked.',
  'two-step-reset': 'The user’s 2-step methods are removed and they are signed out everywhere.',
  'session-revoked': 'That sign-in is ended.',
  'throttle-cleared': 'The sign-in throttle of this account is cleared.',
  added: 'The user is added.',
  'password-set': 'The password is set; the user is signed out everywhere.',
};

/** Destructive actions: what the confirmation page says and its button. */
const CONFIRM: Record<string, { consequence: (who: string) => string; button: string }> = {
  disable: {
    consequence: (who) =>
      `Disable ${who}? They can no longer sign in, every session and refresh token they hold is revoked, and their desktop apps are refused at their next refresh.`,
    button: 'Disable',
  },
  'revoke-all': {
    consequence: (who) =>
      `Revoke everything ${who} holds? Every browser session and every app’s sign-in ends; the account stays usable.`,
    button: 'Revoke everything',
  },
  'reset-2sv': {
    consequence: (who) =>
      `Reset 2-step verification of ${who}? Their authenticator app, passkeys and recovery codes are removed and they are signed out everywhere; they enroll again at their next sign-in.`,
    button: 'Reset 2-step verification',
  },
  'revoke-session': {
    consequence: (who) => `End this sign-in of ${who}? The app (or browser) must sign in again.`,
    button: 'End this sign-in',
  },
};

const userPath = (id: string) => `/admin/users/${encodeURIComponent(id)}`;

export function registerUserRoutes(kit: ConsoleKit): void {
  async function search(
    ctx: PageContext<Record<string, string>, Record<string, string | undefined>>,
    error?: string,
  ) {
    const q = ctx.request.query;
    const query = {
      q: q.q?.trim() || undefined,
      status: q.status || undefined,
      organization: q.organization || undefined,
      cursor: q.cursor || undefined,
      limit: '25',
    };
    const [page, orgs] = await Promise.all([
      ctx.run<{ users: UserSummary[]; next?: string }>('searchUsers', { query }),
      ctx.run<{ organizations: OrganizationSummary[] }>('listOrganizations'),
    ]);
    const next = page.next
      ? `/admin/users?${new URLSearchParams(
          Object.entries({ ...query, limit: undefined, cursor: page.next }).filter(
            (e): e is [string, string] => typeof e[1] === 'string',
          ),
        ).toString()}`
      : undefined;
    return {
      title: 'Users',
      section: '/admin/users' as const,
      error,
      body: html`${userSearchBody({
        q: query.q ?? '',
        status: query.status ?? '',
        organization: query.organization ?? '',
        organizations: orgs.organizations,
        users: page.users,
        nextHref: next,
      })}${addUserForm(ctx.session.csrf, orgs.organizations)}`,
    };
  }
  kit.page<Record<string, string>, Record<string, string | undefined>>('/admin/users', (ctx) => search(ctx));

  kit.action<Record<string, string>, Record<string, string | undefined>>('/admin/users', (ctx) =>
    withFormErrors(
      async () => {
        const b = ctx.request.body;
        const optional = (name: string) => (field(b, name) ? { [name]: field(b, name) } : {});
        const user = await ctx.run<UserSummary>('addUser', {
          body: {
            email: field(b, 'email').trim(),
            ...optional('name'),
            ...optional('organization'),
            ...optional('password'),
          },
        });
        return ctx.reply.redirect(`${userPath(user.id)}?done=added`, 303);
      },
      (error) => search(ctx, error),
    ),
  );

  async function show(ctx: PageContext<UserParams, { done?: string }>, error?: string): Promise<PageResult> {
    const params = { user: ctx.request.params.user };
    const user = await ctx.run<UserDetails>('getUser', { params });
    const [sessions, audit, orgs] = await Promise.all([
      ctx.run<SessionListing>('listSessions', { params }),
      ctx.run<{ events: ListedAuditEvent[] }>('userAudit', { params, query: { limit: '20' } }),
      ctx.run<{ organizations: OrganizationSummary[] }>('listOrganizations'),
    ]);
    const org = orgs.organizations.find((o) => o.id === user.organizationId);
    const done = ctx.request.query.done;
    const upstream = org !== undefined && org.connection !== 'local';
    return {
      title: user.email ?? user.name ?? user.id,
      section: '/admin/users',
      notice: !error && done && Object.hasOwn(NOTICES, done) ? NOTICES[done] : undefined,
      error,
      body: html`${userBody({
        user,
        sessions,
        audit: audit.events,
        csrf: ctx.session.csrf,
        upstream,
      })}${upstream ? '' : setPasswordForm(ctx.session.csrf, user.id)}`,
    };
  }
  kit.page<UserParams, { done?: string }>('/admin/users/:user', (ctx) => show(ctx));

  kit.action<UserParams, { done?: string }>('/admin/users/:user/password', (ctx) =>
    withFormErrors(
      async () => {
        const user = await ctx.run<UserDetails>('getUser', { params: { user: ctx.request.params.user } });
        await ctx.run('setPassword', {
          params: { user: user.id },
          body: { password: field(ctx.request.body, 'password') },
        });
        return ctx.reply.redirect(`${userPath(user.id)}?done=password-set`, 303);
      },
      (error) => show(ctx, error),
    ),
  );

  /** A user action: destructive ones answer with the confirmation page until `confirmed=yes` comes back. */
  function userAction(
    path: string,
    confirm: keyof typeof CONFIRM | undefined,
    run: (ctx: PageContext<Record<string, string>>, user: UserDetails) => Promise<string | PageResult>,
  ) {
    kit.action<Record<string, string>>(path, async (ctx) => {
      const user = await ctx.run<UserDetails>('getUser', { params: { user: ctx.request.params.user ?? '' } });
      const who = user.email ?? user.name ?? user.id;
      if (confirm && field(ctx.request.body, 'confirmed') !== 'yes') {
        const text = CONFIRM[confirm] as (typeof CONFIRM)[string];
        return {
          title: text.button,
          section: '/admin/users',
          body: confirmBody({
            action: ctx.request.url.split('?')[0] ?? path,
            csrf: ctx.session.csrf,
            consequence: text.consequence(who),
            button: text.button,
            cancelHref: userPath(user.id),
          }),
        };
      }
      const outcome = await run(ctx, user);
      if (typeof outcome === 'string') return ctx.reply.redirect(`${userPath(user.id)}?done=${outcome}`, 303);
      return outcome;
    });
  }

  const params = (user: UserDetails) => ({ params: { user: user.id } });
  userAction('/admin/users/:user/disable', 'disable', async (ctx, user) => {
    await ctx.run('disableUser', params(user));
    return 'disabled';
  });
  userAction('/admin/users/:user/enable', undefined, async (ctx, user) => {
    await ctx.run('enableUser', params(user));
    return 'enabled';
  });
  userAction('/admin/users/:user/revoke-all', 'revoke-all', async (ctx, user) => {
    await ctx.run('revokeEverything', params(user));
    return 'revoked';
  });
  userAction('/admin/users/:user/reset-2sv', 'reset-2sv', async (ctx, user) => {
    await ctx.run('resetTwoStep', params(user));
    return 'two-step-reset';
  });
  userAction('/admin/users/:user/clear-throttle', undefined, async (ctx, user) => {
    await ctx.run('clearThrottle', params(user));
    return 'throttle-cleared';
  });
  userAction('/admin/users/:user/sessions/:session/revoke', 'revoke-session', async (ctx, user) => {
    await ctx.run('revokeSession', { params: { user: user.id, session: ctx.request.params.session ?? '' } });
    return 'session-revoked';
  });
  // The link is shown once, on the answer to the POST (never in a URL or the log).
  userAction('/admin/users/:user/reset-link', undefined, async (ctx, user) => {
    const link = await ctx.run<{ url: string; expiresAt: number }>('createResetLink', params(user));
    return {
      title: 'Password reset link',
      section: '/admin/users',
      body: resetLinkBody(user, link.url, link.expiresAt),
    };
  });
}

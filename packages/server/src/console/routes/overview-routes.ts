import type { Database } from '../../storage/database.js';
import type { ConsoleKit } from '../kit.js';
import { signInActivity } from '../overview-stats.js';
import { overviewBody } from '../pages/overview-page.js';

export function registerOverviewRoutes(kit: ConsoleKit, database: Pick<Database, 'db'>): void {
  kit.page('/admin', async (ctx) => {
    // Who may see what: the same `getMe` every role may call; an organization administrator's
    // numbers are their organizations' events only.
    await ctx.run('getMe');
    const organizations = ctx.caller.roles.instance ? undefined : ctx.caller.roles.organizations;
    const hours = await signInActivity(database, { hours: 24, organizations });
    return {
      title: 'Overview',
      section: '/admin',
      body: overviewBody({
        hours,
        scope: organizations ? `in ${organizations.join(', ')}` : 'across every organization',
      }),
    };
  });
}

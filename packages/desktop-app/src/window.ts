/**
 * Acme Desktop's one window (GTK 3): a header bar with the app's name and the account menu, and a
 * stack of views — loading, the sign-in form, "Continue in your browser", the device code, and the
 * signed-in main view (with an offline banner). No sign-in logic lives here: see app.ts.
 *
 * Keyboard and screen readers: every action is a button or a menu item with a mnemonic (Alt+letter);
 * the sign-in button is the window's default (Enter in the email field presses it); the account menu
 * opens with F10; Escape cancels a waiting sign-in; Ctrl+Q quits, F5 retries. Icon-only widgets carry accessible names.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type G, loadToolkit } from './gtk.js';

export interface Project {
  id: string;
  name: string;
}

export type View =
  | { kind: 'loading'; text: string }
  | { kind: 'sign-in'; email?: string; reason?: string; busy?: boolean }
  | { kind: 'waiting'; url?: string; flow: 'scheme' | 'loopback' }
  | {
      kind: 'device';
      userCode: string;
      verificationUri: string;
      verificationUriComplete?: string;
      qrPng?: string;
    }
  | {
      kind: 'main';
      name?: string;
      email?: string;
      organization?: string;
      /** The API's answer; undefined while loading. */
      projects?: Project[];
      apiError?: string;
      /** Set when the server cannot be reached: the banner's text. */
      offline?: string;
    };

export interface WindowActions {
  signIn(email: string): void;
  signInWithCode(email: string): void;
  cancel(): void;
  copyLink(): void;
  retry(): void;
  signOut(everywhere: boolean): void;
  repairScheme(): void;
  quit(): void;
}

export interface AppWindow {
  show(view: View): void;
  /** A short line at the bottom of the window (copied, registered, …). */
  status(text: string): void;
  present(): void;
  copyToClipboard(text: string): void;
  /** The texts a person sees now, in order (for tests and screen-reader checks). */
  visibleTexts(): string[];
  /** The control with the keyboard focus, as `role: name` (what Enter or Space acts on). */
  focused(): string | undefined;
  /** The controls a keyboard reaches, as a screen reader announces them: `role: accessible name`. */
  controls(): string[];
  readonly view: View['kind'];
  destroy(): void;
}

/** Loaded from a file: node-gtk garbles `loadFromData` strings longer than ~300 bytes (4.1.1). */
const CSS_FILE = [
  new URL('../assets/style.css', import.meta.url),
  new URL('../../assets/style.css', import.meta.url),
]
  .map((url) => fileURLToPath(url))
  .find((file) => existsSync(file));

export const TITLE = 'Acme Desktop';

export function createWindow(actions: WindowActions): AppWindow {
  const { Gtk, Gdk, Atk } = loadToolkit();

  const provider = new Gtk.CssProvider();
  if (CSS_FILE) provider.loadFromPath(CSS_FILE);
  Gtk.StyleContext.addProviderForScreen(Gdk.Screen.getDefault(), provider, 600);

  const window = new Gtk.Window({ type: Gtk.WindowType.TOPLEVEL });
  window.setTitle(TITLE);
  window.setDefaultSize(520, 600);
  window.setIconName('applications-internet');
  window.on('delete-event', () => {
    actions.quit();
    return true;
  });

  const accel = new Gtk.AccelGroup();
  window.addAccelGroup(accel);

  // Views are built the first time they are shown: a silent launch never builds the sign-in form.
  const built: Record<string, G> = {};
  const once =
    <T>(name: string, build: () => T) =>
    (): T => {
      built[name] ??= build();
      return built[name] as T;
    };
  const named = (widget: G, name: string) => {
    widget.getAccessible()?.setName(name);
    return widget;
  };
  const label = (text: string, classes: string[] = [], options: Record<string, unknown> = {}) => {
    const widget = new Gtk.Label({ label: text, xalign: 0, wrap: true, ...options });
    for (const name of classes) widget.getStyleContext().addClass(name);
    return widget;
  };
  const button = (mnemonic: string, onClick: () => void, classes: string[] = []) => {
    const widget = Gtk.Button.newWithMnemonic(mnemonic);
    for (const name of classes) widget.getStyleContext().addClass(name);
    widget.on('clicked', onClick);
    return widget;
  };
  const vbox = (spacing: number, margin = 0) => {
    const box = new Gtk.Box({ orientation: Gtk.Orientation.VERTICAL, spacing });
    if (margin) {
      box.setMarginTop(margin);
      box.setMarginBottom(margin);
      box.setMarginStart(margin + 8);
      box.setMarginEnd(margin + 8);
    }
    return box;
  };

  // ---- header bar and account menu ----------------------------------------------------------------
  const header = new Gtk.HeaderBar();
  header.setShowCloseButton(true);
  header.setTitle(TITLE);
  window.setTitlebar(header);

  const menu = new Gtk.Menu();
  const menuItem = (mnemonic: string, onActivate: () => void, key?: number, mods = 0) => {
    const item = Gtk.MenuItem.newWithMnemonic(mnemonic);
    item.on('activate', onActivate);
    if (key !== undefined) item.addAccelerator('activate', accel, key, mods, Gtk.AccelFlags.VISIBLE);
    menu.append(item);
    return item;
  };
  const accountItem = new Gtk.MenuItem({ label: '' });
  accountItem.setSensitive(false);
  menu.append(accountItem);
  const accountSeparator = new Gtk.SeparatorMenuItem();
  menu.append(accountSeparator);
  const signOutItem = menuItem('_Sign out', () => actions.signOut(false));
  const signOutEverywhereItem = menuItem('Sign out _everywhere', () => actions.signOut(true));
  const signOutSeparator = new Gtk.SeparatorMenuItem();
  menu.append(signOutSeparator);
  const retryItem = menuItem('Re_load', () => actions.retry(), Gdk.KEY_F5);
  menuItem('_Repair link handling', () => actions.repairScheme());
  menu.append(new Gtk.SeparatorMenuItem());
  menuItem('_Quit', () => actions.quit(), Gdk.KEY_q, Gdk.ModifierType.CONTROL_MASK);
  menu.showAll();

  const menuButton = new Gtk.MenuButton();
  menuButton.setPopup(menu);
  menuButton.setImage(Gtk.Image.newFromIconName('open-menu-symbolic', Gtk.IconSize.BUTTON));
  menuButton.setTooltipText('Account and app menu (F10)');
  named(menuButton, 'Account menu');
  header.packEnd(menuButton);
  // F10 opens the menu, as in GNOME apps.
  // Escape cancels a sign-in that waits for the browser or a code.
  window.on('key-press-event', (event: G) => {
    if (event.keyval === Gdk.KEY_F10) {
      menuButton.setActive(!menuButton.getActive());
      return true;
    }
    if (event.keyval === Gdk.KEY_Escape && (current.kind === 'waiting' || current.kind === 'device')) {
      actions.cancel();
      return true;
    }
    return false;
  });

  // ---- views -------------------------------------------------------------------------------------
  const stack = new Gtk.Stack();
  stack.setTransitionType(Gtk.StackTransitionType.CROSSFADE);
  stack.setTransitionDuration(120);

  // Loading
  const loading = vbox(12, 24);
  loading.setValign(Gtk.Align.CENTER);
  const loadingSpinner = new Gtk.Spinner();
  loadingSpinner.setSizeRequest(32, 32);
  const loadingText = label('', ['muted'], { xalign: 0.5 });
  loading.packStart(loadingSpinner, false, false, 0);
  loading.packStart(loadingText, false, false, 0);
  stack.addNamed(loading, 'loading');

  // Sign-in form: name and welcome above, the form at the bottom.
  const signInPage = once('signInPage', () => {
    const signIn = vbox(10, 24);
    signIn.packStart(label(TITLE, ['app-title']), false, false, 0);
    signIn.packStart(
      label('Welcome! Acme Desktop keeps your team’s projects one click away.', ['welcome']),
      false,
      false,
      0,
    );
    signIn.packStart(
      label('Sign in with your work account: your browser opens, and you come straight back here.', [
        'muted',
      ]),
      false,
      false,
      0,
    );
    const reasonLabel = label('', ['reason']);
    const emailLabel = Gtk.Label.newWithMnemonic('_Work email (optional)');
    emailLabel.setXalign(0);
    const emailEntry = new Gtk.Entry();
    emailEntry.setPlaceholderText('you@company.com');
    emailEntry.setInputPurpose(Gtk.InputPurpose.EMAIL);
    emailLabel.setMnemonicWidget(emailEntry);
    named(emailEntry, 'Work email');
    const signInButton = button('_Log in with email', () => actions.signIn(emailEntry.getText().trim()), [
      'suggested-action',
      'sign-in-button',
    ]);
    signInButton.setCanDefault(true);
    // Enter in the field signs in, as the default button would. Not through GTK's activate-default:
    // once a sign-in was cancelled (Escape from waiting), the button's keyboard activation never
    // completed again and Enter did nothing (e2e/desktop-app.test.ts, cold start).
    emailEntry.setActivatesDefault(false);
    emailEntry.on('activate', () => {
      if (signInButton.getSensitive()) actions.signIn(emailEntry.getText().trim());
    });
    const codeButton = button(
      'Use a _code instead',
      () => actions.signInWithCode(emailEntry.getText().trim()),
      ['flat'],
    );
    codeButton.setTooltipText('Sign in on another device (phone or computer) with a short code');
    const form = vbox(8);
    form.packStart(reasonLabel, false, false, 0);
    form.packStart(emailLabel, false, false, 0);
    form.packStart(emailEntry, false, false, 0);
    form.packStart(signInButton, false, false, 4);
    form.packStart(codeButton, false, false, 0);
    signIn.packEnd(form, false, false, 0);
    signIn.showAll();
    reasonLabel.hide();
    stack.addNamed(signIn, 'sign-in');

    return { emailEntry, reasonLabel, signInButton, codeButton };
  });

  // Waiting for the browser.
  const waitingPage = once('waitingPage', () => {
    const waiting = vbox(12, 24);
    waiting.setValign(Gtk.Align.CENTER);
    const waitingSpinner = new Gtk.Spinner();
    waitingSpinner.setSizeRequest(32, 32);
    named(waitingSpinner, 'Waiting for the browser');
    waiting.packStart(waitingSpinner, false, false, 0);
    waiting.packStart(label('Continue in your browser', ['heading'], { xalign: 0.5 }), false, false, 0);
    const waitingText = label('', ['muted'], { xalign: 0.5, justify: Gtk.Justification.CENTER });
    waiting.packStart(waitingText, false, false, 0);
    const waitingButtons = new Gtk.Box({ orientation: Gtk.Orientation.HORIZONTAL, spacing: 8 });
    waitingButtons.setHalign(Gtk.Align.CENTER);
    const copyButton = button('_Copy link', () => actions.copyLink());
    copyButton.setTooltipText('Copy the sign-in link, to open it in a browser yourself');
    const cancelButton = button('C_ancel', () => actions.cancel());
    // The waiting view's default action (Enter cancels, as Escape does).
    cancelButton.setCanDefault(true);
    waitingButtons.packStart(copyButton, false, false, 0);
    waitingButtons.packStart(cancelButton, false, false, 0);
    waiting.packStart(waitingButtons, false, false, 8);
    waiting.showAll();
    stack.addNamed(waiting, 'waiting');

    return { waitingSpinner, waitingText, copyButton, cancelButton };
  });

  // Device code.
  const devicePage = once('devicePage', () => {
    const device = vbox(10, 24);
    device.setValign(Gtk.Align.CENTER);
    device.packStart(label('Sign in with a code', ['heading'], { xalign: 0.5 }), false, false, 0);
    const deviceText = label('', ['muted'], { xalign: 0.5, justify: Gtk.Justification.CENTER });
    const userCode = label('', ['user-code'], { xalign: 0.5, selectable: true });
    const qrImage = new Gtk.Image();
    named(qrImage, 'QR code of the sign-in link');
    const deviceCancel = button('C_ancel', () => actions.cancel());
    deviceCancel.setHalign(Gtk.Align.CENTER);
    device.packStart(deviceText, false, false, 0);
    device.packStart(userCode, false, false, 0);
    device.packStart(qrImage, false, false, 0);
    device.packStart(deviceCancel, false, false, 8);
    device.showAll();
    stack.addNamed(device, 'device');

    return { deviceText, userCode, qrImage, deviceCancel };
  });

  // Signed in.
  const mainPage = once('mainPage', () => {
    const main = vbox(0);
    const banner = new Gtk.InfoBar({ messageType: Gtk.MessageType.WARNING });
    const bannerText = label('');
    banner.getContentArea().add(bannerText);
    banner.addButton('_Retry', 1);
    banner.on('response', () => actions.retry());
    main.packStart(banner, false, false, 0);
    const mainBody = vbox(8, 20);
    const who = label('', ['heading']);
    const whoEmail = label('', ['muted'], { selectable: true });
    const whoOrg = label('');
    mainBody.packStart(who, false, false, 0);
    mainBody.packStart(whoEmail, false, false, 0);
    mainBody.packStart(whoOrg, false, false, 0);
    mainBody.packStart(new Gtk.Separator({ orientation: Gtk.Orientation.HORIZONTAL }), false, false, 8);
    const projectsHeading = label('Your projects', ['heading']);
    mainBody.packStart(projectsHeading, false, false, 0);
    const projectsNote = label('', ['muted']);
    mainBody.packStart(projectsNote, false, false, 0);
    const projectList = new Gtk.ListBox();
    projectList.setSelectionMode(Gtk.SelectionMode.NONE);
    named(projectList, 'Your projects');
    const frame = new Gtk.Frame();
    frame.add(projectList);
    mainBody.packStart(frame, false, false, 0);
    main.packStart(mainBody, true, true, 0);
    main.showAll();
    banner.hide();
    stack.addNamed(main, 'main');

    return { banner, bannerText, who, whoEmail, whoOrg, projectsNote, projectList, frame };
  });

  const statusLine = label('', ['status']);
  statusLine.setMarginStart(12);
  statusLine.setMarginBottom(6);

  const root = vbox(0);
  root.packStart(stack, true, true, 0);
  root.packEnd(statusLine, false, false, 0);
  window.add(root);
  window.showAll();
  statusLine.hide();

  let current: View = { kind: 'loading', text: '' };

  const setAccount = (text: string | undefined) => {
    for (const widget of [
      accountItem,
      accountSeparator,
      signOutItem,
      signOutEverywhereItem,
      signOutSeparator,
    ])
      widget.setVisible(Boolean(text));
    accountItem.setLabel(text ?? '');
  };

  const render = (view: View) => {
    current = view;
    let focus: (() => void) | undefined;
    loadingSpinner.stop();
    built.waitingPage?.waitingSpinner.stop();
    retryItem.setSensitive(view.kind === 'main');
    switch (view.kind) {
      case 'loading':
        loadingText.setText(view.text);
        loadingSpinner.start();
        setAccount(undefined);
        break;
      case 'sign-in': {
        const { emailEntry, reasonLabel, signInButton, codeButton } = signInPage();
        setAccount(undefined);
        if (view.email !== undefined) emailEntry.setText(view.email);
        reasonLabel.setText(view.reason ?? '');
        reasonLabel.setVisible(Boolean(view.reason));
        signInButton.setSensitive(!view.busy);
        codeButton.setSensitive(!view.busy);
        window.setDefault(signInButton);
        focus = () => {
          emailEntry.grabFocus();
          emailEntry.setPosition(-1);
        };
        break;
      }
      case 'waiting': {
        const { waitingSpinner, waitingText, copyButton, cancelButton } = waitingPage();
        waitingSpinner.start();
        waitingText.setText(
          'We opened your browser to sign you in.\nFinish there and Acme Desktop comes back by itself.\nNo browser? Copy the link and open it yourself.',
        );
        copyButton.setSensitive(Boolean(view.url));
        window.setDefault(cancelButton);
        focus = () => cancelButton.grabFocus();
        break;
      }
      case 'device': {
        const { deviceText, userCode, qrImage, deviceCancel } = devicePage();
        deviceText.setText(
          `On any device, open ${view.verificationUri}\nand enter this code${view.qrPng ? ', or scan the QR code' : ''}:`,
        );
        userCode.setText(view.userCode);
        named(userCode, `Code ${view.userCode.split('').join(' ')}`);
        if (view.qrPng) qrImage.setFromFile(view.qrPng);
        qrImage.setVisible(Boolean(view.qrPng));
        focus = () => deviceCancel.grabFocus();
        break;
      }
      case 'main': {
        const { banner, bannerText, who, whoEmail, whoOrg, projectsNote, projectList, frame } = mainPage();
        setAccount(view.email ?? view.name);
        who.setText(view.name ? `Signed in as ${view.name}` : 'Signed in');
        whoEmail.setText(view.email ?? '');
        whoEmail.setVisible(Boolean(view.email));
        whoOrg.setText(view.organization ? `Organization: ${view.organization}` : '');
        whoOrg.setVisible(Boolean(view.organization));
        bannerText.setText(view.offline ?? '');
        banner.setVisible(Boolean(view.offline));
        for (const row of projectList.getChildren()) projectList.remove(row);
        const projects = view.projects ?? [];
        for (const project of projects) {
          const row = label(project.name, ['project-row']);
          projectList.add(row);
        }
        projectList.showAll();
        frame.setVisible(projects.length > 0);
        projectsNote.setText(
          view.apiError ??
            (view.projects === undefined
              ? view.offline
                ? 'Your projects load when Acme Desktop is back online.'
                : 'Loading your projects…'
              : projects.length === 0
                ? 'No projects yet.'
                : `${projects.length} project${projects.length === 1 ? '' : 's'} from the Acme API.`),
        );
        focus = view.offline
          ? () => banner.getActionArea().getChildren()[0]?.grabFocus()
          : () => menuButton.grabFocus();
        break;
      }
    }
    stack.setVisibleChildName(view.kind);
    // Only once its page is the stack's visible child: a grab into a page that is still hidden
    // (mid-switch, e.g. Escape from waiting back to the form) is lost, and Enter then reached no one.
    focus?.();
  };

  const collect = (widget: G, out: string[]) => {
    if (!widget.getVisible()) return;
    if (widget instanceof Gtk.Stack) {
      const child = widget.getVisibleChild();
      if (child) collect(child, out);
      return;
    }
    if (widget instanceof Gtk.Label) {
      const text = widget.getText();
      if (text) out.push(text.replaceAll('_', ''));
      return;
    }
    if (widget instanceof Gtk.Entry) {
      out.push(`[${widget.getText() || widget.getPlaceholderText() || ''}]`);
      return;
    }
    if (widget instanceof Gtk.Container) for (const child of widget.getChildren()) collect(child, out);
  };

  const announce = (widget: G, out: string[]) => {
    if (!widget.getVisible()) return;
    if (widget.getCanFocus() && widget.getSensitive()) {
      // Atk.Object's getName: node-gtk would pick Atk.Action's getName(i) on buttons otherwise.
      const accessible = widget.getAccessible();
      const name = Atk.Object.prototype.getName.call(accessible) as string;
      const role = Atk.roleGetName(Atk.Object.prototype.getRole.call(accessible)) as string;
      out.push(`${role}: ${name.replaceAll('_', '')}`);
    }
    if (widget instanceof Gtk.Stack) {
      const child = widget.getVisibleChild();
      if (child) announce(child, out);
    } else if (widget instanceof Gtk.Container && !(widget instanceof Gtk.Button))
      for (const child of widget.getChildren()) announce(child, out);
  };

  return {
    show: render,
    controls() {
      const out: string[] = [];
      announce(header, out);
      announce(root, out);
      return out;
    },
    focused() {
      const widget = window.getFocus();
      if (!widget) return undefined;
      const out: string[] = [];
      announce(widget, out);
      return out[0] ?? widget.constructor.name;
    },
    status(text) {
      statusLine.setText(text);
      statusLine.setVisible(Boolean(text));
    },
    present() {
      window.present();
    },
    copyToClipboard(text) {
      Gtk.Clipboard.getDefault(Gdk.Display.getDefault()).setText(text, -1);
    },
    visibleTexts() {
      const out: string[] = [];
      collect(root, out);
      return out;
    },
    get view() {
      return current.kind;
    },
    destroy() {
      window.destroy();
    },
  };
}

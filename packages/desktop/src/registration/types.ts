/** What to register: the scheme, and the command the OS runs with the URL appended. */
export interface SchemeRegistration {
  /** A reverse-domain scheme, e.g. `com.example.app` (RFC 8252 §7.1). */
  scheme: string;
  /** Human-readable name of the handler. */
  name: string;
  /** The program and its arguments; the OS runs it as `<command…> -- <url>`, so a URL is never read as an option. */
  command: string[];
}

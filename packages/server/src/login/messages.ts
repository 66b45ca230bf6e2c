/**
 * Every piece of text a person reads on Latchkey's pages, in one place so it can be translated.
 * Placeholders in braces are filled (and escaped) by `format()`.
 */
export const messages = {
  productName: 'Latchkey',
  skipToContent: 'Skip to content',

  emailTitle: 'Sign in to {app}',
  emailTitleNoApp: 'Sign in',
  emailLabel: 'Work email',
  emailHelp: 'We will send you to your organization’s sign-in page.',
  emailInvalid: 'Enter an email address like name@company.com.',
  continue: 'Continue',
  noOrganizationTitle: 'No organization found',
  noOrganization:
    'No organization is set up for {domain}. Check the spelling of your email, or ask your IT administrator to add {domain} to Latchkey.',
  useAnotherEmail: 'Use another email',
  clientNotAllowed: '{app} is not enabled for your organization. Ask your IT administrator.',

  passwordTitle: 'Enter your password',
  passwordLabel: 'Password',
  passwordWrong: 'Wrong email or password. Try again.',
  signIn: 'Sign in',
  notYou: 'Not you?',
  signedInAs: 'Signed in as {email}',
  signingInAs: 'Signing in as {email}',
  forgotPassword: 'Forgot your password? Ask your IT administrator for a reset link.',

  throttled: 'Too many attempts. Wait {seconds} seconds, then try again.',

  totpTitle: '2-step verification',
  totpLabel: 'Code from your authenticator app',
  totpHelp: 'Open your authenticator app and enter the 6-digit code for {email}.',
  totpWrong: 'That code is not right. Check your authenticator app and try again.',
  totpReplayed: 'That code was already used. Wait for the next code and try again.',
  verify: 'Verify',
  chooseMethod: 'Try another way',
  methodTotp: 'Authenticator app',
  methodPasskey: 'Passkey or security key',
  methodRecovery: 'Recovery code',
  recoveryTitle: 'Use a recovery code',
  recoveryLabel: 'Recovery code',
  recoveryWrong: 'That recovery code is not valid or was already used.',
  recoveryUsed:
    'Recovery code accepted. You have {remaining} left. Make new ones from your account page soon.',
  passkeyTitle: 'Use your passkey',
  passkeyHelp: 'Your browser will ask you to use your passkey or security key.',
  passkeyButton: 'Use passkey',
  passkeyFailed: 'The passkey could not be verified. Try again or use another way.',
  passkeyNeedsScript: 'Passkeys need JavaScript. Turn it on, or use another way.',
  signInWithPasskey: 'Sign in with a passkey',

  enrollTitle: 'Set up 2-step verification',
  enrollHelp:
    'Your organization requires 2-step verification. Scan this QR code with an authenticator app, then enter the code it shows.',
  enrollManual: 'Can’t scan? Enter this key manually:',
  enrollConfirm: 'Confirm',
  recoveryCodesTitle: 'Save your recovery codes',
  recoveryCodesHelp:
    'Each code works once if you lose your authenticator. Store them somewhere safe: they will not be shown again.',
  recoveryCodesDownload: 'Download codes',
  recoveryCodesDone: 'I saved my codes',

  handoffTitle: 'Open {app}',
  handoffLaunch: 'Launch {app}',
  handoffContinue: 'Continue to {app}',
  handoffPermission:
    'Your browser will ask for permission to open {app}. Choose “Open” to finish signing in.',
  handoffLoopback: 'You will be returned to {app}.',
  handoffTryAgain: 'Nothing happened? Try again',
  handoffDownload: 'Don’t have {app}? Download it',
  handoffDevice: 'Allow {app} on the device that showed you the code?',
  handoffDeviceButton: 'Allow',
  handoffDeviceDeny: 'Deny',

  deviceTitle: 'Connect a device',
  deviceLabel: 'Code shown on your device',
  deviceHelp: 'Enter the code your app or device displays.',
  deviceInvalid: 'That code is not valid or has expired. Check the code on your device.',
  deviceConfirmTitle: 'Connect {app}?',
  deviceConfirmHelp:
    'A device is asking to sign in to {app} as you. Only continue if you started this on a device you trust. Check that it shows the code {code}.',
  deviceConfirmDevice: 'Requested from: {device}',
  deviceConfirm: 'Continue',
  deviceAbort: 'Cancel',
  deviceDoneTitle: 'Device connected',
  deviceDone: 'You can close this window and return to your device.',
  deviceAbortedTitle: 'Sign-in cancelled',
  deviceAborted: 'Nothing was shared with the device. You can close this window.',

  signedOutTitle: 'Signed out',
  signedOut: 'You are signed out of Latchkey. You can close this window.',
  logoutTitle: 'Sign out?',
  logoutHelp: 'Sign out of Latchkey in this browser?',
  logoutConfirm: 'Sign out',

  errorTitle: 'Something went wrong',
  errorGeneric: 'Latchkey could not finish this request. Start again from your app.',
  errorExpired: 'This sign-in page has expired. Go back to your app and start again.',
  errorInvalidRequest: 'The app sent a request Latchkey cannot accept ({code}). Contact the app’s developer.',
  errorUnknownClient: 'This app is not registered with Latchkey. Contact your IT administrator.',
  errorRedirectUri:
    'This app asked to return to an address that is not registered. For your safety, the sign-in stopped.',
  errorCsrf: 'This form expired or was sent from another site. Reload the page and try again.',
  errorNotFound: 'There is nothing here.',
  errorUnavailable: 'Latchkey is temporarily unavailable. Try again in a moment.',
  errorAccountDisabled: 'Your account is disabled. Contact your IT administrator.',
  errorReference: 'Reference: {id}',
  startAgain: 'Start again',
} as const;

export type MessageKey = keyof typeof messages;

import type { MailMessage } from './mail.service';

/** The e-mail with the verification link (`${PUBLIC_BASE_URL}/verify-email?token=...`). */
export function verificationMail(to: string, link: string, ttlMinutes: number): MailMessage {
  return linkMail(
    to,
    'Confirm your e-mail address',
    'Confirm your e-mail address',
    link,
    ttlMinutes,
  );
}

/** The e-mail with the password-reset link (`${PUBLIC_BASE_URL}/reset-password?token=...`). */
export function passwordResetMail(to: string, link: string, ttlMinutes: number): MailMessage {
  return linkMail(to, 'Reset your password', 'Choose a new password', link, ttlMinutes);
}

function linkMail(
  to: string,
  subject: string,
  action: string,
  link: string,
  ttlMinutes: number,
): MailMessage {
  const validity = `The link works once and expires in ${ttlMinutes} minutes.`;
  const ignore = 'If you did not ask for this, ignore this e-mail.';
  return {
    to,
    subject,
    text: `${action}:\n\n${link}\n\n${validity}\n${ignore}\n`,
    html:
      `<p>${escapeHtml(action)}:</p>` +
      `<p><a href="${escapeHtml(link)}">${escapeHtml(link)}</a></p>` +
      `<p>${escapeHtml(validity)}<br>${escapeHtml(ignore)}</p>`,
  };
}

function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

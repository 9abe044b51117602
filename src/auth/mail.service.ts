import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { createTransport, type Transporter } from 'nodemailer';
import { AppConfig } from '@app/config';

export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  html: string;
}

/** SMTP delivery through nodemailer (EMAIL__* settings); a no-op with one log line when unset. */
@Injectable()
export class MailService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(MailService.name);
  private transport?: Transporter;

  constructor(private readonly config: AppConfig) {}

  onModuleInit(): void {
    const email = this.config.email;
    if (!email.enabled || !email.host) {
      this.logger.warn(
        'E-mail is disabled (set EMAIL__SMTP_HOST or the EMAIL__GMAIL_* settings): ' +
          'verification and password-reset requests are accepted but no e-mail is sent',
      );
      return;
    }
    this.transport = createTransport({
      host: email.host,
      port: email.port,
      secure: email.secure,
      auth: email.user ? { user: email.user, pass: email.password } : undefined,
      connectionTimeout: 10_000,
      greetingTimeout: 10_000,
      socketTimeout: 20_000,
    });
    this.logger.log(`E-mail enabled via ${email.host}:${email.port}`);
  }

  get enabled(): boolean {
    return this.transport !== undefined;
  }

  /** Sends one message; rejects when the SMTP server refuses or cannot be reached. */
  async send(message: MailMessage): Promise<void> {
    if (!this.transport) return;
    await this.transport.sendMail({ from: this.config.email.from, ...message });
  }

  onApplicationShutdown(): void {
    this.transport?.close();
  }
}

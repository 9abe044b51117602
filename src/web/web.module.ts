import { DynamicModule, Logger, Module, OnModuleInit } from '@nestjs/common';
import { AppConfig } from '@app/config';
import { WebAssets } from './web-assets';
import { WebController } from './web.controller';

/**
 * The browser chat page from `examples/web`, served at `/` and `/chat` unless
 * `WEB_CLIENT_ENABLED=false` (then those paths are plain 404s). Lives beside the API; it only
 * claims `/`, `/chat` and `/web/*`.
 */
@Module({})
export class WebModule implements OnModuleInit {
  private readonly logger = new Logger(WebModule.name);

  constructor(private readonly config: AppConfig) {}

  static forRoot(config: AppConfig): DynamicModule {
    if (!config.http.webClientEnabled) return { module: WebModule };
    const assets = new WebAssets();
    return {
      module: WebModule,
      controllers: [WebController],
      providers: [{ provide: WebAssets, useValue: assets }],
    };
  }

  onModuleInit(): void {
    if (!this.config.http.webClientEnabled) return;
    if (!new WebAssets().isBuilt) {
      this.logger.warn(
        'Web client at / is not built yet (examples/web/public/js): run "npm run build"',
      );
    }
  }
}

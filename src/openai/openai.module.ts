import { Module } from '@nestjs/common';
import { AccessTokenModule } from '../auth/access-token.module';
import { ChatModule } from '../chat/chat.module';
import { UsageModule } from '../usage/usage.module';
import { ProvidersModule } from '../providers/providers.module';
import { ChatCompletionsService } from './chat-completions.service';
import { OpenAiController } from './openai.controller';

/**
 * The OpenAI-compatible `/v1` surface (models, chat completions) for existing OpenAI clients,
 * authenticated by personal API keys or access tokens, over the same providers and chat turn.
 */
@Module({
  imports: [AccessTokenModule, ProvidersModule, ChatModule, UsageModule],
  controllers: [OpenAiController],
  providers: [ChatCompletionsService],
})
export class OpenAiModule {}

import { Module } from '@nestjs/common';
import { AccessTokenModule } from './access-token.module';

/** Registration, login, token refresh and e-mail flows; exports bearer authentication. */
@Module({
  imports: [AccessTokenModule],
  exports: [AccessTokenModule],
})
export class AuthModule {}

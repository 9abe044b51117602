import { Module } from '@nestjs/common';
import { AccessTokenModule } from '../auth/access-token.module';
import { PriceCatalog } from './price-catalog';
import { UsageLedger } from './usage-ledger';
import { UsageRetention } from './usage-retention';
import { UsageController } from './usage.controller';
import { UsageService } from './usage.service';

/**
 * Cost accounting: the price catalog, the usage ledger (batched writes of every provider
 * attempt), usage reports with their retention roll-up, and per-user spend budgets.
 */
@Module({
  imports: [AccessTokenModule],
  controllers: [UsageController],
  providers: [PriceCatalog, UsageLedger, UsageService, UsageRetention],
  exports: [PriceCatalog, UsageLedger, UsageService],
})
export class UsageModule {}

import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AccessTokenModule } from '../auth/access-token.module';
import { RedisConnections } from '../redis/redis-connections';
import { BUDGET_OVERRIDES, BudgetOverridesService } from './budget/budget-overrides';
import { BUDGET_STORE, MemoryBudgetStore, type BudgetStore } from './budget/budget-store';
import { BudgetService } from './budget/budget.service';
import { RedisBudgetStore } from './budget/redis-budget-store';
import { BudgetOverride } from './entities/budget-override.entity';
import { PriceCatalog } from './price-catalog';
import { UsageLedger } from './usage-ledger';
import { UsageRetention } from './usage-retention';
import { UsageController } from './usage.controller';
import { UsageService } from './usage.service';

/**
 * Cost accounting: the price catalog, the usage ledger (batched writes of every provider
 * attempt), usage reports with their retention roll-up, and per-user spend budgets (counters in
 * Redis when REDIS_URL is set; overrides in the database, read through BUDGET_OVERRIDES).
 */
@Module({
  imports: [TypeOrmModule.forFeature([BudgetOverride]), AccessTokenModule],
  controllers: [UsageController],
  providers: [
    PriceCatalog,
    UsageLedger,
    UsageService,
    UsageRetention,
    BudgetService,
    BudgetOverridesService,
    { provide: BUDGET_OVERRIDES, useExisting: BudgetOverridesService },
    {
      provide: BUDGET_STORE,
      inject: [{ token: RedisConnections, optional: true }],
      useFactory: (redis?: RedisConnections): BudgetStore =>
        redis ? new RedisBudgetStore(redis.commands) : new MemoryBudgetStore(),
    },
  ],
  exports: [
    PriceCatalog,
    UsageLedger,
    UsageService,
    BudgetService,
    BudgetOverridesService,
    BUDGET_OVERRIDES,
  ],
})
export class UsageModule {}

import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiKeyScope } from '../api-keys/api-key-scopes';
import { BearerAuth } from '../auth/decorators/bearer-auth.decorator';
import { ApiErrorResponse } from '@app/common';
import { mapModel, ModelListDto } from './dto/model.dto';
import { ProvidersService } from './providers.service';

@ApiTags('models')
@BearerAuth()
@ApiKeyScope('models')
@ApiErrorResponse(429, 'Rate limit; see Retry-After')
@Controller('api/models')
export class ModelsController {
  constructor(private readonly providers: ProvidersService) {}

  @Get()
  @ApiOperation({
    summary: 'Models of the configured providers',
    description:
      'Every model a chat request may name, as `provider/model`, with its context window. ' +
      'Exactly one is the default. The built-in `local/echo` is always available.',
  })
  @ApiOkResponse({ type: ModelListDto })
  list(): ModelListDto {
    return { items: this.providers.listModels().map(mapModel) };
  }
}

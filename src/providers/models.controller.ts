import { Controller, Get, UseGuards } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
  ApiTooManyRequestsResponse,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import { ErrorResponseDto } from '../auth/dto/error-response.dto';
import { JwtAuthGuard } from '../auth/guards/jwt-auth.guard';
import { mapModel, ModelListDto } from './dto/model.dto';
import { ProvidersService } from './providers.service';

@ApiTags('models')
@ApiBearerAuth('bearer')
@ApiUnauthorizedResponse({
  type: ErrorResponseDto,
  description: 'Missing, invalid or expired token',
})
@ApiTooManyRequestsResponse({ type: ErrorResponseDto, description: 'Rate limit; see Retry-After' })
@UseGuards(JwtAuthGuard)
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

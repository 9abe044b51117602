import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post } from '@nestjs/common';
import {
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import { ApiErrorResponse } from '@app/common';
import { ApiKeyScope } from '../api-keys/api-key-scopes';
import type { AuthUser } from '../auth/auth-user';
import { BearerAuth } from '../auth/decorators/bearer-auth.decorator';
import { CurrentUser } from '../auth/decorators/current-user.decorator';
import { settingsOfBody } from '../history/dto/settings-fields.dto';
import { CreatePresetDto, PresetDto, PresetListDto, UpdatePresetDto } from './dto/preset.dto';
import { PresetsService } from './presets.service';

const PRESET_PARAM = {
  name: 'preset_id',
  format: 'uuid',
  description: "A preset of the caller; malformed, unknown and other users' ids all answer 404.",
  example: '5d0f2c1e-8a4b-4c3d-9e2f-1a0b9c8d7e6f',
};
const PresetNotFound = () =>
  ApiErrorResponse(404, 'Unknown or malformed preset id, or a preset of another user', {
    detail: 'Preset not found',
  });
const BadSettings = () =>
  ApiErrorResponse(400, 'Bad name or setting (unknown model, out of range), or an unknown field', {
    detail: 'temperature must not be greater than 2',
    errors: [{ field: 'temperature', message: 'temperature must not be greater than 2' }],
  });

/** The caller's presets: named chat settings for `preset_id` on chat requests and sessions. */
@ApiTags('presets')
@BearerAuth()
@ApiErrorResponse(429, 'Rate limit; see Retry-After')
@ApiKeyScope('chat')
@Controller('api/presets')
export class PresetsController {
  constructor(private readonly presets: PresetsService) {}

  @Get()
  @ApiOperation({ summary: "List the caller's presets, oldest first" })
  @ApiOkResponse({ type: PresetListDto })
  async list(@CurrentUser() user: AuthUser): Promise<PresetListDto> {
    return { items: await this.presets.list(user.id) };
  }

  @Post()
  @ApiOperation({
    summary: 'Save chat settings as a named preset',
    description: 'At most 100 presets per user (409 beyond).',
  })
  @ApiCreatedResponse({ type: PresetDto })
  @BadSettings()
  @ApiErrorResponse(409, 'The user has 100 presets already', {
    detail: 'At most 100 presets per user',
  })
  create(@CurrentUser() user: AuthUser, @Body() body: CreatePresetDto): Promise<PresetDto> {
    return this.presets.create(user.id, body.name, settingsOfBody(body));
  }

  @Get(':preset_id')
  @ApiOperation({ summary: 'One preset' })
  @ApiParam(PRESET_PARAM)
  @ApiOkResponse({ type: PresetDto })
  @PresetNotFound()
  get(@CurrentUser() user: AuthUser, @Param('preset_id') presetId: string): Promise<PresetDto> {
    return this.presets.get(user.id, presetId);
  }

  @Patch(':preset_id')
  @ApiOperation({ summary: 'Change a preset (a setting sent as null is cleared)' })
  @ApiParam(PRESET_PARAM)
  @ApiOkResponse({ type: PresetDto })
  @BadSettings()
  @PresetNotFound()
  update(
    @CurrentUser() user: AuthUser,
    @Param('preset_id') presetId: string,
    @Body() body: UpdatePresetDto,
  ): Promise<PresetDto> {
    return this.presets.update(user.id, presetId, { name: body.name, ...settingsOfBody(body) });
  }

  @Delete(':preset_id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a preset (sessions keep the settings it gave them)' })
  @ApiParam(PRESET_PARAM)
  @ApiNoContentResponse({ description: 'Deleted' })
  @PresetNotFound()
  async remove(@CurrentUser() user: AuthUser, @Param('preset_id') presetId: string): Promise<void> {
    await this.presets.remove(user.id, presetId);
  }
}

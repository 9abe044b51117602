import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

class FieldErrorDto {
  @ApiProperty({ example: 'email' })
  field: string;

  @ApiProperty({ example: 'email must be a valid e-mail address' })
  message: string;
}

/** The API's one error shape, for Swagger. */
export class ErrorResponseDto {
  @ApiProperty({ example: 'Human-readable reason' })
  detail: string;

  @ApiPropertyOptional({ type: [FieldErrorDto], description: 'Only on validation errors (400)' })
  errors?: FieldErrorDto[];
}

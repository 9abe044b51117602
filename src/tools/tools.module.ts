import { Module } from '@nestjs/common';
import { CalculatorTool } from './calculator.tool';
import { SERVER_TOOLS, type ServerTool } from './server-tool';
import { ServerToolRegistry } from './server-tool-registry';

/** Every server-side tool class; a deployment enables them by name in TOOLS__SERVER_TOOLS. */
const SERVER_TOOL_CLASSES = [CalculatorTool];

/** Server-side tools: the known ones under SERVER_TOOLS and the registry of the enabled ones. */
@Module({
  providers: [
    ...SERVER_TOOL_CLASSES,
    {
      provide: SERVER_TOOLS,
      useFactory: (...tools: ServerTool[]) => tools,
      inject: SERVER_TOOL_CLASSES,
    },
    ServerToolRegistry,
  ],
  exports: [ServerToolRegistry],
})
export class ToolsModule {}

import { ToolCallAssembler } from './openai-compatible.provider';
import { argumentsObject } from './tool-arguments';

describe('ToolCallAssembler', () => {
  it('assembles interleaved fragments by index into whole calls, in index order, once', () => {
    const calls = new ToolCallAssembler();
    calls.add({ index: 1, id: 'call_b', function: { name: 'get_time', arguments: '' } });
    calls.add({ index: 0, id: 'call_a', function: { name: 'get_weather', arguments: '{"ci' } });
    calls.add({ index: 1, function: { arguments: '{}' } });
    calls.add({ index: 0, function: { arguments: 'ty":"Paris"}' } });

    expect(calls.takeAll()).toEqual([
      { id: 'call_a', name: 'get_weather', arguments: '{"city":"Paris"}' },
      { id: 'call_b', name: 'get_time', arguments: '{}' },
    ]);
    expect(calls.takeAll()).toEqual([]);
    expect(calls.count).toBe(2);
  });

  it('gives a call without arguments `{}` and one without an id an index-based id', () => {
    const calls = new ToolCallAssembler();
    calls.add({ index: 0, function: { name: 'now' } });
    expect(calls.takeAll()).toEqual([{ id: 'call_0', name: 'now', arguments: '{}' }]);
  });
});

describe('argumentsObject', () => {
  it('parses a JSON object and turns anything else into {}', () => {
    expect(argumentsObject('{"a":[1,2]}')).toEqual({ a: [1, 2] });
    expect(argumentsObject('{"a":')).toEqual({});
    expect(argumentsObject('[1]')).toEqual({});
    expect(argumentsObject('null')).toEqual({});
  });
});

import { corsSettings, describeCors, isWebSocketOriginAllowed } from './cors-policy';

describe(corsSettings.name, () => {
  it('sets nothing up for same-origin only, credentials for a list, none for *', () => {
    expect(corsSettings([])).toBeUndefined();
    expect(corsSettings(['https://a.example'])).toMatchObject({
      origin: ['https://a.example'],
      credentials: true,
    });
    expect(corsSettings('*')).toMatchObject({ origin: true, credentials: false });
  });
});

describe(isWebSocketOriginAllowed.name, () => {
  it('with no list, allows only the origin the request was sent to', () => {
    expect(isWebSocketOriginAllowed('http://chat.example:8000', 'chat.example:8000', [])).toBe(
      true,
    );
    expect(isWebSocketOriginAllowed('https://evil.example', 'chat.example:8000', [])).toBe(false);
    expect(isWebSocketOriginAllowed('null', 'chat.example', [])).toBe(false);
  });

  it('with a list, allows exactly the listed origins; * allows any', () => {
    const list = ['https://a.example'];
    expect(isWebSocketOriginAllowed('https://a.example', 'api.example', list)).toBe(true);
    expect(isWebSocketOriginAllowed('https://api.example', 'api.example', list)).toBe(false);
    expect(isWebSocketOriginAllowed('https://any.example', 'api.example', '*')).toBe(true);
  });

  it('lets clients that send no Origin (not browsers) through', () => {
    expect(isWebSocketOriginAllowed(undefined, 'api.example', [])).toBe(true);
  });
});

describe(describeCors.name, () => {
  it('names the policy for the start-up line', () => {
    expect(describeCors([])).toBe('same-origin');
    expect(describeCors(['https://a.example'])).toBe('1 origin');
    expect(describeCors(['https://a.example', 'https://b.example'])).toBe('2 origins');
    expect(describeCors('*')).toBe('*');
  });
});

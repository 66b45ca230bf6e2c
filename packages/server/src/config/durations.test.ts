import { describe, expect, it } from 'vitest';
import { parseDuration } from './durations.js';

describe('parseDuration', () => {
  it.each([
    [600, 600],
    [0, 0],
    ['600', 600],
    ['90s', 90],
    ['10m', 600],
    ['1h', 3600],
    ['14d', 1_209_600],
    ['2w', 1_209_600],
    ['1h30m', 5400],
    [' 10M ', 600],
  ])('%j -> %d seconds', (input, seconds) => {
    expect(parseDuration(input)).toBe(seconds);
  });

  it.each([-1, 1.5, '', '10x', 'm', '1.5h', '10 m', true, null, {}])('refuses %j', (input) => {
    expect(parseDuration(input)).toBeUndefined();
  });
});

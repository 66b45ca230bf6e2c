export { type CliConfig, ConfigError, type ConfigFlags, defaultConfigDir, resolveConfig } from './config.js';
export { type Io, startSpinner } from './output.js';
export { ExitCode, run, USAGE } from './run.js';

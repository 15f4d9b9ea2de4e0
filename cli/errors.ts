// Errors the CLI and the MCP server show as they are: their message already says what to do.

/** An error whose message already says what to do; exit with `code`. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly code = 1,
  ) {
    super(message);
  }
}

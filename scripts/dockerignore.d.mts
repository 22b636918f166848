// Types of scripts/dockerignore.mjs (plain Node, so scripts run before `npm install`).
export interface DockerignoreRule {
  keep: boolean;
  pattern: string;
  regex: RegExp;
}
export function parseDockerignore(text: string): DockerignoreRule[];
export function isIgnored(rules: DockerignoreRule[], path: string): boolean;
export function keptPaths(ignoreFile: string, paths: string[]): string[];

// Flat config: typescript-eslint's recommended rules plus a few that keep the code honest.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import redos from 'eslint-plugin-redos';

export default tseslint.config(
  {
    ignores: [
      'node_modules/**',
      'dist/**',
      '.tools/**',
      'models/**',
      'results/**',
      'bench/results/**',
      'client/web/public/app.js', // built by client/web/build.mjs
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    // Every regular expression literal of shipped code is checked for catastrophic
    // backtracking (recheck): a quadratic CSV number pattern once let one request block the
    // event loop for hours. Tests' patterns only match our own outputs, so they are skipped.
    files: ['**/*.ts', '**/*.js', '**/*.mjs'],
    // bench/, scripts/ and loadtest/ read only the operator's own settings and tools' output.
    ignores: [
      '**/*.test.ts',
      '**/test-support.ts',
      '**/testing/**',
      'connectors/store/contract*.ts',
      'bench/**',
      'scripts/**',
      'loadtest/**',
    ],
    plugins: { redos },
    rules: { 'redos/no-vulnerable': 'error' },
  },
  {
    languageOptions: { globals: { console: 'readonly', process: 'readonly', URL: 'readonly' } },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
      eqeqeq: ['error', 'smart'],
      'no-console': 'off',
    },
  },
);

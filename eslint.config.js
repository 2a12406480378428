// ESLint flat config (issue 8, item 6). Type-aware typescript-eslint rules on every .ts file,
// plus required doc comments on what a module exports. Formatting is left alone on purpose:
// there is no formatter in this repository and no stylistic rule is enabled.
import js from '@eslint/js';
import jsdoc from 'eslint-plugin-jsdoc';
import { defineConfig, globalIgnores } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  globalIgnores([
    'node_modules/',
    // Benchmark outputs and rendered reports (see .gitignore), not source.
    'results/*.json',
    'results/*.html',
    'results/*.tmp',
    'reports-out/',
    '.cache/',
  ]),

  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
  },

  {
    rules: {
      // The async arrows it flags are deliberate: they satisfy Promise-returning callback types
      // (dockerStep, step, target hooks) and turn a synchronous throw into a rejection.
      '@typescript-eslint/require-await': 'off',
    },
  },

  // node:test's test()/describe() return promises that the runner itself awaits.
  {
    files: ['test/**'],
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite'] }] },
      ],
      // Tests read JSON.parse output, fixtures and browser-side values untyped on purpose; the
      // assertions that follow are the type check.
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },

  // Plain JavaScript (harness/bootstrap.mjs, this file): not in tsconfig.json, so no type information.
  {
    files: ['**/*.js', '**/*.mjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: globals.node },
  },

  // Exported API needs a doc comment. Test files are exempt.
  {
    files: ['**/*.ts'],
    ignores: ['test/**'],
    plugins: { jsdoc },
    rules: {
      'jsdoc/require-jsdoc': [
        'error',
        {
          // Exported declarations are chosen by selector rather than with `publicOnly: true`:
          // publicOnly counts a documented class as documenting all of its methods.
          require: {
            FunctionDeclaration: false,
            ClassDeclaration: false,
            MethodDefinition: false,
            ArrowFunctionExpression: false,
            FunctionExpression: false,
          },
          contexts: [
            'ExportNamedDeclaration > FunctionDeclaration',
            'ExportNamedDeclaration > ClassDeclaration',
            'ExportNamedDeclaration > TSInterfaceDeclaration',
            'ExportNamedDeclaration > TSTypeAliasDeclaration',
            'ExportNamedDeclaration > TSEnumDeclaration',
            // `export const` functions, tables and constants.
            'ExportNamedDeclaration[declaration.type="VariableDeclaration"]',
            // Public methods, getters and setters of exported classes; the class comment covers the constructor.
            'ExportNamedDeclaration > ClassDeclaration > ClassBody > MethodDefinition[kind!="constructor"]:not([accessibility="private"]):not([accessibility="protected"]):not([key.type="PrivateIdentifier"])',
          ],
        },
      ],
    },
  },
);

// Import boundaries of docs/architecture.md (one door to the host, layered domains).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const DOMAINS = [
  'sys',
  'vf',
  'representor',
  'ovs',
  'offload',
  'deviceplugin',
  'cni',
  'agent',
  'sandbox',
  'cli',
];

/** Which domain folders each folder of src/ may import. */
const ALLOWED = {
  sys: [],
  vf: ['sys'],
  representor: ['vf', 'sys'],
  ovs: ['sys'],
  offload: ['ovs', 'representor', 'vf', 'sys'],
  deviceplugin: ['vf', 'representor', 'sys'],
  cni: [],
  sandbox: ['sys'],
  agent: DOMAINS,
  cli: DOMAINS,
};

const HOST_MODULES = ['fs', 'fs/promises', 'child_process', 'net', 'http'];

/** The named places outside src/sys that may open sockets or files themselves. */
const HOST_EXCEPTIONS = {
  'src/ovs/ovsdb/**': ['net'],
  'src/agent/**': ['http'],
  'src/cni/**': ['http'],
};

function hostPatterns(except = []) {
  return HOST_MODULES.filter((m) => !except.includes(m)).flatMap((m) => [
    {
      group: [m, `node:${m}`],
      message: `only src/sys touches the host (${m}); use its SysFs/Files/CommandRunner/socket helpers`,
    },
  ]);
}

function domainPatterns(folder) {
  const forbidden = DOMAINS.filter((d) => d !== folder && !ALLOWED[folder].includes(d));
  return forbidden.map((d) => ({
    group: [`**/${d}/**`, `**/${d}/*`, `../${d}`, `../../${d}`],
    message: `src/${folder} may not import src/${d} (see docs/architecture.md)`,
  }));
}

const boundaryConfigs = DOMAINS.map((folder) => {
  const exceptions = Object.entries(HOST_EXCEPTIONS)
    .filter(([glob]) => glob.startsWith(`src/${folder}/`))
    .map(([glob, mods]) => ({ glob, mods }));
  const base = {
    files: [`src/${folder}/**/*.ts`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [...domainPatterns(folder), ...(folder === 'sys' ? [] : hostPatterns())],
        },
      ],
    },
  };
  const more = exceptions.map(({ glob, mods }) => ({
    files: [`${glob}/*.ts`],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [...domainPatterns(folder), ...hostPatterns(mods)] },
      ],
    },
  }));
  return [base, ...more];
}).flat();

export default tseslint.config(
  {
    ignores: [
      'node_modules/**',
      'dist/**',
      'bench/results/**',
      'coverage/**',
      'test/fixtures/**',
      '.scratch/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: {
          allowDefaultProject: ['*.js', 'scripts/*.mjs'],
        },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true, allowNullish: true },
      ],
      'no-console': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/unbound-method': 'off',
    },
  },
  ...boundaryConfigs,
);

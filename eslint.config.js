// Import boundaries of docs/architecture.md (one door to the host, layered domains) and
// where the environment may be read.
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

/**
 * The host door: node built-ins (with or without `node:`, and their subpaths such as
 * `fs/promises`) and packages that only src/sys may load.
 */
const HOST_BUILTINS = [
  'fs',
  'child_process',
  'net',
  'http',
  'https',
  'http2',
  'tls',
  'dgram',
  'dns',
  'worker_threads',
];
const HOST_PACKAGES = ['execa'];
const HOST_MODULES = [...HOST_BUILTINS, ...HOST_PACKAGES];

/**
 * Which host modules each place may load: src/sys (the door) all of them, the named places
 * outside it only the one they already use. Keys are a folder (covering everything under it) or a file.
 */
const HOST_EXCEPTIONS = {
  'src/sys': HOST_MODULES,
  'src/ovs/ovsdb': ['net'],
  'src/agent': ['http'],
  'src/cni': ['http'],
};

/** Where `process.env` may be read: the door, the CNI protocol edge, the sandbox. */
const ENV_EXCEPTIONS = ['src/sys', 'src/cni/main.ts', 'src/sandbox'];

const ENV_MESSAGE =
  'read the environment only in src/sys, src/cni/main.ts or src/sandbox; take settings as parameters';

const SOURCE_EXT = '{ts,mts,cts,js,mjs,cjs}';

/** Regex source (no `/`, so it also fits an esquery selector) matching a host module. */
function hostModuleRegex(m) {
  const prefix = HOST_BUILTINS.includes(m) ? '(node:)?' : '';
  return `^${prefix}${m}(\\x2F.*)?$`;
}

function hostMessage(m) {
  return `only src/sys touches the host (${m}); use its SysFs/Files/CommandRunner/socket helpers`;
}

function forbiddenHost(allowed) {
  return HOST_MODULES.filter((m) => !allowed.includes(m));
}

function forbiddenDomains(folder) {
  if (folder === undefined) return [];
  return DOMAINS.filter((d) => d !== folder && !ALLOWED[folder].includes(d));
}

function domainMessage(folder, d) {
  return `src/${folder} may not import src/${d} (see docs/architecture.md)`;
}

function importPatterns(folder, allowedHost, envAllowed) {
  return [
    ...forbiddenDomains(folder).map((d) => ({
      group: [`**/${d}/**`, `**/${d}/*`, `../${d}`, `../../${d}`],
      message: domainMessage(folder, d),
    })),
    ...forbiddenHost(allowedHost).map((m) => ({
      regex: hostModuleRegex(m),
      message: hostMessage(m),
    })),
    ...(envAllowed
      ? []
      : [
          {
            regex: '^(node:)?process$',
            importNames: ['env'],
            message: ENV_MESSAGE,
          },
        ]),
  ];
}

/**
 * Selectors for a module specifier (a string or a plain template literal) matching `re` in
 * `import()`, `require()` and `import x = require()`.
 */
function specifierSelectors(re) {
  const str = (path) => `[${path}.value=/${re}/]`;
  const tpl = (path) => `[${path}.expressions.length=0][${path}.quasis.0.value.cooked=/${re}/]`;
  const req = "CallExpression[callee.type='Identifier'][callee.name='require']";
  return [
    `ImportExpression${str('source')}`,
    `ImportExpression${tpl('source')}`,
    `${req}${str('arguments.0')}`,
    `${req}${tpl('arguments.0')}`,
    `TSExternalModuleReference${str('expression')}`,
  ];
}

/** Every way of reaching `process.env`: `process.env`, `process['env']`, `const { env } = process`. */
const ENV_SELECTORS = [
  "MemberExpression[computed=false][object.type='Identifier'][object.name='process'][property.name='env']",
  "MemberExpression[computed=true][object.type='Identifier'][object.name='process'][property.value='env']",
  "MemberExpression[computed=true][object.type='Identifier'][object.name='process'][property.quasis.0.value.cooked='env']",
  "MemberExpression[object.type='MemberExpression'][object.property.name='process'][property.name='env']",
  "VariableDeclarator[init.type='Identifier'][init.name='process'] > ObjectPattern > Property[key.name='env']",
];

function syntaxRestrictions(folder, allowedHost, envAllowed) {
  const domains = forbiddenDomains(folder);
  const host = forbiddenHost(allowedHost);
  return [
    ...(domains.length === 0
      ? []
      : specifierSelectors(`^\\.\\.?\\x2F(.*\\x2F)?(${domains.join('|')})(\\x2F|$)`).map(
          (selector) => ({
            selector,
            message: `src/${folder} may not import src/${domains.join(', src/')} (see docs/architecture.md)`,
          }),
        )),
    ...(host.length === 0
      ? []
      : specifierSelectors(host.map(hostModuleRegex).join('|')).map((selector) => ({
          selector,
          message: hostMessage(host.join(', ')),
        }))),
    ...(envAllowed ? [] : ENV_SELECTORS.map((selector) => ({ selector, message: ENV_MESSAGE }))),
  ];
}

/** Does the folder or file `outer` contain `inner`? */
function covers(outer, inner) {
  return inner === outer || inner.startsWith(`${outer}/`);
}

function filesOf(scope) {
  return /\.[cm]?[jt]s$/.test(scope) ? [scope] : [`${scope}/**/*.${SOURCE_EXT}`];
}

/**
 * One config object per scope: a scope's rules replace those of any wider scope, so each one
 * carries the whole fence (domains, host modules, environment) for the files it matches.
 */
function fenceConfig(scope, folder) {
  const allowedHost = Object.entries(HOST_EXCEPTIONS)
    .filter(([place]) => covers(place, scope))
    .flatMap(([, mods]) => mods);
  const envAllowed = ENV_EXCEPTIONS.some((place) => covers(place, scope));
  const syntax = syntaxRestrictions(folder, allowedHost, envAllowed);
  return {
    files: filesOf(scope),
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: importPatterns(folder, allowedHost, envAllowed) },
      ],
      'no-restricted-syntax': syntax.length > 0 ? ['error', ...syntax] : 'off',
    },
  };
}

const NAMED_PLACES = [...Object.keys(HOST_EXCEPTIONS), ...ENV_EXCEPTIONS];

const boundaryConfigs = [
  // Anything in src/ outside the known folders still stays behind the door.
  fenceConfig('src', undefined),
  ...DOMAINS.flatMap((folder) => {
    const root = `src/${folder}`;
    const inner = [...new Set(NAMED_PLACES)]
      .filter((place) => place !== root && covers(root, place))
      .sort((a, b) => a.length - b.length);
    return [root, ...inner].map((scope) => fenceConfig(scope, folder));
  }),
];

export default tseslint.config(
  {
    ignores: [
      'node_modules/**',
      'dist/**',
      'bench/results/**',
      'coverage/**',
      'test/fixtures/**',
      '.scratch/**',
      'src/deviceplugin/generated/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: {
          allowDefaultProject: ['*.js', 'scripts/*.mjs', 'scripts/image/*.mjs'],
          // The build scripts outside tsconfig: more than typescript-eslint's default of 8.
          maximumDefaultProjectFileMatchCount_THIS_WILL_SLOW_DOWN_LINTING: 16,
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

// Types of scripts/test-configs.mjs for the tests that read its plan (tests/af_modules.test.ts).
export interface Suite {
  what: string;
  needs: string[];
  link?: boolean;
  files: string[];
}
export declare const SUITES: Suite[];
export declare const CONFIGS: string[];
export declare function plan(configs: Record<string, string[]>): Record<string, Suite[]>;

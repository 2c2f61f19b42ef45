// ESLint: typescript-eslint's type-aware rules plus Pulumi's rules that catch an
// Output interpolated into a template literal (use pulumi.interpolate instead).
const tseslint = require("typescript-eslint");
const pulumi = require("@pulumi/eslint-plugin");
// ESLint's own recommended rules (no-undef, no-unused-vars, ...), for the browser JavaScript;
// @eslint/js is a pinned dependency of eslint itself.
const js = require("@eslint/js");

// The player page's script (components/streaming/player/player.js) runs in the browser as a
// classic script: these are the browser globals it uses, plus hls.js's Hls and the config object
// that components/streaming/player.ts puts in place of PICLUSTER_PLAYER_CONFIG. Listed by hand
// so that any other global is caught as undefined.
const PLAYER_JS = ["components/streaming/player/*.js"];
const PLAYER_GLOBALS = Object.fromEntries([
    "window", "document", "fetch", "history", "location", "URLSearchParams", "setInterval", "clearInterval", "Hls",
    "PICLUSTER_PLAYER_CONFIG",
].map((g) => [g, "readonly"]));

module.exports = tseslint.config(
    { ignores: ["node_modules/**", "bin/**", ".toolchain/**", ".lab/**", ".state/**", ".cache/**", "eslint.config.js", "**/*.js", `!${PLAYER_JS[0]}`] },
    ...tseslint.configs.recommendedTypeChecked,
    {
        languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: __dirname } },
        plugins: { "@pulumi": pulumi },
        rules: {
            "@pulumi/no-output-in-template-literal": "error",
            "@pulumi/no-output-instance-in-template-literal": "error",
            "@typescript-eslint/no-floating-promises": "error",
        },
    },
    {
        // node:test's test() returns a promise the runner itself awaits.
        files: ["test/**/*.test.ts"],
        rules: { "@typescript-eslint/no-floating-promises": "off" },
    },
    {
        // Browser JavaScript, in no TypeScript project: ESLint's own rules, no type-aware ones.
        files: PLAYER_JS,
        ...tseslint.configs.disableTypeChecked,
    },
    {
        // The test kit's node:test reporter: an ES module run by Node itself, in no TypeScript project.
        files: ["test/kit/*.mjs"],
        ...tseslint.configs.disableTypeChecked,
    },
    {
        files: ["test/kit/*.mjs"],
        languageOptions: { sourceType: "module", ecmaVersion: 2022 },
        rules: { ...js.configs.recommended.rules, "@pulumi/no-output-in-template-literal": "off", "@pulumi/no-output-instance-in-template-literal": "off" },
    },
    {
        files: PLAYER_JS,
        languageOptions: { sourceType: "script", ecmaVersion: 2022, globals: PLAYER_GLOBALS },
        rules: {
            ...js.configs.recommended.rules,
            // ESLint's no-unused-vars already reports these in JavaScript.
            "@typescript-eslint/no-unused-vars": "off",
            // Pulumi's rules need type information, which a browser script has not (and it has no Outputs).
            "@pulumi/no-output-in-template-literal": "off",
            "@pulumi/no-output-instance-in-template-literal": "off",
        },
    },
);
